package device

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tweetpi/tweetpi/config"
)

// State is one device's state as a program reads it (MQTT's state topics),
// where Status is the same for people.
type State struct {
	Device  string // the device's name
	Kind    string // config.KindOutput, KindPWM or KindInput
	On      bool   // output on, pwm duty above 0, input high
	Percent int    // pwm duty, 0 to 100
	Word    string // input: the config's word for its level ("open")
}

// Value is the state in one word: an output's "on" or "off", a pwm's duty
// "0" to "100", an input's word ("open").
func (s State) Value() string {
	switch s.Kind {
	case config.KindPWM:
		return strconv.Itoa(s.Percent)
	case config.KindInput:
		return s.Word
	}
	return onWord(s.On)
}

// Feed tells of the board's state changes, whatever made them: a command,
// the end of a pulse or blink step, max_on, an input (with
// Options.WatchInputs, every input; else the notify ones), Halt or Close.
// Changes come together: a reader that is slow sees the newest state of
// each device that changed, never a stale one. Its methods are safe for
// concurrent use.
type Feed struct {
	b    *Board
	c    chan struct{} // holds one value while changes wait for Take
	done chan struct{} // closed once the board has closed

	// Guarded by Board.feedMu.
	dirty map[*dev]bool
}

// feeds are a board's feeds; Board holds one.
type feeds struct {
	mu     sync.Mutex
	set    map[*Feed]bool
	closed bool // the board has closed: no more changes
}

// Watch returns a new feed of the board's changes. Stop it when done. On a
// board that is closed already, the feed's Done is closed.
func (b *Board) Watch() *Feed {
	f := &Feed{b: b, c: make(chan struct{}, 1), done: make(chan struct{}), dirty: map[*dev]bool{}}
	b.feeds.mu.Lock()
	defer b.feeds.mu.Unlock()
	if b.feeds.closed {
		close(f.done)
		return f
	}
	if b.feeds.set == nil {
		b.feeds.set = map[*Feed]bool{}
	}
	b.feeds.set[f] = true
	return f
}

// C receives a value when some device's state changed since the last Take.
func (f *Feed) C() <-chan struct{} { return f.c }

// Done is closed when the board has closed (its outputs safe): Take then
// returns the last changes, and no more come.
func (f *Feed) Done() <-chan struct{} { return f.done }

// Take returns the states of the devices that changed since the last Take,
// in the order of the configuration.
func (f *Feed) Take() []State {
	b := f.b
	b.feeds.mu.Lock()
	dirty := f.dirty
	f.dirty = map[*dev]bool{}
	b.feeds.mu.Unlock()
	if len(dirty) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []State
	for _, d := range b.lay().devs {
		if dirty[d] && d.sensor == nil {
			out = append(out, b.machineState(d))
		}
	}
	return out
}

// Stop ends the feed.
func (f *Feed) Stop() {
	f.b.feeds.mu.Lock()
	defer f.b.feeds.mu.Unlock()
	delete(f.b.feeds.set, f)
}

// changed tells every feed that d's state changed. It never blocks; b.mu
// may be held.
func (b *Board) changed(d *dev) {
	b.feeds.mu.Lock()
	defer b.feeds.mu.Unlock()
	for f := range b.feeds.set {
		f.dirty[d] = true
		select {
		case f.c <- struct{}{}:
		default:
		}
	}
}

// closeFeeds ends every feed, once the board is closed.
func (b *Board) closeFeeds() {
	b.feeds.mu.Lock()
	defer b.feeds.mu.Unlock()
	for f := range b.feeds.set {
		close(f.done)
	}
	b.feeds.set, b.feeds.closed = nil, true
}

// States returns every output's, pwm's and input's state, in the order of
// the configuration. Sensors have readings instead (SensorFeed).
func (b *Board) States() []State {
	b.mu.Lock()
	defer b.mu.Unlock()
	devs := b.lay().devs
	out := make([]State, 0, len(devs))
	for _, d := range devs {
		if d.sensor == nil {
			out = append(out, b.machineState(d))
		}
	}
	return out
}

// machineState is d's State; b.mu is held.
func (b *Board) machineState(d *dev) State {
	s := State{Device: d.spec.Name, Kind: d.spec.Kind, On: d.on, Percent: d.pct}
	if d.spec.Kind == config.KindInput {
		l := d.pin.Read()
		s.On, s.Word = bool(l), word(d.spec, l)
	}
	return s
}

// Devices returns the board's devices, in the order of the configuration.
func (b *Board) Devices() []config.Device { return slices.Clone(b.lay().specs) }

// CPUTemperature reads the CPU temperature in °C; ok is false where the
// board shows none.
func (b *Board) CPUTemperature() (celsius float64, ok bool) {
	data, err := os.ReadFile(b.thermal)
	if err != nil {
		return 0, false
	}
	m, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || m < -100000 || m > 200000 {
		return 0, false
	}
	return float64(m) / 1000, true
}

// watches reports whether an input's changes are watched.
func (b *Board) watches(s config.Device) bool {
	return s.Kind == config.KindInput && (s.Notify || b.watchInputs)
}
