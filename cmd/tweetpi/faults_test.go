//go:build linux

package main

// Faults the daemon meets at start, against the real binary: a state file
// it cannot trust, a state directory others could write, an API name that
// does not resolve, keys revoked while it runs.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// TestCorruptStateRefused: a torn, empty or garbage state file stops the
// daemon at start with exit status 78 (systemd does not restart it) and a
// message that names the file and the fix; it touches neither the API nor
// the file: it will not guess which commands already ran.
func TestCorruptStateRefused(t *testing.T) {
	t.Parallel()
	tweetpiBinary(t)
	f := newFake(t, "v2")
	// A real state file to tear.
	files := writeDaemonConfig(t, f, daemonConfig{})
	p := startDaemon(t, files.Path, files.Env)
	p.waitFresh()
	if code, _ := p.term(); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	good, err := os.ReadFile(filepath.Join(files.StateDir, bot.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"torn":     good[:len(good)*2/3],
		"empty":    nil,
		"zeros":    make([]byte, len(good)), // the blocks of a file whose data never reached the disk
		"garbage":  []byte("\x89PNG\r\n\x1a\n not json"),
		"trailing": append(append([]byte{}, good...), "}\n"...),
		"version":  bytes.Replace(good, []byte(`"version": 1`), []byte(`"version": 7`), 1),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			files := writeDaemonConfig(t, f, daemonConfig{})
			if err := os.MkdirAll(files.StateDir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(files.StateDir, bot.StateFile)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			before := f.Requests(twitter.EndpointMentions) + f.Requests(twitter.EndpointMe)
			p := startDaemon(t, files.Path, files.Env)
			if code := p.wait(); code != exitConfig {
				t.Fatalf("exit %d, want %d\n%s", code, exitConfig, p.stderrText())
			}
			out := p.stderrText()
			for _, want := range []string{"state file is corrupt", path, "will not guess", "mv " + path} {
				if !strings.Contains(out, want) {
					t.Errorf("stderr does not say %q:\n%s", want, out)
				}
			}
			if n := p.countLog("run"); n != 0 {
				t.Errorf("%d commands ran", n)
			}
			if after := f.Requests(twitter.EndpointMentions) + f.Requests(twitter.EndpointMe); after != before {
				t.Errorf("the daemon called the API %d times with a corrupt state file", after-before)
			}
			got, _ := os.ReadFile(path)
			if !bytes.Equal(got, data) {
				t.Errorf("the corrupt state file was changed: it is the evidence")
			}
			checkNoSecret(t, f.secrets(), []*daemonProc{p}, files.StateDir)
		})
	}
}

// TestStateDirRefused: a state directory that is a symlink, or writable by
// group or others, is refused at start (exit 78) with the fix named.
func TestStateDirRefused(t *testing.T) {
	t.Parallel()
	tweetpiBinary(t)
	f := newFake(t, "v2")
	for name, c := range map[string]struct {
		setup func(t *testing.T, dir string)
		want  string
	}{
		"symlink": {func(t *testing.T, dir string) {
			real := filepath.Join(t.TempDir(), "real")
			if err := os.Mkdir(real, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(real, dir); err != nil {
				t.Fatal(err)
			}
		}, "is a symlink; point state_dir at the real directory"},
		"world-writable": {func(t *testing.T, dir string) {
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			os.Chmod(dir, 0o777)
		}, "chmod 700 "},
		"group-writable": {func(t *testing.T, dir string) {
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			os.Chmod(dir, 0o770)
		}, "chmod 700 "},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			files := writeDaemonConfig(t, f, daemonConfig{})
			c.setup(t, files.StateDir)
			p := startDaemon(t, files.Path, files.Env)
			if code := p.wait(); code != exitConfig {
				t.Fatalf("exit %d, want %d\n%s", code, exitConfig, p.stderrText())
			}
			if out := p.stderrText(); !strings.Contains(out, c.want) || !strings.Contains(out, files.StateDir) {
				t.Errorf("stderr does not name %s and say %q:\n%s", files.StateDir, c.want, out)
			}
			checkNoSecret(t, f.secrets(), []*daemonProc{p})
		})
	}
}

// TestDNSFailure: an api_url whose name does not resolve keeps the daemon
// running and retrying (a Pi often boots before its network); it neither
// exits nor spins.
func TestDNSFailure(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	files := writeDaemonConfig(t, f, daemonConfig{})
	cfg, err := os.ReadFile(files.Path)
	if err != nil {
		t.Fatal(err)
	}
	cfg = bytes.Replace(cfg, []byte("api_url: "+f.URL), []byte("api_url: http://api.tweetpi.invalid"), 1)
	if err := os.WriteFile(files.Path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	p := startDaemon(t, files.Path, files.Env)
	p.waitLogN(2, "who am I: will retry")
	time.Sleep(2 * time.Second)
	if p.exited() {
		t.Fatalf("the daemon exited on a DNS failure\n%s", p.stderrText())
	}
	if n := p.countLog("who am I: will retry"); n > 6 {
		t.Errorf("%d tries in about 3s: the backoff does not hold", n)
	}
	l := p.logs()[len(p.logs())-1]
	if !strings.Contains(l.Raw, "api.tweetpi.invalid") {
		t.Errorf("the retry line does not name the host that failed: %s", l.Raw)
	}
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
	checkNoSecret(t, f.secrets(), []*daemonProc{p}, files.StateDir)
}

// TestKeysRevokedMidRun: 401 after the daemon has run (keys revoked in the
// portal) is loud, keeps the outputs as they are, runs nothing, retries
// slowly (not in a loop that burns the quota or the CPU), and recovers
// when the keys work again.
func TestKeysRevokedMidRun(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	files := writeDaemonConfig(t, f, daemonConfig{Listen: []string{bot.InboxMentions}})
	p := startDaemon(t, files.Path, files.Env)
	p.waitFresh(bot.InboxMentions)
	before := f.Requests(twitter.EndpointMentions)
	f.Fail(twitter.EndpointMentions, twittertest.Fault{Status: 401, Count: -1,
		Body: `{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`})
	line := p.waitLog("the API refused the keys; outputs stay as they are, retrying slowly")
	if line.Level != "ERROR" || !strings.Contains(line.str("fix"), "tweetpi auth") {
		t.Errorf("the 401 line is not an error naming the fix: %s", line.Raw)
	}
	f.Post(f.Alice, "@mypi led on", 0)
	time.Sleep(3 * time.Second)
	if p.exited() {
		t.Fatalf("the daemon exited on a 401 after it had run: systemd would not restart it (78)\n%s", p.stderrText())
	}
	if n := f.Requests(twitter.EndpointMentions) - before; n > 2 {
		t.Errorf("%d mention polls in 3s with revoked keys, want at most 2 (slow retries)", n)
	}
	if n := p.countLog("run"); n != 0 {
		t.Errorf("a command ran with revoked keys")
	}
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
	checkNoSecret(t, f.secrets(), []*daemonProc{p}, files.StateDir)
}
