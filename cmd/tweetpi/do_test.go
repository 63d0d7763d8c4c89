package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

const simConfig = `gpio: {backend: sim}
devices:
  led:  {pin: GPIO17, kind: output, initial: off}
  pump: {pin: GPIO27, kind: output, max_on: 5m, aliases: [water], allow: ["@alice"]}
  fan:  {pin: GPIO18, kind: pwm, frequency: 25kHz}
  door: {pin: GPIO22, kind: input, pull: up, notify: true, high: open, low: closed}
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func noEnv(string) string { return "" }

// runCmd runs tweetpi with args and returns stdout, stderr and the exit status.
func runCmd(ctx context.Context, args ...string) (string, string, int) {
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, noEnv, strings.NewReader(""), &stdout, &stderr)
	code := exitCode(err, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestDo(t *testing.T) {
	tests := []struct {
		cmd    string
		code   int
		stdout string
		stderr string
	}{
		{"led on", 0, "led on\nsim pins (in memory only): GPIO17 high\n", ""},
		{"fan 40%", 0, "fan 40%\nsim pins (in memory only): GPIO18 pwm 40%\n", ""},
		{"led on; fan 100%", 0, "led on; fan 100%\nsim pins (in memory only): GPIO17 high, GPIO18 pwm 100%\n", ""},
		{"pump on", 0, "pump on (off by itself in 5m)\nsim pins (in memory only): GPIO27 low\n", "waiting: pump off in 5m (max_on) (Ctrl-C turns it off now)\n"},
		{"pump pulse 2s", 0, "pump on for 2s\nsim pins (in memory only): GPIO27 low\n", "waiting: pump off in 2s (pulse)"},
		{"led blink 2 200ms", 0, "led blinking 2 times, every 200ms\nsim pins (in memory only): GPIO17 low\n", "waiting"},
		{"door", 0, "door is open\nsim pins (in memory only): GPIO22 in high\n", ""},
		{"help", 0, "devices: led, pump (water), fan, door\n", ""},
		{"status", 0, "door open; up 0s\n", ""},
		{"lde on", 1, "", `tweetpi: no device "lde"; did you mean led?` + "\n"},
		{"led on; lde off", 1, "", "tweetpi: nothing run: command 2: no device"},
		{"", 2, "", `say what to do`},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := writeConfig(t, simConfig)
				start := time.Now()
				stdout, stderr, code := runCmd(t.Context(), "do", "-config", cfg, tt.cmd)
				if code != tt.code {
					t.Errorf("exit %d, want %d; stderr %q", code, tt.code, stderr)
				}
				if !strings.Contains(stdout, tt.stdout) || (tt.stdout == "" && stdout != "") {
					t.Errorf("stdout %q, want %q", stdout, tt.stdout)
				}
				if !strings.Contains(stderr, tt.stderr) || (tt.stderr == "" && stderr != "") {
					t.Errorf("stderr %q, want %q", stderr, tt.stderr)
				}
				if tt.cmd == "pump pulse 2s" {
					if took := time.Since(start); took != 2*time.Second {
						t.Errorf("do returned after %s, want the 2s pulse", took)
					}
				}
			})
		})
	}
}

func TestDoWordsWithoutQuotes(t *testing.T) {
	cfg := writeConfig(t, simConfig)
	stdout, stderr, code := runCmd(t.Context(), "do", "-config", cfg, "led", "on")
	if code != 0 || !strings.HasPrefix(stdout, "led on\n") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestDoIgnoresAllowLists(t *testing.T) {
	cfg := writeConfig(t, simConfig)
	synctest.Test(t, func(t *testing.T) {
		if stdout, stderr, code := runCmd(t.Context(), "do", "-config", cfg, "water pulse 1s"); code != 0 || !strings.HasPrefix(stdout, "pump on for 1s") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
}

func TestDoInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := writeConfig(t, simConfig)
		ctx, cancel := context.WithCancel(t.Context())
		var stdout, stderr bytes.Buffer
		done := make(chan error)
		go func() {
			done <- run(ctx, []string{"do", "-config", cfg, "pump pulse 1m"}, noEnv, nil, &stdout, &stderr)
		}()
		time.Sleep(10 * time.Second)
		cancel()
		err := <-done
		if err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Errorf("error %v, want interrupted", err)
		}
		if !strings.Contains(stdout.String(), "GPIO27 low") {
			t.Errorf("stdout %q: the pump is not off", stdout.String())
		}
	})
}

func TestDoBadConfig(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	_, stderr, code := runCmd(t.Context(), "do", "-config", missing, "led on")
	if code != exitConfig {
		t.Errorf("exit %d for a missing config, want %d; stderr %q", code, exitConfig, stderr)
	}
	cfg := writeConfig(t, "gpio: {backend: sim}\ndevices:\n  fan: {pin: GPIO4, kind: pwm}\n")
	_, stderr, code = runCmd(t.Context(), "do", "-config", cfg, "led on")
	if code != 1 || !strings.Contains(stderr, `no device "led"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestSafe(t *testing.T) {
	cfg := writeConfig(t, simConfig)
	stdout, stderr, code := runCmd(t.Context(), "safe", "-config", cfg)
	if code != 0 {
		t.Fatalf("exit %d; stderr %q", code, stderr)
	}
	want := "safe: led GPIO17, pump GPIO27, fan GPIO18 off\nsim pins (in memory only): GPIO17 low, GPIO18 low, GPIO27 low\n"
	if stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	if _, stderr, code := runCmd(t.Context(), "safe", "-config", cfg, "extra"); code != exitUsage {
		t.Errorf("safe with an argument: exit %d, stderr %q", code, stderr)
	}
	none := writeConfig(t, "gpio: {backend: sim}\ndevices:\n  door: {pin: GPIO22, kind: input}\n")
	if stdout, _, code := runCmd(t.Context(), "safe", "-config", none); code != 0 || stdout != "no outputs to make safe\n" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}

func TestUnknownPin(t *testing.T) {
	var known []string
	for i := range 54 {
		known = append(known, "GPIO"+strconv.Itoa(i))
	}
	err := unknownPin("GPIO99", known)
	msg := err.Error()
	for _, w := range []string{`no pin "GPIO99"`, "GPIO0, GPIO1,", "GPIO23", "and 30 more", "tweetpi pins"} {
		if !strings.Contains(msg, w) {
			t.Errorf("%q lacks %q", msg, w)
		}
	}
	if msg := unknownPin("GPIO17", nil).Error(); !strings.Contains(msg, "backend: sim") {
		t.Errorf("no pins: %q", msg)
	}
}

func TestNaturalLess(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"GPIO2", "GPIO10", true}, {"GPIO10", "GPIO2", false}, {"GPIO2", "GPIO2", false},
		{"EMMC_CLK", "GPIO2", true}, {"P1_3", "P1_11", true}, {"SDA", "SCL", false},
	} {
		if got := naturalLess(tt.a, tt.b); got != tt.want {
			t.Errorf("naturalLess(%q, %q) = %t", tt.a, tt.b, got)
		}
	}
}

func TestPinSourceBackends(t *testing.T) {
	cfg := writeConfig(t, simConfig)
	var stderr bytes.Buffer
	c, err := (&configFlags{path: cfg}).load(&env{getenv: noEnv, stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	pins, sim, err := pinSource(c, cmdLogger(io.Discard, false))
	if err != nil || sim == nil || pins == nil {
		t.Fatalf("sim backend: %v %v", sim, err)
	}
	c.GPIO.Backend = "gpiod"
	_, _, err = pinSource(c, cmdLogger(io.Discard, false))
	var ee *exitError
	if err == nil || !strings.Contains(err.Error(), "use periph or sim") || !errors.As(err, &ee) || ee.code != exitConfig {
		t.Errorf("bad backend: %v", err)
	}
}
