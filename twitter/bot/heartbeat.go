package bot

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// HeartbeatEvery is how often the log says, at info level, that the bot is
// alive and what it did since the last time.
const HeartbeatEvery = 15 * time.Minute

// spendSaveEvery bounds how often a change of the spend estimate alone
// (a read that ran nothing, like the first DM probe of a UTC day) is
// written to the state file; other writes take it along at once.
const spendSaveEvery = 15 * time.Minute

// afterRound runs at the end of each round of the loop: the budget's
// warnings, the estimate's write when nothing else wrote it, the heartbeat.
func (b *Bot) afterRound() {
	b.checkBudget()
	now := time.Now()
	if m := b.opt.Meter; m != nil && m.unsaved() && now.Sub(b.spendSave) >= spendSaveEvery {
		b.spendSave = now
		if err := b.save(); err != nil {
			b.log.Error("save state", "err", err)
		}
	}
	if now.Sub(b.heartbeat) >= HeartbeatEvery {
		b.heartbeat = now
		b.beat(now)
	}
}

// beat logs the heartbeat line.
func (b *Bot) beat(now time.Time) {
	queued := b.queued() // the senders change the outbox beside the loop
	b.live.mu.Lock()
	attrs := []any{"polls", b.live.polls, "queued_replies", queued, "delivery", b.live.delivery.Mode,
		"commands_today", maps.Clone(b.live.today)}
	b.live.polls = 0
	b.live.mu.Unlock()
	if m := b.opt.Meter; m != nil {
		spent, _, _ := m.today()
		attrs = append(attrs, "spend_today_usd", spent.USD())
	}
	b.log.Info("alive", append(attrs, "uptime", now.Sub(b.started).Round(time.Second).String())...)
}

// clock is a time as the log's messages show it: the time of day in UTC,
// as the replies' stamps and the budget's day are.
func clock(t time.Time) string { return t.UTC().Format("15:04:05") }

// logPoll records a poll in the status and logs it: at debug level when it
// went well ("mentions: 0 new; next poll 09:20:00, 287 left until
// 09:30:00", UTC), else what failed, what to do, and when the next try is.
func (b *Bot) logPoll(s Source, p *pacer, err error) {
	b.polled(s, p, b.fresh, err)
	inbox := s.Inbox()
	if err == nil {
		if !b.log.Enabled(context.Background(), slog.LevelDebug) {
			return
		}
		msg := fmt.Sprintf("%s: %d new; next poll %s", inbox, b.fresh, clock(p.next))
		attrs := []any{"inbox", inbox, "new", b.fresh, "next_poll", p.next.UTC().Format(time.RFC3339)}
		if rl, ok := b.opt.Client.RateLimits()[s.Endpoint()]; ok && rl.Limit > 0 {
			msg += fmt.Sprintf(", %d left until %s", rl.Remaining, clock(rl.Reset))
			attrs = append(attrs, "remaining", rl.Remaining, "reset", rl.Reset.UTC().Format(time.RFC3339))
		}
		b.log.Debug(msg, attrs...)
		return
	}
	level, msg := slog.LevelWarn, "poll failed; backing off"
	switch twitter.KindOf(err) {
	case twitter.KindUnauthorized:
		level, msg = slog.LevelError, "the API refused the keys; outputs stay as they are, retrying slowly"
	case twitter.KindForbidden:
		level, msg = slog.LevelError, "the API refused the request"
	case twitter.KindNoCredits:
		level, msg = slog.LevelError, "X API credits used up: nothing is read or sent until there is credit"
	case twitter.KindUsageCapped:
		level, msg = slog.LevelError, "the app's spending cap is reached: nothing is read or sent until it allows"
	case twitter.KindRateLimited:
		msg = "rate limited; waiting for the reset"
	}
	attrs := []any{"inbox", inbox, "err", err, "retry_at", p.next.UTC().Format(time.RFC3339),
		"retry_in", time.Until(p.next).Round(time.Second).String(), "failures", p.failures}
	if level == slog.LevelError {
		attrs = append(attrs, "fix", twitter.Fix(err))
	}
	b.log.Log(context.Background(), level, msg, attrs...)
}
