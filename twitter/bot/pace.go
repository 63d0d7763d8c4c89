package bot

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// pacer holds when an endpoint may next be called.
type pacer struct {
	next         time.Time
	last         time.Time
	failures     int       // calls failed in a row
	unauthorized int       // of them, 401s
	down         time.Time // when the first of them failed
	warnedAge    bool      // told that the limit's gap exceeds max_age
}

// Bounds of the waits. X's rate-limit windows are 15 minutes, and its
// 24-hour user limits a day: a reset named further off than that (a clock
// far off, a server in error) is not waited for: the endpoint is tried
// again at the window's end, and the answer tells anew.
const (
	windowCap = 15 * time.Minute
	dayCap    = 24 * time.Hour
	// unsetReset is the wait after a 429 whose reset is missing or past.
	unsetReset = 60 * time.Second
	// The waits after a 401 once the keys have worked: a glitch at X's
	// end passes in a retry; keys revoked do not, and are asked slowly.
	unauthorizedFirst = 30 * time.Second
	unauthorizedSlow  = 5 * time.Minute
	// resetMargin covers the Date header's one-second resolution.
	resetMargin = 2 * time.Second
)

// resetAt is a rate-limit reset in the server's clock as a local time, at
// most max from now.
func (b *Bot) resetAt(reset, now time.Time, max time.Duration) time.Time {
	t := reset.Add(-b.skew()).Add(resetMargin)
	if lim := now.Add(max + resetMargin); t.After(lim) {
		return lim
	}
	return t
}

// failed counts a failed call of p's endpoint.
func (p *pacer) failed(now time.Time) {
	if p.failures == 0 {
		p.down = now
	}
	p.failures++
}

// ok counts a call that worked, and says once that the API is reachable
// again after failures.
func (b *Bot) ok(p *pacer, what string, now time.Time) {
	if p.failures > 0 {
		b.log.Info("reachable again", "endpoint", what, "failures", p.failures, "down", now.Sub(p.down).Round(time.Second).String())
	}
	p.failures, p.unauthorized = 0, 0
}

func (b *Bot) pacer(name string) *pacer {
	p, ok := b.pace[name]
	if !ok {
		p = &pacer{}
		b.pace[name] = p
	}
	return p
}

// schedule sets when a source is polled next, after a poll that ended in err.
func (b *Bot) schedule(s Source, p *pacer, err error) {
	now := time.Now()
	p.last = now
	if err != nil {
		// A failed answer may still have spent the window (a 200 with a
		// body cut short, too long or not JSON): no retry before the
		// window's pace allows, however short the backoff.
		p.next = later(now.Add(b.backoff(p, err)), b.paced(s.Endpoint(), now, 0))
		return
	}
	b.ok(p, s.Inbox(), now)
	p.next = b.paced(s.Endpoint(), now, b.interval(s))
	if gap := p.next.Sub(now); gap > b.opt.MaxAge && !p.warnedAge {
		// The Free tier reads mentions once per 15 minutes: a command that
		// waits that long for a poll would be answered "too old".
		p.warnedAge = true
		b.log.Warn("the rate limit spaces polls wider than max_age: commands may be answered too old; raise max_age above the gap",
			"inbox", s.Inbox(), "gap", gap.Round(time.Second).String(), "max_age", b.opt.MaxAge.String())
	}
}

// spent reports whether endpoint has no request left in its rate-limit
// window, by the latest answer's headers.
func (b *Bot) spent(endpoint string, now time.Time) bool {
	rl, ok := b.opt.Client.RateLimits()[endpoint]
	return ok && rl.Limit > 0 && rl.Remaining <= 0 && !rl.Reset.IsZero() && b.resetAt(rl.Reset, now, windowCap).After(now)
}

// paced returns when an endpoint may be called next: no sooner than min
// after now, and spread so the remaining requests of the window last until
// it resets, so the bot never causes a 429.
func (b *Bot) paced(endpoint string, now time.Time, min time.Duration) time.Time {
	next := now.Add(min)
	rl, ok := b.opt.Client.RateLimits()[endpoint]
	if !ok || rl.Limit == 0 || rl.Reset.IsZero() {
		return next
	}
	// The reset is in the server's clock, and believed up to a window ahead.
	reset := b.resetAt(rl.Reset, now, windowCap)
	if !reset.After(now) {
		return next
	}
	// Spread the remaining requests evenly, the last one a slot before the
	// reset, so every request of the window is used and none is over.
	var t time.Time
	if rl.Remaining <= 0 {
		t = reset
	} else {
		t = now.Add(reset.Sub(now) / time.Duration(rl.Remaining+1))
	}
	if t.After(next) {
		return t
	}
	return next
}

// backoff returns how long to wait after a failed call and counts the
// failure. The wait is never sooner than the endpoint's pace allows: the
// caller takes the later of the two.
func (b *Bot) backoff(p *pacer, err error) time.Duration {
	now := time.Now()
	p.failed(now)
	var ae *twitter.APIError
	errors.As(err, &ae)
	switch twitter.KindOf(err) {
	case twitter.KindRateLimited:
		if ae != nil && !ae.Reset.IsZero() {
			limit := windowCap
			if ae.Day {
				limit = dayCap
			}
			if d := b.resetAt(ae.Reset, now, limit).Sub(now); d > 0 {
				return d
			}
		}
		// A reset already past, or none named, and still a 429: the
		// clocks disagree or the server does; a minute, then ask again.
		return unsetReset
	case twitter.KindUnauthorized:
		if p.unauthorized++; p.unauthorized == 1 {
			return unauthorizedFirst
		}
		return max(unauthorizedSlow, b.opt.PollInterval)
	case twitter.KindForbidden:
		return max(5*time.Minute, b.opt.PollInterval)
	case twitter.KindNoCredits, twitter.KindUsageCapped:
		// Only a person ends it (a top-up, a higher cap): ask again
		// seldom, a little spread out, never in a loop.
		d := max(creditRetry, b.opt.PollInterval)
		return d + rand.N(d/10+1)
	}
	d := time.Second << min(p.failures, 16)
	d = min(d, b.opt.MaxBackoff)
	// Full jitter in [d/2, d): many Pis restarting together spread out.
	return d/2 + rand.N(d/2+1)
}

// creditRetry is how long the bot waits after a 402 (credits used up) or a
// usage-capped 429 before it asks again.
const creditRetry = 15 * time.Minute

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
