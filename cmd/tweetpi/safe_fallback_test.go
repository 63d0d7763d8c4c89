package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tweetpi/tweetpi/config"
)

// TestSafeWithoutCredential: ExecStopPost runs `tweetpi safe` where the
// configuration cannot be read; it must still find the outputs, from the
// list the daemon left in its state directory.
func TestSafeWithoutCredential(t *testing.T) {
	state := t.TempDir()
	cfg, err := config.Parse("c.yaml", []byte(simConfig), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = state
	if err := config.WriteDeviceList(cfg.StateDir, cfg.GPIO.Backend, cfg.Devices); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		switch k {
		case "STATE_DIRECTORY":
			return state
		case "TWEETPI_CONFIG":
			return filepath.Join(t.TempDir(), "unreadable.yaml")
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	err = run(t.Context(), []string{"safe"}, getenv, strings.NewReader(""), &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got := stdout.String(); !strings.Contains(got, "led GPIO17, pump GPIO27, fan GPIO18 off") {
		t.Errorf("stdout %q does not name the outputs it made safe", got)
	}
	if !strings.Contains(stderr.String(), filepath.Join(state, config.DeviceListFile)) {
		t.Errorf("stderr %q does not say where the devices came from", stderr.String())
	}

	// With neither, it fails as a configuration error.
	os.Remove(filepath.Join(state, config.DeviceListFile))
	stderr.Reset()
	err = run(t.Context(), []string{"safe"}, getenv, strings.NewReader(""), &stdout, &stderr)
	if code := exitCode(err, &stderr); code != exitConfig {
		t.Errorf("exit %d, want %d: %s", code, exitConfig, stderr.String())
	}
}

// TestSafeFromState: the unit's ExecStopPost drives only what the daemon
// drove, and nothing when the daemon never opened the pins (a fresh install
// without keys must not touch pins wired to something else).
func TestSafeFromState(t *testing.T) {
	state := t.TempDir()
	getenv := func(k string) string {
		if k == "STATE_DIRECTORY" {
			return state
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"safe", "-from-state"}, getenv, strings.NewReader(""), &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 0 || !strings.Contains(stdout.String(), "drove no pins") {
		t.Fatalf("exit %d, stdout %q: want 0 and nothing done", code, stdout.String())
	}
	cfg, err := config.Parse("c.yaml", []byte(simConfig), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = state
	if err := config.WriteDeviceList(cfg.StateDir, cfg.GPIO.Backend, cfg.Devices[:1]); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	err = run(t.Context(), []string{"safe", "-from-state"}, getenv, strings.NewReader(""), &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 0 || !strings.Contains(stdout.String(), "safe: led GPIO17 off") {
		t.Fatalf("exit %d, stdout %q: want led made safe", code, stdout.String())
	}
}

// TestE2ESafeFromStateConfig: `safe -from-state -config F` reads the device
// list in F's state_dir (not the default one), and always names the
// directory it looked in.
func TestE2ESafeFromStateConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	state := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, simConfig+"state_dir: "+state+"\n")
	safe := func() (string, string) {
		t.Helper()
		cmd := exec.Command(tweetpiBinary(t), "safe", "-from-state", "-config", path)
		cmd.Env = []string{"HOME=" + t.TempDir()}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("tweetpi safe: %v\n%s", err, stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	stdout, _ := safe()
	if want := "safe: no device list in " + state + ": the daemon drove no pins there\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	cfg, err := config.Parse("c.yaml", []byte(simConfig), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := config.WriteDeviceList(state, cfg.GPIO.Backend, cfg.Devices[:2]); err != nil {
		t.Fatal(err)
	}
	stdout, stderr := safe()
	if !strings.HasPrefix(stdout, "safe: led GPIO17, pump GPIO27 off\n") {
		t.Errorf("stdout %q: want led and pump made safe", stdout)
	}
	if !strings.Contains(stderr, filepath.Join(state, config.DeviceListFile)) {
		t.Errorf("stderr %q does not name %s", stderr, filepath.Join(state, config.DeviceListFile))
	}
}
