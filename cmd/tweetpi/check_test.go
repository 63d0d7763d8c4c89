package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkRun runs "tweetpi check -config path" with env as the environment and
// returns the exit status and what it printed.
func checkRun(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	err := run(context.Background(), append([]string{"check"}, args...), getenv, strings.NewReader(""), &out, &errb)
	code = exitCode(err, &errb)
	return code, out.String(), errb.String()
}

// writeFile writes a file with mode perm into dir and returns its path.
func writeFile(t *testing.T, dir, name, data string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

// exampleCopy copies deploy/config.example.yaml into a new directory with
// mode 0600, as the install notes tell a user to.
func exampleCopy(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../deploy/config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, t.TempDir(), "config.yaml", string(data), 0o600)
}

func TestCheckExample(t *testing.T) {
	path := exampleCopy(t)
	code, stdout, stderr := checkRun(t, nil, "-config", path)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	want := path + ": ok: 3 devices (led output GPIO17, pump output GPIO27, door input GPIO22); listens to mentions, dms via API v2; nobody can command it yet (twitter.allow is empty); keys: missing consumer_key, consumer_secret, access_token, access_token_secret (tweetpi run needs them)\n"
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	// The installed file lets nobody in, and check says how to change that.
	want = "tweetpi check: warning: twitter.allow is empty, so nobody can command the device; add your own @handle or numeric user id to it, in quotes, like allow: [\"@handle\"]\n"
	if len(boardPins()) == 0 { // not on a board: the example's pins are checked for their form
		want = "tweetpi check: warning: the pin names are checked for their form only: periph sees no GPIO pins on this machine (run tweetpi check on the board to check them against its pins)\n" + want
	}
	if stderr != want {
		t.Errorf("stderr: %q, want %q", stderr, want)
	}
}

func TestCheckConfigFromEnv(t *testing.T) {
	path := exampleCopy(t)
	code, stdout, stderr := checkRun(t, map[string]string{"TWEETPI_CONFIG": path})
	if code != 0 || !strings.HasPrefix(stdout, path+": ok: 3 devices") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	dir := filepath.Dir(path)
	code, stdout, stderr = checkRun(t, map[string]string{"CREDENTIALS_DIRECTORY": dir})
	if code != 0 || !strings.HasPrefix(stdout, filepath.Join(dir, "config.yaml")+": ok:") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestCheckKeys(t *testing.T) {
	const (
		envKey    = "envKEYs3cr3tAAAA"
		fileKey   = "4321-fileKEYs3cr3tBBBB"
		inlineKey = "inlineKEYs3cr3tCCCC"
		lostKey   = "overriddenKEYs3cr3tDDDD"
	)
	dir := t.TempDir()
	writeFile(t, dir, "access_token", fileKey+"\n", 0o400)
	path := writeFile(t, dir, "config.yaml", `twitter:
  consumer_key: "`+lostKey+`"
  consumer_secret: "`+inlineKey+`"
  access_token_file: access_token
  allow: ["@alice"]
gpio: {backend: sim}
devices:
  led: {pin: GPIO17, kind: output}
`, 0o600)

	env := map[string]string{"TWEETPI_CONSUMER_KEY": envKey}
	code, stdout, stderr := checkRun(t, env, "-config", path)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	want := path + ": ok: 1 device on simulated pins (led output GPIO17); listens to mentions via API v2; keys: missing access_token_secret (tweetpi run needs them; set: 1 env, 1 file, 1 inline)\n"
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}

	env["TWEETPI_ACCESS_TOKEN_SECRET"] = envKey
	_, stdout, _ = checkRun(t, env, "-config", path)
	if !strings.HasSuffix(stdout, "; keys: all 4 set (2 env, 1 file, 1 inline)\n") {
		t.Errorf("stdout: %s", stdout)
	}

	// Made readable by others, the file with inline keys is refused, and
	// still no key is printed.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = checkRun(t, env, "-config", path)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "chmod 600 "+path) {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and chmod 600 %s", code, stdout, stderr, path)
	}
	for _, out := range []string{stdout, stderr} {
		for _, k := range []string{envKey, fileKey, inlineKey, lostKey} {
			if strings.Contains(out, k) {
				t.Errorf("a key was printed: %q", out)
			}
		}
	}
	code, _, stderr = checkRun(t, env, "-config", path, "-insecure-perms")
	if code != 0 {
		t.Errorf("with -insecure-perms: exit %d, stderr %q", code, stderr)
	}
}

func TestCheckErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, config string
		want         []string // lines of stderr
	}{
		{
			name: "unknown key",
			config: `twitter:
  allow: ["@alice"]
devices:
  led: {pin: GPIO17, kind: output, pins: GPIO4}
`,
			want: []string{
				"tweetpi: DIR/config.yaml:4: devices.led.pins: unknown key; did you mean pin?",
			},
		},
		{
			name: "several",
			config: `twitter:
  consumer_key: [s3cr3tLIST]
  poll_interval: 5 minutes
devices:
  pump: {pin: GPIO27, kind: output, max_on: "5 minutes"}
  door: {pin: GPIO22, kind: input, max_on: 5m}
`,
			want: []string{
				"tweetpi: DIR/config.yaml:2: twitter.consumer_key: must be the key itself, one value in quotes, not a list",
				`DIR/config.yaml:3: twitter.poll_interval: "5 minutes" is not a duration; write it like 5m or 90s`,
				`DIR/config.yaml:5: devices.pump.max_on: "5 minutes" is not a duration; write it like 5m or 90s`,
				`DIR/config.yaml:6: devices.door.max_on: max_on is only for output or pwm devices and door is an input; remove it`,
			},
		},
		{
			name:   "not yaml",
			config: "twitter:\n\tapi: v2\n",
			want: []string{
				"tweetpi: DIR/config.yaml:2: not valid YAML: found character that cannot start any token; YAML indents with spaces, not tabs; replace the tabs",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, "config.yaml", tc.config, 0o600)
			code, stdout, stderr := checkRun(t, nil, "-config", path)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			want := strings.ReplaceAll(strings.Join(tc.want, "\n")+"\n", "DIR", dir)
			if stderr != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
			}
			if strings.Contains(stderr, "s3cr3t") {
				t.Errorf("a key was printed")
			}
		})
	}
}

func TestCheckMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	code, _, stderr := checkRun(t, nil, "-config", path)
	if code != 1 || !strings.Contains(stderr, path+": no such file") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestCheckWarnings(t *testing.T) {
	path := writeFile(t, t.TempDir(), "config.yaml", "gpio: {backend: sim}\n", 0o644)
	code, stdout, stderr := checkRun(t, nil, "-config", path)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if want := path + ": ok: no devices; listens to mentions via API v2; nobody can command it yet (twitter.allow is empty); keys: missing consumer_key, consumer_secret, access_token, access_token_secret (tweetpi run needs them)\n"; stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	for _, w := range []string{"warning: no devices", "warning: twitter.allow is empty"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q lacks %q", stderr, w)
		}
	}
}

func TestCheckUsage(t *testing.T) {
	code, _, _ := checkRun(t, nil, "extra")
	if code != exitUsage {
		t.Errorf("check extra: exit %d, want %d", code, exitUsage)
	}
	code, _, stderr := checkRun(t, nil, "-h")
	if code != 0 || !strings.Contains(stderr, "-config") {
		t.Errorf("check -h: exit %d, stderr %q", code, stderr)
	}
}

// TestCheckWarnsDeviceAllow: a device allow naming someone twitter.allow
// does not let in is a warning (the file loads; nobody can use the device
// through that entry), and a short key is one too, without the key.
func TestCheckWarnsDeviceAllow(t *testing.T) {
	path := writeFile(t, t.TempDir(), "config.yaml", `twitter:
  consumer_key: "shortKEY1"
  allow: ["@alice"]
gpio: {backend: sim}
devices:
  pump: {pin: GPIO27, kind: output, allow: ["@bob"]}
`, 0o600)
	code, _, stderr := checkRun(t, nil, "-config", path)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, w := range []string{
		"tweetpi check: warning: " + path + `:6: devices.pump.allow: "@bob" is not in twitter.allow, so it cannot command pump`,
		"tweetpi check: warning: twitter.consumer_key (inline) is only 9 characters long",
	} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q lacks %q", stderr, w)
		}
	}
	if strings.Contains(stderr, "shortKEY1") {
		t.Errorf("the key is shown: %q", stderr)
	}
}
