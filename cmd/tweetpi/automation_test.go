package main

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

const autoConfig = `gpio: {backend: sim}
devices:
  heater: {pin: GPIO5, kind: output}
  cooler: {pin: GPIO6, kind: output}
  led:    {pin: GPIO17, kind: output}
  lamp:   {pin: GPIO13, kind: output, initial: on}
  tank:   {kind: ds18b20, address: 28-00000a1b2c3d}
  room:   {kind: bme280}
interlocks: [[heater, cooler]]
schedules:
  - {at: "06:30", do: "heater on"}
`

// tweetpi do goes through the same rules: it opens the interlocked
// partners too, so that the one going on finds the others off, and waits
// interlock_wait.
func TestDoAutomation(t *testing.T) {
	for _, tt := range []struct {
		cmd    string
		stdout string
		took   time.Duration
	}{
		{"cooler on", "cooler on\nsim pins (in memory only): GPIO5 low, GPIO6 high\n", 500 * time.Millisecond},
		{"led on", "led on\nsim pins (in memory only): GPIO17 high\n", 0},
		{"tank", "tank 21.4°C\n", 750 * time.Millisecond},
		{"room", "room 25.1°C, 42%, 1006.5hPa\n", 0},
		{"all off", "all off: lamp\nsim pins (in memory only): GPIO13 low, GPIO17 low, GPIO5 low, GPIO6 low\n", 0},
		{"status", "tank 21.4°C, room 25.1°C, 42%, 1006.5hPa; up 0s\nheater, cooler, led, lamp: not driven (no tweetpi daemon runs, and an output holds its state only while a tweetpi holds its pin)\n", 750 * time.Millisecond}, // do opens the inputs and sensors for status, and names the outputs it does not open
	} {
		t.Run(tt.cmd, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := writeConfig(t, autoConfig)
				start := time.Now()
				stdout, stderr, code := runCmd(t.Context(), "do", "-config", cfg, tt.cmd)
				if code != 0 || stderr != "" {
					t.Fatalf("exit %d, stderr %q", code, stderr)
				}
				if stdout != tt.stdout {
					t.Errorf("stdout %q, want %q", stdout, tt.stdout)
				}
				if took := time.Since(start); tt.took > 0 && took < tt.took {
					t.Errorf("took %s, want at least %s", took, tt.took)
				}
			})
		})
	}
}

func TestDoSchedules(t *testing.T) {
	cfg := writeConfig(t, autoConfig)
	stdout, stderr, code := runCmd(t.Context(), "do", "-config", cfg, "schedules")
	if code != 0 || !strings.HasPrefix(stdout, "schedules: heater on at 06:30, next ") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// A schedule's bad time or command is a configuration error with its
// line, for check, do and run alike.
func TestCheckSchedules(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "config.yaml", autoConfig+`  - {cron: "0 6 * * 8", do: "heater on"}
  - {at: "07:00", do: "heatr on"}
`, 0o600)
	want := []string{
		`tweetpi: DIR/config.yaml:12: schedules[2].cron: "0 6 * * 8": day of week 8 is out of range 0-7`,
		`DIR/config.yaml:13: schedules[3].do: "heatr on" is not a command: no device "heatr"; did you mean heater?`,
	}
	code, stdout, stderr := checkRun(t, nil, "-config", path)
	if code != 1 || stdout != "" {
		t.Errorf("check: exit %d, stdout %q", code, stdout)
	}
	if w := strings.ReplaceAll(strings.Join(want, "\n")+"\n", "DIR", dir); stderr != w {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, w)
	}
	for _, c := range [][]string{{"do", "-config", path, "led on"}, {"run", "-config", path}} {
		if _, stderr, code := runCmd(t.Context(), c...); code != exitConfig || !strings.Contains(stderr, "schedules[2].cron") {
			t.Errorf("%s: exit %d, stderr %q", c[0], code, stderr)
		}
	}
	good := writeFile(t, dir, "good.yaml", autoConfig, 0o600)
	code, stdout, _ = checkRun(t, nil, "-config", good)
	if code != 0 || !strings.Contains(stdout, "6 devices on simulated pins (heater output GPIO5, cooler output GPIO6, led output GPIO17, lamp output GPIO13, tank ds18b20 28-00000a1b2c3d, room bme280 i2c-1 0x76); interlocks: heater/cooler (500ms); 1 schedule;") {
		t.Errorf("check: exit %d, %q", code, stdout)
	}
}

// TestE2EConfirm: the real daemon and bot. A mention that would open the
// garage is answered with the question; the same person's yes by DM runs
// it once; a yes with nothing waiting is answered and runs nothing.
func TestE2EConfirm(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon as a process: not under -short")
	}
	t.Parallel()
	f := newFake(t, "v2")
	files := writeDaemonConfig(t, f, daemonConfig{Devices: `  garage: {pin: GPIO5, kind: output, max_on: 2s, confirm: true}
  led: {pin: GPIO17, kind: output}
`})
	p := startDaemon(t, files.Path, files.Env)
	p.waitFresh()

	f.Post(f.Alice, "@mypi garage pulse 1s", 0)
	if r := f.waitReplies(t, 1); !strings.HasPrefix(r[0].Text, "reply yes within 60s to run: garage pulse 1s") {
		t.Fatalf("reply %q", r[0].Text)
	}
	if n := p.countLog("pin set", "device", "garage", "by", "pulse"); n != 0 {
		t.Fatalf("the garage ran before the yes")
	}
	yes := f.SendDM(f.Alice, "yes", 0)
	p.waitLog("command", "post_id", yes.ID, "result", "ran")
	if dms := f.waitDMs(t, 1); !strings.HasPrefix(dms[0].Text, "garage on for 1s") {
		t.Errorf("DM %q", dms[0].Text)
	}
	again := f.Post(f.Alice, "@mypi yes", 0)
	p.waitLog("command", "post_id", again.ID)
	if r := f.waitReplies(t, 2); !strings.HasPrefix(r[1].Text, "nothing waits for your yes") {
		t.Errorf("second yes: %q", r[1].Text)
	}
	if n := p.countLog("pin set", "device", "garage", "by", "pulse", "state", "on"); n != 1 {
		t.Errorf("the garage went on %d times, want 1", n)
	}
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d", code)
	}
}
