package device

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ConfirmWindow is how long a command on a confirm device waits for its
// author's yes, counted on the board's clock from the question to the
// yes reaching Run.
const ConfirmWindow = 60 * time.Second

// windowWord is ConfirmWindow as the replies say it: "60s".
func windowWord() string { return strconv.Itoa(int(ConfirmWindow/time.Second)) + "s" }

// confirmKept is how long a lapsed confirmation is remembered, to answer
// a late yes with "too late" rather than "nothing waits".
const confirmKept = 10 * time.Minute

// pending is a command list waiting for its author's yes.
type pending struct {
	acts []Action
	lay  *layout   // what acts were checked against
	at   time.Time // when it was asked
}

func (p *pending) what() string {
	parts := make([]string, len(p.acts))
	for i, a := range p.acts {
		parts[i] = a.String()
	}
	return strings.Join(parts, "; ")
}

// needsConfirm reports whether acts wait for c's yes: c is a person on X
// (an id, not Local) and one of the commands could turn on a device with
// confirm: true. Turning off (off, 0%, all off) never waits: a
// confirmation must not delay the safe state.
func (b *Board) needsConfirm(v view, acts []Action, c Caller) bool {
	if c.Local || c.ID == "" {
		return false
	}
	for _, a := range acts {
		if s, ok := v.spec(a.Device); !ok || !s.Confirm {
			continue
		}
		switch a.Verb {
		case VerbOn, VerbToggle, VerbPulse, VerbBlink:
			return true
		case VerbDuty:
			if a.Percent > 0 {
				return true
			}
		}
	}
	return false
}

// ask keeps acts as c's pending confirmation, replacing any earlier one,
// and says what to answer.
func (b *Board) ask(l *layout, c Caller, acts []Action) Result {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lay() != l {
		// A reload came between the checks and now: it dropped the
		// questions, and this one must not outlive it either.
		return Result{Reply: "not asked: the configuration was reloaded just then; send the command again"}
	}
	now := time.Now()
	b.prune(now)
	p := &pending{acts: acts, lay: l, at: now}
	b.pending[c.ID] = p
	b.log.Info("confirmation asked", "user_id", c.ID, "command", p.what(), "window", ConfirmWindow.String())
	return Result{Reply: fit(fmt.Sprintf("reply yes within %s to run: %s", windowWord(), p.what()))}
}

// yes runs c's pending confirmation, once, if it is still in its window.
// A yes from someone with nothing pending (a stranger to the question, or
// after a restart or a reload, which forget every question) is answered
// and runs nothing: a fresh board cannot tell a question it never saw from
// none, so the answer covers both.
func (b *Board) yes(ctx context.Context, c Caller) Result {
	b.mu.Lock()
	now := time.Now()
	p := b.pending[c.ID]
	delete(b.pending, c.ID)
	b.prune(now)
	b.mu.Unlock()
	switch {
	case p == nil || c.ID == "":
		return Result{Rejected: true, Reply: "nothing waits for your yes; a question lapses after " + windowWord() + ", at a restart and at a reload: send the command again"}
	case now.Sub(p.at) > ConfirmWindow:
		b.log.Info("confirmation too late", "user_id", c.ID, "command", p.what(), "late", (now.Sub(p.at) - ConfirmWindow).Round(time.Second).String())
		return Result{Rejected: true, Reply: fit(fmt.Sprintf("too late: the %s to say yes to %s ran out; not run, send it again", windowWord(), p.what()))}
	}
	b.log.Info("confirmed", "user_id", c.ID, "command", p.what())
	if msg := b.checkRemote(b.viewOf(p.lay), p.acts); msg != "" {
		return Result{Reply: fit(msg), Rejected: true}
	}
	return b.exec(ctx, p.lay, p.acts, c)
}

// prune forgets confirmations lapsed long ago. b.mu is held.
func (b *Board) prune(now time.Time) {
	for id, p := range b.pending {
		if now.Sub(p.at) > confirmKept {
			delete(b.pending, id)
		}
	}
}
