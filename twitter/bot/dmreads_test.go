package bot_test

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// dmRun runs the real bot on the DM inbox against the fake at tier, with
// history DMs from alice there before it starts, and calls script while it
// runs. It returns what ran, each with the time since the bot started.
func dmRun(t *testing.T, api string, tier twittertest.Tier, history int, script func(srv *twittertest.Server, alice twitter.User)) (srv *twittertest.Server, ran map[string]time.Duration) {
	srv = twittertest.NewServer(twittertest.Options{Handle: "mypi", Tier: tier, InMemory: true})
	t.Cleanup(srv.Close)
	alice := srv.AddUser("alice")
	for i := range history {
		srv.SendDM(alice, "old "+time.Duration(i).String(), 2*time.Hour-time.Duration(i)*time.Minute)
	}
	rt := &count429{rt: srv.Transport()}
	c, err := twitter.New(twitter.Options{API: api, BaseURL: srv.URL, Credentials: srv.Credentials(), Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	ran = map[string]time.Duration{}
	start := time.Now()
	h := bot.HandlerFunc(func(_ context.Context, cmd bot.Command) string {
		mu.Lock()
		defer mu.Unlock()
		if _, twice := ran[cmd.Text]; twice {
			t.Errorf("%q ran twice", cmd.Text)
		}
		ran[cmd.Text] = time.Since(start)
		return "done: " + cmd.Text
	})
	bt, err := bot.New(bot.Options{
		Client: c, Handler: h, StateDir: t.TempDir(), Logger: benchLogger(),
		Listen: []string{bot.InboxDMs}, PollInterval: time.Second,
		Allow: []string{"@alice"}, Reply: true, MaxAge: 24 * time.Hour,
		ClockFloor: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), // synctest's clock starts in 2000
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	if err := bt.Start(ctx, keyID(srv.Credentials().AccessToken)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- bt.Run(ctx) }()
	script(srv, alice)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := rt.n.Load(); n != 0 {
		t.Errorf("the bot caused %d 429s", n)
	}
	mu.Lock()
	defer mu.Unlock()
	return srv, ran
}

// TestDMPollsReadLittle: X bills every DM event an answer returns, and
// dm_events has no since_id. With 40 old DMs in the account, an idle poll
// must read one event (the newest), not a page of old ones, and a poll
// that finds something new reads on only to the first event seen before.
// Its own replies are known from sending them, so they cost no extra read.
func TestDMPollsReadLittle(t *testing.T) {
	for _, api := range []string{"v2", "v1.1"} {
		t.Run(api, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv, ran := dmRun(t, api, twittertest.TierBasic, 40, func(srv *twittertest.Server, alice twitter.User) {
					time.Sleep(10 * time.Minute)
					srv.SendDM(alice, "led on", 0)
					time.Sleep(10 * time.Minute)
					srv.SendDM(alice, "led off", 0)
					time.Sleep(10 * time.Minute)
				})
				if got := slices.Sorted(maps.Keys(ran)); !slices.Equal(got, []string{"led off", "led on"}) {
					t.Errorf("ran %q, want led on and led off", got)
				}
				if n := len(srv.SentDMs()); n != 2 {
					t.Errorf("%d DMs sent, want 2", n)
				}
				reqs, reads := srv.Requests(twitter.EndpointDMEvents), srv.Reads(twitter.EndpointDMEvents)
				t.Logf("%d dm_events requests read %d events (40 old DMs, 2 commands, 2 replies)", reqs, reads)
				// One read a poll, and for each of the two commands a page
				// of at most 20 (the new one and older ones it stops at).
				if max := reqs + 2*20; reads > max {
					t.Errorf("%d DM events read in %d requests, want at most %d", reads, reqs, max)
				}
				if reqs < 20 {
					t.Errorf("only %d dm_events requests in 30 minutes at 15 per 15 minutes", reqs)
				}
			})
		})
	}
}

// TestDMFreeTierReadsAPage: where dm_events allows one request per 15
// minutes, a look at the newest event first would cost the window's only
// request and leave the command for the next window; there one request
// reads a page, and a DM runs at the first poll after it arrives.
func TestDMFreeTierReadsAPage(t *testing.T) {
	for _, api := range []string{"v2", "v1.1"} {
		t.Run(api, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, ran := dmRun(t, api, twittertest.TierFree, 5, func(srv *twittertest.Server, alice twitter.User) {
					time.Sleep(time.Minute)
					srv.SendDM(alice, "led on", 0)
					time.Sleep(20 * time.Minute)
				})
				at, ok := ran["led on"]
				if !ok {
					t.Fatalf("led on did not run in 20 minutes on the Free tier's 1 read per 15 minutes")
				}
				// The first start took the first window's request; the
				// next window opens at 15 minutes.
				if at > 16*time.Minute {
					t.Errorf("led on ran %s after the start, want it at the first poll of the second window (~15m)", at)
				}
			})
		})
	}
}
