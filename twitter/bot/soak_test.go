package bot_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// count429 counts the answers with status 429.
type count429 struct {
	rt http.RoundTripper
	n  atomic.Int64
}

func (c *count429) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		c.n.Add(1)
	}
	return resp, err
}

// TestSoakDay runs the real bot, the real clients and the fake X API at each
// tier's limits through a simulated day (testing/synctest: it takes seconds;
// Pro's day is 3 hours unless TWEETPI_SOAK=full, and is skipped under -race),
// polling mentions and DMs at the fastest interval (1s). An allowed user
// posts a command every 90 minutes (16 a day: the Free tier's 17 posts a day
// answer them all). It checks that the bot causes no 429, uses at least 90%
// of the polls each window allows, runs every command once, and that a
// command waits on average about half the interval the limit allows.
func TestSoakDay(t *testing.T) {
	if testing.Short() {
		t.Skip("a simulated day per tier and API version; skipped with -short")
	}
	for _, tc := range []struct {
		name       string
		tier       twittertest.Tier
		mentions   int // per 15 minutes
		dms        int
		skipInRace bool
	}{
		{"free", twittertest.TierFree, 1, 1, false},
		{"basic", twittertest.TierBasic, 10, 15, false},
		{"pro", twittertest.TierPro, 300, 300, true},
	} {
		for _, api := range apis {
			t.Run(tc.name+"/"+api, func(t *testing.T) {
				day := 24 * time.Hour
				if tc.skipInRace {
					if raceEnabled {
						t.Skip("57,600 signed requests are too slow under -race")
					}
					// A minute of CPU for the whole day; its windows are all
					// alike, so 3 hours tell the same unless asked for more.
					if os.Getenv("TWEETPI_SOAK") != "full" {
						day = 3 * time.Hour
					}
				}
				synctest.Test(t, func(t *testing.T) { soakDay(t, api, tc.tier, day, tc.mentions, tc.dms) })
			})
		}
	}
}

func soakDay(t *testing.T, api string, tier twittertest.Tier, day time.Duration, mentionLimit, dmLimit int) {
	const (
		window = 15 * time.Minute
		every  = 90 * time.Minute
	)
	srv := twittertest.NewServer(twittertest.Options{Handle: "mypi", Tier: tier, InMemory: true})
	defer srv.Close()
	alice := srv.AddUser("alice")
	rt := &count429{rt: srv.Transport()}
	c, err := twitter.New(twitter.Options{API: api, BaseURL: srv.URL, Credentials: srv.Credentials(), Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	posted := map[string]time.Time{}
	var waits []time.Duration
	h := bot.HandlerFunc(func(_ context.Context, cmd bot.Command) string {
		mu.Lock()
		defer mu.Unlock()
		at, ok := posted[cmd.Text]
		if !ok {
			t.Errorf("ran %q, which was not posted or ran before", cmd.Text)
		}
		delete(posted, cmd.Text)
		waits = append(waits, time.Since(at))
		return "done: " + cmd.Text
	})
	bt, err := bot.New(bot.Options{
		Client: c, Handler: h, StateDir: t.TempDir(), Logger: benchLogger(),
		Listen: []string{bot.InboxMentions, bot.InboxDMs}, PollInterval: time.Second,
		Allow: []string{"@alice"}, Reply: true, MaxAge: 24 * time.Hour,
		ClockFloor: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), // synctest's clock starts in 2000
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := bt.Start(ctx, keyID(srv.Credentials().AccessToken)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- bt.Run(ctx) }()

	start := time.Now()
	n := 0
	for time.Since(start)+every+window <= day { // the last one has a window to run in
		time.Sleep(every - time.Minute)
		n++
		text := fmt.Sprintf("@mypi led toggle %d", n) // unlike texts: the fake refuses duplicate answers
		mu.Lock()
		posted[text] = time.Now()
		mu.Unlock()
		srv.Post(alice, text, 0)
		time.Sleep(time.Minute)
	}
	time.Sleep(day - time.Since(start))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if got := rt.n.Load(); got != 0 {
		t.Errorf("the bot caused %d 429s", got)
	}
	for _, ep := range []struct {
		name  string
		limit int
	}{{twitter.EndpointMentions, mentionLimit}, {twitter.EndpointDMEvents, dmLimit}} {
		allowed := int(day/window) * ep.limit
		used := srv.Requests(ep.name)
		t.Logf("%s: %d polls of %d allowed (%.1f%%)", ep.name, used, allowed, 100*float64(used)/float64(allowed))
		if float64(used) < 0.9*float64(allowed) {
			t.Errorf("%s: %d polls of %d allowed, want at least 90%%", ep.name, used, allowed)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posted) != 0 || len(waits) != n {
		t.Errorf("ran %d of %d commands; not run: %v", len(waits), n, posted)
	}
	var sum time.Duration
	for _, w := range waits {
		sum += w
	}
	interval := window / time.Duration(mentionLimit)
	if len(waits) > 0 {
		mean := sum / time.Duration(len(waits))
		t.Logf("post to run: mean %s over %d commands; the limit allows a poll every %s (half: %s)", mean, len(waits), interval, interval/2)
		if mean > interval {
			t.Errorf("commands waited %s on average, more than the %s between polls the limit allows", mean, interval)
		}
	}
	if r := len(srv.Replies()); r != n {
		t.Errorf("%d replies, want %d", r, n)
	}
}
