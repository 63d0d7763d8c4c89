//go:build linux

package main

// Faults the daemon meets, against the real binary: a state file it cannot
// trust (or one an older tweetpi left unbounded, with a bad cursor), a state
// directory others could write, an API name that does not resolve, keys
// revoked while it runs, an edited post, a DM whose answer was lost, slow
// replies.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/config"
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
// portal) is loud, keeps the outputs as they are, runs nothing (not even
// what the stream, on the app's bearer token, still delivers), retries
// slowly (not in a loop that burns the quota or the CPU), and recovers
// when the keys work again.
func TestKeysRevokedMidRun(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	files := writeDaemonConfig(t, f, daemonConfig{Listen: []string{bot.InboxMentions}, Delivery: config.DeliveryAuto})
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

// TestBadCursorStateRepaired: a state file an older tweetpi left with a
// mentions cursor that is not an X id (20 digits: every poll would be a
// 400, every post taken) starts the mentions afresh, says so, runs nothing
// old and runs a new command.
func TestBadCursorStateRepaired(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	old := f.Post(f.Alice, "@mypi led on", 0)
	files := writeDaemonConfig(t, f, daemonConfig{Listen: []string{bot.InboxMentions}})
	if err := os.MkdirAll(files.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	st := fmt.Sprintf(`{"version":1,"account_id":%q,"account_username":"mypi","key_id":%q,"mentions_since":"99999999999999999999","mentions_taken":"99999999999999999999","mentions_started":true,"saved":"2026-01-01T00:00:00Z"}`,
		f.Account().ID, twitter.KeyID(f.Credentials().AccessToken))
	if err := os.WriteFile(filepath.Join(files.StateDir, bot.StateFile), []byte(st), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startDaemon(t, files.Path, files.Env)
	p.waitLog("state file: a bound applied on load")
	p.waitFresh(bot.InboxMentions)
	c := f.Post(f.Alice, "@mypi fan 10%", 0)
	p.waitLog("command", "post_id", c.ID, "result", "ran")
	settle(t, f, twitter.EndpointMentions)
	if runs := runsByPost(p); runs[old.ID] != 0 || runs[c.ID] != 1 {
		t.Errorf("runs: old %d, new %d; want 0 and 1", runs[old.ID], runs[c.ID])
	}
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// TestLoadedOutboxCapped: a state file holding 5,000 queued DMs sends the
// outbox's bound (50), the newest, not 5,000.
func TestLoadedOutboxCapped(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	files := writeDaemonConfig(t, f, daemonConfig{Listen: []string{bot.InboxMentions}})
	st := &bot.State{AccountID: f.Account().ID, AccountUsername: "mypi", KeyID: twitter.KeyID(f.Credentials().AccessToken), MentionsStarted: true}
	for i := range 5000 {
		st.Outbox = append(st.Outbox, bot.Outgoing{Inbox: bot.InboxDMs, To: f.Alice.ID, Text: fmt.Sprintf("queued %d", i), Queued: time.Now()})
	}
	if err := os.MkdirAll(files.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(files.StateDir, time.Now()); err != nil {
		t.Fatal(err)
	}
	p := startDaemon(t, files.Path, files.Env)
	dms := f.waitDMs(t, 50)
	settle(t, f, twitter.EndpointMentions)
	settle(t, f, twitter.EndpointMentions)
	if n := len(f.SentDMs()); n != 50 {
		t.Errorf("%d DMs sent from a loaded outbox of 5000, want 50", n)
	}
	if dms[0].Text != "queued 4950" || dms[49].Text != "queued 4999" {
		t.Errorf("sent %q ... %q, want the newest 50 in order", dms[0].Text, dms[49].Text)
	}
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// TestEditNotRunAgain: an edit of a command that ran (a new id, the same
// text, X's edit history) does not run again and gets no second reply.
func TestEditNotRunAgain(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	files := writeDaemonConfig(t, f, daemonConfig{Listen: []string{bot.InboxMentions}})
	p := startDaemon(t, files.Path, files.Env)
	p.waitFresh(bot.InboxMentions)
	c := f.Post(f.Alice, "@mypi led on", 0)
	p.waitLog("command", "post_id", c.ID, "result", "ran")
	e := f.Edit(c, c.Text)
	p.waitLog("ignored: an edit of a post taken before", "post_id", e.ID, "edit_of", c.ID)
	settle(t, f, twitter.EndpointMentions)
	if runs := runsByPost(p); runs[c.ID] != 1 || runs[e.ID] != 0 {
		t.Errorf("runs: post %d, its edit %d; want 1 and 0", runs[c.ID], runs[e.ID])
	}
	if n := len(f.Replies()); n != 1 {
		t.Errorf("%d replies, want 1", n)
	}
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// TestLostDMAnswer: X takes a DM reply and the answer is lost: the daemon
// looks among the sent DMs before a second try, finds it, and sends it
// once.
func TestLostDMAnswer(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	files := writeDaemonConfig(t, f, daemonConfig{Listen: []string{bot.InboxDMs}})
	p := startDaemon(t, files.Path, files.Env)
	p.waitFresh(bot.InboxDMs)
	f.Fail(twitter.EndpointSendDM, twittertest.Fault{Lost: true})
	d := f.SendDM(f.Alice, "led on", 0)
	p.waitLog("command", "post_id", d.ID, "result", "ran")
	p.waitLog("sent", "inbox", bot.InboxDMs, "confirmed", "true")
	settle(t, f, twitter.EndpointDMEvents)
	if n := len(f.SentDMs()); n != 1 {
		t.Errorf("%d DMs sent, want the reply once", n)
	}
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// TestSlowRepliesBeside: mention replies that take 3 s each to post do not
// hold a DM command behind them: it runs and is answered while they are
// still going out.
func TestSlowRepliesBeside(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	files := writeDaemonConfig(t, f, daemonConfig{})
	p := startDaemon(t, files.Path, files.Env)
	p.waitFresh()
	f.Fail(twitter.EndpointPost, twittertest.Fault{Delay: 3 * time.Second, Count: 6})
	var ids []string
	for i := range 6 {
		ids = append(ids, f.Post(f.Alice, fmt.Sprintf("@mypi fan %d%%", i), 0).ID)
	}
	p.waitLog("command", "post_id", ids[5], "result", "ran")
	d := f.SendDM(f.Alice, "led on", 0)
	f.waitDMs(t, 1)
	if n := len(f.Replies()); n >= 6 {
		t.Errorf("the DM's answer came after all %d slow replies: the replies held the loop", n)
	}
	if runsByPost(p)[d.ID] != 1 {
		t.Errorf("the DM command did not run once")
	}
	replies := f.waitReplies(t, 6)
	for i, r := range replies {
		if r.InReplyTo != ids[i] {
			t.Errorf("reply %d answers %s, want %s: out of order", i, r.InReplyTo, ids[i])
		}
	}
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}
