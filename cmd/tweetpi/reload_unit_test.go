package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
	"github.com/tweetpi/tweetpi/twitter/bot"
)

// The reload in the daemon itself, without a process: what tweetpi safe
// would find at each moment, the one line, the memory of many reloads.

// listedPin checks, each time its pin is driven, that the device list
// tweetpi safe -from-state reads has it: were the daemon killed then, the
// unit's ExecStopPost would make it safe.
type listedPin struct {
	gpio.PinIO
	name string
	w    *listWatch
}

type listWatch struct {
	dir string
	mu  sync.Mutex
	bad []string
	n   int
}

func (w *listWatch) check(pin string) {
	cfg, _, err := config.ReadDeviceList(w.dir)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	if err != nil {
		w.bad = append(w.bad, fmt.Sprintf("%s driven with no device list: %v", pin, err))
		return
	}
	for _, d := range cfg.Devices {
		if d.Pin == pin && (d.Kind == config.KindOutput || d.Kind == config.KindPWM) {
			return
		}
	}
	w.bad = append(w.bad, pin+" driven while the device list does not have it as an output")
}

func (p listedPin) Out(l gpio.Level) error {
	p.w.check(p.name)
	return p.PinIO.Out(l)
}

func (p listedPin) PWM(d gpio.Duty, f physic.Frequency) error {
	p.w.check(p.name)
	return p.PinIO.PWM(d, f)
}

// reloadRig is a daemon made in the test process, on sim pins, whose
// configuration file a test rewrites and reloads.
type reloadRig struct {
	t     testing.TB
	f     *fake
	d     *daemon
	sim   *device.Sim
	cfg   daemonConfig
	files daemonFiles
	cf    *configFlags
	e     *env
	log   *bytes.Buffer
	mu    sync.Mutex // guards log and quiet
	quiet bool       // the log is dropped
}

func (r *reloadRig) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.quiet {
		return len(p), nil
	}
	return r.log.Write(p)
}

func (r *reloadRig) logText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.String()
}

func newReloadRig(t testing.TB, c daemonConfig, pins func(stateDir string, pins device.PinSource) device.PinSource) *reloadRig {
	t.Helper()
	r := &reloadRig{t: t, f: newFake(t, "v2"), sim: device.NewSim(), cfg: c, log: &bytes.Buffer{}}
	r.files = writeDaemonConfig(t, r.f, c)
	r.cfg.StateDir = r.files.StateDir
	r.cf = &configFlags{path: r.files.Path}
	r.e = &env{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: io.Discard}
	cfg, err := r.cf.loadChecked(r.e)
	if err != nil {
		t.Fatal(err)
	}
	o := daemonOptions{sim: r.sim}
	if pins != nil {
		o.pins = pins(r.files.StateDir, r.sim.Pin)
	}
	d, err := newDaemon(cfg, slog.New(slog.NewTextHandler(r, nil)), o)
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	t.Cleanup(func() {
		d.close()
		d.bot.Close()
	})
	return r
}

// reload writes the file of c and reloads it; it returns the log lines of
// the reload.
func (r *reloadRig) reload(c daemonConfig) []string {
	r.t.Helper()
	c.StateDir = r.files.StateDir
	replaceFile(r.t, writeDaemonConfig(r.t, r.f, c).Path, r.files.Path)
	before := len(r.logText())
	r.d.reload(context.Background(), r.cf, r.e)
	return strings.Split(strings.TrimSpace(r.logText()[before:]), "\n")
}

// TestReloadDeviceList: at every moment a pin is driven, at the start and
// through reloads that move, add and remove devices (and one undone), the
// device list has it.
func TestReloadDeviceList(t *testing.T) {
	w := &listWatch{}
	r := newReloadRig(t, daemonConfig{Listen: []string{bot.InboxMentions}}, func(dir string, pins device.PinSource) device.PinSource {
		w.dir = dir
		return func(name string) (gpio.PinIO, error) {
			p, err := pins(name)
			return listedPin{p, name, w}, err
		}
	})
	steps := []string{
		// pump moves, fan goes, bell comes
		"  led:  {pin: GPIO17, kind: output}\n  pump: {pin: GPIO4, kind: output, active_low: true}\n  bell: {pin: GPIO6, kind: pwm}\n",
		// led and pump swap pins
		"  led:  {pin: GPIO4, kind: output}\n  pump: {pin: GPIO17, kind: output}\n  bell: {pin: GPIO6, kind: pwm}\n",
		// bell moves to a pin without PWM: undone
		"  led:  {pin: GPIO4, kind: output}\n  pump: {pin: GPIO17, kind: output}\n  bell: {pin: GPIO12, kind: pwm}\n",
		e2eDevices,
	}
	r.sim.Get("GPIO12").DisablePWM()
	for i, devs := range steps {
		c := r.cfg
		c.Devices = devs
		lines := reloadLines(r.reload(c))
		if len(lines) != 1 || !strings.Contains(lines[0], "devices") {
			t.Errorf("step %d: lines %q", i, lines)
		}
	}
	if len(w.bad) > 0 {
		t.Errorf("%d of %d pin sets unlisted:\n%s", len(w.bad), w.n, strings.Join(w.bad, "\n"))
	}
	if w.n < 10 {
		t.Errorf("only %d pin sets watched", w.n)
	}
	got, _, err := config.ReadDeviceList(r.files.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range got.Devices {
		names = append(names, d.Name+" "+d.Pin)
	}
	if s := strings.Join(names, ", "); s != "led GPIO17, fan GPIO18, pump GPIO27" {
		t.Errorf("the device list after the reloads: %s", s)
	}
}

// reloadLines are the lines of lines that say what a reload did.
func reloadLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, `msg="reload`) || strings.Contains(l, "msg=reload") {
			out = append(out, l)
		}
	}
	return out
}

// TestReloadOneLine: every reload is one log line, whatever it did or
// could not do, and the bot adds none.
func TestReloadOneLine(t *testing.T) {
	r := newReloadRig(t, daemonConfig{Listen: []string{bot.InboxMentions}}, nil)
	r.sim.Get("GPIO12").DisablePWM()
	withBell := r.cfg
	withBell.Devices, withBell.NoReply = e2eDevices+"  bell: {pin: GPIO6, kind: output}\n", true
	otherKeys := withBell
	otherKeys.Keys = r.f.Credentials()
	otherKeys.Keys.AccessTokenSecret = "another-0123456789"
	broken := withBell
	broken.Extra = "gpio:\n" // gpio twice: a configuration error
	budget := withBell
	budget.Extra = "budget:\n  daily: 0.5\nmetrics:\n  file: /tmp/tweetpi.prom\n"
	noPWM := withBell
	noPWM.Devices = strings.Replace(withBell.Devices, "GPIO18", "GPIO12", 1)
	for _, tt := range []struct {
		name string
		c    daemonConfig
		want string
	}{
		{"nothing", r.cfg, `level=INFO msg="reloaded: nothing changed"`},
		{"devices and bot", withBell, `level=INFO msg="reloaded: devices bell added; reply true -> false"`},
		{"refused", broken, `level=ERROR msg="reload refused: the new configuration has errors; keeping the old one"`},
		{"restart", otherKeys, `level=WARN msg="reloaded: nothing applied; not applied, they take a restart (sudo systemctl restart tweetpi): twitter.access_token_secret changed" fix="sudo systemctl restart tweetpi"`},
		{"budget and metrics", budget, `level=WARN msg="reloaded: nothing applied; not applied, they take a restart (sudo systemctl restart tweetpi): budget.daily 0 -> 0.5, metrics.file \"\" -> /tmp/tweetpi.prom"`},
		{"undone", noPWM, `level=ERROR msg="reloaded: nothing applied; devices fan changed (pin): not applied, the devices are as before the reload: device fan (config line `},
		{"the running file", withBell, `level=INFO msg="reloaded: nothing changed"`},
	} {
		lines := reloadLines(r.reload(tt.c))
		if len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
			t.Errorf("%s: %d lines %q, want one with %q", tt.name, len(lines), lines, tt.want)
		}
	}
	if strings.Contains(r.logText(), "another-0123456789") {
		t.Error("the new secret is in the log")
	}
}

// TestReloadMemory: many reloads of the same file leave no memory and no
// goroutine behind (the live heap after a collection, not RSS: see
// TestE2EReloadStorm for that), and touch no pin.
func TestReloadMemory(t *testing.T) {
	r := newReloadRig(t, daemonConfig{Listen: []string{bot.InboxMentions}}, nil)
	live := func() (uint64, int) {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc, runtime.NumGoroutine()
	}
	r.mu.Lock()
	r.quiet = true // a kept log would grow with the reloads
	r.mu.Unlock()
	for range 100 {
		r.d.reload(t.Context(), r.cf, r.e)
	}
	pins := r.sim.String()
	heap0, g0 := live()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	const n = 1500
	start := time.Now()
	for range n {
		r.d.reload(t.Context(), r.cf, r.e)
	}
	took := time.Since(start)
	runtime.ReadMemStats(&m1)
	heap1, g1 := live()
	t.Logf("%d reloads of the same file: %s each, %d B and %d allocations each; live heap %d -> %d KiB, goroutines %d -> %d",
		n, took/n, (m1.TotalAlloc-m0.TotalAlloc)/n, (m1.Mallocs-m0.Mallocs)/n, heap0>>10, heap1>>10, g0, g1)
	if heap1 > heap0+64<<10 {
		t.Errorf("the live heap grew by %d KiB over %d reloads", (heap1-heap0)>>10, n)
	}
	if g1 > g0 {
		t.Errorf("%d goroutines more after %d reloads", g1-g0, n)
	}
	if got := r.sim.String(); got != pins {
		t.Errorf("pins %s after the reloads, were %s", got, pins)
	}
}

// BenchmarkReload: a reload of the same file (the file read, compared,
// nothing applied) and one that moves a device to another pin and back.
func BenchmarkReload(b *testing.B) {
	for _, bc := range []struct {
		name string
		next func(i int) string
	}{
		{"unchanged", func(int) string { return e2eDevices }},
		{"device moved", func(i int) string {
			if i%2 == 0 {
				return strings.Replace(e2eDevices, "GPIO17", "GPIO5", 1)
			}
			return e2eDevices
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := newReloadRig(b, daemonConfig{Listen: []string{bot.InboxMentions}}, nil)
			r.mu.Lock()
			r.quiet = true
			r.mu.Unlock()
			files := make([]string, 2)
			for i := range files {
				c := r.cfg
				c.Devices = bc.next(i)
				files[i] = writeDaemonConfig(b, r.f, c).Path
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if bc.name != "unchanged" {
					b.StopTimer()
					replaceFile(b, files[i%2], r.files.Path)
					b.StartTimer()
				}
				r.d.reload(b.Context(), r.cf, r.e)
			}
		})
	}
}
