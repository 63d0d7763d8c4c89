package device

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tweetpi/tweetpi/config"
)

// Run parses text, checks every command that acts on a device against
// that device's allow list for c (reading a state needs no permission),
// and runs the commands in order. If any command is not understood or not
// allowed, nothing runs and the reply says which. A command that could
// turn on a confirm device waits for c's yes instead (confirm.go). ctx is
// checked before anything runs; pulse, blink and max_on go on in the
// background after Run returns, until the next command on that device,
// Halt or Close.
//
// A device of another node (config.Device.Remote) is checked like a local
// one, with the kind and max_on its node announced, and its node must be
// online; then its command goes to that node through the Fleet, in its
// place in the list, and the node's answer is its part of the reply.
func (b *Board) Run(ctx context.Context, text string, c Caller) Result {
	l := b.lay()
	v := b.viewOf(l)
	acts, err := Parse(text, v.specs)
	if err != nil {
		return Result{Reply: fit(err.Error()), Rejected: true, NotUnderstood: true}
	}
	if len(acts) == 1 && acts[0].Verb == VerbYes {
		return b.yes(ctx, c)
	}
	for i, a := range acts {
		if a.Device == "" || a.Verb == VerbState {
			continue // reading a state is not commanding; status shows it anyway; all off skips what c may not use
		}
		if s, _ := v.spec(a.Device); !b.allowed(s, c) {
			msg := fmt.Sprintf("you may not use %s", a.Device)
			if len(acts) > 1 {
				msg = fmt.Sprintf("nothing run: command %d: %s", i+1, msg)
			}
			return Result{Reply: msg, Rejected: true}
		}
	}
	if msg := b.checkRemote(v, acts); msg != "" {
		return Result{Reply: fit(msg), Rejected: true}
	}
	if err := ctx.Err(); err != nil {
		return Result{Reply: "not run: shutting down"}
	}
	if b.needsConfirm(v, acts, c) {
		return b.ask(l, c, acts)
	}
	return b.exec(ctx, l, acts, c)
}

// exec runs actions checked against layout l, in order. Sensors are read
// first, outside the lock; an interlocked device's command waits for its
// group (interlock.go). A reload that changed a device since the checks
// stops the list there.
func (b *Board) exec(ctx context.Context, l *layout, acts []Action, c Caller) Result {
	rd := b.readFor(ctx, l, acts)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return Result{Reply: "not run: shutting down"}
	}
	var replies []string
	ran := false
	for i, a := range acts {
		var r string
		var err error
		cur := b.lay()
		switch _, remote := cur.remotes[a.Device]; {
		case !b.still(l, a):
			err = errReloaded
		case remote:
			r, err = b.remoteAct(ctx, cur, a, c, i, len(acts))
		default:
			r, err = b.act(ctx, cur, a, c, rd)
		}
		if a.Verb == VerbAllOff && len(b.lay().remotes) > 0 {
			r = b.remoteAllOff(ctx, b.lay(), c, remoteID(c.CommandID, i, len(acts)), r)
		}
		if err != nil {
			var stop *stopErr
			msg := fmt.Sprintf("%s failed: pin error (see the log)", a)
			if errors.As(err, &stop) {
				msg = stop.msg
			} else {
				b.log.Error("command failed", "command", a.String(), "err", err)
			}
			if r != "" {
				msg = r + "; " + msg
			}
			if i+1 < len(acts) {
				msg += "; the rest not run"
			}
			replies = append(replies, msg)
			break
		}
		switch a.Verb {
		case VerbHelp, VerbStatus, VerbState, VerbSchedules:
		default:
			ran = true
		}
		replies = append(replies, r)
	}
	return Result{Reply: fit(strings.Join(replies, "; ")), Ran: ran}
}

// remoteAct runs an action on a device of another node: its state from
// what the node published, or its command sent to the node with b.mu let
// go meanwhile. b.mu is held.
func (b *Board) remoteAct(ctx context.Context, l *layout, a Action, c Caller, i, n int) (string, error) {
	s := l.remotes[a.Device]
	if a.Verb == VerbState {
		return remoteState(s.Name, s, b.fleet.Remote(s.Node, s.NodeDevice)), nil
	}
	b.mu.Unlock()
	r, err := b.sendRemote(ctx, s, a, c, i, n)
	b.mu.Lock()
	if err == nil && b.closed && i+1 < n {
		return r, &stopErr{"shutting down"}
	}
	return r, err
}

// act runs one action on layout l (the board's now), taking its interlock
// group first if it has one. b.mu is held (and let go while an interlock
// waits).
func (b *Board) act(ctx context.Context, l *layout, a Action, c Caller, rd map[string]Reading) (string, error) {
	g := l.groups[a.Device]
	if g == nil || a.Verb == VerbState {
		return b.do(l, a, c, rd)
	}
	if err := b.lockGroup(ctx, g); err != nil {
		return "", err
	}
	defer g.unlock()
	d := l.byName[a.Device]
	switch {
	case b.closed:
		return "", &stopErr{"not run: shutting down"}
	case b.moved(l, d, g):
		return "", errReloaded
	}
	var was []string
	if turnsOn(d, a) {
		var err error
		if was, err = b.clear(ctx, l, d, g); err != nil {
			if len(was) > 0 {
				return strings.Join(was, ", ") + " off", err
			}
			return "", err
		}
	}
	r, err := b.do(l, a, c, rd)
	if err == nil && len(was) > 0 {
		r += " (" + strings.Join(was, ", ") + " off first)"
	}
	return r, err
}

// readFor reads the sensors the actions ask for: the one named, or all of
// them for status. It runs before the board's lock is taken.
func (b *Board) readFor(ctx context.Context, l *layout, acts []Action) map[string]Reading {
	all := false
	named := map[string]bool{}
	for _, a := range acts {
		switch {
		case a.Verb == VerbStatus:
			all = true
		case a.Verb == VerbState && l.byName[a.Device] != nil && l.byName[a.Device].sensor != nil:
			named[a.Device] = true
		}
	}
	if !all && len(named) == 0 {
		return nil
	}
	out := map[string]Reading{}
	for _, r := range b.readSome(ctx, l, func(d *dev) bool { return all || named[d.spec.Name] }) {
		out[r.Device] = r
	}
	return out
}

// allowed reports whether c may use the device s: c's id is in its allow
// list, or an @handle there resolves to it. Names are never compared.
func (b *Board) allowed(s config.Device, c Caller) bool {
	if c.Local || len(s.Allow) == 0 {
		return true
	}
	if c.ID == "" {
		return false
	}
	for _, a := range s.Allow {
		if h, ok := strings.CutPrefix(a, "@"); ok {
			if b.userID == nil {
				continue
			}
			if id, ok := b.userID(h); ok && id == c.ID {
				return true
			}
		} else if a == c.ID {
			return true
		}
	}
	return false
}

// do runs one action on layout l. b.mu is held.
func (b *Board) do(l *layout, a Action, c Caller, rd map[string]Reading) (string, error) {
	switch a.Verb {
	case VerbHelp:
		return b.help(l), nil
	case VerbStatus:
		return b.status(l, rd), nil
	case VerbSchedules:
		return listSchedules(l.scheds, b.loc, b.wall()), nil
	case VerbAllOff:
		return b.allOff(l, c)
	}
	d := l.byName[a.Device]
	name := d.spec.Name
	if a.Verb == VerbState {
		if d.sensor != nil {
			return reading(rd, name).String(), nil
		}
		return name + " is " + b.state(d), nil
	}
	d.cancelJob()
	switch a.Verb {
	case VerbToggle:
		a.Verb = VerbOn
		if d.on {
			a.Verb = VerbOff
		}
	case VerbDuty:
		if d.spec.Kind != config.KindPWM {
			return "", fmt.Errorf("%s is not pwm", name)
		}
	}
	if d.spec.Kind == config.KindPWM {
		pct := a.Percent
		switch a.Verb {
		case VerbOn:
			pct = 100
		case VerbOff:
			pct = 0
		}
		if err := b.duty(d, pct, "command"); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s %d%%", name, pct) + b.maxOn(d), nil
	}
	switch a.Verb {
	case VerbOn:
		if err := b.drive(d, true, "command"); err != nil {
			return "", err
		}
		return name + " on" + b.maxOn(d), nil
	case VerbOff:
		if err := b.drive(d, false, "command"); err != nil {
			return "", err
		}
		return name + " off", nil
	case VerbPulse:
		if err := b.drive(d, true, "pulse"); err != nil {
			return "", err
		}
		b.startJob(d, "pulse", a.Duration, func(ctx context.Context, gen uint64) {
			b.step(ctx, d, gen, a.Duration, func() error { return b.drive(d, false, "pulse") })
		})
		return fmt.Sprintf("%s on for %s", name, fmtDuration(a.Duration)), nil
	case VerbBlink:
		if err := b.drive(d, true, "blink"); err != nil {
			return "", err
		}
		onFor := a.Duration / 2
		offFor := a.Duration - onFor
		b.startJob(d, "blink", time.Duration(a.Count-1)*a.Duration+onFor, func(ctx context.Context, gen uint64) {
			for i := range a.Count {
				if !b.step(ctx, d, gen, onFor, func() error { return b.drive(d, false, "blink") }) {
					return
				}
				if i == a.Count-1 {
					return
				}
				if !b.step(ctx, d, gen, offFor, func() error { return b.drive(d, true, "blink") }) {
					return
				}
			}
		})
		times := "times"
		if a.Count == 1 {
			times = "time"
		}
		return fmt.Sprintf("%s blinking %d %s, every %s", name, a.Count, times, fmtDuration(a.Duration)), nil
	}
	return "", fmt.Errorf("%s: verb %s not for %s", name, a.Verb, d.spec.Kind)
}

// maxOn starts d's max_on timer if d is on and has one, and says so.
// b.mu is held.
func (b *Board) maxOn(d *dev) string {
	limit := d.spec.MaxOn
	if !d.on || limit <= 0 {
		return ""
	}
	b.startJob(d, "max_on", limit, func(ctx context.Context, gen uint64) {
		b.step(ctx, d, gen, limit, func() error {
			if d.spec.Kind == config.KindPWM {
				return b.duty(d, 0, "max_on")
			}
			return b.drive(d, false, "max_on")
		})
	})
	return fmt.Sprintf(" (off by itself in %s)", fmtDuration(limit))
}

// state is a device's state in words. b.mu is held.
func (b *Board) state(d *dev) string {
	switch d.spec.Kind {
	case config.KindInput:
		return word(d.spec, d.pin.Read())
	case config.KindPWM:
		return fmt.Sprintf("%d%%", d.pct)
	}
	s := onWord(d.on)
	if d.job == "blink" {
		s = "blinking"
	}
	return s
}

// Status is every device's state, the sensors' readings, the uptime and
// the CPU temperature where there is one: "led on, pump off, fan 40%, door
// closed, tank 21.4°C; up 3h12m; 48.3°C". It reads the sensors first,
// within their read timeout.
//
// Devices of other nodes show their last state as their nodes published
// it ("garden_pump on", "garden_pump ?" when none came yet), and the tail
// names the nodes that are offline: "; garden offline".
func (b *Board) Status() string {
	rd := b.readFor(context.Background(), b.lay(), []Action{{Verb: VerbStatus}})
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.status(b.lay(), rd)
}

func (b *Board) status(l *layout, rd map[string]Reading) string {
	v := b.viewOf(l)
	tail := "; up " + fmtUptime(time.Since(b.start))
	if t := readTemp(b.thermal); t != "" {
		tail += "; " + t
	}
	tail += offlineTail(b.offlineNodes(v))
	var parts []string
	for _, s := range l.specs {
		if r, ok := l.remotes[s.Name]; ok {
			parts = append(parts, remoteStatus(s.Name, r, v.remote[s.Name]))
			continue
		}
		d := l.byName[s.Name]
		if d.sensor != nil {
			parts = append(parts, reading(rd, d.spec.Name).String())
			continue
		}
		parts = append(parts, d.spec.Name+" "+b.state(d))
	}
	head := strings.Join(parts, ", ")
	if len(parts) == 0 {
		head = "no devices"
	}
	head = config.Truncate(head, MaxReply-config.Weight(tail))
	return head + tail
}

// help lists the verbs and the devices, and the nodes of the devices of
// other nodes that are offline.
func (b *Board) help(l *layout) string {
	nodes := b.offlineNodes(b.viewOf(l))
	if len(nodes) == 0 {
		return Help(l.specs)
	}
	tail := offlineTail(nodes)
	return config.Truncate(Help(l.specs), MaxReply-config.Weight(tail)) + tail
}

// reading is rd's reading of the sensor name; a sensor a reload added
// since rd was read has none.
func reading(rd map[string]Reading, name string) Reading {
	if r, ok := rd[name]; ok {
		return r
	}
	return Reading{Device: name, Err: &readError{short: "not read: it came with a reload just then"}}
}

// Help is the reply to "help": the verbs and the device names (with their
// aliases), cut to MaxReply.
func Help(specs []config.Device) string {
	var names []string
	for _, d := range specs {
		n := d.Name
		if len(d.Aliases) > 0 {
			n += " (" + strings.Join(d.Aliases, ", ") + ")"
		}
		names = append(names, n)
	}
	s := "say status, schedules, all off, yes (to a question), or <dev> on|off|toggle|pulse 30s|blink 3 [1s], <pwm> 40%, <dev> for its state. "
	if len(names) == 0 {
		return s + "no devices are set up"
	}
	return fit(s + "devices: " + strings.Join(names, ", "))
}

// fmtUptime is an uptime to the minute: 45s, 12m, 3h12m, 2d3h.
func fmtUptime(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmtDuration(d.Truncate(time.Second))
	case d < 24*time.Hour:
		return fmtDuration(d.Truncate(time.Minute))
	}
	return fmtDuration(d.Truncate(time.Hour))
}

// fit cuts a reply to MaxReply.
func fit(s string) string { return config.Truncate(s, MaxReply) }

// allOff turns every output and pwm that c may use off, cancelling their
// timers, and says which were on. It also makes any command waiting on an
// interlock give up. b.mu is held.
func (b *Board) allOff(l *layout, c Caller) (string, error) {
	b.epoch++
	var was, kept []string
	var errs []error
	for _, d := range l.devs {
		if d.spec.Kind != config.KindOutput && d.spec.Kind != config.KindPWM {
			continue
		}
		on := d.on || d.job != ""
		if !b.allowed(d.spec, c) {
			if on {
				kept = append(kept, d.spec.Name)
			}
			continue
		}
		d.cancelJob()
		if err := b.safe(d, "all off"); err != nil {
			errs = append(errs, err)
			continue
		}
		if on {
			was = append(was, d.spec.Name)
		}
	}
	r := "all off: nothing was on"
	if len(was) > 0 {
		r = "all off: " + strings.Join(was, ", ")
	}
	if len(kept) > 0 {
		r += "; not " + strings.Join(kept, ", ") + " (you may not use it)"
	}
	return r, errors.Join(errs...)
}
