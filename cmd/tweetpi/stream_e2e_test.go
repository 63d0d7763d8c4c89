package main

// The Activity API stream end to end: the real binary with delivery auto
// or stream against twittertest over loopback.

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// waitStream waits until the daemon logs that the stream is up (the n-th
// time).
func (p *daemonProc) waitStream(n int) {
	p.t.Helper()
	p.waitLogN(n, "stream up: commands arrive as they are made; polls fill gaps")
}

// TestE2EStreamLatency: with poll_interval 60s, a mention and a DM are
// answered through the stream, with no poll in between: in milliseconds,
// not the 30 s a poll takes on average.
func TestE2EStreamLatency(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	var mu sync.Mutex
	answered := map[string]time.Time{} // post id (or "dm") -> when the fake got the answer
	f.Watch(func(ev twittertest.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case ev.Reply != nil:
			answered[ev.Reply.InReplyTo] = time.Now()
		case ev.DM != nil:
			answered["dm"] = time.Now()
		}
	})
	files := writeDaemonConfig(t, f, daemonConfig{PollInterval: time.Minute, Delivery: config.DeliveryAuto})
	p := startDaemon(t, files.Path, files.Env)
	p.waitFresh()
	p.waitStream(1)
	settle := func() { // the poll the stream's start causes
		t.Helper()
		waitFake(t, "the polls at the stream's start", func() bool {
			return f.Requests(twitter.EndpointMentions) >= 2 && f.Requests(twitter.EndpointDMEvents) >= 2
		})
	}
	settle()
	polls := f.Requests(twitter.EndpointMentions) + f.Requests(twitter.EndpointDMEvents)
	var lat []time.Duration
	for i := range 20 {
		start := time.Now()
		post := f.Post(f.Alice, "@mypi led toggle", 0)
		var at time.Time
		waitFake(t, "the answer to "+post.ID, func() bool {
			mu.Lock()
			defer mu.Unlock()
			at = answered[post.ID]
			return !at.IsZero()
		})
		lat = append(lat, at.Sub(start))
		if i == 0 {
			start = time.Now()
			f.SendDM(f.Alice, "status", 0)
			waitFake(t, "the answer to the DM", func() bool {
				mu.Lock()
				defer mu.Unlock()
				at = answered["dm"]
				return !at.IsZero()
			})
			t.Logf("DM answered %s after it was sent", at.Sub(start).Round(10*time.Microsecond))
		}
	}
	if n := f.Requests(twitter.EndpointMentions) + f.Requests(twitter.EndpointDMEvents) - polls; n != 0 {
		t.Errorf("%d polls while the 21 commands were answered: they came by poll, not the stream", n)
	}
	slices.Sort(lat)
	t.Logf("post -> answer through the stream (poll_interval 60s): p50 %s, max %s over %d",
		lat[len(lat)/2].Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond), len(lat))
	if max := lat[len(lat)-1]; max > 30*time.Second {
		t.Errorf("slowest answer %s: no faster than a poll every 60s", max)
	}
	if runs := runsByPost(p); len(runs) != 21 {
		t.Errorf("%d commands ran, want 21", len(runs))
	}
}

// TestE2EStreamRefused: X refuses the subscriptions. auto polls (commands
// still flow) and says why once, with X's words and the fix; stream exits
// 78 with them.
func TestE2EStreamRefused(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	const words = "Your app is not permitted to access the X Activity API."
	refuse := func(f *fake) {
		f.Fail(twitter.EndpointSubscriptions, twittertest.Fault{Status: 403, Count: -1,
			Body: `{"title":"Forbidden","detail":"` + words + `","type":"about:blank","status":403}`})
	}
	t.Run("auto", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, "v2")
		refuse(f)
		files := writeDaemonConfig(t, f, daemonConfig{Delivery: config.DeliveryAuto, Listen: []string{bot.InboxMentions}})
		p := startDaemon(t, files.Path, files.Env)
		p.waitFresh(bot.InboxMentions)
		line := p.waitLog("delivery: polls, not the stream: X refused it; polling every poll_interval, and asking again in 1h0m0s")
		if line.Level != "ERROR" || !strings.Contains(line.str("err"), words) || !strings.Contains(line.str("fix"), "delivery: poll") {
			t.Errorf("the refusal's line lacks X's words or the fix: %s", line.Raw)
		}
		post := f.Post(f.Alice, "@mypi led on", 0)
		p.waitLog("command", "post_id", post.ID, "result", "ran")
		f.waitReplies(t, 1)
		f.waitRequests(t, twitter.EndpointMentions, f.Requests(twitter.EndpointMentions)+3)
		if n := p.countLog("delivery: polls, not the stream: X refused it; polling every poll_interval, and asking again in 1h0m0s"); n != 1 {
			t.Errorf("the refusal logged %d times, want once", n)
		}
		if n := f.Requests(twitter.EndpointStream); n != 0 {
			t.Errorf("%d stream connections, want none", n)
		}
		if code, _ := p.term(); code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
	})
	t.Run("stream", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, "v2")
		refuse(f)
		files := writeDaemonConfig(t, f, daemonConfig{Delivery: config.DeliveryStream})
		p := startDaemon(t, files.Path, files.Env)
		if code := p.wait(); code != exitConfig {
			t.Fatalf("exit %d, want %d (no restart)\n%s", code, exitConfig, p.stderrText())
		}
		errText := p.stderrText()
		if !strings.Contains(errText, words) || !strings.Contains(errText, "delivery: poll") {
			t.Errorf("the exit's words lack X's or the fix:\n%s", errText)
		}
		checkSafeAtExit(t, p)
		checkNoSecret(t, append(f.secrets(), f.AppToken()), []*daemonProc{p}, files.StateDir)
	})
}

// TestE2EStreamRestart: restarts (SIGTERM and kill -9) reuse the
// subscriptions, a command the stream and the reconnect's poll both see
// runs once, and neither the bearer token nor a key is in any output or
// file.
func TestE2EStreamRestart(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2", func(o *twittertest.Options) { o.StreamLimit = 1 })
	files := writeDaemonConfig(t, f, daemonConfig{Delivery: config.DeliveryAuto, ReconcileInterval: time.Second})
	var procs []*daemonProc
	var ids []string
	for life := range 3 {
		p := startDaemon(t, files.Path, files.Env)
		procs = append(procs, p)
		if life == 0 {
			p.waitFresh()
		}
		p.waitStream(1)
		post := f.Post(f.Alice, "@mypi led toggle", 0)
		ids = append(ids, post.ID)
		p.waitLog("command", "post_id", post.ID, "result", "ran")
		// Reconciliation polls (every second here) see it again.
		f.waitRequests(t, twitter.EndpointMentions, f.Requests(twitter.EndpointMentions)+2)
		if life == 1 {
			p.kill9()
			// X still counts the dead process's connection for a while:
			// the next start is refused TooManyConnections and clears it.
			f.AddStaleConnections(1)
		} else if code, _ := p.term(); code != 0 {
			t.Errorf("life %d: exit %d after SIGTERM", life, code)
		}
	}
	if !strings.Contains(procs[2].stderrText(), "cleared 1 stale connections of the app") {
		t.Errorf("the start after kill -9 did not clear the stale connection:\n%s", procs[2].stderrText())
	}
	subs := f.Subscriptions()
	if len(subs) != 3 || f.Requests(twitter.EndpointSubscribe) != 3 {
		t.Errorf("%d subscriptions after 3 lives, %d created; want 3 and 3: %+v", len(subs), f.Requests(twitter.EndpointSubscribe), subs)
	}
	runs := runsByPost(procs...)
	replied := map[string]int{}
	for _, r := range f.Replies() {
		replied[r.InReplyTo]++
	}
	for _, id := range ids {
		if runs[id] != 1 || replied[id] != 1 {
			t.Errorf("post %s ran %d times, %d replies; want 1 and 1", id, runs[id], replied[id])
		}
	}
	checkNoSecret(t, append(f.secrets(), f.AppToken()), procs, files.StateDir)
}
