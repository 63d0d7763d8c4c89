package main

// End-to-end tests: the real tweetpi binary, run as its own process against
// twittertest over loopback, for API v2 and v1.1. The helpers are in
// e2e_helpers_test.go.

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// forAPIs runs f for api v2 and v1.1, in parallel.
func forAPIs(t *testing.T, f func(t *testing.T, api string)) {
	t.Helper()
	tweetpiBinary(t) // build before the subtests start their clocks
	for _, api := range []string{"v2", "v1.1"} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			f(t, api)
		})
	}
}

// settle waits until the daemon has polled endpoint twice more, so anything
// it was going to do with what is there now is done.
func settle(t *testing.T, f *fake, endpoint string) {
	t.Helper()
	f.waitRequests(t, endpoint, f.Requests(endpoint)+2)
}

// checkSafeAtExit checks that the log, after the daemon was told to stop,
// drove every output of e2eDevices to its off level.
func checkSafeAtExit(t *testing.T, p *daemonProc) {
	t.Helper()
	for _, dev := range []string{"led", "fan", "pump"} {
		found := false
		for _, l := range p.logs() {
			if l.match("pin set", "device", dev, "state", "off", "level", "Low") && (l.str("by") == "close" || l.str("by") == "halt") {
				found = true
			}
		}
		if !found {
			t.Errorf("no pin set device=%s state=off level=Low by=close/halt at exit", dev)
		}
	}
	if p.countLog("outputs safe") != 1 {
		t.Errorf("no \"outputs safe\" line at exit")
	}
}

// TestE2EMention: an allowed mention is run and answered once (a threaded
// reply); a stranger's is logged, not run, not answered; the account's own
// post is ignored; "@alice" in allow is resolved through users/by/username.
func TestE2EMention(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	forAPIs(t, func(t *testing.T, api string) {
		f := newFake(t, api)
		files := writeDaemonConfig(t, f, daemonConfig{})
		p := startDaemon(t, files.Path, files.Env)
		p.waitFresh()

		stranger := f.Post(f.Mallory, "@mypi led on", 0)
		own := f.Post(f.Account(), "@mypi fan 100%", 0)
		ok := f.Post(f.Alice, "@mypi led on", 0)
		p.waitLog("command", "post_id", ok.ID, "result", "ran")
		f.waitReplies(t, 1)
		settle(t, f, twitter.EndpointMentions)

		runs := runsByPost(p)
		if runs[ok.ID] != 1 || runs[stranger.ID] != 0 || runs[own.ID] != 0 || len(runs) != 1 {
			t.Errorf("runs: allowed %d, stranger %d, own %d; want 1, 0, 0", runs[ok.ID], runs[stranger.ID], runs[own.ID])
		}
		if n := p.countLog("command", "post_id", stranger.ID, "result", "stranger"); n != 1 {
			t.Errorf("stranger's post logged as ignored %d times, want 1", n)
		}
		if n := p.countLog("pin set", "device", "led", "by", "command", "state", "on"); n != 1 {
			t.Errorf("led set on by command %d times, want 1", n)
		}
		if n := p.countLog("pin set", "device", "fan", "by", "command"); n != 0 {
			t.Errorf("the account's own post set the fan %d times", n)
		}
		replies := f.Replies()
		if len(replies) != 1 {
			t.Fatalf("replies %+v, want one", replies)
		}
		if r := replies[0]; r.InReplyTo != ok.ID || !strings.HasPrefix(r.Text, "led on") {
			t.Errorf("reply %+v, want a reply to %s starting \"led on\"", r, ok.ID)
		}
		if n := f.Requests(twitter.EndpointUserByName); n < 1 {
			t.Errorf("@alice was not resolved through users/by/username (%d requests)", n)
		}
		if n := p.countLog("allow: cannot resolve the handle now; it lets nobody in until it resolves (retried)"); n != 0 {
			t.Errorf("@alice did not resolve")
		}
		if len(f.SentDMs()) != 0 {
			t.Errorf("DMs sent: %+v", f.SentDMs())
		}
		if code, _ := p.term(); code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
		checkNoSecret(t, f.secrets(), []*daemonProc{p}, files.StateDir)
	})
}

// TestE2EDM: a DM command is answered by DM; a stranger's DM is not run;
// a DM that was there before the first start is not run.
func TestE2EDM(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	forAPIs(t, func(t *testing.T, api string) {
		f := newFake(t, api)
		old := f.SendDM(f.Alice, "led on", 10*time.Second)
		files := writeDaemonConfig(t, f, daemonConfig{})
		p := startDaemon(t, files.Path, files.Env)
		p.waitFresh()

		stranger := f.SendDM(f.Mallory, "led on", 0)
		ok := f.SendDM(f.Alice, "fan 40%", 0)
		p.waitLog("command", "post_id", ok.ID, "result", "ran")
		f.waitDMs(t, 1)
		settle(t, f, twitter.EndpointDMEvents)

		runs := runsByPost(p)
		if runs[ok.ID] != 1 || runs[stranger.ID] != 0 || runs[old.ID] != 0 || len(runs) != 1 {
			t.Errorf("runs: allowed %d, stranger %d, before start %d; want 1, 0, 0", runs[ok.ID], runs[stranger.ID], runs[old.ID])
		}
		if n := p.countLog("pin set", "device", "fan", "by", "command", "duty", "40%"); n != 1 {
			t.Errorf("fan set to 40%% %d times, want 1", n)
		}
		if n := p.countLog("pin set", "device", "led", "by", "command"); n != 0 {
			t.Errorf("led set by command %d times, want 0", n)
		}
		dms := f.SentDMs()
		if len(dms) != 1 || dms[0].To != f.Alice.ID || !strings.HasPrefix(dms[0].Text, "fan 40%") {
			t.Errorf("DMs sent %+v, want one to alice (%s) starting \"fan 40%%\"", dms, f.Alice.ID)
		}
		if r := f.Replies(); len(r) != 0 {
			t.Errorf("a DM was answered with a post: %+v", r)
		}
		if code, _ := p.term(); code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
		checkNoSecret(t, f.secrets(), []*daemonProc{p}, files.StateDir)
	})
}

// TestE2EFirstStart: mentions there before the first start are not run.
func TestE2EFirstStart(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	forAPIs(t, func(t *testing.T, api string) {
		f := newFake(t, api)
		var before []twitter.Post
		for i, age := range []time.Duration{time.Minute, 30 * time.Second, 0} {
			before = append(before, f.Post(f.Alice, "@mypi led on "+strings.Repeat(" ", i), age))
		}
		files := writeDaemonConfig(t, f, daemonConfig{})
		p := startDaemon(t, files.Path, files.Env)
		p.waitFresh()
		ok := f.Post(f.Alice, "@mypi fan 10%", 0)
		p.waitLog("command", "post_id", ok.ID)
		settle(t, f, twitter.EndpointMentions)

		runs := runsByPost(p)
		for _, b := range before {
			if runs[b.ID] != 0 {
				t.Errorf("post %s, there before the first start, ran", b.ID)
			}
		}
		if runs[ok.ID] != 1 || len(runs) != 1 {
			t.Errorf("runs %v, want only %s once", runs, ok.ID)
		}
		if r := f.Replies(); len(r) != 1 || r[0].InReplyTo != ok.ID {
			t.Errorf("replies %+v, want one to %s", r, ok.ID)
		}
		p.term()
	})
}

// TestE2ETooOld: a post older than max_age is not run but answered
// "Too old, not run".
func TestE2ETooOld(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	forAPIs(t, func(t *testing.T, api string) {
		f := newFake(t, api)
		files := writeDaemonConfig(t, f, daemonConfig{MaxAge: 10 * time.Minute})
		p := startDaemon(t, files.Path, files.Env)
		p.waitFresh()
		old := f.Post(f.Alice, "@mypi led on", time.Hour)
		p.waitLog("command", "post_id", old.ID, "result", "too_old")
		replies := f.waitReplies(t, 1)
		if runs := runsByPost(p); runs[old.ID] != 0 {
			t.Errorf("the old post ran")
		}
		if n := p.countLog("pin set", "by", "command"); n != 0 {
			t.Errorf("%d pins set by command", n)
		}
		if r := replies[0]; r.InReplyTo != old.ID || !strings.HasPrefix(r.Text, "Too old, not run") {
			t.Errorf("reply %+v, want \"Too old, not run...\" to %s", r, old.ID)
		}
		p.term()
	})
}

// TestE2ERestart: after a restart nothing is run or answered twice, a
// command sent while the daemon was down runs once, and users/me is not
// asked again (the account is in the state).
func TestE2ERestart(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	forAPIs(t, func(t *testing.T, api string) {
		f := newFake(t, api)
		files := writeDaemonConfig(t, f, daemonConfig{})
		p1 := startDaemon(t, files.Path, files.Env)
		p1.waitFresh()
		a := f.Post(f.Alice, "@mypi led on", 0)
		dmA := f.SendDM(f.Alice, "fan 20%", 0)
		p1.waitLog("command", "post_id", a.ID)
		p1.waitLog("command", "post_id", dmA.ID)
		f.waitReplies(t, 1)
		f.waitDMs(t, 1)
		if code, _ := p1.term(); code != 0 {
			t.Fatalf("exit %d after SIGTERM, want 0", code)
		}

		b := f.Post(f.Alice, "@mypi led off", 0)
		p2 := startDaemon(t, files.Path, files.Env)
		p2.waitLog("polling")
		p2.waitLog("command", "post_id", b.ID)
		f.waitReplies(t, 2)
		settle(t, f, twitter.EndpointMentions)
		settle(t, f, twitter.EndpointDMEvents)

		runs := runsByPost(p1, p2)
		if runs[a.ID] != 1 || runs[dmA.ID] != 1 || runs[b.ID] != 1 || len(runs) != 3 {
			t.Errorf("runs over both lifetimes %v, want %s, %s and %s once each", runs, a.ID, dmA.ID, b.ID)
		}
		if r := f.Replies(); len(r) != 2 || r[0].InReplyTo != a.ID || r[1].InReplyTo != b.ID {
			t.Errorf("replies %+v, want one to %s then one to %s", r, a.ID, b.ID)
		}
		if d := f.SentDMs(); len(d) != 1 {
			t.Errorf("DMs sent %+v, want one", d)
		}
		if n := f.Requests(twitter.EndpointMe); n != 1 {
			t.Errorf("users/me asked %d times over two starts, want 1", n)
		}
		if code, _ := p2.term(); code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
		checkNoSecret(t, f.secrets(), []*daemonProc{p1, p2}, files.StateDir)
	})
}

// TestE2EKill9: kill -9 at random points over a stream of mention and DM
// commands never runs one twice, nor answers one twice.
func TestE2EKill9(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	kills := 8
	forAPIs(t, func(t *testing.T, api string) {
		f := newFake(t, api)
		files := writeDaemonConfig(t, f, daemonConfig{})
		cmds := []string{"led on", "led off", "fan 30%", "fan 0%"}

		// The stream: a command every 150ms while the daemon is killed and
		// started again.
		stop := make(chan struct{})
		streamed := make(chan int)
		go func() {
			n := 0
			tick := time.NewTicker(150 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					streamed <- n
					return
				case <-tick.C:
				}
				if n%3 == 2 {
					f.SendDM(f.Alice, cmds[n%len(cmds)], 0)
				} else {
					f.Post(f.Alice, "@mypi "+cmds[n%len(cmds)], 0)
				}
				n++
			}
		}()

		var procs []*daemonProc
		for i := range kills {
			p := startDaemon(t, files.Path, files.Env)
			procs = append(procs, p)
			if i == 0 {
				p.waitFresh()
			}
			// Anywhere from during start-up to a few polls in.
			time.Sleep(time.Duration(rand.N(int64(2500 * time.Millisecond))))
			p.kill9()
			if code := p.wait(); code != -1 {
				t.Fatalf("run %d exited by itself with status %d before the kill\n%s", i, code, p.stderrText())
			}
		}
		close(stop)
		n := <-streamed

		// A last start drains what is left; the sentinels come after
		// everything else, oldest first.
		p := startDaemon(t, files.Path, files.Env)
		procs = append(procs, p)
		lastPost := f.Post(f.Alice, "@mypi led off", 0)
		lastDM := f.SendDM(f.Alice, "led off", 0)
		p.waitLog("command", "post_id", lastPost.ID)
		p.waitLog("command", "post_id", lastDM.ID)
		waitFake(t, "the last replies", func() bool {
			for _, o := range p.logs() {
				if o.match("sent", "in_reply_to", lastPost.ID) {
					return true
				}
			}
			return false
		})
		settle(t, f, twitter.EndpointMentions)
		if code, _ := p.term(); code != 0 {
			t.Errorf("last run: exit %d after SIGTERM, want 0", code)
		}

		runs := runsByPost(procs...)
		for id, k := range runs {
			if k > 1 {
				t.Errorf("post %s ran %d times", id, k)
			}
		}
		byPost := map[string]int{}
		for _, r := range f.Replies() {
			byPost[r.InReplyTo]++
		}
		for id, k := range byPost {
			if k > 1 {
				t.Errorf("post %s answered %d times", id, k)
			}
		}
		// A reply the daemon counts as sent is there: a "duplicate" answer
		// must not hide a reply that never went out.
		for i, p := range procs {
			for _, l := range p.logs() {
				if id := l.str("in_reply_to"); l.Msg == "sent" && id != "" && byPost[id] == 0 {
					t.Errorf("run %d logged a reply to %s as sent (duplicate %s), but the post has none: %s", i, id, l.str("duplicate"), l.Raw)
				}
			}
		}
		// Commands taken just before a kill may be lost, never repeated.
		t.Logf("%d kills, %d commands streamed, %d run, %d replies, %d DMs", kills, n, len(runs), len(f.Replies()), len(f.SentDMs()))
		checkNoSecret(t, f.secrets(), procs, files.StateDir)
	})
}

// TestE2ERateLimit: after a 429 the daemon makes no request to that
// endpoint before the reset the answer named, then goes on.
func TestE2ERateLimit(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	forAPIs(t, func(t *testing.T, api string) {
		f := newFake(t, api)
		files := writeDaemonConfig(t, f, daemonConfig{})
		p := startDaemon(t, files.Path, files.Env)
		p.waitFresh()

		const window = 3 * time.Second
		f.SetLimit(twitter.EndpointMentions, 1000, window) // a fresh window: its reset is the next request's time + 3s
		n := f.Requests(twitter.EndpointMentions)
		f.Fail(twitter.EndpointMentions, twittertest.Fault{Status: 429})
		f.waitRequests(t, twitter.EndpointMentions, n+1)
		cmd := f.Post(f.Alice, "@mypi led on", 0)
		limited := p.waitLog("rate limited; waiting for the reset", "inbox", "mentions")
		p.waitLog("command", "post_id", cmd.ID)

		// The 429 is the last request the daemon had made when it logged
		// it (a request may have slipped in between n and Fail).
		times := f.RequestTimes(twitter.EndpointMentions)
		i := n
		for i+1 < len(times) && !times[i+1].After(limited.Time) {
			i++
		}
		if i+1 >= len(times) {
			t.Fatalf("no request after the 429")
		}
		hit := times[i]
		reset := time.Unix(int64(math.Ceil(float64(hit.Add(window).UnixNano())/1e9)), 0)
		if next := times[i+1]; next.Before(reset) {
			t.Errorf("a request %s after the 429, before the reset at %s", next.Sub(hit), reset.Sub(hit))
		}
		if runs := runsByPost(p); runs[cmd.ID] != 1 {
			t.Errorf("the command after the wait ran %d times, want 1", runs[cmd.ID])
		}
		if code, _ := p.term(); code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
	})
}

// TestE2EFaults: 503s and malformed JSON on the inboxes and a 503 on the
// reply are survived: the daemon backs off, goes on, and answers once.
func TestE2EFaults(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	forAPIs(t, func(t *testing.T, api string) {
		f := newFake(t, api)
		files := writeDaemonConfig(t, f, daemonConfig{})
		p := startDaemon(t, files.Path, files.Env)
		p.waitFresh()

		nm, nd := f.Requests(twitter.EndpointMentions), f.Requests(twitter.EndpointDMEvents)
		for _, ep := range []string{twitter.EndpointMentions, twitter.EndpointDMEvents} {
			f.Fail(ep, twittertest.Fault{Status: 503})
			f.Fail(ep, twittertest.Fault{Malformed: true})
		}
		f.Fail(twitter.EndpointPost, twittertest.Fault{Status: 503})
		cmd := f.Post(f.Alice, "@mypi led on", 0)
		dm := f.SendDM(f.Alice, "fan 50%", 0)
		f.waitRequests(t, twitter.EndpointMentions, nm+3)
		f.waitRequests(t, twitter.EndpointDMEvents, nd+3)
		p.waitLog("command", "post_id", cmd.ID)
		p.waitLog("command", "post_id", dm.ID)
		p.waitLog("reply waits", "inbox", "mentions")
		f.waitReplies(t, 1)
		f.waitDMs(t, 1)
		settle(t, f, twitter.EndpointMentions)

		if p.exited() {
			t.Fatalf("the daemon exited")
		}
		if n := p.countLog("poll failed; backing off"); n < 4 {
			t.Errorf("%d \"poll failed; backing off\" lines, want 4", n)
		}
		runs := runsByPost(p)
		if runs[cmd.ID] != 1 || runs[dm.ID] != 1 {
			t.Errorf("runs %v, want %s and %s once", runs, cmd.ID, dm.ID)
		}
		if r := f.Replies(); len(r) != 1 || r[0].InReplyTo != cmd.ID {
			t.Errorf("replies %+v, want one to %s", r, cmd.ID)
		}
		if code, _ := p.term(); code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
	})
}

// TestE2EWrongKeys: keys the API refuses stop the daemon at start with exit
// status 78 and a message that says what to do, and no key in it.
func TestE2EWrongKeys(t *testing.T) {
	t.Parallel()
	forAPIs(t, func(t *testing.T, api string) {
		f := newFake(t, api)
		wrong := f.Credentials()
		wrong.ConsumerSecret = strings.Repeat("x", len(wrong.ConsumerSecret))
		files := writeDaemonConfig(t, f, daemonConfig{Keys: wrong})
		start := time.Now()
		p := startDaemon(t, files.Path, files.Env)
		code := p.wait()
		if code != 78 {
			t.Errorf("exit %d, want 78", code)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("took %s to give up", took)
		}
		stderr := p.stderrText()
		last := stderr[strings.LastIndex(strings.TrimSuffix(stderr, "\n"), "\n")+1:]
		for _, want := range []string{"tweetpi: ", "refused the keys", "check the four keys"} {
			if !strings.Contains(last, want) {
				t.Errorf("last line of stderr %q lacks %q", last, want)
			}
		}
		if runs := runsByPost(p); len(runs) != 0 {
			t.Errorf("runs %v", runs)
		}
		checkNoSecret(t, append(f.secrets(), wrong.ConsumerSecret), []*daemonProc{p}, files.StateDir)
	})
}

// TestE2ESigterm: SIGTERM exits 0 within 3s, even with a request hanging
// and a pulse running, and drives every output to its safe level.
func TestE2ESigterm(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	forAPIs(t, func(t *testing.T, api string) {
		f := newFake(t, api)
		files := writeDaemonConfig(t, f, daemonConfig{})
		p := startDaemon(t, files.Path, files.Env)
		p.waitFresh()
		a := f.Post(f.Alice, "@mypi led on; fan 60%", 0)
		b := f.Post(f.Alice, "@mypi pump pulse 30s", 0)
		p.waitLog("command", "post_id", a.ID, "result", "ran")
		p.waitLog("command", "post_id", b.ID, "result", "ran")
		p.waitLog("pin set", "device", "pump", "state", "on")

		// The next poll of mentions hangs.
		n := f.Requests(twitter.EndpointMentions)
		f.Fail(twitter.EndpointMentions, twittertest.Fault{Delay: time.Minute, Count: -1})
		f.waitRequests(t, twitter.EndpointMentions, n+1)

		code, took := p.term()
		if code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
		if took > 3*time.Second {
			t.Errorf("took %s to exit after SIGTERM, want under 3s", took)
		}
		checkSafeAtExit(t, p)
		f.ClearFaults()
	})
}

// TestE2ESecrets: with the keys in the environment and the debug log on, no
// key appears on stdout, stderr or in the state directory.
func TestE2ESecrets(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	forAPIs(t, func(t *testing.T, api string) {
		f := newFake(t, api)
		files := writeDaemonConfig(t, f, daemonConfig{KeysInEnv: true})
		cfg, err := os.ReadFile(files.Path)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range f.secrets() {
			if strings.Contains(string(cfg), s) {
				t.Fatalf("the keys are in the config file")
			}
		}
		p := startDaemon(t, files.Path, files.Env, "-log-level", "debug")
		p.waitFresh()
		f.Fail(twitter.EndpointMentions, twittertest.Fault{Status: 503})
		cmd := f.Post(f.Alice, "@mypi led on", 0)
		dm := f.SendDM(f.Alice, "status", 0)
		p.waitLog("command", "post_id", cmd.ID)
		p.waitLog("command", "post_id", dm.ID)
		f.waitReplies(t, 1)
		f.waitDMs(t, 1)
		if code, _ := p.term(); code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
		files2, _ := filepath.Glob(filepath.Join(files.StateDir, "*"))
		if len(files2) == 0 {
			t.Errorf("nothing in the state directory")
		}
		checkNoSecret(t, f.secrets(), []*daemonProc{p}, files.StateDir)
	})
}
