//go:build vmtest

// These tests drive real Linux GPIO character devices: the lines of the
// kernel's gpio-sim driver, inside the VM that deploy/vmtest/run.sh boots.
// Each one acts through periph (the backend tweetpi ships) and checks the
// kernel's side of the line in sysfs, where gpio-sim shows the level a
// requested output drives and lets the test set the pull an input reads.
//
// They need the chip that deploy/vmtest/init makes (TWEETPI_GPIOSIM names its
// configfs directory) and skip without it; `go test ./...` never builds them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// vmChip is the gpio-sim chip: where each named line shows its level.
type vmChip struct {
	name  string         // gpiochipN
	dir   string         // /sys/devices/platform/<dev_name>/<chip_name>
	lines map[string]int // line name -> offset
}

var (
	vmSimOnce sync.Once
	vmSim     *vmChip
	vmSimErr  error
)

// vmGPIOSim returns the chip the VM's /init made, or skips the test.
func vmGPIOSim(t *testing.T) *vmChip {
	t.Helper()
	cfs := os.Getenv("TWEETPI_GPIOSIM")
	if cfs == "" {
		t.Skip("no gpio-sim chip: run these through deploy/vmtest/run.sh")
	}
	vmSimOnce.Do(func() { vmSim, vmSimErr = vmReadSim(cfs) })
	if vmSimErr != nil {
		t.Fatal(vmSimErr)
	}
	return vmSim
}

func vmReadSim(cfs string) (*vmChip, error) {
	read := func(p string) (string, error) {
		b, err := os.ReadFile(p)
		return strings.TrimSpace(string(b)), err
	}
	dev, err := read(filepath.Join(cfs, "dev_name"))
	if err != nil {
		return nil, err
	}
	chip, err := read(filepath.Join(cfs, "bank0", "chip_name"))
	if err != nil {
		return nil, err
	}
	s := &vmChip{name: chip, dir: filepath.Join("/sys/devices/platform", dev, chip), lines: map[string]int{}}
	dirs, err := filepath.Glob(filepath.Join(cfs, "bank0", "line*"))
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "line"))
		if err != nil {
			continue
		}
		name, err := read(filepath.Join(d, "name"))
		if err != nil {
			return nil, err
		}
		s.lines[name] = n
	}
	return s, nil
}

func (s *vmChip) path(t *testing.T, line, file string) string {
	t.Helper()
	n, ok := s.lines[line]
	if !ok {
		t.Fatalf("gpio-sim has no line %s", line)
	}
	return filepath.Join(s.dir, fmt.Sprintf("sim_gpio%d", n), file)
}

// level is what the kernel sees on the line: the driven level of a
// requested output, else the pull.
func (s *vmChip) level(t *testing.T, line string) int {
	t.Helper()
	b, err := os.ReadFile(s.path(t, line, "value"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s value %q: %v", line, b, err)
	}
	return v
}

// wantLevel fails unless the kernel sees want on line.
func (s *vmChip) wantLevel(t *testing.T, line string, want int, when string) {
	t.Helper()
	if got := s.level(t, line); got != want {
		t.Errorf("%s: kernel level of %s is %d, want %d", when, line, got, want)
	}
}

// awaitLevel waits up to d for the kernel to see want on line.
func (s *vmChip) awaitLevel(t *testing.T, line string, want int, d time.Duration, when string) {
	t.Helper()
	end := time.Now().Add(d)
	for {
		got := s.level(t, line)
		if got == want {
			return
		}
		if time.Now().After(end) {
			t.Errorf("%s: kernel level of %s still %d after %s, want %d", when, line, got, d, want)
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// setPull drives an input from the outside, as a switch or a sensor would.
func (s *vmChip) setPull(t *testing.T, line string, up bool) {
	t.Helper()
	p := "pull-down"
	if up {
		p = "pull-up"
	}
	if err := os.WriteFile(s.path(t, line, "pull"), []byte(p), 0); err != nil {
		t.Fatalf("%s: set %s: %v", line, p, err)
	}
}

func (s *vmChip) pull(t *testing.T, line string) string {
	t.Helper()
	b, err := os.ReadFile(s.path(t, line, "pull"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

var (
	vmPinsOnce sync.Once
	vmPinSrc   device.PinSource
	vmPinsErr  error
)

// vmPins is the pin source tweetpi uses with `gpio: {backend: periph}`:
// periph's host drivers, then gpioreg by name.
func vmPins(t *testing.T) device.PinSource {
	t.Helper()
	vmPinsOnce.Do(func() {
		vmPinSrc, vmPinsErr = periphPins(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	})
	if vmPinsErr != nil {
		t.Fatal(vmPinsErr)
	}
	return vmPinSrc
}

// vmOpen opens devs on the periph pins and closes the board when the
// test ends.
func vmOpen(t *testing.T, devs ...config.Device) *device.Board {
	t.Helper()
	vmGPIOSim(t)
	b, err := device.Open(devs, vmPins(t), device.Options{})
	if err != nil {
		t.Fatalf("Open: %v\n%s", err, vmLineOwners())
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// vmLineOwners is the kernel's list of requested lines and who holds them,
// for a failure message.
func vmLineOwners() string {
	const dbg = "/sys/kernel/debug"
	if _, err := os.Stat(dbg + "/gpio"); err != nil {
		_ = exec.Command("mount", "-t", "debugfs", "none", dbg).Run()
	}
	b, err := os.ReadFile(dbg + "/gpio")
	if err != nil {
		return "(no " + dbg + "/gpio: " + err.Error() + ")"
	}
	return "the kernel's requested lines:\n" + string(b)
}

// run runs a command as a person at the device and fails unless it ran.
func vmRun(t *testing.T, b *device.Board, text string) string {
	t.Helper()
	r := b.Run(context.Background(), text, device.Caller{Local: true})
	if !r.Ran || r.Rejected {
		t.Fatalf("%q: %+v, want it run", text, r)
	}
	return r.Reply
}

func vmWait(t *testing.T, b *device.Board, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := b.Wait(ctx); err != nil {
		t.Fatalf("jobs still running after %s: %s", d, b.Pending())
	}
}

func TestVMOnOffToggle(t *testing.T) {
	s := vmGPIOSim(t)
	b := vmOpen(t, config.Device{Name: "led", Pin: "LED", Kind: config.KindOutput})
	s.wantLevel(t, "LED", 0, "opened with initial off")
	for _, c := range []struct {
		cmd  string
		want int
	}{
		{"led on", 1},
		{"led off", 0},
		{"led toggle", 1},
		{"LED TOGGLE", 0},
		{"led on; led off; led on", 1},
	} {
		vmRun(t, b, c.cmd)
		s.wantLevel(t, "LED", c.want, c.cmd)
	}
	if got := b.Run(context.Background(), "led", device.Caller{Local: true}).Reply; got != "led is on" {
		t.Errorf("state: got %q, want %q", got, "led is on")
	}
}

func TestVMPulseAndMaxOn(t *testing.T) {
	s := vmGPIOSim(t)
	b := vmOpen(t, config.Device{Name: "pump", Pin: "PUMP", Kind: config.KindOutput, MaxOn: 1500 * time.Millisecond})

	t0 := time.Now()
	vmRun(t, b, "pump pulse 400ms")
	s.wantLevel(t, "PUMP", 1, "pulse started")
	vmWait(t, b, 10*time.Second)
	if el := time.Since(t0); el < 400*time.Millisecond {
		t.Errorf("pulse 400ms ended after %s", el)
	}
	s.wantLevel(t, "PUMP", 0, "pulse over")

	t0 = time.Now()
	vmRun(t, b, "pump on")
	s.wantLevel(t, "PUMP", 1, "on with max_on")
	vmWait(t, b, 10*time.Second)
	if el := time.Since(t0); el < 1500*time.Millisecond {
		t.Errorf("max_on 1.5s turned it off after %s", el)
	}
	s.wantLevel(t, "PUMP", 0, "after max_on")

	// A new command cancels a running pulse.
	vmRun(t, b, "pump pulse 600ms")
	vmRun(t, b, "pump off")
	time.Sleep(800 * time.Millisecond)
	s.wantLevel(t, "PUMP", 0, "pulse cancelled by off")
	vmRun(t, b, "pump pulse 300ms")
	vmRun(t, b, "pump on")
	time.Sleep(700 * time.Millisecond)
	s.wantLevel(t, "PUMP", 1, "pulse cancelled by on, max_on not yet over")
	vmWait(t, b, 10*time.Second)
	s.wantLevel(t, "PUMP", 0, "after max_on")
}

func TestVMBlink(t *testing.T) {
	s := vmGPIOSim(t)
	b := vmOpen(t, config.Device{Name: "bell", Pin: "BELL", Kind: config.KindOutput})
	vmRun(t, b, "bell blink 3 600ms")
	// Count the rising edges the kernel sees: one sample every 2ms against
	// 300ms halves.
	rises, last := 0, 0
	end := time.Now().Add(10 * time.Second)
	done := make(chan struct{})
	go func() { _ = b.Wait(context.Background()); close(done) }()
	for busy := true; busy && time.Now().Before(end); {
		select {
		case <-done:
			busy = false
		default:
		}
		v := s.level(t, "BELL")
		if v == 1 && last == 0 {
			rises++
		}
		last = v
		time.Sleep(2 * time.Millisecond)
	}
	if rises != 3 {
		t.Errorf("blink 3: kernel saw %d rising edges, want 3", rises)
	}
	s.wantLevel(t, "BELL", 0, "blink over")
}

func TestVMPWMRefused(t *testing.T) {
	s := vmGPIOSim(t)
	devs := []config.Device{
		{Name: "led", Pin: "LED", Kind: config.KindOutput, Initial: true},
		{Name: "lamp", Pin: "LAMP", Kind: config.KindOutput, ActiveLow: true, Initial: true},
		{Name: "fan", Pin: "FAN", Kind: config.KindPWM, FrequencyHz: 25000},
	}
	b, err := device.Open(devs, vmPins(t), device.Options{})
	if err == nil {
		b.Close()
		t.Fatal("Open of a pwm on a gpio-cdev line succeeded; want it refused")
	}
	msg := err.Error()
	for _, want := range []string{"fan", "FAN", "PWM", "kind: output"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	// What it had set before the pwm went back to the safe level.
	s.wantLevel(t, "LED", 0, "after the refused Open")
	s.wantLevel(t, "LAMP", 1, "after the refused Open (active_low)")
}

func TestVMActiveLow(t *testing.T) {
	s := vmGPIOSim(t)
	b := vmOpen(t, config.Device{Name: "lamp", Pin: "LAMP", Kind: config.KindOutput, ActiveLow: true})
	s.wantLevel(t, "LAMP", 1, "opened off (active_low)")
	vmRun(t, b, "lamp on")
	s.wantLevel(t, "LAMP", 0, "lamp on (active_low)")
	vmRun(t, b, "lamp toggle")
	s.wantLevel(t, "LAMP", 1, "lamp toggled off (active_low)")
	vmRun(t, b, "lamp pulse 300ms")
	s.wantLevel(t, "LAMP", 0, "pulse on (active_low)")
	vmWait(t, b, 10*time.Second)
	s.wantLevel(t, "LAMP", 1, "pulse over (active_low)")
}

func TestVMSafeAfterClose(t *testing.T) {
	s := vmGPIOSim(t)
	b, err := device.Open([]config.Device{
		{Name: "led", Pin: "LED", Kind: config.KindOutput, Initial: true},
		{Name: "lamp", Pin: "LAMP", Kind: config.KindOutput, ActiveLow: true, Initial: true},
		{Name: "bell", Pin: "BELL", Kind: config.KindOutput},
	}, vmPins(t), device.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.wantLevel(t, "LED", 1, "opened with initial on")
	s.wantLevel(t, "LAMP", 0, "opened with initial on (active_low)")
	vmRun(t, b, "bell blink 50 1s")
	s.wantLevel(t, "BELL", 1, "blinking")

	if err := b.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
	s.wantLevel(t, "LED", 0, "after Halt")
	s.wantLevel(t, "LAMP", 1, "after Halt (active_low)")
	s.wantLevel(t, "BELL", 0, "after Halt stopped the blink")

	vmRun(t, b, "led on, lamp on, bell pulse 5s")
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s.wantLevel(t, "LED", 0, "after Close")
	s.wantLevel(t, "LAMP", 1, "after Close (active_low)")
	s.wantLevel(t, "BELL", 0, "after Close stopped the pulse")
	time.Sleep(1200 * time.Millisecond) // a blink or pulse step would have come by now
	s.wantLevel(t, "BELL", 0, "a while after Close")
	if r := b.Run(context.Background(), "led on", device.Caller{Local: true}); r.Ran {
		t.Errorf("a closed board ran %q: %+v", "led on", r)
	}
	s.wantLevel(t, "LED", 0, "command after Close")
}

func TestVMInputs(t *testing.T) {
	s := vmGPIOSim(t)
	b := vmOpen(t,
		config.Device{Name: "door", Pin: "DOOR", Kind: config.KindInput, Pull: "up", High: "open", Low: "closed"},
		config.Device{Name: "button", Pin: "BUTTON", Kind: config.KindInput, Pull: "down", High: "pressed", Low: "released"},
	)
	// The configured pulls reached the kernel.
	if got := s.pull(t, "DOOR"); got != "pull-up" {
		t.Errorf("DOOR pull after Open: %s, want pull-up", got)
	}
	if got := s.pull(t, "BUTTON"); got != "pull-down" {
		t.Errorf("BUTTON pull after Open: %s, want pull-down", got)
	}
	state := func(dev string) string {
		return b.Run(context.Background(), dev, device.Caller{Local: true}).Reply
	}
	if got, want := state("door"), "door is open"; got != want {
		t.Errorf("door pulled up by its config: %q, want %q", got, want)
	}
	if got, want := state("button"), "button is released"; got != want {
		t.Errorf("button pulled down by its config: %q, want %q", got, want)
	}
	for _, c := range []struct {
		line, dev string
		up        bool
		want      string
	}{
		{"DOOR", "door", false, "door is closed"},
		{"DOOR", "door", true, "door is open"},
		{"BUTTON", "button", true, "button is pressed"},
		{"BUTTON", "button", false, "button is released"},
	} {
		s.setPull(t, c.line, c.up)
		if got := state(c.dev); got != c.want {
			t.Errorf("%s pulled up=%v: %q, want %q", c.line, c.up, got, c.want)
		}
	}
	s.setPull(t, "DOOR", false)
	s.setPull(t, "BUTTON", true)
	st := state("status")
	if !strings.Contains(st, "door closed") || !strings.Contains(st, "button pressed") {
		t.Errorf("status %q: want door closed and button pressed", st)
	}
}

func TestVMNotify(t *testing.T) {
	s := vmGPIOSim(t)
	const debounce = 150 * time.Millisecond
	b := vmOpen(t, config.Device{Name: "door", Pin: "DOOR", Kind: config.KindInput, Pull: "up", Notify: true,
		High: "open", Low: "closed", Debounce: debounce})
	ev := b.Events()
	next := func(d time.Duration) (device.Event, bool) {
		select {
		case e, ok := <-ev:
			return e, ok
		case <-time.After(d):
			return device.Event{}, false
		}
	}
	time.Sleep(300 * time.Millisecond) // the watcher has read the start level

	t0 := time.Now()
	s.setPull(t, "DOOR", false)
	e, ok := next(5 * time.Second)
	if !ok || e.String() != "door: closed" || e.Level != gpio.Low {
		t.Fatalf("after the door closed: event %+v (ok %v), want door: closed", e, ok)
	}
	if el := time.Since(t0); el < debounce {
		t.Errorf("event %s after the edge, before the debounce time %s", el, debounce)
	}

	// A bouncing contact: several edges faster than the debounce time give
	// one event with the level it settles at.
	for _, up := range []bool{true, false, true, false, true} {
		s.setPull(t, "DOOR", up)
	}
	e, ok = next(5 * time.Second)
	if !ok || e.String() != "door: open" {
		t.Fatalf("after bouncing open: event %+v (ok %v), want door: open", e, ok)
	}
	if e, ok := next(3 * debounce); ok {
		t.Errorf("a second event after one settled change: %+v", e)
	}

	// A bounce that settles where it started is no change.
	for _, up := range []bool{false, true} {
		s.setPull(t, "DOOR", up)
	}
	if e, ok := next(3 * debounce); ok {
		t.Errorf("an event for a bounce back to open: %+v", e)
	}
	b.Close()
	if _, ok := <-ev; ok {
		t.Error("Events still open after Close")
	}
}

// vmTrace records the levels the kernel was asked to drive, through its
// gpio_value trace events: a line that a process released is back at its
// pull when the process has exited (gpio-sim, like a Pi with
// dtparam=strict_gpiod), so the trace is how the test sees what `tweetpi
// safe` and `tweetpi do` drove.
type vmTrace struct {
	base int // the chip's first global gpio number
}

const vmTracefs = "/sys/kernel/tracing"

func vmStartTrace(t *testing.T, s *vmChip) *vmTrace {
	t.Helper()
	bases, _ := filepath.Glob(filepath.Join(filepath.Dir(s.dir), "gpio", "gpiochip*", "base"))
	if len(bases) != 1 {
		t.Fatalf("no global gpio base for %s (found %v)", s.dir, bases)
	}
	b, err := os.ReadFile(bases[0])
	if err != nil {
		t.Fatal(err)
	}
	base, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ path, val string }{
		{"events/gpio/gpio_value/enable", "1"},
		{"trace", ""},
		{"tracing_on", "1"},
	} {
		if err := os.WriteFile(filepath.Join(vmTracefs, f.path), []byte(f.val), 0); err != nil {
			t.Fatalf("vmTracefs %s: %v (the VM's /init mounts vmTracefs)", f.path, err)
		}
	}
	return &vmTrace{base: base}
}

// reset empties the trace.
func (g *vmTrace) reset(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(vmTracefs, "trace"), nil, 0); err != nil {
		t.Fatal(err)
	}
}

// sets are the levels that processes named comm set on each line since the
// last reset, in order. (The trace names a thread, and Go runs a process's
// goroutines on several, so the test runs one such process at a time.)
func (g *vmTrace) sets(t *testing.T, s *vmChip, comm string) map[string][]int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vmTracefs, "trace"))
	if err != nil {
		t.Fatal(err)
	}
	byOffset := map[int]string{}
	for name, n := range s.lines {
		byOffset[n] = name
	}
	out := map[string][]int{}
	for _, l := range strings.Split(string(data), "\n") {
		// "  tweetpi-131  [000] .....  11.89: gpio_value: 516 set 1"
		task, ev, ok := strings.Cut(l, "gpio_value: ")
		if !ok || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		task, _, _ = strings.Cut(strings.TrimSpace(task), " ")
		if i := strings.LastIndex(task, "-"); i < 0 || task[:i] != comm {
			continue
		}
		var gpioN, v int
		var op string
		if _, err := fmt.Sscanf(ev, "%d %s %d", &gpioN, &op, &v); err != nil || op != "set" {
			continue
		}
		if name, ok := byOffset[gpioN-g.base]; ok {
			out[name] = append(out[name], v)
		}
	}
	return out
}

// writeVMConfig writes a tweetpi configuration on the periph backend.
func writeVMConfig(t *testing.T, devices string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	cfg := "state_dir: " + dir + "\ngpio:\n  backend: periph\ndevices:\n" + devices
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// vmTweetpi is the cross-built tweetpi binary the VM carries.
func vmTweetpi(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	bin := os.Getenv("TWEETPI_BIN")
	if bin == "" {
		t.Skip("TWEETPI_BIN not set: run these through deploy/vmtest/run.sh")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TWEETPI_CONFIG=")
	return cmd
}

// lineWatch sends on found (once) when what it is written holds text.
type lineWatch struct {
	text  string
	found chan<- string
}

func (w lineWatch) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.text) {
		select {
		case w.found <- w.text:
		default:
		}
	}
	return len(p), nil
}

func vmLast(vs []int) int {
	if len(vs) == 0 {
		return -1
	}
	return vs[len(vs)-1]
}

// The CLI on lines this test process never requests: tweetpi do holds an
// output it leaves on until Ctrl-C (the kernel sees it driven meanwhile)
// and then turns it off, tweetpi safe drives every output to its safe
// level and leaves inputs alone.
func TestVMDoAndSafe(t *testing.T) {
	s := vmGPIOSim(t)
	cfg := writeVMConfig(t, `  siren:  {pin: SIREN, kind: output}
  heater: {pin: HEATER, kind: output, active_low: true}
  gate:   {pin: GATE, kind: input, high: open, low: shut}
`)
	tr := vmStartTrace(t, s)
	do := func(text string) (string, map[string][]int) {
		t.Helper()
		tr.reset(t)
		c := vmTweetpi(t, "do", "-config", cfg, text)
		var stderr strings.Builder
		c.Stderr = &stderr
		out, err := c.Output()
		if err != nil {
			t.Fatalf("tweetpi do %q: %v\n%s%s", text, err, out, stderr.String())
		}
		if stderr.Len() > 0 {
			t.Logf("tweetpi do %q said on stderr: %s", text, stderr.String())
		}
		return strings.TrimSpace(string(out)), tr.sets(t, s, "tweetpi")
	}

	// hold runs a command that leaves line on (at level on): the kernel
	// sees it driven until Ctrl-C, then off.
	hold := func(text, line string, on int) (string, map[string][]int) {
		t.Helper()
		tr.reset(t)
		c := vmTweetpi(t, "do", "-config", cfg, text)
		var stdout strings.Builder
		c.Stdout = &stdout
		errPipe, err := c.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		holding := make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(io.TeeReader(errPipe, lineWatch{"until Ctrl-C", holding}))
			t.Logf("tweetpi do %q said on stderr: %s", text, b)
		}()
		select {
		case <-holding:
		case <-time.After(10 * time.Second):
			c.Process.Kill()
			t.Fatalf("tweetpi do %q did not say it holds the line", text)
		}
		if got := s.level(t, line); got != on {
			t.Errorf("do %q: %s is %d while held, want %d", text, line, got, on)
		}
		c.Process.Signal(os.Interrupt)
		if err := c.Wait(); err != nil {
			t.Fatalf("tweetpi do %q, then Ctrl-C: %v\n%s", text, err, stdout.String())
		}
		return strings.TrimSpace(stdout.String()), tr.sets(t, s, "tweetpi")
	}

	out, sets := hold("siren on", "SIREN", 1)
	if out != "siren on\nsiren off" || !slices.Contains(sets["SIREN"], 1) || vmLast(sets["SIREN"]) != 0 {
		t.Errorf("do siren on, Ctrl-C: %q, kernel set SIREN to %v; want \"siren on\", \"siren off\" and 1 then 0", out, sets["SIREN"])
	}
	if len(sets["HEATER"]) != 0 {
		t.Errorf("do siren on touched HEATER: %v", sets["HEATER"])
	}
	out, sets = hold("heater on", "HEATER", 0)
	if out != "heater on\nheater off" || vmLast(sets["HEATER"]) != 1 {
		t.Errorf("do heater on (active_low), Ctrl-C: %q, kernel set HEATER to %v; want 1 (off) last", out, sets["HEATER"])
	}
	if out, sets = do("siren off"); out != "siren off" || vmLast(sets["SIREN"]) != 0 {
		t.Errorf("do siren off: %q, kernel set SIREN to %v", out, sets["SIREN"])
	}
	s.setPull(t, "GATE", false)
	if out, _ = do("gate"); out != "gate is shut" {
		t.Errorf("do gate with GATE pulled down: %q, want \"gate is shut\"", out)
	}

	// While do waits for a pulse the line is driven: the kernel sees it.
	tr.reset(t)
	c := vmTweetpi(t, "do", "-config", cfg, "siren pulse 2s")
	var buf strings.Builder
	c.Stdout, c.Stderr = &buf, &buf
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	s.awaitLevel(t, "SIREN", 1, 10*time.Second, "during tweetpi do siren pulse 2s")
	if err := c.Wait(); err != nil {
		t.Fatalf("tweetpi do siren pulse 2s: %v\n%s", err, buf.String())
	}
	if got := tr.sets(t, s, "tweetpi")["SIREN"]; vmLast(got) != 0 {
		t.Errorf("pulse: kernel set SIREN to %v, want 0 last", got)
	}

	// tweetpi safe, with the lines pulled to their on levels as if a
	// crashed daemon had left them on.
	s.setPull(t, "SIREN", true)
	s.setPull(t, "HEATER", false)
	tr.reset(t)
	c = vmTweetpi(t, "safe", "-config", cfg)
	b, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("tweetpi safe: %v\n%s", err, b)
	}
	sets = tr.sets(t, s, "tweetpi")
	if got := sets["SIREN"]; vmLast(got) != 0 {
		t.Errorf("safe: kernel set SIREN to %v, want 0 last", got)
	}
	if got := sets["HEATER"]; vmLast(got) != 1 {
		t.Errorf("safe: kernel set HEATER (active_low) to %v, want 1 last", got)
	}
	if got := sets["GATE"]; len(got) != 0 {
		t.Errorf("safe drove the input GATE: %v", got)
	}
	if got := s.pull(t, "GATE"); got != "pull-down" {
		t.Errorf("safe changed the input GATE's pull to %s", got)
	}
	t.Logf("tweetpi safe said: %s", strings.TrimSpace(string(b)))
}

// The daemon on real lines: the bot polls the fake X API (twittertest, over
// loopback TCP inside the VM) and its commands drive gpio-sim lines through
// the device package on periph, wired the way tweetpi run wires them.
func TestVMDaemon(t *testing.T) {
	s := vmGPIOSim(t)
	cfgPath := writeVMConfig(t, `  led:  {pin: BOT_LED, kind: output}
  pump: {pin: BOT_PUMP, kind: output, active_low: true, max_on: 5s, allow: ["@alice"]}
  door: {pin: BOT_DOOR, kind: input, pull: down, notify: true, high: open, low: closed, debounce: 100ms}
`)
	cfg, err := config.Load(cfgPath, config.Options{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	// The pump's allow names @alice: the board matches ids, and the bot
	// resolves the handle (as the daemon wires them).
	var resolver interface {
		UserID(string) (string, bool)
	}
	userID := func(h string) (string, bool) {
		if resolver == nil {
			return "", false
		}
		return resolver.UserID(h)
	}
	board, err := device.Open(cfg.Devices, vmPins(t), device.Options{UserID: userID})
	if err != nil {
		t.Fatalf("%v\n%s", err, vmLineOwners())
	}
	defer board.Close()
	s.wantLevel(t, "BOT_LED", 0, "daemon started")
	s.wantLevel(t, "BOT_PUMP", 1, "daemon started (pump active_low, off)")

	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("fake API at %s, want loopback TCP", srv.URL)
	}
	alice, bob := srv.AddUser("alice"), srv.AddUser("bob")
	mallory := srv.AddUser("mallory")
	client, err := twitter.New(twitter.Options{BaseURL: srv.URL, Credentials: srv.Credentials()})
	if err != nil {
		t.Fatal(err)
	}
	notes := make(chan string, 16)
	go func() {
		for ev := range board.Events() {
			notes <- ev.String()
		}
		close(notes)
	}()
	handler := bot.HandlerFunc(func(ctx context.Context, c bot.Command) string {
		return board.Run(ctx, c.Text, device.Caller{ID: c.AuthorID, Username: c.AuthorUsername}).Reply
	})
	bot, err := bot.New(bot.Options{
		Client: client, Handler: handler, StateDir: cfg.StateDir, Notify: notes,
		Listen: []string{bot.InboxMentions, bot.InboxDMs}, PollInterval: time.Second,
		Allow: []string{"@alice", "@bob"}, MaxAge: time.Minute, Reply: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	resolver = bot
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := bot.Start(ctx, "vmtest"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- bot.Run(ctx) }()
	time.Sleep(1500 * time.Millisecond) // the first polls set the starting point

	// replyTo waits for the account's reply to post id.
	replyTo := func(id string) string {
		t.Helper()
		end := time.Now().Add(20 * time.Second)
		for time.Now().Before(end) {
			for _, r := range srv.Replies() {
				if r.InReplyTo == id {
					return r.Text
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("no reply to post %s after 20s", id)
		return ""
	}
	dmTo := func(u twitter.User, n int) string {
		t.Helper()
		end := time.Now().Add(20 * time.Second)
		for time.Now().Before(end) {
			var got []string
			for _, d := range srv.SentDMs() {
				if d.To == u.ID {
					got = append(got, d.Text)
				}
			}
			if len(got) >= n {
				return got[n-1]
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("no DM %d to @%s after 20s", n, u.Username)
		return ""
	}

	p := srv.Post(alice, "@mypi led on", 0)
	if got := replyTo(p.ID); !strings.Contains(got, "led on") {
		t.Errorf("reply to led on: %q", got)
	}
	s.wantLevel(t, "BOT_LED", 1, "after @alice: led on")

	p = srv.Post(mallory, "@mypi led off", 0)
	time.Sleep(3 * time.Second) // several polls
	s.wantLevel(t, "BOT_LED", 1, "after @mallory (not allowed): led off")
	for _, r := range srv.Replies() {
		if r.InReplyTo == p.ID {
			t.Errorf("answered a stranger: %q", r.Text)
		}
	}

	p = srv.Post(bob, "@mypi pump on", 0) // pump is @alice's only
	if got := replyTo(p.ID); !strings.Contains(got, "may not") {
		t.Errorf("reply to bob's pump on: %q", got)
	}
	s.wantLevel(t, "BOT_PUMP", 1, "after @bob's refused pump on")

	srv.SendDM(alice, "pump pulse 1s", 0)
	s.awaitLevel(t, "BOT_PUMP", 0, 20*time.Second, "pump pulse 1s by DM (active_low)")
	if got := dmTo(alice, 1); !strings.Contains(got, "pump on for 1s") {
		t.Errorf("DM reply to pump pulse 1s: %q", got)
	}
	s.awaitLevel(t, "BOT_PUMP", 1, 5*time.Second, "pump pulse ended")

	p = srv.Post(alice, "@mypi led toggle; door", 0)
	if got := replyTo(p.ID); !strings.Contains(got, "led off") || !strings.Contains(got, "door is closed") {
		t.Errorf("reply to led toggle; door: %q", got)
	}
	s.wantLevel(t, "BOT_LED", 0, "after led toggle")

	// The door opens: a debounced change DMs the allowed people.
	s.setPull(t, "BOT_DOOR", true)
	if got := dmTo(bob, 1); !strings.HasPrefix(got, "door: open") {
		t.Errorf("notify DM to bob: %q, want door: open", got)
	}

	p = srv.Post(alice, "@mypi led on", 0)
	replyTo(p.ID)
	s.wantLevel(t, "BOT_LED", 1, "led on again")
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("bot.Run: %v", err)
	}
	// What tweetpi run does on SIGTERM.
	if err := board.Close(); err != nil {
		t.Fatal(err)
	}
	s.wantLevel(t, "BOT_LED", 0, "daemon stopped")
	s.wantLevel(t, "BOT_PUMP", 1, "daemon stopped (pump active_low)")
}

// The shipped binary itself: `tweetpi run` on the periph backend with the
// lines named in its config, polling the fake X API in this process over
// loopback TCP; then SIGTERM, and `tweetpi safe -from-state` as the unit's
// ExecStopPost runs it. Levels are read on the kernel's side. It uses lines
// this test process never requests (periph keeps a line it has requested).
func TestVMRunBinary(t *testing.T) {
	s := vmGPIOSim(t)
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	alice := srv.AddUser("alice")
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := vmDaemonConfig(srv, state, "SIREN", "HEATER")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := vmStartTrace(t, s)
	c := vmTweetpi(t, "run", "-config", cfgPath, "-log-format", "json")
	var logs strings.Builder
	c.Stdout, c.Stderr = &logs, &logs
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	defer func() {
		if t.Failed() {
			t.Logf("tweetpi run log:\n%s", logs.String())
		}
	}()
	waitPolls := func(n int) {
		t.Helper()
		end := time.Now().Add(20 * time.Second)
		for srv.Requests(twitter.EndpointMentions) < n || srv.Requests(twitter.EndpointDMEvents) < n {
			if time.Now().After(end) {
				t.Fatalf("the daemon did not poll both inboxes %d times", n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitPolls(1) // the starting points
	s.wantLevel(t, "SIREN", 0, "tweetpi run started")
	s.wantLevel(t, "HEATER", 1, "tweetpi run started (pump active_low, off)")

	srv.Post(alice, "@mypi led on", 0)
	s.awaitLevel(t, "SIREN", 1, 20*time.Second, "@alice: led on")
	srv.SendDM(alice, "pump on", 0)
	s.awaitLevel(t, "HEATER", 0, 20*time.Second, "DM pump on (active_low)")
	end := time.Now().Add(20 * time.Second)
	for len(srv.Replies()) < 1 || len(srv.SentDMs()) < 1 {
		if time.Now().After(end) {
			t.Fatalf("replies %v, DMs %v: want one of each", srv.Replies(), srv.SentDMs())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The memory of the packaged binary on this architecture's kernel,
	// after 10 s more of polls every second (a figure, not a check).
	time.Sleep(10 * time.Second)
	t.Logf("tweetpi run memory after two commands and 10s of polls: %s", vmMemory(c.Process.Pid))

	tr.reset(t)
	start := time.Now()
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("tweetpi run after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		c.Process.Kill()
		t.Fatal("tweetpi run did not exit within 10s of SIGTERM")
	}
	took := time.Since(start)
	sets := tr.sets(t, s, "tweetpi")
	if got := sets["SIREN"]; vmLast(got) != 0 {
		t.Errorf("on SIGTERM the kernel saw SIREN set to %v, want 0 last", got)
	}
	if got := sets["HEATER"]; vmLast(got) != 1 {
		t.Errorf("on SIGTERM the kernel saw HEATER (active_low) set to %v, want 1 last", got)
	}
	t.Logf("SIGTERM to exit: %s", took.Round(time.Millisecond))

	// ExecStopPost: no credential, only the list the daemon left.
	s.setPull(t, "SIREN", true)
	tr.reset(t)
	safe := vmTweetpi(t, "safe", "-from-state")
	safe.Env = append(safe.Env, "STATE_DIRECTORY="+state)
	out, err := safe.CombinedOutput()
	if err != nil {
		t.Fatalf("tweetpi safe -from-state: %v\n%s", err, out)
	}
	if got := tr.sets(t, s, "tweetpi")["SIREN"]; vmLast(got) != 0 {
		t.Errorf("safe -from-state: kernel set SIREN to %v, want 0 last\n%s", got, out)
	}
}

// vmMemory is a process's resident memory from /proc/PID/status: VmRSS,
// and of it the process's own (RssAnon) and its binary's pages (RssFile;
// RssShmem in the VM, whose files are in memory).
func vmMemory(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && (k == "VmRSS" || k == "RssAnon" || k == "RssFile" || k == "RssShmem" || k == "VmHWM") {
			parts = append(parts, k+" "+strings.TrimSpace(v))
		}
	}
	return strings.Join(parts, ", ")
}

// vmDaemonConfig is a configuration for `tweetpi run` against the fake X
// API srv, on the periph backend: mentions and DMs polled every second,
// @alice allowed, led an output on line ledPin and pump an active-low output
// on line pumpPin.
func vmDaemonConfig(srv *twittertest.Server, stateDir, ledPin, pumpPin string) string {
	k := srv.Credentials()
	return fmt.Sprintf(`twitter:
  consumer_key: %q
  consumer_secret: %q
  access_token: %q
  access_token_secret: %q
  api_url: %s
  listen: [mentions, dms]
  poll_interval: 1s
  allow: ["@alice"]
state_dir: %s
gpio: {backend: periph}
devices:
  led:  {pin: %s, kind: output}
  pump: {pin: %s, kind: output, active_low: true}
`, k.ConsumerKey, k.ConsumerSecret, k.AccessToken, k.AccessTokenSecret, srv.URL, stateDir, ledPin, pumpPin)
}

// tweetpi pins lists the kernel's line names and leaves every line as it
// found it: a line left exported through /sys/class/gpio is held by the
// kernel, and the daemon can then not request it (EBUSY).
func TestVMPins(t *testing.T) {
	vmGPIOSim(t)
	exported := func() []string {
		m, _ := filepath.Glob("/sys/class/gpio/gpio[0-9]*")
		return m
	}
	if before := exported(); len(before) > 0 {
		t.Fatalf("lines exported before tweetpi pins: %v", before)
	}
	t.Cleanup(func() { // so that no later test finds them held
		for _, p := range exported() {
			_ = os.WriteFile("/sys/class/gpio/unexport", []byte(strings.TrimPrefix(filepath.Base(p), "gpio")), 0)
		}
	})
	out, err := vmTweetpi(t, "pins").CombinedOutput()
	if err != nil {
		t.Fatalf("tweetpi pins: %v\n%s", err, out)
	}
	for _, name := range []string{"LED", "DOOR", "SIREN", "BOT_LED"} {
		if !strings.Contains(string(out), name) {
			t.Errorf("tweetpi pins does not list %s:\n%s", name, out)
		}
	}
	if after := exported(); len(after) > 0 {
		t.Errorf("tweetpi pins left %d lines exported through /sys/class/gpio (%s ...): "+
			"periph's sysfs pins export a line when Function() is called; the daemon cannot then request it.\n%s",
			len(after), after[0], vmLineOwners())
	}
}
