package bot_test

// The Activity API stream as the bot's push source: the real v2 and
// Activity clients against twittertest in memory, under testing/synctest.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// streamRig is a bot with the stream against the fake, in a bubble.
type streamRig struct {
	t     *testing.T
	srv   *twittertest.Server
	bot   *bot.Bot
	log   *lockedBuffer
	alice twitter.User
	dir   string
	done  chan error
	stop  func() error

	mu  sync.Mutex
	ran []string
}

// streamOptions change what newStreamRig builds.
type streamOptions struct {
	delivery  string // default auto
	listen    []string
	server    twittertest.Options
	dir       string           // the state directory; default a new one
	setup     func(*streamRig) // before the bot starts
	reconcile time.Duration
	progress  func() // the bot's Progress, beside the rig's count
}

// newStreamRig starts the fake and a bot that polls every minute and reads
// the stream; it returns once the bot has its starting points (and, when
// X allows it, the stream is up). Call inside synctest.Test.
func newStreamRig(t *testing.T, o streamOptions) *streamRig {
	t.Helper()
	o.server.InMemory = true
	srv := twittertest.NewServer(o.server)
	t.Cleanup(srv.Close)
	r := &streamRig{t: t, srv: srv, log: &lockedBuffer{}, dir: o.dir, done: make(chan error, 1)}
	r.alice = srv.AddUser("alice")
	if r.dir == "" {
		r.dir = t.TempDir()
	}
	if o.setup != nil {
		o.setup(r)
	}
	r.start(o)
	return r
}

func (r *streamRig) start(o streamOptions) {
	t := r.t
	t.Helper()
	opt := twitter.Options{BaseURL: r.srv.URL, Credentials: r.srv.Credentials(), Transport: r.srv.Transport()}
	c, err := twitter.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	act, err := twitter.NewActivity(opt)
	if err != nil {
		t.Fatal(err)
	}
	if o.delivery == "" {
		o.delivery = bot.DeliveryAuto
	}
	if o.listen == nil {
		o.listen = []string{bot.InboxMentions, bot.InboxDMs}
	}
	bt, err := bot.New(bot.Options{
		Client: c,
		Handler: bot.HandlerFunc(func(ctx context.Context, c bot.Command) string {
			r.mu.Lock()
			r.ran = append(r.ran, c.ID)
			r.mu.Unlock()
			if strings.Contains(c.Text, "slow") {
				time.Sleep(time.Second) // what the stream sends meanwhile queues up
			}
			return "ok " + c.Text
		}),
		StateDir:          r.dir,
		Logger:            slog.New(slog.NewJSONHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Listen:            o.listen,
		PollInterval:      time.Minute,
		ReconcileInterval: o.reconcile,
		Allow:             []string{"@alice"},
		MaxAge:            time.Hour,
		Reply:             true,
		ClockFloor:        time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC),
		Activity:          act,
		Delivery:          o.delivery,
		Progress:          o.progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.bot = bt
	ctx, cancel := context.WithCancel(context.Background())
	if err := bt.Start(ctx, strings.SplitN(r.srv.Credentials().AccessToken, "-", 2)[0]); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	r.done = done
	go func() { done <- bt.Run(ctx) }()
	stopped := false
	r.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	time.Sleep(time.Second)
	synctest.Wait()
}

func (r *streamRig) runs(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.ran {
		if x == id {
			n++
		}
	}
	return n
}

func (r *streamRig) replied(id string) int {
	n := 0
	for _, x := range r.srv.Replies() {
		if x.InReplyTo == id {
			n++
		}
	}
	return n
}

// once fails for every post that did not run exactly once and get exactly
// one reply.
func (r *streamRig) once(ids ...string) {
	r.t.Helper()
	for _, id := range ids {
		if n, m := r.runs(id), r.replied(id); n != 1 || m != 1 {
			r.t.Errorf("post %s ran %d times and got %d replies, want 1 and 1\n%s", id, n, m, r.log.String())
		}
	}
}

func (r *streamRig) polls() int { return r.srv.Requests(twitter.EndpointMentions) }

// TestStreamCommand: with the stream up, a mention runs the moment X
// delivers it, with no poll in between, and is answered once; the
// reconciliation poll that comes later runs nothing again.
func TestStreamCommand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newStreamRig(t, streamOptions{})
		if n := r.srv.StreamConnections(); n != 1 {
			t.Fatalf("%d stream connections, want 1\n%s", n, r.log.String())
		}
		polls := r.polls()
		start := time.Now()
		p := r.srv.Post(r.alice, "@mypi led on", 0)
		synctest.Wait()
		if r.runs(p.ID) != 1 || r.replied(p.ID) != 1 || r.polls() != polls {
			t.Fatalf("at once: ran %d, replies %d, polls %d (before %d)", r.runs(p.ID), r.replied(p.ID), r.polls(), polls)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("answered %s after the post, in the bubble's time; want at once", d)
		}
		time.Sleep(5*time.Minute + time.Second) // a reconciliation poll
		synctest.Wait()
		if r.polls() <= polls {
			t.Errorf("no reconciliation poll in 5 minutes")
		}
		r.once(p.ID)
	})
}

// TestStreamSameChecks: what the stream delivers meets the checks a polled
// post meets: a stranger's mention (the stream delivers those too) and an
// old one do not run; a command the stream and a poll both see runs once
// and is answered once, whichever comes first.
func TestStreamSameChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newStreamRig(t, streamOptions{})
		mallory := r.srv.AddUser("mallory")
		stranger := r.srv.Post(mallory, "@mypi led on", 0)
		old := r.srv.Post(r.alice, "@mypi led on", 2*time.Hour)
		both := r.srv.Post(r.alice, "@mypi fan 40%", 0)
		synctest.Wait()
		if r.runs(both.ID) != 1 {
			t.Fatalf("the stream's command did not run at once\n%s", r.log.String())
		}
		// The poll after a reconnect finds all three again.
		polls := r.polls()
		r.srv.DisconnectStreams()
		time.Sleep(time.Second)
		synctest.Wait()
		if r.polls() == polls {
			t.Fatalf("no poll after the reconnect\n%s", r.log.String())
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		r.once(both.ID)
		if n := r.runs(stranger.ID) + r.replied(stranger.ID); n != 0 {
			t.Errorf("a stranger's mention ran or was answered (%d)", n)
		}
		if n := r.runs(old.ID); n != 0 {
			t.Errorf("an old mention ran")
		}
		if n := r.replied(old.ID); n != 1 {
			t.Errorf("an old mention got %d replies, want one (too old)", n)
		} else if rep := r.srv.Replies(); !slices.ContainsFunc(rep, func(x twittertest.Reply) bool {
			return x.InReplyTo == old.ID && strings.HasPrefix(x.Text, "Too old, not run")
		}) {
			t.Errorf("the old mention's reply is not \"too old\": %+v", rep)
		}
		strangers := 0
		for _, l := range strings.Split(r.log.String(), "\n") {
			if strings.Contains(l, `"msg":"command"`) && strings.Contains(l, `"result":"stranger"`) {
				strangers++
			}
		}
		if strangers != 1 {
			t.Errorf("the stranger was logged %d times, want once", strangers)
		}
	})
}

// TestStreamGaps: a stall (nothing, not even keep-alives) and a drop with
// failed reconnects: what was posted meanwhile runs once, found by the
// poll made at the reconnect; nothing runs twice.
func TestStreamGaps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newStreamRig(t, streamOptions{})
		var ids []string

		// A stall: X sends nothing; the bot notices 30 s after the last
		// byte (the connection's start, at 0 s).
		r.srv.StallStreams()
		time.Sleep(time.Second)
		stalled := r.srv.Post(r.alice, "@mypi led on", 0) // not delivered
		ids = append(ids, stalled.ID)
		polls := r.polls()
		time.Sleep(26 * time.Second)
		synctest.Wait()
		if r.runs(stalled.ID) != 0 || r.polls() != polls {
			t.Fatalf("ran before the silence was noticed (polls %d -> %d)\n%s", polls, r.polls(), r.log.String())
		}
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if r.runs(stalled.ID) != 1 {
			t.Fatalf("the stalled post did not run at the reconnect\n%s", r.log.String())
		}

		// A drop, and X refusing the next two connections (503: 5s, 10s).
		r.srv.Fail(twitter.EndpointStream, twittertest.Fault{Status: 503, Count: 2})
		r.srv.DropStreams()
		time.Sleep(time.Second)
		dropped := r.srv.Post(r.alice, "@mypi led off", 0)
		ids = append(ids, dropped.ID)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if r.runs(dropped.ID) != 1 {
			t.Fatalf("the post made while the stream was down did not run at the reconnect\n%s", r.log.String())
		}
		if n := r.srv.StreamConnections(); n != 1 {
			t.Errorf("%d stream connections after the reconnect, want 1", n)
		}
		// And after: the stream again, the reconciliation polls find nothing new.
		after := r.srv.Post(r.alice, "@mypi fan 10%", 0)
		ids = append(ids, after.ID)
		synctest.Wait()
		if r.runs(after.ID) != 1 {
			t.Errorf("the stream did not deliver after the reconnect")
		}
		time.Sleep(15 * time.Minute)
		synctest.Wait()
		r.once(ids...)
		if n := r.log.count("stream down: polling every poll_interval until it is back"); n != 2 {
			t.Errorf("%d \"stream down\" lines, want 2 (the stall, the drop)", n)
		}
		if n := r.log.count("stream up: commands arrive as they are made; polls fill gaps"); n != 3 {
			t.Errorf("%d \"stream up\" lines, want 3", n)
		}
	})
}

// TestStreamDownPollsAtPollInterval: while the stream cannot connect, the
// inboxes are polled every poll_interval, as with delivery: poll, so
// commands keep flowing; once it is up, every reconcile_interval.
func TestStreamDownPollsAtPollInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newStreamRig(t, streamOptions{})
		r.srv.Fail(twitter.EndpointStream, twittertest.Fault{Status: 503, Count: -1})
		r.srv.DropStreams()
		time.Sleep(time.Second)
		polls := r.polls()
		p := r.srv.Post(r.alice, "@mypi led on", 0)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if n := r.polls() - polls; n < 9 || n > 11 {
			t.Errorf("%d polls in 10 minutes with the stream down, want about 10 (every minute)", n)
		}
		r.once(p.ID)
		r.srv.ClearFaults()
		time.Sleep(6 * time.Minute) // the HTTP backoff reaches 320s
		synctest.Wait()
		if n := r.srv.StreamConnections(); n != 1 {
			t.Fatalf("the stream is not back\n%s", r.log.String())
		}
		polls = r.polls()
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		if n := r.polls() - polls; n < 5 || n > 7 {
			t.Errorf("%d polls in 30 minutes with the stream up, want about 6 (every 5m)", n)
		}
		// A long outage is not a line per try.
		if n := r.log.count("stream: cannot connect; polling meanwhile"); n > 6 {
			t.Errorf("%d lines for the failed connects, want a few", n)
		}
	})
}

// TestStreamDM: a DM arrives over the stream, runs at once without a poll
// of dm_events, and is answered with a DM.
func TestStreamDM(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newStreamRig(t, streamOptions{})
		polls := r.srv.Requests(twitter.EndpointDMEvents)
		dm := r.srv.SendDM(r.alice, "led on", 0)
		synctest.Wait()
		if r.runs(dm.ID) != 1 || r.srv.Requests(twitter.EndpointDMEvents) != polls {
			t.Fatalf("the DM ran %d times, with %d polls of dm_events\n%s", r.runs(dm.ID), r.srv.Requests(twitter.EndpointDMEvents)-polls, r.log.String())
		}
		sent := r.srv.SentDMs()
		if len(sent) != 1 || sent[0].To != r.alice.ID || !strings.HasPrefix(sent[0].Text, "ok led on") {
			t.Errorf("DMs sent %+v, want one answer to alice", sent)
		}
		time.Sleep(6 * time.Minute) // a reconciliation poll reads it again
		synctest.Wait()
		if r.runs(dm.ID) != 1 || len(r.srv.SentDMs()) != 1 {
			t.Errorf("after the reconciliation: ran %d, DMs sent %d", r.runs(dm.ID), len(r.srv.SentDMs()))
		}
	})
}

// TestStreamLostDMFoundByReconcile: a DM the stream misses, followed by
// one it delivers (and its answer), both newer than the last read, is
// found by the next reconciliation poll: an event the stream delivered
// proves nothing about the events below it.
func TestStreamLostDMFoundByReconcile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newStreamRig(t, streamOptions{listen: []string{bot.InboxDMs}, reconcile: 2 * time.Minute})
		r.srv.LoseStreamEvents(1)
		lost := r.srv.SendDM(r.alice, "led on", 0)
		time.Sleep(time.Second)
		got := r.srv.SendDM(r.alice, "fan 10%", 0)
		synctest.Wait()
		if r.runs(lost.ID) != 0 || r.runs(got.ID) != 1 {
			t.Fatalf("before the reconciliation: the lost DM ran %d times, the delivered one %d\n%s", r.runs(lost.ID), r.runs(got.ID), r.log.String())
		}
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		if r.runs(lost.ID) != 1 || r.runs(got.ID) != 1 {
			t.Errorf("after the reconciliation: the lost DM ran %d times, the delivered one %d, want 1 and 1\n%s", r.runs(lost.ID), r.runs(got.ID), r.log.String())
		}
		if n := len(r.srv.SentDMs()); n != 2 {
			t.Errorf("%d DMs sent, want the two answers", n)
		}
	})
}

// TestStreamLostMentionFoundByReconcile: the mentions' cursor (since_id)
// moves by polls only (design.md): a mention the stream missed, older than
// one it delivered, is found by the next reconciliation poll and runs once;
// the delivered one does not run again.
func TestStreamLostMentionFoundByReconcile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newStreamRig(t, streamOptions{listen: []string{bot.InboxMentions}, reconcile: 2 * time.Minute})
		r.srv.LoseStreamEvents(1)
		lost := r.srv.Post(r.alice, "@mypi led on", 0)
		time.Sleep(time.Second)
		got := r.srv.Post(r.alice, "@mypi fan 10%", 0)
		synctest.Wait()
		if r.runs(lost.ID) != 0 || r.runs(got.ID) != 1 {
			t.Fatalf("before the reconciliation: the lost mention ran %d times, the delivered one %d\n%s", r.runs(lost.ID), r.runs(got.ID), r.log.String())
		}
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		r.once(lost.ID, got.ID)
	})
}

// TestStreamLostDMFoundAfterRestart: the same across a restart before
// any reconciliation: the state keeps which DMs a read showed, so the
// first poll of the next start reads past the one the stream delivered.
func TestStreamLostDMFoundAfterRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := streamOptions{listen: []string{bot.InboxDMs}, reconcile: 10 * time.Minute}
		r := newStreamRig(t, o)
		old := r.srv.SendDM(r.alice, "pump off", 0) // read by a poll: the mark
		time.Sleep(11 * time.Minute)
		synctest.Wait()
		r.srv.LoseStreamEvents(1)
		lost := r.srv.SendDM(r.alice, "led on", 0)
		time.Sleep(time.Second)
		got := r.srv.SendDM(r.alice, "fan 10%", 0)
		synctest.Wait()
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		if r.runs(lost.ID) != 0 || r.runs(got.ID) != 1 {
			t.Fatalf("before the restart: the lost DM ran %d times, the delivered one %d\n%s", r.runs(lost.ID), r.runs(got.ID), r.log.String())
		}
		r.start(o)
		synctest.Wait()
		if r.runs(old.ID) != 1 || r.runs(lost.ID) != 1 || r.runs(got.ID) != 1 {
			t.Errorf("after the restart: ran %d, %d and %d times, want each once\n%s", r.runs(old.ID), r.runs(lost.ID), r.runs(got.ID), r.log.String())
		}
	})
}

// TestStreamDMCost: DM commands over the stream, 10 minutes apart, with
// the reconciliation polls at the default 5 minutes and 40 old DMs in the
// account: what X bills per command (the figures of the README's "What it
// costs"). The reconciliation poll reads past what the stream delivered
// down to an event a read showed, so it reads each command and its answer
// once more; the older events it reads were billed that day already.
func TestStreamDMCost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newStreamRig(t, streamOptions{listen: []string{bot.InboxDMs}, setup: func(r *streamRig) {
			for i := range 40 {
				r.srv.SendDM(r.alice, "old", time.Duration(40-i)*time.Minute)
			}
		}})
		// One command first: its reconciliation reads a page of the old
		// DMs, billed once that day.
		r.srv.SendDM(r.alice, "led off", 0)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		const n = 10
		billed0 := r.srv.Billed()
		for range n {
			r.srv.SendDM(r.alice, "led on", 0)
			time.Sleep(10 * time.Minute)
		}
		synctest.Wait()
		if got := len(r.srv.SentDMs()); got != n+1 {
			t.Fatalf("%d DMs answered, want %d", got, n+1)
		}
		b := r.srv.Billed()
		reads := b[twitter.ChargeDMRead] - billed0[twitter.ChargeDMRead]
		p := bot.DefaultPrices()
		cost := float64(reads)*p[twitter.ChargeDMRead] + float64(b[twitter.ChargeDMSend]-billed0[twitter.ChargeDMSend])*p[twitter.ChargeDMSend]
		t.Logf("%d DM commands over the stream: X bills %d DM event reads (stream events and the polls' reads) and %d DMs sent: $%.3f a command",
			n, reads, n, cost/n)
		if per := float64(reads) / n; per > 3 {
			t.Errorf("%.1f DM event reads billed per command, want at most 3 (the stream's event, the command and its answer read by a poll)", per)
		}
	})
}

// TestStreamEditNotRunAgain: the stream delivers an edit as a new post,
// with its earlier versions in edit_history_tweet_ids: the edit of a
// mention that ran does not run again, neither from the stream nor from
// the reconciliation poll.
func TestStreamEditNotRunAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newStreamRig(t, streamOptions{reconcile: 2 * time.Minute})
		p := r.srv.Post(r.alice, "@mypi led on", 0)
		synctest.Wait()
		e := r.srv.Edit(p, "@mypi led off")
		synctest.Wait()
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		if n, m := r.runs(p.ID), r.runs(e.ID); n != 1 || m != 0 {
			t.Errorf("the mention ran %d times and its edit %d, want 1 and 0\n%s", n, m, r.log.String())
		}
	})
}

// TestStreamEditInOneBatch: a mention and its edit that reach the bot in
// one batch (both queued while a command ran) run once between them.
func TestStreamEditInOneBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newStreamRig(t, streamOptions{reconcile: 2 * time.Minute})
		r.srv.Post(r.alice, "@mypi slow", 0) // holds the loop a second
		time.Sleep(100 * time.Millisecond)
		p := r.srv.Post(r.alice, "@mypi led on", 0)
		e := r.srv.Edit(p, "@mypi led off")
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		if n, m := r.runs(p.ID), r.runs(e.ID); n+m != 1 || n != 1 {
			t.Errorf("the mention ran %d times and its edit %d, want 1 and 0\n%s", n, m, r.log.String())
		}
	})
}

// TestStreamOnlyListened: a subscription an earlier configuration made
// (X keeps them) delivers DMs to a bot that listens to mentions only: they
// do not run.
func TestStreamOnlyListened(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newStreamRig(t, streamOptions{listen: []string{bot.InboxMentions}, setup: func(r *streamRig) {
			act, err := twitter.NewActivity(twitter.Options{BaseURL: r.srv.URL, Credentials: r.srv.Credentials(), Transport: r.srv.Transport()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := act.Subscribe(context.Background(), r.srv.Account().ID, twitter.EventDM); err != nil {
				t.Fatal(err)
			}
		}})
		dm := r.srv.SendDM(r.alice, "led on", 0)
		p := r.srv.Post(r.alice, "@mypi led off", 0)
		synctest.Wait()
		if r.runs(dm.ID) != 0 || r.runs(p.ID) != 1 {
			t.Errorf("DM ran %d times (want 0: dms not listened to), mention %d (want 1)", r.runs(dm.ID), r.runs(p.ID))
		}
	})
}

// TestStreamRestartReuses: a restart reuses the subscriptions it made:
// none is made twice.
func TestStreamRestartReuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newStreamRig(t, streamOptions{})
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		first := r.srv.Subscriptions()
		r.start(streamOptions{})
		p := r.srv.Post(r.alice, "@mypi led on", 0)
		synctest.Wait()
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		r.start(streamOptions{})
		synctest.Wait()
		got := r.srv.Subscriptions()
		if len(first) != 3 || !slices.Equal(got, first) {
			t.Errorf("subscriptions after two restarts %+v, want the first start's %+v", got, first)
		}
		if n := r.srv.Requests(twitter.EndpointSubscribe); n != 3 {
			t.Errorf("%d subscriptions created, want 3", n)
		}
		if n := r.log.count("stream: subscribed"); n != 3 {
			t.Errorf("%d \"subscribed\" lines, want 3 (the first start's)", n)
		}
		r.once(p.ID)
	})
}

// TestStreamRefusedAuto: X refuses the subscriptions. auto polls every
// poll_interval and says so once, with X's words and the fix; it asks
// again every hour, and takes the stream when X grants it.
func TestStreamRefusedAuto(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const words = "Your app is not permitted to access the X Activity API."
		r := newStreamRig(t, streamOptions{setup: func(r *streamRig) {
			r.srv.Fail(twitter.EndpointSubscriptions, twittertest.Fault{Status: 403, Count: -1,
				Body: `{"title":"Forbidden","detail":"` + words + `","type":"about:blank","status":403}`})
		}})
		polls := r.polls()
		p := r.srv.Post(r.alice, "@mypi led on", 0)
		time.Sleep(2*time.Hour + time.Minute) // two more refusals
		synctest.Wait()
		if n := r.polls() - polls; n < 115 || n > 122 {
			t.Errorf("%d polls in 2 hours refused, want about 120 (every minute)", n)
		}
		r.once(p.ID)
		if n := r.srv.Requests(twitter.EndpointSubscriptions); n != 3 {
			t.Errorf("asked for the subscriptions %d times in 2 hours, want 3 (at start, then hourly)", n)
		}
		var lines []string
		for _, l := range strings.Split(r.log.String(), "\n") {
			if strings.Contains(l, "delivery: polls, not the stream") {
				lines = append(lines, l)
			}
		}
		if len(lines) != 1 || !strings.Contains(lines[0], words) || !strings.Contains(lines[0], "delivery: poll") || !strings.Contains(lines[0], `"level":"ERROR"`) {
			t.Errorf("the refusal's lines: %q; want one error with X's words and the fix", lines)
		}
		r.srv.ClearFaults()
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := r.srv.StreamConnections(); n != 1 {
			t.Fatalf("the stream is not up an hour after X allowed it\n%s", r.log.String())
		}
		q := r.srv.Post(r.alice, "@mypi led off", 0)
		synctest.Wait()
		if r.runs(q.ID) != 1 {
			t.Errorf("the stream did not deliver once granted")
		}
	})
}

// TestStreamRefusedStream: with delivery: stream, X refusing it stops the
// bot with a *Fatal (cmd exits 78) that quotes X and says the fix.
func TestStreamRefusedStream(t *testing.T) {
	for _, ep := range []string{twitter.EndpointSubscriptions, twitter.EndpointStream, twitter.EndpointAppToken} {
		t.Run(ep, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const words = "Client Forbidden by the fake"
				srv := twittertest.NewServer(twittertest.Options{InMemory: true})
				defer srv.Close()
				srv.Fail(ep, twittertest.Fault{Status: 403, Count: -1,
					Body: `{"title":"Forbidden","detail":"` + words + `","type":"about:blank","status":403}`})
				opt := twitter.Options{BaseURL: srv.URL, Credentials: srv.Credentials(), Transport: srv.Transport()}
				c, _ := twitter.New(opt)
				act, _ := twitter.NewActivity(opt)
				bt, err := bot.New(bot.Options{Client: c, Handler: bot.HandlerFunc(func(context.Context, bot.Command) string { return "" }),
					StateDir: t.TempDir(), Activity: act, Delivery: bot.DeliveryStream,
					ClockFloor: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)})
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				if err := bt.Start(ctx, ""); err != nil {
					t.Fatal(err)
				}
				err = bt.Run(ctx)
				var f *bot.Fatal
				var re *twitter.RefusedError
				if !errors.As(err, &f) || !errors.As(err, &re) {
					t.Fatalf("Run: %v, want a *Fatal holding the refusal", err)
				}
				if msg := err.Error(); !strings.Contains(msg, words) || !strings.Contains(msg, "delivery: poll") {
					t.Errorf("Run: %s; want X's words and the fix", msg)
				}
			})
		})
	}
}

// TestStreamKeepAlivesAreProgress: with the stream up the loop goes round
// on the keep-alives (X sends one every 20 s) and its own timer, 25 s,
// does not fire: as many wake-ups as keep-alives, and the watchdog, fed
// from the loop at most every 30 s under WatchdogSec=60, sees progress.
func TestStreamKeepAlivesAreProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var rounds []time.Time
		newStreamRig(t, streamOptions{progress: func() {
			mu.Lock()
			rounds = append(rounds, time.Now())
			mu.Unlock()
		}})
		start := time.Now()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		gap, n := time.Duration(0), 0
		last := start
		for _, at := range rounds {
			if at.Before(start) {
				continue
			}
			n++
			gap = max(gap, at.Sub(last))
			last = at
		}
		if gap > 25*time.Second {
			t.Errorf("the loop went %s without a round: the watchdog (60s) would kill the daemon", gap)
		}
		if n > 30+2+2 { // 30 keep-alives, 2 reconciliation polls
			t.Errorf("the loop went round %d times in 10 idle minutes: more wake-ups than the keep-alives need", n)
		}
	})
}

// TestStreamBurst: 200 commands delivered at once all run once, in order,
// in a few state writes.
func TestStreamBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newStreamRig(t, streamOptions{})
		var ids []string
		for i := range 200 {
			ids = append(ids, r.srv.Post(r.alice, fmt.Sprintf("@mypi fan %d%%", i%100), 0).ID)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		r.mu.Lock()
		ran := slices.Clone(r.ran)
		r.mu.Unlock()
		if !slices.Equal(ran, ids) {
			t.Errorf("ran %d commands, want the 200 in order", len(ran))
		}
		st, err := bot.LoadState(r.dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if !slices.Contains(st.MentionsSeen, id) && twitter.IDLess(st.MentionsTaken, id) {
				t.Fatalf("post %s is not recorded taken", id)
			}
		}
	})
}

// TestStreamMentionAndReply: a reply to the account's post that also
// mentions it comes as two events (post.mention.create and
// post.reply.create) with the same post: it runs once.
func TestStreamMentionAndReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newStreamRig(t, streamOptions{})
		p := r.srv.Post(r.alice, "@mypi led on", 0)
		synctest.Wait()
		var answer string
		for _, x := range r.srv.Replies() {
			if x.InReplyTo == p.ID {
				answer = x.ID
			}
		}
		if answer == "" {
			t.Fatalf("no answer to %s", p.ID)
		}
		q := r.srv.ReplyTo(r.alice, answer, "@mypi fan 20% @mypi", 0)
		synctest.Wait()
		// The same while a command runs: the two events queue up and are
		// taken together.
		slow := r.srv.Post(r.alice, "@mypi slow", 0)
		q2 := r.srv.ReplyTo(r.alice, answer, "@mypi fan 30% @mypi", 0)
		synctest.Wait()
		if n := r.srv.Reads(twitter.EndpointStream); n != 6 {
			t.Errorf("%d events delivered, want 6 (a mention; a mention and a reply; a mention; a mention and a reply)", n)
		}
		time.Sleep(6 * time.Minute)
		synctest.Wait()
		r.once(p.ID, q.ID, slow.ID, q2.ID)
	})
}

// TestStreamKeysRevoked: while the polls are refused the keys (revoked in
// the portal), nothing the stream brings runs (it carries the app's bearer
// token, not the account's keys); once they work again, the poll finds it
// and it runs once.
func TestStreamKeysRevoked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newStreamRig(t, streamOptions{})
		for _, ep := range []string{twitter.EndpointMentions, twitter.EndpointDMEvents} {
			r.srv.Fail(ep, twittertest.Fault{Status: 401, Count: -1,
				Body: `{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`})
		}
		r.srv.DisconnectStreams() // a reconnect: a poll at once, refused
		time.Sleep(time.Second)
		synctest.Wait()
		p := r.srv.Post(r.alice, "@mypi led on", 0)
		synctest.Wait()
		if r.runs(p.ID) != 0 {
			t.Fatalf("a command from the stream ran while the API refused the keys\n%s", r.log.String())
		}
		r.srv.ClearFaults()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		r.once(p.ID)
	})
}

// TestDeliveryWords: the config's words for the delivery are the bot's.
func TestDeliveryWords(t *testing.T) {
	for _, w := range [][2]string{{bot.DeliveryAuto, config.DeliveryAuto}, {bot.DeliveryStream, config.DeliveryStream}, {bot.DeliveryPoll, config.DeliveryPoll}} {
		if w[0] != w[1] {
			t.Errorf("the bot says %q where the config says %q", w[0], w[1])
		}
	}
}
