package bot

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tweetpi/tweetpi/config"
)

// take runs the checks every post and DM event goes through, whatever its
// source, in this order: taken before (at most once, by post id or DM
// event id), the account's own, from someone not allowed, the clock far
// off, older than max_age; then it records the item taken, writes the
// state, and only then runs it and queues the reply. A crash can lose a
// command but never run one twice.
func (b *Bot) take(ctx context.Context, c Command) error {
	if ok, err := b.admit(c); !ok || err != nil {
		return err
	}
	if err := b.record(c); err != nil {
		return err // not recorded, so not run: it is tried again
	}
	b.run(ctx, c)
	return nil
}

// admit runs take's checks on c and reports whether it is to run. What is
// not to run is marked taken (its write is the caller's: b.dirty) and, when
// too old, answered; an error (the clock far off) leaves it untaken.
func (b *Bot) admit(c Command) (bool, error) {
	if b.st.seen(c.Inbox, c.ID) {
		return false, nil // taken before (a restart, another source, a replay)
	}
	b.fresh++
	if c.AuthorID == b.account.ID {
		b.mark(c)
		return false, nil // our own post or sent DM: never acts
	}
	log := b.cmdLog(c)
	if !b.allowed(c.AuthorID, c.AuthorUsername) {
		b.mark(c)
		log.Info("command", "text", config.Truncate(c.Text, 80), "result", ResultStranger, "reply", "")
		b.counted(c.Inbox, ResultStranger)
		return false, nil
	}
	if b.clockBad {
		return false, fmt.Errorf("clock off by %s: not running %s", b.skew.Round(time.Second), c.ID)
	}
	if age := time.Since(c.CreatedAt); !c.CreatedAt.IsZero() && age > b.opt.MaxAge {
		// Nothing runs, so nothing is written yet: the poll's own write
		// records it taken together with its queued answer, which goes out
		// after that write. A backlog of old posts costs one write, not one
		// each.
		b.mark(c)
		reply := fmt.Sprintf("Too old, not run: sent %s ago, the limit is %s.", age.Round(time.Second), b.opt.MaxAge)
		b.answer(log, c, ResultTooOld, reply)
		return false, nil
	}
	return true, nil
}

// record marks cs taken and writes the state, in one write: only then may
// they run. A write that fails records none of them.
func (b *Bot) record(cs ...Command) error {
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	for _, c := range cs {
		b.st.mark(c.Inbox, c.ID)
	}
	if err := b.saveLocked(); err != nil {
		for i := len(cs) - 1; i >= 0; i-- {
			b.st.unmark(cs[i].Inbox, cs[i].ID)
		}
		return err
	}
	return nil
}

// run runs a recorded command and queues its reply.
func (b *Bot) run(ctx context.Context, c Command) {
	log := b.cmdLog(c)
	log.Info("run", "text", config.Truncate(c.Text, 200))
	out := b.handle(ctx, c)
	if !b.answer(log, c, out.Result, out.Reply) {
		return
	}
	// A reply that must wait stays queued; the poll itself went fine.
	_ = b.flush(ctx)
}

// cmdLog is the logger of one command's lines.
func (b *Bot) cmdLog(c Command) *slog.Logger {
	return b.log.With("inbox", c.Inbox, "post_id", c.ID, "author_id", c.AuthorID, "author", c.AuthorUsername)
}

// mark records an item taken without a write of its own: nothing ran for
// it. The poll's write (or the next one) records it.
func (b *Bot) mark(c Command) {
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	b.catchUp()
	b.st.mark(c.Inbox, c.ID)
	b.dirty = true
}
