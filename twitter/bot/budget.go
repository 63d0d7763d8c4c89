package bot

import (
	"context"
	"log/slog"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/twitter"
)

// The result of a command, the value of the key result on its log line
// (the README's log schema) and a label of the commands metric.
const (
	ResultRan           = "ran"            // it ran (a state read, status and help too)
	ResultRefused       = "refused"        // allowed to command the bot, not that device (or not now): nothing ran
	ResultNotUnderstood = "not_understood" // no command in it: nothing ran
	ResultTooOld        = "too_old"        // older than max_age: answered, not run
	ResultStranger      = "stranger"       // from someone not allowed: not run, not answered
	ResultWithheld      = "withheld"       // handled as the others, but its reply withheld by budget.daily
)

// Results are every result, in the order the log schema lists them.
var Results = []string{ResultRan, ResultRefused, ResultNotUnderstood, ResultTooOld, ResultStranger, ResultWithheld}

// Outcome is a reply and what came of the command.
type Outcome struct {
	Reply  string
	Result string // ResultRan, ResultRefused or ResultNotUnderstood; "" is ran
}

// ResultHandler is a Handler that also says what came of each command:
// the bot logs and counts it. For a plain Handler every command it runs
// is ResultRan.
type ResultHandler interface {
	Handler
	HandleResult(ctx context.Context, c Command) Outcome
}

// handle runs c through the handler.
func (b *Bot) handle(ctx context.Context, c Command) Outcome {
	if rh, ok := b.opt.Handler.(ResultHandler); ok {
		o := rh.HandleResult(ctx, c)
		if o.Result == "" {
			o.Result = ResultRan
		}
		return o
	}
	return Outcome{Reply: b.opt.Handler.Handle(ctx, c), Result: ResultRan}
}

// answer logs c's one line with its result and queues its reply (ready:
// see enqueue), unless replies are off, there is none, or the daily budget
// withholds it; it reports whether a reply was queued.
func (b *Bot) answer(log *slog.Logger, c Command, result, reply string, ready bool) bool {
	text := config.Truncate(c.Text, 200)
	if b.opt.Reply && reply != "" && b.overBudget(replyCharge(c.Inbox)) {
		log.Info("command", "text", text, "result", ResultWithheld, "reply", reply, "ran", result == ResultRan,
			"why", "budget.daily reached: no replies until 00:00 UTC")
		b.counted(c.Inbox, ResultWithheld)
		return false
	}
	log.Info("command", "text", text, "result", result, "reply", reply)
	b.counted(c.Inbox, result)
	if !b.opt.Reply || reply == "" {
		return false
	}
	b.enqueue(b.outgoing(c, reply), ready)
	return true
}

// replyCharge is what a reply in inbox costs: a threaded reply to a
// mention, a DM to a DM.
func replyCharge(inbox string) string {
	if inbox == InboxDMs {
		return twitter.ChargeDMSend
	}
	return twitter.ChargeReply
}

// overBudget reports whether a write of charge would take the day's spend
// past budget.daily (Options.DailyBudget), so it must be withheld.
func (b *Bot) overBudget(charge string) bool {
	m := b.opt.Meter
	if m == nil || b.opt.DailyBudget <= 0 {
		return false
	}
	spent, _, _ := m.today()
	return spent+toMicros(m.Price(charge)) > toMicros(b.opt.DailyBudget)
}

// budgetFraction of budget.daily is when the warning comes.
const budgetFraction = 0.8

// checkBudget says, once per UTC day, when the day's spend passes 80 % of
// budget.daily and when it reaches it, and when a new day lifts the cap.
func (b *Bot) checkBudget() {
	m := b.opt.Meter
	if m == nil || b.opt.DailyBudget <= 0 {
		return
	}
	spent, warned, capped := m.today()
	limit := toMicros(b.opt.DailyBudget)
	// The cap is reached when the cheaper write no longer fits.
	cheapest := min(toMicros(m.Price(twitter.ChargeReply)), toMicros(m.Price(twitter.ChargeDMSend)))
	if b.capped && !capped && spent+cheapest <= limit {
		b.capped = false
		b.log.Info("a new UTC day: replies and notify DMs go out again", "spent_usd", spent.USD(), "daily_usd", b.opt.DailyBudget)
	}
	if !warned && float64(spent) >= budgetFraction*float64(limit) {
		m.said(true, false)
		b.log.Warn("spend today passed 80% of budget.daily; at 100% replies and notify DMs stop until 00:00 UTC",
			"spent_usd", spent.USD(), "daily_usd", b.opt.DailyBudget)
	}
	if !capped && spent+cheapest > limit {
		m.said(true, true)
		capped = true
		b.log.Warn("budget.daily reached: no replies or notify DMs until 00:00 UTC; commands still run",
			"spent_usd", spent.USD(), "daily_usd", b.opt.DailyBudget, "resumes_at", nextUTCDay(time.Now()).Format(time.RFC3339))
	}
	b.capped = b.capped || capped
}

// nextUTCDay is the next 00:00 UTC after t.
func nextUTCDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}
