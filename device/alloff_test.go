package device

import (
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
)

func TestAllOff(t *testing.T) {
	for _, tt := range []struct {
		name   string
		before string
		who    Caller
		reply  string
	}{
		{"nothing on", "", alice, "all off: nothing was on"},
		{"what was on", "led on; fan 40%", alice, "all off: led, fan, lamp"}, // lamp starts on
		{"a pulse", "pump pulse 1m; lamp off", alice, "all off: pump"},
		{"a blink between blinks", "led blink 5 2s; lamp off", alice, "all off: led"},
		{"what bob may not use stays", "pump on; led on", alice, ""},
		{"capitals and a handle", "", alice, "all off: lamp"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, sim := open(t, testSpecs())
				defer b.Close()
				text := "all off"
				switch tt.name {
				case "nothing on":
					b.Run(t.Context(), "lamp off", alice)
				case "a blink between blinks":
					b.Run(t.Context(), tt.before, alice)
					time.Sleep(1500 * time.Millisecond) // in an off half
				case "what bob may not use stays":
					b.Run(t.Context(), tt.before, alice)
					r := b.Run(t.Context(), "all off", bob)
					if r.Reply != "all off: led, lamp; not pump (you may not use it)" || !r.Ran {
						t.Errorf("bob: %+v", r)
					}
					level(t, sim, "GPIO27", gpio.High)
					level(t, sim, "GPIO17", gpio.Low)
					return
				case "capitals and a handle":
					text = "@mypi ALL OFF!"
				}
				if tt.before != "" && tt.name != "a blink between blinks" {
					b.Run(t.Context(), tt.before, alice)
				}
				r := b.Run(t.Context(), text, alice)
				if r.Reply != tt.reply || !r.Ran {
					t.Errorf("reply %+v, want %q", r, tt.reply)
				}
				start := map[string]int{}
				for _, p := range []string{"GPIO17", "GPIO27", "GPIO18", "GPIO5"} {
					start[p] = sim.Get(p).Changes()
				}
				time.Sleep(2 * time.Minute) // past every timer
				level(t, sim, "GPIO17", gpio.Low)
				level(t, sim, "GPIO27", gpio.Low)
				level(t, sim, "GPIO5", gpio.High) // active low: off is high
				if d := sim.Get("GPIO18").Duty(); d != 0 {
					t.Errorf("fan duty %s after all off", d)
				}
				for p, n := range start {
					if sim.Get(p).Changes() != n {
						t.Errorf("%s changed after all off: a timer survived", p)
					}
				}
			})
		})
	}
}

func TestAllWords(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"all", "all goes with off only: say all off"},
		{"all on", "all goes with off only: say all off"},
		{"all off now", "all goes with off only: say all off"},
		{"led on; all off", "led on; all off: led, lamp"},
		{"all off; led on", "all off: lamp; led on"},
		{"schedules", "no schedules; they go under schedules: in the config"},
		{"schedules now", "schedules takes nothing after it"},
		{"yes", nothingWaits},
		{"scheduls", `no device "scheduls"; did you mean schedules?`},
	} {
		synctest.Test(t, func(t *testing.T) {
			b, _ := open(t, testSpecs())
			defer b.Close()
			if r := b.Run(t.Context(), tt.text, alice); r.Reply != tt.want {
				t.Errorf("%q: %q, want %q", tt.text, r.Reply, tt.want)
			}
		})
	}
}
