package bot

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/twitter"
)

// take runs the checks every post and DM event goes through, whatever its
// source, in this order: taken before (at most once, by post id or DM
// event id), the account's own, an edit of a post taken before, from
// someone not allowed, the clock far off, older than max_age; then it
// records the item taken, writes the state, and only then runs it and
// queues the reply. A crash can lose a command but never run one twice.
func (b *Bot) take(ctx context.Context, c Command) error {
	if ok, err := b.admit(&c, nil); !ok || err != nil {
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
// too old, answered; an error (the clock far off) leaves it untaken. It
// fills in c's author handle from the configuration when the API gave none.
// pending are the commands admitted before c that are not recorded yet (a
// batch's): c is taken if one of them is c, or an edit or the original of
// c, as if they were recorded.
func (b *Bot) admit(c *Command, pending []Command) (bool, error) {
	taken := func(id string) bool {
		return b.st.seen(c.Inbox, id) || slices.ContainsFunc(pending, func(p Command) bool {
			return p.Inbox == c.Inbox && (p.ID == id || slices.Contains(p.EditOf, id))
		})
	}
	if !twitter.ValidID(c.ID) {
		b.badID(c.Inbox, "post_id", c.ID)
		return false, nil // never stored: not as taken, not as a cursor
	}
	if taken(c.ID) {
		return false, nil // taken before (a restart, another source, a replay, this batch)
	}
	if !twitter.ValidID(c.AuthorID) {
		// Nobody's id: it matches no allow entry. The item's own id is
		// good, so it is kept as taken, and not looked at again.
		b.badID(c.Inbox, "author_id", c.AuthorID)
		b.mark(*c)
		return false, nil
	}
	b.fresh++
	if c.AuthorID == b.account.ID {
		b.mark(*c)
		return false, nil // our own post or sent DM: never acts
	}
	for _, e := range c.EditOf {
		if twitter.ValidID(e) && taken(e) {
			// X gives an edit a new id: the post ran (or was refused, or
			// answered too old) as its first version, and that stands.
			b.mark(*c)
			b.log.Info("ignored: an edit of a post taken before", "inbox", c.Inbox, "post_id", c.ID, "edit_of", e, "author_id", c.AuthorID)
			return false, nil
		}
	}
	if c.AuthorUsername == "" {
		c.AuthorUsername = b.nameOf(c.AuthorID) // the configuration's handle for an allowed id
	}
	log := b.cmdLog(*c)
	if !b.allowed(c.AuthorID) {
		b.mark(*c)
		log.Info("command", "text", config.Truncate(c.Text, 80), "result", ResultStranger, "reply", "")
		b.counted(c.Inbox, ResultStranger)
		return false, nil
	}
	if b.clockBad.Load() {
		return false, fmt.Errorf("clock off by %s: not running %s", b.skew().Round(time.Second), c.ID)
	}
	if age, known := b.age(*c); !known || age > b.opt.MaxAge {
		// Nothing runs, so nothing is written yet: the poll's own write
		// records it taken together with its queued answer, which goes out
		// after that write. A backlog of old posts costs one write, not one
		// each.
		b.mark(*c)
		reply := fmt.Sprintf("Too old, not run: sent %s ago, the limit is %s.", age.Round(time.Second), b.opt.MaxAge)
		if !known {
			reply = fmt.Sprintf("Not run: the API gave no time it was sent at, so it may be older than the limit (%s).", b.opt.MaxAge)
		}
		b.answer(log, *c, ResultTooOld, reply, false) // it goes out after the write that records c
		return false, nil
	}
	return true, nil
}

// record marks cs taken (with the earlier versions of an edit) and writes
// the state, in one write: only then may they run. A write that fails
// records none of them.
func (b *Bot) record(cs ...Command) error {
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	for _, c := range cs {
		b.markLocked(c)
	}
	if err := b.saveLocked(); err != nil {
		for i := len(cs) - 1; i >= 0; i-- {
			c := cs[i]
			b.st.unmark(c.Inbox, c.ID)
			for j := len(c.EditOf) - 1; j >= 0; j-- {
				b.st.unmark(c.Inbox, c.EditOf[j])
			}
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
	b.answer(log, c, out.Result, out.Reply, true)
}

// cmdLog is the logger of one command's lines.
func (b *Bot) cmdLog(c Command) *slog.Logger {
	return b.log.With("inbox", c.Inbox, "post_id", c.ID, "author_id", c.AuthorID, "author", c.AuthorUsername)
}

// maxAhead is how far ahead of the server's clock (the local clock plus
// the skew the Date header shows) a creation time may be and still be
// believed: the Date header counts whole seconds, and X's machines differ
// a little among themselves.
const maxAhead = 5 * time.Second

// age is how long ago c was sent, by the server's clock: from created_at
// when it is there and not ahead of that clock, else from the time in its
// id (a snowflake), which X makes as it makes the post or event. known is
// false when neither gives a believable time.
func (b *Bot) age(c Command) (age time.Duration, known bool) {
	now := time.Now().Add(b.skew())
	for _, t := range []time.Time{c.CreatedAt, twitter.IDTime(c.ID)} {
		if !t.IsZero() && !t.After(now.Add(maxAhead)) {
			return now.Sub(t), true
		}
	}
	return 0, false
}

// badID logs an id from the API that is not one of X's, once per id; the
// item is skipped. Ids already logged count as seen, so a poll does not
// read on for them (a DM probe would read a page each time).
func (b *Bot) badID(inbox, key, id string) {
	if b.skipped[id] {
		return
	}
	if len(b.skipped) >= maxSkipped {
		clear(b.skipped)
	}
	b.skipped[id] = true
	b.log.Warn("skipped: the API sent an id that is not an X id (decimal, 1 to 19 digits); nothing of it is stored",
		"inbox", inbox, key, config.Truncate(id, 40))
}

// maxSkipped bounds the bad ids remembered, so each is logged once.
const maxSkipped = 1000

// mark records an item taken without a write of its own: nothing ran for
// it. The poll's write (or the next one) records it.
func (b *Bot) mark(c Command) {
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	b.markLocked(c)
	b.led.dirty = true
}

// markLocked records c taken, and the earlier versions of an edit with it:
// a version that comes late (the stream, a page out of order) is the same
// post. b.led.mu is held.
func (b *Bot) markLocked(c Command) {
	for _, e := range c.EditOf {
		if twitter.ValidID(e) {
			b.st.mark(c.Inbox, e)
		}
	}
	b.st.mark(c.Inbox, c.ID)
}
