package device

import (
	"strconv"

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

// States returns every output's, pwm's and input's state, in the order of
// the configuration. Sensors have readings instead (SensorFeed).
func (b *Board) States() []State {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]State, 0, len(b.devs))
	for _, d := range b.devs {
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
