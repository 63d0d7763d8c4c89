package device

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/physic"

	"github.com/tweetpi/tweetpi/config"
)

// layout is the configuration's part of a board: its devices, interlock
// groups, schedules and the sensors' buses. Apply makes a new one and
// swaps it in whole, under Board.mu; a method that works outside the lock
// takes the board's once (Board.lay) and keeps to it. The devs in it are
// shared with the layout before when a reload keeps them.
type layout struct {
	specs   []config.Device // the devices as configured, in order, those of other nodes too
	devs    []*dev          // this board's, in order
	byName  map[string]*dev
	remotes map[string]config.Device // the devices of other nodes (fleet.go), by local name; not in devs
	groups  map[string]*group        // interlock group of each interlocked device (interlock.go)
	wait    time.Duration            // interlock_wait
	scheds  []*schedule              // schedule.go
	i2c     map[string]i2c.BusCloser
	w1      map[string]onewire.BusCloser
}

// spec is the configuration of the device called name, as this layout
// has it: read it, not the dev's, outside the board's lock.
func (l *layout) spec(name string) (config.Device, bool) {
	for i := range l.specs {
		if l.specs[i].Name == name {
			return l.specs[i], true
		}
	}
	return config.Device{}, false
}

// busList is every bus the layout's sensors use.
func (l *layout) busList() []io.Closer {
	var out []io.Closer
	for _, k := range sortedKeys(l.i2c) {
		out = append(out, l.i2c[k])
	}
	for _, k := range sortedKeys(l.w1) {
		out = append(out, l.w1[k])
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Changes is what Apply did, device names in the order of the
// configuration. Devices of other nodes are Added, Updated or Removed:
// their nodes drive them.
type Changes struct {
	Added    []string // set up as Open sets a device up
	Reopened []string // changed: set up again, as new, with the new configuration
	Updated  []string // only allow, confirm or aliases changed: pin, state and timers kept
	Removed  []string // driven to their safe level, their timers and watchers stopped
	// Released are the pins of removed or moved devices that no device
	// uses now and that the board let go of (a GPIO character device line
	// is closed); a driver that cannot let go keeps the pin at its safe
	// level.
	Released []string
	// Off are the devices a new or changed interlock group found on
	// together with another of the group: all of them were turned off.
	Off []string

	Interlocks bool // the interlock groups or interlock_wait changed
	Schedules  bool // the schedules changed
	// Dropped is how many questions waiting for a yes were dropped.
	Dropped int
}

// softKeys are the device keys Apply changes without touching the pin:
// who may use it, whether it asks first, its other names.
var softKeys = []string{"allow", "confirm", "aliases"}

// plan is what an Apply (or Open) will do, worked out before any pin is
// touched.
type plan struct {
	b          *Board
	prev, next *layout
	fresh      []*dev                    // devs of next made new (added or reopened), in order
	gone       []*dev                    // devs of prev that next does not have (removed or reopened)
	soft       map[*dev][2]config.Device // kept devs whose spec changes: old, new
	remotes    bool                      // the devices of other nodes changed
	opened     []io.Closer               // buses opened for next
	ch         Changes
}

// plan works out the layout of specs and opt on top of prev: the devices
// that stay as they are, those set up anew (their pins looked up, their
// buses opened), the interlock groups and the schedules. It touches no
// pin; on an error it closes what it opened. Board.applyMu is held (or
// the board is not shared yet, in Open).
func (b *Board) plan(prev *layout, specs []config.Device, pins PinSource, opt Options) (*plan, error) {
	next := &layout{
		specs:   slices.Clone(specs),
		byName:  make(map[string]*dev, len(specs)),
		remotes: map[string]config.Device{},
		groups:  map[string]*group{},
		wait:    opt.InterlockWait,
		i2c:     map[string]i2c.BusCloser{},
		w1:      map[string]onewire.BusCloser{},
	}
	p := &plan{b: b, prev: prev, next: next, soft: map[*dev][2]config.Device{}}
	buses := newBusSet(opt, prev)
	fail := func(err error) (*plan, error) {
		p.opened = buses.opened
		p.abandon()
		return nil, err
	}
	for _, s := range specs {
		if s.Remote() {
			// Another node's: nothing here to set up.
			if b.fleet == nil {
				return fail(fmt.Errorf("%s: a device of node %s is reached through the fleet's MQTT broker; add the mqtt: section", where(s), s.Node))
			}
			next.remotes[s.Name] = s
			switch old, ok := prev.remotes[s.Name]; {
			case !ok:
				p.ch.Added = append(p.ch.Added, s.Name)
				p.remotes = true
			case config.DeviceKeys(old, s) != nil:
				p.ch.Updated = append(p.ch.Updated, s.Name)
				p.remotes = true
			case old.Line != s.Line:
				p.remotes = true
			}
			if old := prev.byName[s.Name]; old != nil {
				p.gone = append(p.gone, old) // a local device became another node's
			}
			continue
		}
		old := prev.byName[s.Name]
		if old != nil {
			keys := config.DeviceKeys(old.spec, s)
			switch {
			case keys == nil:
				if old.spec.Line != s.Line && !config.IsSensor(s.Kind) && s.Kind != config.KindInput {
					p.soft[old] = [2]config.Device{old.spec, s} // messages name the new line
				}
				next.devs = append(next.devs, old)
				next.byName[s.Name] = old
				continue
			case (s.Kind == config.KindOutput || s.Kind == config.KindPWM) && onlyKeys(keys, softKeys):
				p.soft[old] = [2]config.Device{old.spec, s}
				p.ch.Updated = append(p.ch.Updated, s.Name)
				next.devs = append(next.devs, old)
				next.byName[s.Name] = old
				continue
			}
			p.gone = append(p.gone, old)
			p.ch.Reopened = append(p.ch.Reopened, s.Name)
		} else {
			p.ch.Added = append(p.ch.Added, s.Name)
		}
		d, err := b.newDev(s, pins, buses, opt)
		if err != nil {
			return fail(err)
		}
		p.fresh = append(p.fresh, d)
		next.devs = append(next.devs, d)
		next.byName[s.Name] = d
	}
	for _, d := range prev.devs {
		if next.byName[d.spec.Name] == nil && !slices.Contains(p.gone, d) {
			p.gone = append(p.gone, d)
			p.ch.Removed = append(p.ch.Removed, d.spec.Name)
		}
	}
	for name := range prev.remotes {
		if _, ok := next.remotes[name]; !ok {
			p.remotes = true
			if next.byName[name] == nil {
				p.ch.Removed = append(p.ch.Removed, name)
			}
		}
	}
	if err := next.setAutomation(prev, opt); err != nil {
		return fail(err)
	}
	p.opened = buses.opened
	// The buses next's sensors use, old or new.
	for _, d := range next.devs {
		if d.sensor == nil {
			continue
		}
		if bus, ok := buses.i2c[d.sensor.bus]; ok {
			next.i2c[d.sensor.bus] = bus
		}
		if bus, ok := buses.w1[d.sensor.bus]; ok {
			next.w1[d.sensor.bus] = bus
		}
	}
	p.ch.Interlocks = !sameGroups(prev, next)
	p.ch.Schedules = !slices.Equal(prev.scheds, next.scheds)
	return p, nil
}

// newDev makes the dev of s: its pin looked up or its sensor made on its
// bus. Nothing is set up yet.
func (b *Board) newDev(s config.Device, pins PinSource, buses *busSet, opt Options) (*dev, error) {
	if config.IsSensor(s.Kind) {
		sn, err := buses.sensor(s, b.readTimeout(opt))
		if err != nil {
			return nil, err
		}
		return &dev{spec: s, sensor: sn}, nil
	}
	pn, err := pins(s.Pin)
	if err == nil && pn == nil {
		err = errors.New("no such pin")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: pin %s: %w", where(s), s.Pin, err)
	}
	d := &dev{spec: s, pin: pn}
	if s.FrequencyHz > 0 {
		d.freq = physic.Frequency(s.FrequencyHz * float64(physic.Hertz))
	}
	return d, nil
}

func onlyKeys(keys, allowed []string) bool {
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return false
		}
	}
	return true
}

// same reports whether the plan changes nothing at all.
func (p *plan) same() bool {
	return len(p.fresh) == 0 && len(p.gone) == 0 && len(p.soft) == 0 && !p.remotes && !p.ch.Interlocks && !p.ch.Schedules
}

// abandon closes the buses the plan opened.
func (p *plan) abandon() {
	p.b.closeBuses(p.opened)
	p.opened = nil
}

// sameGroups reports whether two layouts have the same interlock groups
// (the same group objects: setAutomation keeps a group whose names stay)
// and interlock_wait.
func sameGroups(a, b *layout) bool {
	if a.wait != b.wait || len(a.groups) != len(b.groups) {
		return false
	}
	for n, g := range a.groups {
		if b.groups[n] != g {
			return false
		}
	}
	return true
}

// Apply changes the board to the devices of specs and the interlocks,
// interlock_wait, schedules and sensor buses of opt (a reload), touching
// only what differs. The board, its feeds, events and uptime go on.
//
//   - A device whose configuration is the same (line numbers aside) keeps
//     its pin, its state and its running pulse, blink or max_on timer; so
//     does an output or pwm whose allow, confirm or aliases alone changed:
//     they hold from the next command.
//   - A device that changed otherwise is set up again as Open sets a
//     device up (its timer cancelled, an output driven to its safe level
//     first), as is a new one.
//   - A removed device goes to its safe level, its timer and watcher
//     stopped, and its pin is let go of (Changes.Released) unless another
//     device uses it now.
//   - A new interlock group never holds two devices on: if it finds some,
//     it turns them all off (Changes.Off).
//   - The questions waiting for a yes are dropped, whatever changed: a yes
//     after a reload runs nothing (confirm.go says so to its author).
//
// A configuration that does not check out, a pin that cannot be found and
// a bus that does not open change nothing: the error says what and how to
// fix it, as Open's do. A pin that refuses its new setup makes Apply set
// the devices it had touched back up as they were configured (at their
// initial levels) and return the error.
//
// Of opt, Apply takes Interlocks, InterlockWait, Schedules, I2C, OneWire
// and ReadTimeout; the rest is Open's and stays.
func (b *Board) Apply(specs []config.Device, pins PinSource, opt Options) (Changes, error) {
	if pins == nil {
		return Changes{}, errors.New("device: no pin source")
	}
	if err := checkSpecs(specs); err != nil {
		return Changes{}, err
	}
	b.applyMu.Lock()
	defer b.applyMu.Unlock()
	p, err := b.plan(b.lay(), specs, pins, opt)
	if err != nil {
		return Changes{}, err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		p.abandon()
		return Changes{}, errors.New("device: the board is closed")
	}
	p.ch.Dropped = len(b.pending)
	clear(b.pending)
	if p.same() {
		b.mu.Unlock()
		return p.ch, nil
	}
	for _, d := range p.gone {
		d.cancelJob()
		b.stopWatch(d)
		if err := b.safe(d, "reload"); err != nil {
			b.log.Error("pin set", "device", d.spec.Name, "err", err)
		}
	}
	for d, s := range p.soft {
		d.spec = s[1]
	}
	for i, d := range p.fresh {
		if err := b.setup(d, "reload"); err != nil {
			b.undo(p, i)
			b.mu.Unlock()
			for _, d := range p.gone {
				b.startWatch(d)
			}
			p.abandon()
			return Changes{}, fmt.Errorf("%w; the reload's device changes were undone: the devices are as they were configured before it (those it had touched at their initial levels)", err)
		}
	}
	p.ch.Released = b.release(p)
	p.ch.Off = b.interlockAll(p.next)
	b.cur.Store(p.next)
	b.mu.Unlock()
	for _, d := range p.fresh {
		b.startWatch(d)
	}
	if p.ch.Schedules {
		select {
		case b.reloaded <- struct{}{}:
		default:
		}
	}
	// The buses no sensor uses any more.
	var unused []io.Closer
	for k, bus := range p.prev.i2c {
		if p.next.i2c[k] == nil {
			unused = append(unused, bus)
		}
	}
	for k, bus := range p.prev.w1 {
		if p.next.w1[k] == nil {
			unused = append(unused, bus)
		}
	}
	b.closeBuses(unused)
	return p.ch, nil
}

// undo puts back what Apply did before fresh[failed] refused its setup:
// the new devices safe, the old ones set up again. b.mu is held.
func (b *Board) undo(p *plan, failed int) {
	used := map[string]bool{}
	for _, d := range p.prev.devs {
		if d.pin != nil {
			used[d.spec.Pin] = true
		}
	}
	for _, d := range p.fresh[:failed+1] {
		d.cancelJob()
		if err := b.safe(d, "reload undone"); err != nil {
			b.log.Error("pin set", "device", d.spec.Name, "err", err)
		}
		if d.pin != nil && !used[d.spec.Pin] {
			releasePin(d.pin)
		}
	}
	for d, s := range p.soft {
		d.spec = s[0]
	}
	for _, d := range p.gone {
		if err := b.setup(d, "reload undone"); err != nil {
			b.log.Error("reload undone: the device did not set up again", "device", d.spec.Name, "err", err)
		}
	}
}

// release lets go of the pins of the devices gone that no device of next
// uses, and returns their names. b.mu is held.
func (b *Board) release(p *plan) []string {
	used := map[string]bool{}
	for _, d := range p.next.devs {
		if d.pin != nil {
			used[d.spec.Pin] = true
		}
	}
	var out []string
	for _, d := range p.gone {
		if d.pin == nil || used[d.spec.Pin] {
			continue
		}
		if releasePin(d.pin) {
			b.log.Info("pin released", "device", d.spec.Name, "pin", d.spec.Pin)
			out = append(out, d.spec.Pin)
		}
	}
	return out
}

// releasePin lets go of a pin where its driver can (periph's GPIO
// character device lines: the kernel's line request is closed), and
// reports whether it did.
func releasePin(p gpio.PinIO) bool {
	for {
		switch c := p.(type) {
		case interface{ Close() error }:
			_ = c.Close()
			return true
		case interface{ Close() }:
			c.Close()
			return true
		}
		r, ok := p.(gpio.RealPin)
		if !ok {
			return false
		}
		q := r.Real()
		if q == nil || q == p {
			return false
		}
		p = q
	}
}

// interlockAll turns off every device of a group that has more than one
// on (a group new to the reload, over devices already on), and returns
// their names. b.mu is held.
func (b *Board) interlockAll(l *layout) []string {
	var out []string
	seen := map[*group]bool{}
	for _, d := range l.devs {
		g := l.groups[d.spec.Name]
		if g == nil || seen[g] {
			continue
		}
		seen[g] = true
		var on []*dev
		for _, n := range g.names {
			if o := l.byName[n]; o.on || o.job != "" {
				on = append(on, o)
			}
		}
		if len(on) < 2 {
			continue
		}
		var names []string
		for _, o := range on {
			o.cancelJob()
			if err := b.safe(o, "interlock"); err != nil {
				b.log.Error("pin set", "device", o.spec.Name, "err", err)
			}
			names = append(names, o.spec.Name)
		}
		b.log.Warn("reload: an interlock group had more than one device on; all of them turned off", "group", strings.Join(g.names, "/"), "were_on", strings.Join(names, ","))
		out = append(out, names...)
	}
	return out
}

// still reports whether a, checked against layout l, may run on the
// board's layout now: l is it, or a's device is the same dev with the same
// configuration in both. b.mu is held.
func (b *Board) still(l *layout, a Action) bool {
	cur := b.lay()
	if cur == l || a.Device == "" {
		return true
	}
	if was, ok := l.remotes[a.Device]; ok {
		now, ok := cur.remotes[a.Device]
		return ok && config.DeviceKeys(was, now) == nil
	}
	d := l.byName[a.Device]
	if d == nil || cur.byName[a.Device] != d {
		return false
	}
	was, _ := l.spec(a.Device)
	now, _ := cur.spec(a.Device)
	return config.DeviceKeys(was, now) == nil
}

// errReloaded ends a command list that a reload overtook.
var errReloaded = &stopErr{"not run: the configuration was reloaded just then; send it again"}
