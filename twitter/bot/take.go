package bot

import (
	"context"
	"fmt"
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
	if b.st.seen(c.Inbox, c.ID) {
		return nil // taken before (a restart, another source, a replay)
	}
	b.fresh++
	if c.AuthorID == b.account.ID {
		b.mark(c)
		return nil // our own post or sent DM: never acts
	}
	log := b.log.With("inbox", c.Inbox, "post_id", c.ID, "author_id", c.AuthorID, "author", c.AuthorUsername)
	if !b.allowed(c.AuthorID, c.AuthorUsername) {
		b.mark(c)
		log.Info("command", "text", config.Truncate(c.Text, 80), "result", ResultStranger, "reply", "")
		b.counted(c.Inbox, ResultStranger)
		return nil
	}
	if b.clockBad {
		return fmt.Errorf("clock off by %s: not running %s", b.skew.Round(time.Second), c.ID)
	}
	if age := time.Since(c.CreatedAt); !c.CreatedAt.IsZero() && age > b.opt.MaxAge {
		// Nothing runs, so nothing is written yet: the poll's own write
		// records it taken together with its queued answer, which goes out
		// after that write. A backlog of old posts costs one write, not one
		// each.
		b.mark(c)
		reply := fmt.Sprintf("Too old, not run: sent %s ago, the limit is %s.", age.Round(time.Second), b.opt.MaxAge)
		b.answer(log, c, ResultTooOld, reply)
		return nil
	}
	b.led.mu.Lock()
	b.st.mark(c.Inbox, c.ID)
	if err := b.saveLocked(); err != nil {
		b.st.unmark(c.Inbox, c.ID) // not recorded, so not run: it is tried again
		b.led.mu.Unlock()
		return err
	}
	b.led.mu.Unlock()
	log.Info("run", "text", config.Truncate(c.Text, 200))
	out := b.handle(ctx, c)
	if !b.answer(log, c, out.Result, out.Reply) {
		return nil
	}
	// A reply that must wait stays queued; the poll itself went fine.
	_ = b.flush(ctx)
	return nil
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
