package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fleetExample copies deploy/fleet/NAME.yaml into a new directory with its
// broker password file beside it, both 0600, as the install notes say.
func fleetExample(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile("../../deploy/fleet/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, dir, "mqtt-password", "s3cr3t-broker-pw\n", 0o600)
	return writeFile(t, dir, "config.yaml", string(data), 0o600)
}

// TestCheckFleetExamples: the README's two-node example passes tweetpi
// check: the agent needs no keys, the gateway names the agent's devices.
func TestCheckFleetExamples(t *testing.T) {
	agent := fleetExample(t, "agent")
	code, stdout, stderr := checkRun(t, nil, "-config", agent)
	if code != 0 {
		t.Fatalf("agent: exit %d\n%s", code, stderr)
	}
	want := agent + ": ok: 3 devices (pump output GPIO27, light output GPIO17, door input GPIO22); fleet agent: serves its devices on the broker as node garden, needs no X keys (the gateway holds them); mqtt: mqtt://192.168.1.10:1883 as node garden, user garden, password from file " + filepath.Join(filepath.Dir(agent), "mqtt-password") + "\n"
	if stdout != want {
		t.Errorf("agent:\n%s\nwant:\n%s", stdout, want)
	}
	if strings.Contains(stderr, "twitter") || strings.Contains(stderr, "allow") {
		t.Errorf("an agent warned about X: %s", stderr)
	}

	gw := fleetExample(t, "gateway")
	code, stdout, stderr = checkRun(t, nil, "-config", gw)
	if code != 0 {
		t.Fatalf("gateway: exit %d\n%s", code, stderr)
	}
	for _, w := range []string{
		": ok: 4 devices (led output GPIO17, garden_pump pump on garden, garden_light light on garden, garden_door door on garden); gateway of node garden; listens to",
		"; keys: missing consumer_key, consumer_secret, access_token, access_token_secret (tweetpi run needs them)",
		"; mqtt: mqtt://192.168.1.10:1883 as node gateway, user gateway",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("gateway: no %q in\n%s", w, stdout)
		}
	}
	if strings.Contains(stdout+stderr, "s3cr3t") {
		t.Errorf("the broker password shows")
	}
}

// TestRunAgentOrKeys: tweetpi run on an agent's file needs no keys (it gets
// past them to the state directory); a file with a twitter: section
// without keys, or with neither twitter: nor devices, stops at the keys as
// before, exit 78.
func TestRunAgentOrKeys(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	writeFile(t, dir, "blocker", "", 0o600)
	base := "gpio: {backend: sim}\nmqtt:\n  broker: mqtt://127.0.0.1:1\n  username: garden\n  node: garden\n"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"agent", base + "state_dir: " + filepath.Join(dir, "blocker", "state") + "\ndevices:\n  pump: {pin: GPIO27, kind: output}\n", "blocker"},
		{"twitter without keys", "twitter:\n  allow: [\"@alice\"]\n" + base + "state_dir: " + state + "\ndevices:\n  pump: {pin: GPIO27, kind: output}\n", "twitter.consumer_key: the consumer key is not set"},
		{"empty twitter", "twitter:\n" + base + "state_dir: " + state + "\ndevices:\n  pump: {pin: GPIO27, kind: output}\n", "twitter.consumer_key: the consumer key is not set"},
		{"no devices", base + "state_dir: " + state + "\n", "twitter.consumer_key: the consumer key is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "config.yaml", tc.yaml, 0o600)
			var out, errb strings.Builder
			err := run(t.Context(), []string{"run", "-config", path}, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
			if err == nil {
				t.Fatal("run returned nil")
			}
			if code := exitCode(err, &errb); code != exitConfig {
				t.Errorf("exit %d, want %d", code, exitConfig)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
			if tc.name == "agent" && strings.Contains(err.Error(), "twitter.") {
				t.Errorf("an agent was asked for keys: %v", err)
			}
		})
	}
}

// TestDoRemote: tweetpi do drives this board's pins only: a device of
// another node is refused, saying where to run it.
func TestDoRemote(t *testing.T) {
	gw := fleetExample(t, "gateway")
	var out, errb strings.Builder
	err := run(t.Context(), []string{"do", "-config", gw, "led on; garden_pump on"}, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	if err == nil || err.Error() != "garden_pump is device pump of node garden; tweetpi do drives this board's pins only: run tweetpi do there" {
		t.Errorf("do: %v", err)
	}
	if out.Len() > 0 {
		t.Errorf("do printed %q", out.String())
	}
}
