package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/twitter"
)

// DeliveryAuto is Options.Delivery's default: the Activity API stream
// where X allows it, beside the polls; polls alone while X refuses it, the
// stream asked for again every RefusedRetry. Options.Delivery takes
// config's words: DeliveryStream (the stream, or a *Fatal from Run when X
// refuses it) and DeliveryPoll (polls only) are also the modes the status
// shows.
const DeliveryAuto = config.DeliveryAuto

// RefusedRetry is how long DeliveryAuto waits before it asks X for the
// stream again after a refusal.
const RefusedRetry = time.Hour

// maxBatch bounds the pushed items recorded in one state write.
const maxBatch = 64

// Activity is what the bot calls of the X Activity API (*twitter.Activity).
type Activity interface {
	// Subscribe makes sure the account has a subscription to each event
	// type, reusing those that exist (twitter.Activity.Subscribe).
	Subscribe(ctx context.Context, userID string, eventTypes ...string) ([]twitter.Subscription, error)
	// NewStream returns the stream reader; its Run connects.
	NewStream(opt twitter.StreamOptions) *twitter.Stream
}

// upTick is how long the loop sleeps at most while a push source is up.
// X's stream sends a keep-alive about every 20 s, each one a round of the
// loop, so this timer seldom fires; it bounds the rounds' spacing when
// the keep-alives stop (the stream goes down 30 s after the last one),
// which keeps the watchdog fed (at most every 30 s, under WatchdogSec=60).
const upTick = 25 * time.Second

// tick is how long the loop sleeps at most: upTick while a push source
// is up (its keep-alives wake the loop), else idle.
func (b *Bot) tick(idle time.Duration) time.Duration {
	for _, up := range b.up {
		if up {
			return max(idle, upTick)
		}
	}
	return idle
}

// rearm stops t and returns a new timer for d. Not t.Reset(d): a timer
// reset to a later time leaves its old deadline in the runtime's timer
// heap, and when that passes it wakes the process for nothing (and the
// runtime's monitor thread spins until the poller catches up). With the
// stream up the loop goes round at each keep-alive, every 20 s, always
// moving the deadline later; a stopped timer is dropped by its P's
// scheduler as soon as the loop blocks.
func rearm(t *time.Timer, d time.Duration) *time.Timer {
	t.Stop()
	return time.NewTimer(d)
}

// pushSources are the push sources Run runs: Options.Push, and the stream
// when Options.Activity is set and Delivery is not poll.
func (b *Bot) pushSources() []PushSource {
	ps := slices.Clip(b.opt.Push)
	if b.opt.Activity != nil && b.opt.Delivery != DeliveryPoll {
		mode := b.opt.Delivery
		if mode == "" {
			mode = DeliveryAuto
		}
		ps = append(ps, &streamSource{
			act: b.opt.Activity, mode: mode, account: b.account.ID, listen: slices.Clone(b.opt.Listen),
			log: b.log, poll: b.opt.PollInterval, reconcile: b.opt.ReconcileInterval,
		})
	}
	return ps
}

// streamSource is the X Activity API stream as a PushSource: it subscribes
// the account to the events of the inboxes listened to, reads the stream
// for as long as it runs, and sends each mention, reply and DM as a Push
// item (the bot's checks decide, as for a poll), each change up or down
// for the inboxes it covers, and an empty Push for each keep-alive (the
// loop goes round: the watchdog sees progress).
//
// It runs in a goroutine of its own and touches nothing of the Bot's: what
// it knows is copied at Run's start.
type streamSource struct {
	act             Activity
	mode            string
	account         string
	listen          []string
	log             *slog.Logger
	poll, reconcile time.Duration
}

// Run subscribes, then reads the stream until ctx ends. X refusing the
// stream (a *twitter.RefusedError) is, in DeliveryStream, a Push{Err:
// *Fatal}; in DeliveryAuto one log line with X's words and the fix, polls
// meanwhile, and the stream asked for again RefusedRetry later.
func (s *streamSource) Run(ctx context.Context, out chan<- Push) error {
	var stream *twitter.Stream // one for the start: TooManyConnections clears once
	logged := ""               // the refusal last logged
	for {
		inboxes, partial, err := s.subscribe(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil && partial != nil && s.mode == DeliveryStream {
			err = partial
		}
		if err == nil {
			if partial != nil && partial.Error() != logged {
				logged = partial.Error()
				s.log.Error("delivery: X refused part of the stream's subscriptions; those inboxes are polled, and it is asked again in "+RefusedRetry.String(),
					"stream_inboxes", inboxes, "err", partial, "fix", twitter.Fix(partial))
			}
			if stream == nil {
				stream = s.act.NewStream(twitter.StreamOptions{UserID: s.account})
			}
			err = s.read(ctx, stream, inboxes, partial != nil, out)
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				continue // subscribe again: some of it was refused an hour ago
			}
		}
		if s.mode == DeliveryStream {
			f := &Fatal{fmt.Errorf("delivery: stream: %w; %s", err, twitter.Fix(err))}
			select {
			case out <- Push{Err: f}:
			case <-ctx.Done():
			}
			return nil
		}
		if err.Error() != logged {
			logged = err.Error()
			s.log.Error("delivery: polls, not the stream: X refused it; polling every poll_interval, and asking again in "+RefusedRetry.String(),
				"delivery", "polls", "err", err, "fix", twitter.Fix(err))
		} else {
			s.log.Info("delivery: the stream is still refused; polling, and asking again in "+RefusedRetry.String(), "delivery", "polls")
		}
		if sleep(ctx, RefusedRetry) != nil {
			return nil
		}
	}
}

// subscribe makes the subscriptions, retrying failures that are not a
// refusal with a capped backoff. It returns the inboxes the subscriptions
// cover; err is a refusal of them all, partial one of some (the others are
// covered).
func (s *streamSource) subscribe(ctx context.Context) (inboxes []string, partial, err error) {
	mentions, dms := slices.Contains(s.listen, InboxMentions), slices.Contains(s.listen, InboxDMs)
	types := twitter.EventTypes(mentions, dms)
	for failures := 0; ; failures++ {
		subs, err := s.act.Subscribe(ctx, s.account, types...)
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		var re *twitter.RefusedError
		if err != nil && !errors.As(err, &re) {
			d := min(5*time.Second<<min(failures, 10), 5*time.Minute)
			d = d/2 + rand.N(d/2+1)
			s.log.Warn("stream: subscriptions failed; polling meanwhile, trying again", "err", err, "retry", d.Round(time.Second).String())
			if sleep(ctx, d) != nil {
				return nil, nil, ctx.Err()
			}
			continue
		}
		have := map[string]bool{}
		for _, sub := range subs {
			have[sub.EventType] = true
			if sub.New {
				s.log.Info("stream: subscribed", "event_type", sub.EventType, "subscription_id", sub.ID, "user_id", sub.UserID)
			}
		}
		if mentions && have[twitter.EventMention] && have[twitter.EventReply] {
			inboxes = append(inboxes, InboxMentions)
		}
		if dms && have[twitter.EventDM] {
			inboxes = append(inboxes, InboxDMs)
		}
		switch {
		case err == nil:
			return inboxes, nil, nil
		case len(inboxes) == 0:
			return nil, nil, err
		}
		return inboxes, err, nil
	}
}

// read runs the stream and forwards what it sends until ctx ends (nil), X
// refuses it (the *twitter.RefusedError), or, when again, RefusedRetry has
// passed (nil: subscribe again).
func (s *streamSource) read(ctx context.Context, stream *twitter.Stream, inboxes []string, again bool, out chan<- Push) error {
	rctx, cancel := context.WithCancel(ctx)
	updates := make(chan twitter.StreamUpdate)
	done := make(chan error, 1)
	go func() { done <- stream.Run(rctx, updates) }()
	defer func() {
		cancel()
		<-done
	}()
	var retry <-chan time.Time
	if again {
		t := time.NewTimer(RefusedRetry)
		defer t.Stop()
		retry = t.C
	}
	send := func(p Push) bool {
		select {
		case out <- p:
			return true
		case <-ctx.Done():
			return false
		}
	}
	up := false
	var since time.Time
	for {
		var u twitter.StreamUpdate
		select {
		case <-ctx.Done():
			return nil
		case <-retry:
			if up && !send(Push{Up: false, Inboxes: inboxes}) {
				return nil
			}
			return nil
		case err := <-done:
			done <- err // for the deferred wait
			return err
		case u = <-updates:
		}
		switch u.Kind {
		case twitter.StreamUp:
			up, since = true, u.At
			s.log.Info("stream up: commands arrive as they are made; polls fill gaps", "delivery", "stream",
				"inboxes", inboxes, "reconcile_interval", s.reconcile.String())
			if !send(Push{Up: true, Inboxes: inboxes}) {
				return nil
			}
		case twitter.StreamDown:
			var re *twitter.RefusedError
			switch {
			case errors.As(u.Err, &re):
				// Run returns it next; Run's caller says it.
			case up:
				s.log.Warn("stream down: polling every poll_interval until it is back", "delivery", "polls",
					"err", u.Err, "was_up_for", u.At.Sub(since).Round(time.Second).String(), "retry", u.Retry.Round(time.Millisecond).String(),
					"poll_interval", s.poll.String())
			case u.Failures&(u.Failures-1) == 0: // 1, 2, 4, 8...: a long outage is not a line a try
				s.log.Warn("stream: cannot connect; polling meanwhile", "delivery", "polls", "err", u.Err,
					"failures", u.Failures, "backoff", u.Backoff.String(), "retry", u.Retry.Round(time.Millisecond).String())
			default:
				s.log.Debug("stream: cannot connect", "err", u.Err, "failures", u.Failures, "retry", u.Retry.String())
			}
			if up {
				up, since = false, u.At
				if !send(Push{Up: false, Inboxes: inboxes}) {
					return nil
				}
			}
		case twitter.StreamKeepAlive:
			if !send(Push{}) { // the loop goes round: progress for the watchdog
				return nil
			}
		case twitter.StreamEvent:
			c, ok := eventCommand(u.Event)
			if !ok || !slices.Contains(s.listen, c.Inbox) {
				// A subscription of an earlier configuration (X keeps them):
				// not an inbox listened to now.
				s.log.Debug("stream: event for an inbox not listened to", "event_type", u.Event.Type, "id", u.Event.ID())
				continue
			}
			if !send(Push{Item: c}) {
				return nil
			}
		case twitter.StreamSkipped:
			s.log.Debug("stream: line skipped", "err", u.Err)
		}
	}
}

// eventCommand is the Command of a stream event: a post for the mentions,
// a DM event for the DMs, as the polls make them.
func eventCommand(e twitter.Event) (Command, bool) {
	switch {
	case e.Post != nil:
		p := e.Post
		return Command{Inbox: InboxMentions, ID: p.ID, AuthorID: p.AuthorID, AuthorUsername: p.AuthorUsername, Text: p.Text, CreatedAt: p.CreatedAt, EditOf: p.EditOf}, true
	case e.DM != nil:
		d := e.DM
		return Command{Inbox: InboxDMs, ID: d.ID, AuthorID: d.SenderID, Text: d.Text, CreatedAt: d.CreatedAt}, true
	}
	return Command{}, false
}

// takePushed takes a pushed item and the items queued behind it (up to
// maxBatch): the same checks as a polled one (admit), then every one that
// is to run recorded in one state write, then each run in order. A burst
// of events costs a write per batch instead of one per command; a crash
// after the write loses the batch's commands not yet run, never runs one
// twice. A change of state queued behind the items is handled after them.
func (b *Bot) takePushed(ctx context.Context, first Command) error {
	batch := []Command{first}
	var next *Push
drain:
	for len(batch) < maxBatch {
		select {
		case p := <-b.pushes:
			if p.Item.ID == "" || p.Err != nil {
				next = &p
				break drain
			}
			batch = append(batch, p.Item)
		default:
			break drain
		}
	}
	err := b.takeBatch(ctx, batch)
	if err != nil && ctx.Err() == nil {
		b.log.Warn("pushed items not taken; a poll finds them again", "items", len(batch), "err", err)
	}
	if next != nil {
		if nerr := b.pushed(ctx, *next); nerr != nil {
			return nerr
		}
	}
	return err
}

// takeBatch is take for several items at once.
func (b *Bot) takeBatch(ctx context.Context, cs []Command) error {
	if b.keysRefused {
		// The keys were revoked: nothing runs. The polls find these
		// again once the keys work.
		return errors.New("the API refuses the keys: nothing runs until a poll succeeds")
	}
	var runs []Command
	var first error
	for _, c := range cs {
		// The same post as a mention and as a reply, or a post and its
		// edit, in one batch: admit sees the runs before c as taken.
		ok, err := b.admit(&c, runs)
		if err != nil && first == nil {
			first = err
		}
		if ok {
			runs = append(runs, c)
		}
	}
	switch {
	case len(runs) > 0:
		if err := b.record(runs...); err != nil {
			return err // none recorded, none run
		}
	case b.dirty():
		// Taken without running (strangers, the account's own, too old):
		// written before their answers go out.
		if err := b.save(); err != nil {
			return err
		}
	}
	for _, c := range runs {
		b.run(ctx, c)
	}
	return first
}
