package device

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/pin"
)

// Sim is a set of in-memory pins for tests, `tweetpi demo` and a config
// with `gpio: {backend: sim}`. A pin is made the first time it is asked
// for, under any name. Sim is safe for concurrent use.
//
// Its pins use the time package, so inside a testing/synctest bubble they
// run on the bubble's fake clock; make the Sim inside the bubble.
type Sim struct {
	mu   sync.Mutex
	pins map[string]*SimPin
	next int
	i2c  map[string]*simI2C // simbus.go
	w1   *simW1
}

// NewSim returns an empty Sim.
func NewSim() *Sim {
	return &Sim{pins: map[string]*SimPin{}}
}

// Pin returns the pin called name, making it (low, floating, PWM capable)
// on first use. The method value s.Pin is a PinSource.
func (s *Sim) Pin(name string) (gpio.PinIO, error) {
	if name == "" {
		return nil, errors.New("sim: empty pin name; give the device a pin: such as GPIO17")
	}
	return s.Get(name), nil
}

// Get returns the pin called name, making it on first use, to observe its
// level and duty or to drive it as an input.
func (s *Sim) Get(name string) *SimPin {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pins[name]; ok {
		return p
	}
	p := &SimPin{name: name, num: s.next, edges: make(chan struct{}, 1), halt: make(chan struct{}, 1), pwm: true}
	s.next++
	s.pins[name] = p
	return p
}

// SetInput drives the pin called name to l from outside, as a switch
// would, and delivers an edge to a WaitForEdge if the level changed.
func (s *Sim) SetInput(name string, l gpio.Level) {
	s.Get(name).SetInput(l)
}

// String lists the pins in name order with their state: "GPIO17 high,
// GPIO18 pwm 40%".
func (s *Sim) String() string {
	s.mu.Lock()
	names := make([]string, 0, len(s.pins))
	for n := range s.pins {
		names = append(names, n)
	}
	s.mu.Unlock()
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + s.Get(n).State()
	}
	return strings.Join(parts, ", ")
}

// SimPin is one in-memory pin; it implements gpio.PinIO. Unlike
// gpiotest.Pin it is safe for concurrent use, Halt interrupts WaitForEdge,
// and PWM can be switched off to play a pin without hardware PWM.
type SimPin struct {
	name  string
	num   int
	edges chan struct{} // one pending edge at most, like a kernel that coalesces
	halt  chan struct{}

	mu       sync.Mutex
	level    gpio.Level
	pull     gpio.Pull
	edge     gpio.Edge
	out      bool // set as output (Out or PWM)
	inPWM    bool // running PWM
	duty     gpio.Duty
	freq     physic.Frequency
	pwm      bool // PWM supported
	changes  int  // how many times Out or PWM changed the output
	released bool // Close let go of it; In, Out or PWM takes it again
}

// String implements conn.Resource.
func (p *SimPin) String() string { return fmt.Sprintf("sim %s(%d)", p.name, p.num) }

// Name implements pin.Pin.
func (p *SimPin) Name() string { return p.name }

// Number implements pin.Pin.
func (p *SimPin) Number() int { return p.num }

// Function implements pin.Pin.
func (p *SimPin) Function() string { return string(p.Func()) }

// Func implements pin.PinFunc.
func (p *SimPin) Func() pin.Func {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.inPWM:
		return gpio.PWM
	case p.out && p.level == gpio.High:
		return gpio.OUT_HIGH
	case p.out:
		return gpio.OUT_LOW
	case p.level == gpio.High:
		return gpio.IN_HIGH
	default:
		return gpio.IN_LOW
	}
}

// Halt implements conn.Resource: it makes a pending WaitForEdge return false.
func (p *SimPin) Halt() error {
	select {
	case p.halt <- struct{}{}:
	default:
	}
	return nil
}

// In implements gpio.PinIn. A pull up or down sets the level, as an open
// switch would.
func (p *SimPin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out, p.inPWM, p.released = false, false, false
	if pull != gpio.PullNoChange {
		p.pull = pull
	}
	switch pull {
	case gpio.PullUp:
		p.level = gpio.High
	case gpio.PullDown:
		p.level = gpio.Low
	}
	p.edge = edge
	select {
	case <-p.edges:
	default:
	}
	return nil
}

// Read implements gpio.PinIn.
func (p *SimPin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// WaitForEdge implements gpio.PinIn. A negative timeout waits until an
// edge or Halt.
func (p *SimPin) WaitForEdge(timeout time.Duration) bool {
	var after <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		after = t.C
	}
	select {
	case <-p.edges:
		return true
	case <-p.halt:
		return false
	case <-after:
		return false
	}
}

// Pull implements gpio.PinIn.
func (p *SimPin) Pull() gpio.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pull
}

// DefaultPull implements gpio.PinIn.
func (p *SimPin) DefaultPull() gpio.Pull { return gpio.Float }

// Out implements gpio.PinOut. It stops PWM; the duty reads 0 or DutyMax.
func (p *SimPin) Out(l gpio.Level) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out, p.inPWM, p.level, p.released = true, false, l, false
	p.duty = 0
	if l {
		p.duty = gpio.DutyMax
	}
	p.changes++
	return nil
}

// PWM implements gpio.PinOut. It fails when DisablePWM was called.
func (p *SimPin) PWM(duty gpio.Duty, f physic.Frequency) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.pwm {
		return fmt.Errorf("%s has no hardware PWM", p.name)
	}
	if !duty.Valid() {
		return fmt.Errorf("%s: invalid duty %d", p.name, duty)
	}
	p.out, p.inPWM, p.duty, p.freq, p.released = true, true, duty, f, false
	p.level = duty >= gpio.DutyHalf
	p.changes++
	return nil
}

// Close lets go of the pin, as closing a GPIO character device line does:
// it is an input again, floating, as the kernel leaves a released line,
// until In, Out or PWM takes it again.
func (p *SimPin) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out, p.inPWM, p.duty, p.pull, p.released = false, false, 0, gpio.Float, true
	return nil
}

// Released reports whether Close let go of the pin and nothing took it
// since.
func (p *SimPin) Released() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.released
}

// DisablePWM makes later PWM calls fail, like a pin without hardware PWM.
func (p *SimPin) DisablePWM() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pwm = false
}

// SetInput drives the pin to l from outside and, if the level changed,
// delivers an edge.
func (p *SimPin) SetInput(l gpio.Level) {
	p.mu.Lock()
	changed := p.level != l
	p.level = l
	p.mu.Unlock()
	if changed {
		p.Bounce()
	}
}

// Bounce delivers an edge without changing the level, like contact noise.
func (p *SimPin) Bounce() {
	select {
	case p.edges <- struct{}{}:
	default:
	}
}

// Level is the pin's level: what Out set, or what the outside drives.
func (p *SimPin) Level() gpio.Level { return p.Read() }

// Duty is the PWM duty last set (0 or DutyMax after Out).
func (p *SimPin) Duty() gpio.Duty {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.duty
}

// Frequency is the PWM frequency last set.
func (p *SimPin) Frequency() physic.Frequency {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.freq
}

// IsOutput reports whether the pin was last set as an output (Out or PWM).
func (p *SimPin) IsOutput() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out
}

// Changes counts the Out and PWM calls: a test can check nothing was driven.
func (p *SimPin) Changes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changes
}

// State is a short description: "high", "low", "pwm 40%", "in high".
func (p *SimPin) State() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	lv := "low"
	if p.level {
		lv = "high"
	}
	switch {
	case p.inPWM:
		return fmt.Sprintf("pwm %s", p.duty)
	case p.out:
		return lv
	default:
		return "in " + lv
	}
}

var _ gpio.PinIO = (*SimPin)(nil)
