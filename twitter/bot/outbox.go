package bot

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// The outbox: the replies waiting to go out, in the state (st.Outbox,
// oldest first, at most maxOutbox) so that a stop keeps them. One sender
// per inbox sends them beside the loop, in order, paced by the rate limits:
// a slow or failing endpoint never holds the polls, the commands or the
// watchdog. Only the loop adds entries; a sender takes its inbox's first
// entry, sends it, and removes it.

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
	ids := b.allowedIDs()
	if len(ids) > 0 && b.overBudget(twitter.ChargeDMSend) {
		b.log.Info("notify", "text", text, "to", len(ids), "result", ResultWithheld, "why", "budget.daily reached: no notify DMs until 00:00 UTC")
		return
	}
	for _, id := range ids {
		b.enqueue(Outgoing{Inbox: InboxDMs, To: id, Text: b.replyText(text), Queued: time.Now(), base: text}, true)
	}
	b.log.Info("notify", "text", text, "to", len(ids))
}

// enqueue queues a reply, dropping the oldest waiting one when the outbox
// is full. ready is false for an answer to an item taken without a write
// of its own (too old, say): it waits for the next write of the state,
// which records the item taken, so that a crash cannot answer it twice.
func (b *Bot) enqueue(o Outgoing, ready bool) {
	b.led.mu.Lock()
	if len(b.st.Outbox) >= maxOutbox {
		i := slices.IndexFunc(b.st.Outbox, func(x Outgoing) bool { return !x.busy })
		if i < 0 {
			i = 0
		}
		b.log.Warn("outbox full: dropping the oldest reply", "text", b.st.Outbox[i].Text)
		if b.st.Outbox[i].saved {
			b.led.dirty = true
		}
		b.st.Outbox = slices.Delete(b.st.Outbox, i, i+1)
	}
	b.led.seq++
	o.seq, o.ready = b.led.seq, ready
	b.st.Outbox = append(b.st.Outbox, o)
	b.led.mu.Unlock()
	b.wakeSenders()
}

// wakeSenders tells the senders that the outbox changed.
func (b *Bot) wakeSenders() {
	for _, s := range b.senders {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// target is whom a reply answers, for the log: the post, or the DM's
// addressee.
func (o Outgoing) target() slog.Attr {
	if o.Inbox == InboxDMs {
		return slog.String("to", o.To)
	}
	return slog.String("in_reply_to", o.InReplyTo)
}

// sendEndpoint is the rate-limited endpoint that sends a reply of inbox.
func sendEndpoint(inbox string) string {
	if inbox == InboxDMs {
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

// sender sends the replies of one inbox.
type sender struct {
	b     *Bot
	inbox string
	pace  pacer
	wake  chan struct{}
}

// startSenders runs a sender per inbox until ctx ends; the returned func
// waits for them (a send under way gets sendGrace).
func (b *Bot) startSenders(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	for _, s := range b.senders {
		wg.Go(func() { s.run(ctx) })
	}
	return wg.Wait
}

// head is the first entry of the sender's inbox, if it may go out now.
func (s *sender) head() (Outgoing, bool) {
	b := s.b
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	for _, o := range b.st.Outbox {
		if o.Inbox == s.inbox {
			return o, o.ready // in order: one not ready holds those after it
		}
	}
	return Outgoing{}, false
}

// next is when a reply may go out: after the backoff, inside the rate
// limits the latest answer named.
func (s *sender) next() time.Time {
	b := s.b
	now := time.Now()
	ep := sendEndpoint(s.inbox)
	t := s.pace.next
	rl := b.opt.Client.RateLimits()[ep]
	if rl.DayLimit > 0 && rl.DayRemaining <= 0 && !rl.DayReset.IsZero() {
		t = later(t, b.resetAt(rl.DayReset, now, dayCap))
	}
	if rl.Limit > 0 && rl.Remaining <= 0 && !rl.Reset.IsZero() {
		t = later(t, b.resetAt(rl.Reset, now, windowCap))
	}
	return t
}

func (s *sender) run(ctx context.Context) {
	const idle = time.Minute // nothing to send: a wake comes first, or a look anyway
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		wait := idle
		o, ok := s.head()
		if ok {
			wait = max(0, time.Until(s.next()))
			if s.b.clockBad.Load() {
				wait = 10 * time.Second // nothing is sent until the clock is set
			}
		}
		if ok && wait == 0 {
			s.send(ctx, o)
			if ctx.Err() != nil {
				return
			}
			continue
		}
		if ok {
			s.keepWaiting()
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// keepWaiting has the file hold the inbox's replies, which must wait (a
// rate limit, a backoff, the clock): a crash or a stop must not lose them.
func (s *sender) keepWaiting() {
	b := s.b
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	write := false
	for i := range b.st.Outbox {
		if o := &b.st.Outbox[i]; o.Inbox == s.inbox && !o.keep {
			o.keep, write = true, true
		}
	}
	if write {
		if err := b.led.save(); err != nil {
			b.led.dirty = true
			b.log.Error("save state", "err", err)
		}
	}
}

// update changes the queued entry seq, if it is still there.
func (b *Bot) update(seq uint64, f func(o *Outgoing)) {
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	if i := slices.IndexFunc(b.st.Outbox, func(o Outgoing) bool { return o.seq == seq }); i >= 0 {
		f(&b.st.Outbox[i])
	}
}

// remove takes the entry seq out of the outbox (sent, or given up) and
// writes the state when the file holds it: a restart must not send it again.
func (b *Bot) remove(seq uint64) {
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	i := slices.IndexFunc(b.st.Outbox, func(o Outgoing) bool { return o.seq == seq })
	if i < 0 {
		return // dropped meanwhile, the outbox being full
	}
	saved := b.st.Outbox[i].saved
	b.st.Outbox = slices.Delete(b.st.Outbox, i, i+1)
	if !saved {
		return // it was never in the file: nothing to undo there
	}
	if err := b.led.save(); err != nil {
		b.led.dirty = true // the next write takes it along
		b.log.Error("save state", "err", err)
	}
}

// unsure reports the failures after which a send may have taken effect:
// no answer came (a timeout, a connection cut), or X's own error.
func unsure(err error) bool {
	if twitter.KindOf(err) != twitter.KindTransient {
		return false
	}
	var ae *twitter.APIError
	if !errors.As(err, &ae) {
		return true
	}
	return ae.Status == 0 || ae.Status >= 500
}

// send sends o once, or learns that it went out before.
func (s *sender) send(ctx context.Context, o Outgoing) {
	b := s.b
	p := &s.pace
	if b.overBudget(replyCharge(o.Inbox)) {
		// Queued before the day's budget ran out: withheld too.
		b.log.Info("reply withheld", "inbox", o.Inbox, o.target(), "text", o.Text,
			"result", ResultWithheld, "why", "budget.daily reached: no replies until 00:00 UTC")
		b.remove(o.seq)
		return
	}
	if o.Inbox == InboxDMs && !o.Unsure.IsZero() {
		// X takes the same DM twice: look for it among the account's
		// own sent events first.
		sent, err := b.confirmDM(ctx, o)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			p.next = time.Now().Add(b.backoff(p, err))
			b.log.Warn("reply waits: cannot tell whether an earlier try went out", "inbox", o.Inbox, o.target(), "err", err,
				"retry_at", p.next.UTC().Format(time.RFC3339))
			return
		}
		if sent {
			b.log.Info("sent", "inbox", o.Inbox, "to", o.To, "text", o.Text, "confirmed", true)
			b.remove(o.seq)
			return
		}
	}
	attempt := time.Now()
	if err := b.markSending(o.seq, attempt); err != nil {
		p.next = time.Now().Add(b.backoff(p, err))
		b.log.Error("reply waits: the state cannot be written, and a reply it holds goes out only once that is recorded", "inbox", o.Inbox, o.target(), "err", err,
			"retry_at", p.next.UTC().Format(time.RFC3339))
		return
	}
	// A send under way when the bot is told to stop may finish: cut short,
	// it may reach X without the bot knowing.
	sctx, done := outlive(ctx, sendGrace)
	var err error
	if o.Inbox == InboxDMs {
		var id string
		if id, err = b.opt.Client.SendDM(sctx, o.To, o.Text); err == nil && twitter.ValidID(id) {
			// It shows in dm_events too, on top: the next poll's look at
			// the newest events knows it for the bot's own, and looks one
			// further.
			b.sentDMs.add(id)
		}
	} else {
		_, err = b.opt.Client.Reply(sctx, o.InReplyTo, o.Text)
	}
	cut := sctx.Err() != nil
	done()
	b.noteClock()
	b.update(o.seq, func(x *Outgoing) { x.busy = false })
	if err != nil && (cut || unsure(err)) {
		// Whether it went out is unknown: it stays queued, marked, and is
		// confirmed (a DM) or taken for sent on a duplicate (a post)
		// before it goes again, also after a restart.
		b.led.mu.Lock()
		if i := slices.IndexFunc(b.st.Outbox, func(x Outgoing) bool { return x.seq == o.seq }); i >= 0 && b.st.Outbox[i].Unsure.IsZero() {
			b.st.Outbox[i].Unsure, b.led.dirty = attempt, true
			if cut {
				if err := b.led.save(); err != nil {
					b.log.Error("save state", "err", err)
				}
			}
		}
		b.led.mu.Unlock()
		if cut {
			return
		}
	} else if err != nil && o.Unsure.IsZero() {
		// X answered no: it did not go out. Only this try marked it.
		b.update(o.seq, func(x *Outgoing) {
			if !x.Unsure.IsZero() {
				x.Unsure, b.led.dirty = time.Time{}, true
			}
		})
	}
	switch k := twitter.KindOf(err); {
	case k == twitter.KindDuplicate && err != nil && o.base != "" && !o.tried && o.Unsure.IsZero() && o.restamps < 5:
		// This run never sent this text, yet the API has it: an earlier
		// run (killed and restarted within the second) sent the same text
		// to another post. Counting it as sent would leave this command
		// unanswered; stamp it anew instead.
		text := b.freshReplyText(o.base)
		b.update(o.seq, func(x *Outgoing) { x.Text, x.tried, x.restamps = text, false, x.restamps+1 })
		b.log.Info("reply text sent before by an earlier run; stamping it anew", "inbox", o.Inbox, "text", text)
		return
	case err == nil || k == twitter.KindDuplicate:
		// A duplicate was sent before (a restart after sending): it counts.
		b.ok(p, sendEndpoint(o.Inbox), time.Now())
		b.everOK.Store(true)
		b.log.Info("sent", "inbox", o.Inbox, "in_reply_to", o.InReplyTo, "to", o.To, "text", o.Text, "duplicate", k == twitter.KindDuplicate && err != nil)
	case k == twitter.KindRateLimited || k == twitter.KindTransient || k == twitter.KindUnauthorized ||
		k == twitter.KindNoCredits || k == twitter.KindUsageCapped:
		p.next = time.Now().Add(b.backoff(p, err))
		b.log.Warn("reply waits", "inbox", o.Inbox, o.target(), "err", err, "queued", b.queued(), "retry_at", p.next.UTC().Format(time.RFC3339))
		return
	default:
		// Not allowed (a DM to someone who does not accept them, a
		// deleted post): waiting will not help; drop it.
		b.log.Error("reply dropped", "inbox", o.Inbox, o.target(), "err", err, "text", o.Text, "fix", twitter.Fix(err))
	}
	b.remove(o.seq)
}

// markSending marks the entry seq busy and tried. When the state file holds
// it, the file first records that it is being sent (Unsure): a crash after
// the send and before the write that removes it would otherwise send it
// again after the restart (X takes a DM twice); marked, it is looked for
// among the sent DMs (a post: its duplicate counts as sent) instead. A
// reply the file does not hold needs no such write: a crash loses it.
func (b *Bot) markSending(seq uint64, at time.Time) error {
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	i := slices.IndexFunc(b.st.Outbox, func(o Outgoing) bool { return o.seq == seq })
	if i < 0 {
		return nil
	}
	o := &b.st.Outbox[i]
	o.busy, o.tried = true, true
	if !o.saved || !o.Unsure.IsZero() {
		return nil
	}
	o.Unsure = at
	if err := b.led.save(); err != nil {
		o.Unsure, o.busy = time.Time{}, false
		return err
	}
	return nil
}

// queued is how many replies wait.
func (b *Bot) queued() int {
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	return len(b.st.Outbox)
}

// confirmDM looks for o among the account's own sent DMs (dm_events lists
// them): the newest pages, back to a minute before the unsure try.
func (b *Bot) confirmDM(ctx context.Context, o Outgoing) (bool, error) {
	if now := time.Now(); b.spent(twitter.EndpointDMEvents, now) {
		return false, &twitter.APIError{Kind: twitter.KindRateLimited, Endpoint: twitter.EndpointDMEvents, Status: 429,
			Reset: b.opt.Client.RateLimits()[twitter.EndpointDMEvents].Reset}
	}
	before := o.Unsure.Add(-time.Minute)
	dms, err := b.opt.Client.DirectMessages(ctx, twitter.DMParams{MaxResults: dmLookPage, MaxPages: 3, Seen: func(id string) bool {
		t := twitter.IDTime(id)
		return !t.IsZero() && t.Before(before)
	}})
	b.noteClock()
	if err != nil {
		return false, err
	}
	convo := conversation(b.account.ID, o.To)
	for _, d := range dms {
		if d.SenderID == b.account.ID && d.Text == o.Text && (d.ConversationID == "" || d.ConversationID == convo) {
			b.sentDMs.add(d.ID) // read by the DM poll alone, when it listens
			return true, nil
		}
	}
	return false, nil
}

// conversation is the id of the one-to-one conversation of two users: both
// ids, the smaller first, joined by "-".
func conversation(a, b string) string {
	if twitter.IDLess(b, a) {
		a, b = b, a
	}
	return a + "-" + b
}
