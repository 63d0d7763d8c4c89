package device

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"

	"github.com/tweetpi/tweetpi/config"
)

// periphPins hands out periph's own test pins (gpiotest.Pin), so the board
// is checked against the gpio interfaces as periph's drivers implement
// them, not only against our Sim.
type periphPins map[string]*gpiotest.Pin

func (p periphPins) source(name string) (gpio.PinIO, error) {
	if pin, ok := p[name]; ok {
		return pin, nil
	}
	return nil, fmt.Errorf("no pin %s", name)
}

func (p periphPins) level(name string) gpio.Level {
	pin := p[name]
	pin.Lock()
	defer pin.Unlock()
	return pin.L
}

func (p periphPins) duty(name string) (gpio.Duty, physic.Frequency) {
	pin := p[name]
	pin.Lock()
	defer pin.Unlock()
	return pin.D, pin.F
}

func gpiotestSpecs() []config.Device {
	return []config.Device{
		{Name: "led", Pin: "GPIO17", Kind: config.KindOutput},
		{Name: "relay", Pin: "GPIO23", Kind: config.KindOutput, ActiveLow: true, Initial: false},
		{Name: "fan", Pin: "GPIO18", Kind: config.KindPWM, FrequencyHz: 25000},
		{Name: "door", Pin: "GPIO22", Kind: config.KindInput, Pull: "up", Notify: true, High: "open", Low: "closed", Debounce: 50 * time.Millisecond},
	}
}

func newGpiotestPins() periphPins {
	return periphPins{
		"GPIO17": {N: "GPIO17", Num: 17},
		"GPIO23": {N: "GPIO23", Num: 23},
		"GPIO18": {N: "GPIO18", Num: 18},
		"GPIO22": {N: "GPIO22", Num: 22, EdgesChan: make(chan gpio.Level, 4)},
	}
}

func TestBoardOnPeriphTestPins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pins := newGpiotestPins()
		b, err := Open(gpiotestSpecs(), pins.source, Options{})
		if err != nil {
			t.Fatal(err)
		}
		// Initial levels: off; active_low off is high.
		if got := pins.level("GPIO17"); got != gpio.Low {
			t.Errorf("led after Open: %v, want Low", got)
		}
		if got := pins.level("GPIO23"); got != gpio.High {
			t.Errorf("active-low relay after Open: %v, want High (off)", got)
		}
		steps := []struct {
			cmd   string
			check func() error
		}{
			{"led on", func() error { return want(pins.level("GPIO17"), gpio.High) }},
			{"relay on", func() error { return want(pins.level("GPIO23"), gpio.Low) }},
			{"led toggle", func() error { return want(pins.level("GPIO17"), gpio.Low) }},
			{"fan 40%", func() error {
				d, f := pins.duty("GPIO18")
				if d != gpio.DutyMax*40/100 || f != 25*physic.KiloHertz {
					return fmt.Errorf("duty %v at %v, want 40%% at 25kHz", d, f)
				}
				return nil
			}},
		}
		for _, s := range steps {
			res := b.Run(t.Context(), s.cmd, Caller{Local: true})
			if !res.Ran {
				t.Fatalf("%q did not run: %s", s.cmd, res.Reply)
			}
			if err := s.check(); err != nil {
				t.Errorf("%q: %v", s.cmd, err)
			}
		}
		if got := b.Run(t.Context(), "door", Caller{Local: true}).Reply; !strings.Contains(got, "open") {
			t.Errorf("door with pull up reads %q, want open", got)
		}
		// A debounced edge becomes an event.
		pins["GPIO22"].EdgesChan <- gpio.Low
		select {
		case ev := <-b.Events():
			if ev.Device != "door" || ev.Word != "closed" {
				t.Errorf("event %v, want door: closed", ev)
			}
		case <-time.After(5 * time.Second):
			t.Error("no event for the door's edge")
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		// Close: every output at its safe level.
		if got := pins.level("GPIO23"); got != gpio.High {
			t.Errorf("active-low relay after Close: %v, want High (off)", got)
		}
		if got := pins.level("GPIO18"); got != gpio.Low {
			t.Errorf("fan after Close: %v, want Low", got)
		}
	})
}

func want(got, w gpio.Level) error {
	if got != w {
		return fmt.Errorf("level %v, want %v", got, w)
	}
	return nil
}
