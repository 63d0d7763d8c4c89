package bot

import (
	"context"
	"slices"
	"time"
)

// Settings are what a running bot takes again at a reload (Reload). They
// hold from the moment the loop takes them, between two polls: nothing
// waits for a restart or for the next poll.
type Settings struct {
	Handler Handler // nil: the bot keeps its own

	// Listen are the inboxes to poll (default mentions). An inbox new to
	// the list starts as at a first start, after its newest item: nothing
	// older runs. One left out is polled no more (the replies queued for it
	// still go out).
	Listen []string
	// PollInterval is the fastest each inbox is polled (default 60s): the
	// next poll moves to the last one plus the new interval, as the rate
	// limits allow; a poll backing off from failures keeps its backoff.
	PollInterval time.Duration
	Allow        []string      // as Options.Allow; resolved again only when it or Handles changed
	Handles      []string      // as Options.Handles: the devices' allow lists
	MaxAge       time.Duration // default 10m
	Reply        bool
}

// reloadReq is a Reload on its way to the loop: done closes once the loop
// applied it (or a later Reload that replaced it).
type reloadReq struct {
	s    Settings
	done []chan struct{}
}

// Reload hands the loop new settings; it applies them at once, between
// polls (a later Reload before that replaces an earlier one). It never
// waits for the loop: the channel it returns closes once the loop applied
// them, and never when Run does not run. Call it from one goroutine at a
// time.
func (b *Bot) Reload(s Settings) <-chan struct{} {
	done := make(chan struct{})
	r := reloadReq{s: s, done: []chan struct{}{done}}
	select {
	case old := <-b.reload:
		r.done = append(old.done, done)
	default:
	}
	b.reload <- r
	return done
}

// applySettings is a Reload in the loop.
func (b *Bot) applySettings(ctx context.Context, r reloadReq) {
	defer func() {
		for _, c := range r.done {
			close(c)
		}
	}()
	s := r.s
	if s.Handler != nil {
		b.opt.Handler = s.Handler
	}
	if s.MaxAge <= 0 {
		s.MaxAge = defaultMaxAge
	}
	if s.MaxAge != b.opt.MaxAge {
		b.opt.MaxAge = s.MaxAge
		for _, p := range b.pace {
			p.warnedAge = false // the gap is measured against the new max_age
		}
	}
	b.opt.Reply = s.Reply
	if !slices.Equal(s.Allow, b.opt.Allow) || !slices.Equal(s.Handles, b.opt.Handles) {
		b.opt.Allow, b.opt.Handles = slices.Clone(s.Allow), slices.Clone(s.Handles)
		if err := b.setAllow(ctx, b.opt.Allow, b.opt.Handles, false); err != nil && ctx.Err() == nil {
			b.log.Error("reload: allow list", "err", err)
		}
	}
	b.setListen(s.Listen)
	if s.PollInterval <= 0 {
		s.PollInterval = defaultPollInterval
	}
	if s.PollInterval != b.opt.PollInterval {
		b.opt.PollInterval = s.PollInterval
		now := time.Now()
		for _, src := range b.sources {
			p := b.pacer(src.Inbox())
			if p.failures > 0 || p.last.IsZero() {
				continue // backing off, or not polled yet: its time stands
			}
			p.next = later(p.last.Add(b.interval(src)), b.paced(src.Endpoint(), now, 0))
		}
	}
}

// setListen makes the sources those of listen: a new inbox starts from
// its newest item and is polled at once; one left out is polled no more.
func (b *Bot) setListen(listen []string) {
	if len(listen) == 0 {
		listen = []string{InboxMentions}
	}
	if slices.Equal(listen, b.opt.Listen) {
		return
	}
	var next []Source
	var kept []string
	for _, in := range listen {
		if slices.Contains(kept, in) {
			continue
		}
		i := slices.IndexFunc(b.sources, func(s Source) bool { return s.Inbox() == in })
		if i >= 0 {
			next = append(next, b.sources[i])
			kept = append(kept, in)
			continue
		}
		s := b.newSource(in)
		if s == nil {
			b.log.Error("reload: no such inbox; listen to mentions or dms", "inbox", in)
			continue
		}
		b.restart(in)
		b.pacer(in).next = time.Now()
		next = append(next, s)
		kept = append(kept, in)
	}
	b.sources, b.opt.Listen = next, kept
	b.led.mu.Lock()
	b.st.Listening = slices.Clone(kept)
	b.led.dirty = true
	b.led.mu.Unlock()
}

// newSource is the poll of an inbox, nil for a name that is none.
func (b *Bot) newSource(inbox string) Source {
	switch inbox {
	case InboxMentions:
		return &mentionPoll{b}
	case InboxDMs:
		return &dmPoll{b}
	}
	return nil
}

// restart makes an inbox start again as at a first start: its next poll
// finds its newest item and starts after it. What the inbox got while it
// was not listened to never runs. The state is written at once, so that a
// restart of the daemon before that poll does not go back to the old
// cursor either.
func (b *Bot) restart(inbox string) {
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	switch inbox {
	case InboxMentions:
		if !b.st.MentionsStarted {
			return
		}
		b.st.MentionsStarted = false
	case InboxDMs:
		if !b.st.DMsStarted {
			return
		}
		b.st.DMsStarted = false
	}
	if err := b.saveLocked(); err != nil {
		b.log.Warn("reload: cannot save the state; the inbox starts after its newest item all the same", "inbox", inbox, "err", err)
	}
}
