package bot

import (
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// pollGaps runs a bot polling mentions every second whose mention polls
// fail with errs (after the first start's poll), for d, and returns the
// gaps between the polls and the log.
func pollGaps(t *testing.T, poll time.Duration, d time.Duration, errs ...error) ([]time.Duration, string) {
	t.Helper()
	c := newWindowClient()
	c.fail[twitter.EndpointMentions] = append([]error{nil}, errs...)
	var log syncBuffer
	stop := startBot(t, c, &recorder{}, t.TempDir(), Options{PollInterval: poll, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	time.Sleep(d)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	calls := c.calls[twitter.EndpointMentions]
	var gaps []time.Duration
	for i := 1; i < len(calls); i++ {
		gaps = append(gaps, calls[i].Sub(calls[i-1]))
	}
	return gaps, log.String()
}

func rateLimited(reset time.Time) error {
	return &twitter.APIError{Kind: twitter.KindRateLimited, Endpoint: twitter.EndpointMentions, Status: 429, Reset: reset}
}

// TestBackoffTransientCapped: 5xx and the like back off with jitter, to at
// most max(poll_interval, 30s), so a long outage is followed by a poll
// within that bound of X coming back; the first poll that works again
// logs "reachable again".
func TestBackoffTransientCapped(t *testing.T) {
	for _, tc := range []struct {
		poll, cap time.Duration
	}{{time.Second, 30 * time.Second}, {time.Minute, time.Minute}} {
		t.Run(tc.poll.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var errs []error
				for range 40 {
					errs = append(errs, &twitter.APIError{Kind: twitter.KindTransient, Endpoint: twitter.EndpointMentions, Status: 500})
				}
				gaps, log := pollGaps(t, tc.poll, 2*time.Hour, errs...)
				if len(gaps) < 41 {
					t.Fatalf("%d polls, want the 40 failures and more", len(gaps)+1)
				}
				for i, g := range gaps[:40] {
					if g > tc.cap {
						t.Errorf("wait %d after a failure was %s, want at most %s", i+1, g, tc.cap)
					}
				}
				// With jitter: not all the capped waits alike.
				if gaps[30] == gaps[31] && gaps[31] == gaps[32] {
					t.Errorf("waits %s %s %s: no jitter", gaps[30], gaps[31], gaps[32])
				}
				if n := strings.Count(log, "reachable again"); n != 1 {
					t.Errorf("%d \"reachable again\" lines, want 1\n%s", n, log)
				}
			})
		})
	}
}

// TestBackoffUnauthorizedMidRun: a 401 after the keys worked retries after
// 30s (a glitch at X's end passes), then every 5 minutes while it lasts.
func TestBackoffUnauthorizedMidRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var errs []error
		for range 4 {
			errs = append(errs, &twitter.APIError{Kind: twitter.KindUnauthorized, Endpoint: twitter.EndpointMentions, Status: 401})
		}
		gaps, _ := pollGaps(t, time.Second, time.Hour, errs...)
		want := []time.Duration{30 * time.Second, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute}
		for i, w := range want {
			if g := gaps[i+1]; g < w || g > w+2*time.Second {
				t.Errorf("wait %d after a 401 was %s, want %s", i+1, g, w)
			}
		}
	})
}

// TestBackoff429: a 429 whose reset is past or missing waits 60s; one
// whose reset is far off (hours: the clocks disagree, or the server is
// wrong) waits no more than the 15-minute window and then tries again.
func TestBackoff429(t *testing.T) {
	for name, tc := range map[string]struct {
		reset    func() time.Time
		min, max time.Duration
	}{
		"past":    {func() time.Time { return time.Now().Add(-time.Hour) }, 60 * time.Second, 62 * time.Second},
		"missing": {func() time.Time { return time.Time{} }, 60 * time.Second, 62 * time.Second},
		"+2h":     {func() time.Time { return time.Now().Add(2 * time.Hour) }, 15 * time.Minute, 15*time.Minute + 3*time.Second},
		"+10m":    {func() time.Time { return time.Now().Add(10 * time.Minute) }, 10 * time.Minute, 10*time.Minute + 3*time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				time.Sleep(time.Second) // the first start's poll is at 0
				c := newWindowClient()
				// The first start's poll, then a 429 at the next.
				reset := tc.reset()
				if !reset.IsZero() {
					reset = reset.Add(time.Second) // a whole second, as the header counts
				}
				c.fail[twitter.EndpointMentions] = []error{nil, rateLimited(reset.Truncate(time.Second))}
				stop := startBot(t, c, &recorder{}, t.TempDir(), Options{PollInterval: time.Second})
				time.Sleep(3 * time.Hour)
				stop()
				calls := c.calls[twitter.EndpointMentions]
				if len(calls) < 3 {
					t.Fatalf("%d polls", len(calls))
				}
				if g := calls[2].Sub(calls[1]); g < tc.min || g > tc.max {
					t.Errorf("wait after the 429 was %s, want %s to %s", g, tc.min, tc.max)
				}
			})
		})
	}
}
