package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
	"github.com/tweetpi/tweetpi/twitter/bot"
)

// runEnv runs tweetpi with args and the environment env (NAME=value).
func runEnv(ctx context.Context, env []string, args ...string) (string, string, int) {
	getenv := func(k string) string {
		for _, kv := range env {
			if name, v, ok := strings.Cut(kv, "="); ok && name == k {
				return v
			}
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, getenv, strings.NewReader(""), &stdout, &stderr)
	code := exitCode(err, &stderr)
	return stdout.String(), stderr.String(), code
}

// TestStatusNotRunning: with no daemon, tweetpi status says so, with where
// it looked and how to start one, and exits 3 (LSB's "not running").
func TestStatusNotRunning(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, "state_dir: "+filepath.Join(dir, "state")+"\n"+simConfig)
	run := filepath.Join(dir, "run")
	for _, args := range [][]string{{"status"}, {"status", "-json"}} {
		stdout, stderr, code := runEnv(t.Context(), []string{"RUNTIME_DIRECTORY=" + run}, append(args, "-config", cfg)...)
		if code != exitNotRunning || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q; want %d and nothing", args, code, stdout, exitNotRunning)
		}
		for _, want := range []string{"no tweetpi daemon is running", run, filepath.Join(dir, "state", "run"), "systemctl start tweetpi"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%v: stderr %q lacks %q", args, stderr, want)
			}
		}
	}

	// A file a daemon left when it was killed: its process is gone.
	os.MkdirAll(run, 0o755)
	st := bot.Status{Version: "1", PID: 1 << 22, BootID: bot.BootID(), Updated: time.Now()}
	data, _ := json.Marshal(st)
	os.WriteFile(filepath.Join(run, bot.StatusFile), data, 0o644)
	_, stderr, code := runEnv(t.Context(), []string{"RUNTIME_DIRECTORY=" + run}, "status", "-config", cfg)
	if code != exitNotRunning || !strings.Contains(stderr, "pid 4194304") || !strings.Contains(stderr, "is gone") {
		t.Errorf("a stale file: exit %d, stderr %q", code, stderr)
	}
}

// TestStatusRunning: with a status file whose process runs (this one),
// tweetpi status prints it and exits 0; -json prints the file's schema.
func TestStatusRunning(t *testing.T) {
	run := t.TempDir()
	v := 1.0
	rep := bot.NewReporter(bot.ReporterOptions{Version: "test", Dir: run, Devices: fixedStates{{Name: "led", Kind: "output", State: "on", Value: &v}}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { rep.Run(ctx); close(done) }()
	waitFake(t, "the status file", func() bool { _, err := os.Stat(filepath.Join(run, bot.StatusFile)); return err == nil })
	env := []string{"RUNTIME_DIRECTORY=" + run}
	stdout, stderr, code := runEnv(t.Context(), env, "status")
	// No bot: as a fleet agent, which has no X side.
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("tweetpi test (pid %d)", os.Getpid())) || !strings.Contains(stdout, "devices: led on") ||
		!strings.Contains(stdout, "delivery: none (no twitter: section") {
		t.Errorf("status: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	stdout, _, code = runEnv(t.Context(), env, "status", "-json")
	var got bot.Status
	if err := json.Unmarshal([]byte(stdout), &got); code != 0 || err != nil || got.PID != os.Getpid() || len(got.Devices) != 1 {
		t.Errorf("status -json: exit %d, %v, %+v", code, err, got)
	}
	cancel()
	<-done
	if _, stderr, code := runEnv(t.Context(), env, "status"); code != exitNotRunning {
		t.Errorf("after the stop: exit %d, stderr %q", code, stderr)
	}
}

type fixedStates []bot.DeviceState

func (s fixedStates) DeviceStates() []bot.DeviceState { return s }

// TestDoStatusAllDevices: tweetpi do status names every device: with no
// daemon the outputs are said to be not driven; with one running, its
// states are shown.
func TestDoStatusAllDevices(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cfg := writeConfig(t, "state_dir: "+state+"\n"+simConfig)
	stdout, stderr, code := runEnv(t.Context(), nil, "do", "-config", cfg, "status")
	if code != 0 || !strings.Contains(stdout, "door open") || !strings.Contains(stdout, "led, pump, fan: not driven (no tweetpi daemon runs") {
		t.Errorf("no daemon: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	v := 1.0
	devs := fixedStates{{Name: "led", Kind: "output", State: "on", Value: &v}, {Name: "pump", Kind: "output", State: "off"},
		{Name: "fan", Kind: "pwm", State: "40%"}, {Name: "door", Kind: "input", State: "closed"}}
	rep := bot.NewReporter(bot.ReporterOptions{Version: "test", Dir: filepath.Join(state, runDirName), Devices: devs})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go rep.Run(ctx)
	waitFake(t, "the status file", func() bool { _, err := os.Stat(filepath.Join(state, runDirName, bot.StatusFile)); return err == nil })
	stdout, stderr, code = runEnv(t.Context(), nil, "do", "-config", cfg, "status")
	want := fmt.Sprintf("led on, pump off, fan 40%%, door closed (the running daemon's, pid %d)\n", os.Getpid())
	if code != 0 || stdout != want {
		t.Errorf("a daemon runs: exit %d, stdout %q, want %q; stderr %q", code, stdout, want, stderr)
	}
}

// TestE2EStatus: the real daemon keeps a status file that tweetpi status
// reads (exit 0; its JSON's keys are testdata/status_keys.golden, the
// schema users rely on), serves /metrics with Prometheus's Content-Type,
// and after SIGTERM status says no daemon runs (exit 3).
func TestE2EStatus(t *testing.T) {
	slowE2E(t)
	f := newFake(t, "v2")
	run := tmpfsDir(t)
	files := writeDaemonConfig(t, f, daemonConfig{Extra: "budget: {daily: 0.5}\nmetrics: {listen: \"127.0.0.1:0\"}\n"})
	env := append([]string{"RUNTIME_DIRECTORY=" + run}, files.Env...)
	p := startDaemon(t, files.Path, env)
	p.waitFresh()
	ok := f.Post(f.Alice, "@mypi led on", 0)
	p.waitLog("command", "post_id", ok.ID, "result", "ran")
	f.waitReplies(t, 1)
	metricsURL := p.waitLog("metrics").str("listen")
	settle(t, f, "mentions")

	bin := tweetpiBinary(t)
	status := func(args ...string) (string, int) {
		cmd := exec.Command(bin, append([]string{"status"}, args...)...)
		cmd.Env = env
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return string(out), code
	}
	out, code := status("-json")
	if code != 0 {
		t.Fatalf("status -json: exit %d\n%s", code, out)
	}
	var st bot.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if st.PID != p.cmd.Process.Pid || st.Account != "@mypi" || st.Delivery == nil || st.Delivery.Mode != bot.DeliveryPoll ||
		st.Commands.Today[bot.ResultRan] != 1 || st.Spend == nil || st.Spend.TodayUSD <= 0 || st.Spend.DailyBudgetUSD != 0.5 {
		t.Errorf("status %s", out)
	}
	var names []string
	for _, d := range st.Devices {
		names = append(names, d.Name+" "+d.State)
	}
	if !slices.Equal(names, []string{"led on", "fan 0%", "pump off"}) {
		t.Errorf("devices %q", names)
	}
	golden(t, filepath.Join("testdata", "status_keys.golden"), strings.Join(jsonKeys(t, out), "\n")+"\n")
	text, code := status()
	if code != 0 || !strings.Contains(text, "account @mypi") || !strings.Contains(text, "commands today") {
		t.Errorf("status: exit %d\n%s", code, text)
	}

	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != bot.MetricsContentType {
		t.Errorf("/metrics Content-Type %q", ct)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	if _, err := parser.TextToMetricFamilies(bytes.NewReader(body)); err != nil {
		t.Errorf("/metrics does not parse: %v\n%s", err, body)
	}
	if !strings.Contains(string(body), `tweetpi_commands_total{inbox="mentions",result="ran"} 1`) || !strings.Contains(string(body), `tweetpi_output_on{device="led"} 1`) {
		t.Errorf("/metrics lacks the command or the led:\n%s", body)
	}

	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	if out, code := status(); code != exitNotRunning {
		t.Errorf("after the stop: exit %d\n%s", code, out)
	}
}

// jsonKeys are the paths of every key of a JSON document, with the kind
// of value: "spend.today_usd number". Items of a list share "[]".
func jsonKeys(t *testing.T, doc string) []string {
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := k
				if path != "" {
					p = path + "." + k
				}
				// Maps keyed by name (results, charges) list their keys too.
				walk(p, e)
			}
			if path != "" {
				seen[path+" object"] = true
			}
		case []any:
			seen[path+" list"] = true
			for _, e := range x {
				walk(path+"[]", e)
			}
		case string:
			seen[path+" string"] = true
		case float64:
			seen[path+" number"] = true
		case bool:
			seen[path+" bool"] = true
		}
	}
	walk("", v)
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -run %s -update rewrites it):\ngot:\n%s\nwant:\n%s", path, t.Name(), got, want)
	}
}

// tmpfsDir is a new directory on a tmpfs, as the unit's RuntimeDirectory
// is: the status file is kept fresh there.
func tmpfsDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "tweetpi-test-")
	if err != nil {
		t.Skipf("no /dev/shm to stand for the unit's tmpfs runtime directory: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestBoardStates: the status shows every device of the board as the
// daemon drives it, outputs, pwm and inputs with their values, sensors with
// their last reading, and commands' changes at once.
func TestBoardStates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg, err := config.Parse("t.yaml", []byte(`gpio: {backend: sim}
devices:
  heater: {pin: GPIO5, kind: output}
  cooler: {pin: GPIO6, kind: output}
  led:    {pin: GPIO17, kind: output}
  lamp:   {pin: GPIO13, kind: output, initial: on}
  tank:   {kind: ds18b20, address: 28-00000a1b2c3d}
  fan:    {pin: GPIO18, kind: pwm}
  door:   {pin: GPIO22, kind: input, high: open, low: closed}
  room:   {kind: bme280}
`), config.Options{})
		if err != nil {
			t.Fatal(err)
		}
		d := &daemon{cfg: cfg, log: slog.New(slog.DiscardHandler), sim: device.NewSim()}
		b, err := d.openBoard(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		d.board = b
		bs := &boardStates{d: d}
		b.Run(t.Context(), "fan 40%; led on", device.Caller{Local: true})
		var got []string
		for _, s := range bs.DeviceStates() {
			v := "-"
			if s.Value != nil {
				v = strconv.FormatFloat(*s.Value, 'g', -1, 64)
			}
			got = append(got, s.Name+" "+s.Kind+" "+s.State+" "+v)
		}
		want := []string{"heater output off 0", "cooler output off 0", "led output on 1", "lamp output on 1", "tank ds18b20 21.4°C 21.4375",
			"fan pwm 40% 0.4", "door input closed 0", "room bme280 25.1°C, 42%, 1006.5hPa -"}
		if !slices.Equal(got, want) {
			t.Errorf("states\n%q\nwant\n%q", got, want)
		}
	})
}

// TestRemoteState: a device of another node shows that node's last state,
// "?" before it published one, and says when the node is offline.
func TestRemoteState(t *testing.T) {
	spec := config.Device{Name: "garden_pump", Node: "garden", NodeDevice: "pump"}
	for _, tc := range []struct {
		r    device.Remote
		want string
	}{
		{device.Remote{Online: true, Known: true, Kind: "output", State: "on"}, "garden_pump output on garden"},
		{device.Remote{Online: false, Known: true, Kind: "output", State: "off"}, "garden_pump output off (offline) garden"},
		{device.Remote{}, "garden_pump remote ? (offline) garden"},
	} {
		ds := remoteState(spec, tc.r)
		if got := ds.Name + " " + ds.Kind + " " + ds.State + " " + ds.Node; got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.r, got, tc.want)
		}
	}
}
