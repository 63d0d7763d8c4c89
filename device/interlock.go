package device

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tweetpi/tweetpi/config"
)

// group is one interlock group: of its devices, one at most is on.
//
// A command on one of them (on or off, from any source: a post, MQTT, a
// schedule, tweetpi do) holds the group's lock from before it turns the
// others off until its own pin is set, so two commands on one group take
// turns. The lock is not the board's mutex: while a command waits out
// interlock_wait, status, sensor reads and the devices of other groups go
// on. Background jobs only ever turn a device off (a pulse's end, max_on)
// or are cancelled when a partner goes on (a blink's next on), so they
// need no lock.
type group struct {
	names []string
	lock  chan struct{} // a token while a command holds the group
}

// stopErr ends a command list with its own words as the reply.
type stopErr struct{ msg string }

func (e *stopErr) Error() string { return e.msg }

// setAutomation builds l's interlock groups and schedules from opt. A
// group with the same devices as one of prev's is that group (a command
// holding it holds it in both); a schedule the same as one of prev's, line
// numbers aside, is that schedule (what came of it stays: it does not run
// twice for one time).
func (l *layout) setAutomation(prev *layout, opt Options) error {
	if l.wait < 0 {
		return fmt.Errorf("interlock_wait %s: it is 0 or more", opt.InterlockWait)
	}
	kinds := map[string]string{}
	for _, s := range l.specs {
		kinds[s.Name] = s.Kind
	}
	for i, names := range opt.Interlocks {
		if len(names) < 2 {
			return fmt.Errorf("interlock group %d: %d device; a group holds two or more", i+1, len(names))
		}
		var g *group
		if old := prev.groups[names[0]]; old != nil && slices.Equal(old.names, names) {
			g = old
		} else {
			g = &group{names: slices.Clone(names), lock: make(chan struct{}, 1)}
		}
		for _, n := range names {
			k, ok := kinds[n]
			switch {
			case !ok:
				return fmt.Errorf("interlock group %d: no device %s", i+1, n)
			case k != config.KindOutput && k != config.KindPWM:
				return fmt.Errorf("interlock group %d: %s is %s; only outputs and pwm can be interlocked", i+1, n, kindWord(k))
			case l.groups[n] != nil:
				return fmt.Errorf("interlock group %d: %s is in another group too", i+1, n)
			}
			l.groups[n] = g
		}
	}
	for _, s := range l.specs {
		if l.groups[s.Name] != nil && s.Initial {
			return fmt.Errorf("%s: starts on (initial: on) but is interlocked; an interlocked device starts off", where(s))
		}
	}
	scheds, err := parseSchedules(opt.Schedules, l.specs)
	if err != nil {
		return err
	}
	for i, s := range scheds {
		for _, old := range prev.scheds {
			if sameSchedule(old.spec, s.spec) {
				scheds[i] = old
				break
			}
		}
	}
	l.scheds = scheds
	return nil
}

func sameSchedule(a, b config.Schedule) bool {
	return a.At == b.At && a.Cron == b.Cron && a.Do == b.Do
}

// lockGroup takes g's lock. b.mu is held on entry and on return, and let
// go while it waits for another command on the group.
func (b *Board) lockGroup(ctx context.Context, g *group) error {
	select {
	case g.lock <- struct{}{}:
		return nil
	default:
	}
	b.mu.Unlock()
	defer b.mu.Lock()
	select {
	case g.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return &stopErr{"not run: shutting down"}
	case <-b.ctx.Done():
		return &stopErr{"not run: shutting down"}
	}
}

func (g *group) unlock() { <-g.lock }

// turnsOn reports whether a turns d on. b.mu is held.
func turnsOn(d *dev, a Action) bool {
	switch a.Verb {
	case VerbOn, VerbPulse, VerbBlink:
		return true
	case VerbToggle:
		return !d.on
	case VerbDuty:
		return a.Percent > 0
	}
	return false
}

// clear turns off the others of d's group, cancelling their timers, and
// waits until each has been off for interlock_wait. It returns the names
// of those that were on. b.mu and the group's lock are held on entry and
// on return; b.mu is let go during the wait.
func (b *Board) clear(ctx context.Context, l *layout, d *dev, g *group) ([]string, error) {
	var was []string
	var until time.Time
	for _, n := range g.names {
		o := l.byName[n]
		if o == d {
			continue
		}
		on := o.on || o.job != ""
		o.cancelJob()
		if on || o.on {
			if err := b.safe(o, "interlock"); err != nil {
				return was, err
			}
		}
		if on {
			was = append(was, n)
		}
		if t := o.off.Add(l.wait); t.After(until) {
			until = t
		}
	}
	wait := time.Until(until)
	if wait <= 0 {
		return was, nil
	}
	epoch := b.epoch
	b.mu.Unlock()
	t := time.NewTimer(wait)
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-b.ctx.Done():
	}
	t.Stop()
	b.mu.Lock()
	switch {
	case b.closed || ctx.Err() != nil:
		return was, &stopErr{fmt.Sprintf("%s not turned on: shutting down", d.spec.Name)}
	case b.epoch != epoch:
		return was, &stopErr{fmt.Sprintf("%s not turned on: all off came while it waited for %s", d.spec.Name, strings.Join(others(g, d), ", "))}
	case b.moved(l, d, g):
		return was, &stopErr{fmt.Sprintf("%s not turned on: the configuration was reloaded while it waited; send it again", d.spec.Name)}
	}
	return was, nil
}

func others(g *group, d *dev) []string {
	var out []string
	for _, n := range g.names {
		if n != d.spec.Name {
			out = append(out, n)
		}
	}
	return out
}

// Interlocked lists the interlock group of the device name, itself
// included, or nil.
func (b *Board) Interlocked(name string) []string {
	if g := b.lay().groups[name]; g != nil {
		return append([]string(nil), g.names...)
	}
	return nil
}

// wentOff notes when d goes from on to off, for interlock_wait. b.mu is
// held.
func (d *dev) wentOff(off bool) {
	if off && d.on {
		d.off = time.Now()
	}
}

// moved reports whether a reload, since layout l, took d or its group g
// away: d is no longer the device of its name, or its group is another.
// b.mu is held.
func (b *Board) moved(l *layout, d *dev, g *group) bool {
	cur := b.lay()
	if cur == l {
		return false
	}
	return cur.byName[d.spec.Name] != d || cur.groups[d.spec.Name] != g
}
