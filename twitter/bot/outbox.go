package bot

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// outgoing is the answer to c.
func (b *Bot) outgoing(c Command, reply string) Outgoing {
	o := Outgoing{Inbox: c.Inbox, Text: b.replyText(reply), Queued: time.Now(), base: reply}
	if c.Inbox == InboxDMs {
		o.To = c.AuthorID
	} else {
		o.InReplyTo = c.ID
	}
	return o
}

// notify DMs text to every allowed user whose id is known.
func (b *Bot) notify(text string) {
	ids := make([]string, 0, len(b.allowIDs))
	for id := range b.allowIDs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) > 0 && b.overBudget(twitter.ChargeDMSend) {
		b.log.Info("notify", "text", text, "to", len(ids), "result", ResultWithheld, "why", "budget.daily reached: no notify DMs until 00:00 UTC")
		return
	}
	for _, id := range ids {
		b.enqueue(Outgoing{Inbox: InboxDMs, To: id, Text: b.replyText(text), Queued: time.Now(), base: text})
	}
	b.log.Info("notify", "text", text, "to", len(ids))
}

// enqueue queues a reply, dropping the oldest when the outbox is full.
func (b *Bot) enqueue(o Outgoing) {
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	b.catchUp()
	if len(b.st.Outbox) >= maxOutbox {
		b.log.Warn("outbox full: dropping the oldest reply", "text", b.st.Outbox[0].Text)
		if len(b.st.Outbox) == b.unsaved {
			b.unsaved--
		}
		b.st.Outbox = b.st.Outbox[1:]
	}
	b.st.Outbox = append(b.st.Outbox, o)
	b.unsaved++
}

// target is whom a reply answers, for the log: the post, or the DM's
// addressee.
func (o Outgoing) target() slog.Attr {
	if o.Inbox == InboxDMs {
		return slog.String("to", o.To)
	}
	return slog.String("in_reply_to", o.InReplyTo)
}

func sendEndpoint(o Outgoing) string {
	if o.Inbox == InboxDMs {
		return twitter.EndpointSendDM
	}
	return twitter.EndpointPost
}

// sendGrace is how long a reply already on its way may go on after the bot
// is told to stop.
const sendGrace = 2 * time.Second

// outlive returns a context that ends grace after ctx does, and its cancel.
func outlive(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(sctx, func() { t.Stop() }) // done sooner: no timer left
	})
	return sctx, func() { stop(); cancel() }
}

// outboxNext is when the first queued reply may go out.
func (b *Bot) outboxNext() time.Time {
	if len(b.st.Outbox) == 0 {
		return time.Time{}
	}
	now := time.Now()
	p := b.pacer(sendEndpoint(b.st.Outbox[0]))
	t := p.next
	rl := b.opt.Client.RateLimits()[sendEndpoint(b.st.Outbox[0])]
	if rl.DayLimit > 0 && rl.DayRemaining <= 0 && rl.DayReset.After(now) {
		t = later(t, rl.DayReset.Add(-b.skew).Add(2*time.Second))
	}
	if rl.Limit > 0 && rl.Remaining <= 0 && rl.Reset.After(now) {
		t = later(t, rl.Reset.Add(-b.skew).Add(2*time.Second))
	}
	return t
}

// flush sends queued replies in order until one must wait.
func (b *Bot) flush(ctx context.Context) error {
	changed := false
	defer func() {
		if changed {
			if err := b.save(); err != nil {
				b.log.Error("save state", "err", err)
			}
		}
	}()
	restamps := 0
	for len(b.st.Outbox) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if b.clockBad {
			return nil
		}
		o := b.st.Outbox[0]
		if b.overBudget(replyCharge(o.Inbox)) {
			// Queued before the day's budget ran out: withheld too.
			b.log.Info("reply withheld", "inbox", o.Inbox, "in_reply_to", o.InReplyTo, "to", o.To, "text", o.Text,
				"result", ResultWithheld, "why", "budget.daily reached: no replies until 00:00 UTC")
			b.dropFirst(&changed)
			continue
		}
		if time.Now().Before(b.outboxNext()) {
			return nil
		}
		p := b.pacer(sendEndpoint(o))
		b.led.mu.Lock()
		b.st.Outbox[0].tried = true
		b.led.mu.Unlock()
		// A send under way when the bot is told to stop may finish: cut
		// short, it may reach X without the bot knowing, and go out again
		// after the restart (X refuses a repeated post, not a repeated DM).
		sctx, sent := outlive(ctx, sendGrace)
		var err error
		if o.Inbox == InboxDMs {
			var id string
			if id, err = b.opt.Client.SendDM(sctx, o.To, o.Text); err == nil && id != "" && slices.Contains(b.opt.Listen, InboxDMs) {
				// It shows in dm_events too: known, the next poll need not
				// read on to see it.
				b.mark(Command{Inbox: InboxDMs, ID: id})
			}
		} else {
			_, err = b.opt.Client.Reply(sctx, o.InReplyTo, o.Text)
		}
		cut := sctx.Err() != nil
		sent()
		b.noteClock()
		if err != nil && cut {
			return ctx.Err() // unknown whether it went out: it stays queued
		}
		switch k := twitter.KindOf(err); {
		case k == twitter.KindDuplicate && err != nil && o.base != "" && !o.tried && restamps < 5:
			// This run never sent this text, yet the API has it: an earlier
			// run (killed and restarted within the second) sent the same
			// text to another post. Counting it as sent would leave this
			// command unanswered; stamp it anew instead.
			restamps++
			text := b.freshReplyText(o.base)
			b.led.mu.Lock()
			b.st.Outbox[0].Text, b.st.Outbox[0].tried = text, false
			b.led.mu.Unlock()
			b.log.Info("reply text sent before by an earlier run; stamping it anew", "inbox", o.Inbox, "text", text)
			continue
		case err == nil || k == twitter.KindDuplicate:
			// A duplicate was sent before (a restart after sending): it counts.
			p.failures = 0
			b.everOK = true
			b.log.Info("sent", "inbox", o.Inbox, "in_reply_to", o.InReplyTo, "to", o.To, "text", o.Text, "duplicate", k == twitter.KindDuplicate && err != nil)
		case k == twitter.KindRateLimited || k == twitter.KindTransient || k == twitter.KindUnauthorized ||
			k == twitter.KindNoCredits || k == twitter.KindUsageCapped:
			p.next = time.Now().Add(b.backoff(p, err))
			b.log.Warn("reply waits", "inbox", o.Inbox, o.target(), "err", err, "queued", len(b.st.Outbox), "retry_at", p.next.UTC().Format(time.RFC3339))
			return err
		default:
			// Not allowed (a DM to someone who does not accept them, a
			// deleted post): waiting will not help; drop it.
			b.log.Error("reply dropped", "inbox", o.Inbox, o.target(), "err", err, "text", o.Text, "fix", twitter.Fix(err))
		}
		b.dropFirst(&changed)
	}
	return nil
}

// dropFirst takes the first reply off the outbox; *changed is set when it
// was in the file, which must then be written.
func (b *Bot) dropFirst(changed *bool) {
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	b.catchUp()
	if len(b.st.Outbox) > b.unsaved {
		*changed = true // it was in the file
	} else {
		b.unsaved--
	}
	b.st.Outbox = b.st.Outbox[1:]
}
