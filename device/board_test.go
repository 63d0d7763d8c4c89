package device

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/tweetpi/tweetpi/config"
)

var (
	alice = Caller{ID: "111", Username: "alice"}
	bob   = Caller{ID: "222", Username: "bob"}
)

// open opens the test devices on a new Sim; call it inside the bubble.
// handles resolves alice's and bob's handles to their ids, as the bot does.
func handles(h string) (string, bool) {
	id, ok := map[string]string{"alice": alice.ID, "bob": bob.ID}[strings.ToLower(h)]
	return id, ok
}

func open(t *testing.T, specs []config.Device) (*Board, *Sim) {
	t.Helper()
	sim := NewSim()
	b, err := Open(specs, sim.Pin, Options{ThermalPath: filepath.Join(t.TempDir(), "no-thermal"), UserID: handles})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return b, sim
}

func pct(n int) gpio.Duty { return gpio.DutyMax * gpio.Duty(n) / 100 }

func level(t *testing.T, sim *Sim, pin string, want gpio.Level) {
	t.Helper()
	if got := sim.Get(pin).Level(); got != want {
		t.Errorf("%s at %v = %s, want %s", pin, time.Now().Format("15:04:05.000"), got, want)
	}
}

func TestOpenSetsInitialState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		level(t, sim, "GPIO17", gpio.Low) // led: initial off
		level(t, sim, "GPIO27", gpio.Low) // pump
		level(t, sim, "GPIO5", gpio.Low)  // lamp: active low, initial on
		if got := sim.Get("GPIO18").Duty(); got != 0 {
			t.Errorf("fan duty = %s, want 0%%", got)
		}
		if got, want := sim.Get("GPIO18").Frequency(), 25*physic.KiloHertz; got != want {
			t.Errorf("fan frequency = %s, want %s", got, want)
		}
		door := sim.Get("GPIO22")
		if door.IsOutput() || door.Pull() != gpio.PullUp || door.Level() != gpio.High {
			t.Errorf("door: output %t, pull %s, level %s; want input, PullUp, High", door.IsOutput(), door.Pull(), door.Level())
		}
	})
}

func TestVerbs(t *testing.T) {
	type check struct {
		pin   string
		level gpio.Level
		duty  gpio.Duty // checked when pwm is true
		pwm   bool
	}
	tests := []struct {
		name  string
		cmds  []string
		reply string // of the last command
		want  []check
	}{
		{"on", []string{"led on"}, "led on", []check{{pin: "GPIO17", level: gpio.High}}},
		{"off", []string{"led on", "led off"}, "led off", []check{{pin: "GPIO17", level: gpio.Low}}},
		{"toggle on", []string{"led toggle"}, "led on", []check{{pin: "GPIO17", level: gpio.High}}},
		{"toggle off", []string{"led toggle", "led toggle"}, "led off", []check{{pin: "GPIO17", level: gpio.Low}}},
		{"active low off", []string{"lamp off"}, "lamp off", []check{{pin: "GPIO5", level: gpio.High}}},
		{"active low on", []string{"lamp off", "lamp on"}, "lamp on", []check{{pin: "GPIO5", level: gpio.Low}}},
		{"state", []string{"led on", "led"}, "led is on", []check{{pin: "GPIO17", level: gpio.High}}},
		{"alias", []string{"water on"}, "pump on (off by itself in 5m)", []check{{pin: "GPIO27", level: gpio.High}}},
		{"pwm percent", []string{"fan 40%"}, "fan 40%", []check{{pin: "GPIO18", pwm: true, duty: pct(40)}}},
		{"pwm on", []string{"fan on"}, "fan 100%", []check{{pin: "GPIO18", pwm: true, duty: gpio.DutyMax}}},
		{"pwm off", []string{"fan 40%", "fan off"}, "fan 0%", []check{{pin: "GPIO18", pwm: true, duty: 0}}},
		{"pwm toggle", []string{"fan 40%", "fan toggle"}, "fan 0%", []check{{pin: "GPIO18", pwm: true, duty: 0}}},
		{"pwm state", []string{"fan 75%", "fan"}, "fan is 75%", []check{{pin: "GPIO18", pwm: true, duty: pct(75)}}},
		{"input", []string{"door"}, "door is open", nil},
		{"several", []string{"led on; fan 50%, lamp off"}, "led on; fan 50%; lamp off", []check{
			{pin: "GPIO17", level: gpio.High}, {pin: "GPIO18", pwm: true, duty: pct(50)}, {pin: "GPIO5", level: gpio.High}}},
		{"in order", []string{"led on; led off; led toggle"}, "led on; led off; led on", []check{{pin: "GPIO17", level: gpio.High}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, sim := open(t, testSpecs())
				defer b.Close()
				var r Result
				for _, c := range tt.cmds {
					r = b.Run(t.Context(), c, alice)
				}
				if r.Reply != tt.reply || r.Rejected {
					t.Errorf("reply %q (rejected %t), want %q", r.Reply, r.Rejected, tt.reply)
				}
				for _, c := range tt.want {
					p := sim.Get(c.pin)
					if c.pwm {
						if got := p.Duty(); got != c.duty {
							t.Errorf("%s duty = %s, want %s", c.pin, got, c.duty)
						}
						continue
					}
					level(t, sim, c.pin, c.level)
				}
			})
		})
	}
}

func TestRanAndRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := open(t, testSpecs())
		defer b.Close()
		for _, tt := range []struct {
			text                         string
			ran, rejected, notUnderstood bool
		}{
			{"led on", true, false, false},
			{"status", false, false, false},
			{"led", false, false, false},
			{"lde on", false, true, true},
			{"led pulse forever", false, true, true},
			{"pump on", false, true, false}, // bob may not: refused, not misunderstood
			{"pump", false, false, false},   // but may look
			{"yes", false, true, false},     // nothing to say yes to
		} {
			r := b.Run(t.Context(), tt.text, bob)
			if r.Ran != tt.ran || r.Rejected != tt.rejected || r.NotUnderstood != tt.notUnderstood {
				t.Errorf("Run(%q) = %+v, want Ran %t Rejected %t NotUnderstood %t", tt.text, r, tt.ran, tt.rejected, tt.notUnderstood)
			}
		}
	})
}

func TestPulse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		if r := b.Run(t.Context(), "led pulse 30s", alice); r.Reply != "led on for 30s" {
			t.Errorf("reply %q", r.Reply)
		}
		level(t, sim, "GPIO17", gpio.High)
		time.Sleep(29 * time.Second)
		level(t, sim, "GPIO17", gpio.High)
		time.Sleep(2 * time.Second)
		level(t, sim, "GPIO17", gpio.Low)
		if err := b.Wait(t.Context()); err != nil {
			t.Errorf("Wait: %v", err)
		}
	})
}

func TestNewCommandCancelsPulse(t *testing.T) {
	for _, next := range []string{"led on", "led off", "led pulse 1m", "led blink 2"} {
		t.Run(next, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, sim := open(t, testSpecs())
				defer b.Close()
				b.Run(t.Context(), "led pulse 30s", alice)
				time.Sleep(10 * time.Second)
				b.Run(t.Context(), next, alice)
				start := sim.Get("GPIO17").Changes()
				time.Sleep(25 * time.Second) // past the first pulse's end
				changes := sim.Get("GPIO17").Changes() - start
				switch next {
				case "led on":
					level(t, sim, "GPIO17", gpio.High)
					if changes != 0 {
						t.Errorf("%d pin changes after the cancelled pulse's end, want 0", changes)
					}
				case "led off":
					level(t, sim, "GPIO17", gpio.Low)
				case "led pulse 1m":
					level(t, sim, "GPIO17", gpio.High) // the new pulse holds
					time.Sleep(time.Minute)
					level(t, sim, "GPIO17", gpio.Low)
				case "led blink 2":
					level(t, sim, "GPIO17", gpio.Low) // blink ended off
					if changes != 3 {
						t.Errorf("%d pin changes, want 3 (off, on, off)", changes)
					}
				}
			})
		})
	}
}

func TestBlink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		r := b.Run(t.Context(), "led blink 3 1s", alice)
		if r.Reply != "led blinking 3 times, every 1s" {
			t.Errorf("reply %q", r.Reply)
		}
		if got := b.Run(t.Context(), "led", alice).Reply; got != "led is blinking" {
			t.Errorf("state while blinking %q", got)
		}
		p := sim.Get("GPIO17")
		start := p.Changes() - 1 // the first on
		// on at 0, off at .5, on at 1, off at 1.5, on at 2, off at 2.5
		want := []gpio.Level{gpio.High, gpio.Low, gpio.High, gpio.Low, gpio.High, gpio.Low, gpio.Low, gpio.Low}
		time.Sleep(250 * time.Millisecond)
		for i, w := range want {
			if got := p.Level(); got != w {
				t.Errorf("at %dms: %s, want %s", 250+500*i, got, w)
			}
			time.Sleep(500 * time.Millisecond)
		}
		if got := p.Changes() - start; got != 6 {
			t.Errorf("%d pin changes, want 6", got)
		}
		if got := b.Run(t.Context(), "led", alice).Reply; got != "led is off" {
			t.Errorf("state after blinking %q", got)
		}
	})
}

func TestBlinkCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		b.Run(t.Context(), "led blink 10 1s", alice)
		time.Sleep(1200 * time.Millisecond) // on, second blink
		level(t, sim, "GPIO17", gpio.High)
		b.Run(t.Context(), "led off", alice)
		n := sim.Get("GPIO17").Changes()
		time.Sleep(20 * time.Second)
		level(t, sim, "GPIO17", gpio.Low)
		if got := sim.Get("GPIO17").Changes(); got != n {
			t.Errorf("%d pin changes after led off, want none", got-n)
		}
	})
}

func TestMaxOn(t *testing.T) {
	specs := testSpecs()
	specs[2].MaxOn = time.Minute // fan
	for _, tt := range []struct {
		cmd, pin string
	}{
		{"pump on", "GPIO27"},
		{"pump toggle", "GPIO27"},
		{"fan 30%", "GPIO18"},
		{"fan on", "GPIO18"},
	} {
		t.Run(tt.cmd, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, sim := open(t, specs)
				defer b.Close()
				r := b.Run(t.Context(), tt.cmd, alice)
				if !strings.Contains(r.Reply, "off by itself in") {
					t.Errorf("reply %q does not say it turns off by itself", r.Reply)
				}
				limit := specs[1].MaxOn
				if tt.pin == "GPIO18" {
					limit = time.Minute
				}
				time.Sleep(limit - time.Second)
				if p := sim.Get(tt.pin); p.Level() != gpio.High && p.Duty() == 0 {
					t.Errorf("%s off before max_on", tt.pin)
				}
				if pend := b.Pending(); !strings.Contains(pend, "off in 1s (max_on)") {
					t.Errorf("Pending = %q", pend)
				}
				time.Sleep(2 * time.Second)
				p := sim.Get(tt.pin)
				if p.Level() != gpio.Low || p.Duty() != 0 {
					t.Errorf("%s after max_on: level %s duty %s, want off", tt.pin, p.Level(), p.Duty())
				}
				if err := b.Wait(t.Context()); err != nil {
					t.Error(err)
				}
			})
		})
	}
}

func TestMaxOnRestartsWithEachOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		b.Run(t.Context(), "pump on", alice)
		time.Sleep(4 * time.Minute)
		b.Run(t.Context(), "pump on", alice)
		time.Sleep(4 * time.Minute) // 8m after the first on
		level(t, sim, "GPIO27", gpio.High)
		time.Sleep(2 * time.Minute)
		level(t, sim, "GPIO27", gpio.Low)
		// off cancels the timer: nothing changes later.
		b.Run(t.Context(), "pump on", alice)
		b.Run(t.Context(), "pump off", alice)
		n := sim.Get("GPIO27").Changes()
		time.Sleep(10 * time.Minute)
		if sim.Get("GPIO27").Changes() != n {
			t.Error("the pin changed after pump off")
		}
	})
}

func TestHaltAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		r := b.Run(t.Context(), "led on; fan 50%; pump pulse 1m; lamp on", alice)
		if !r.Ran {
			t.Fatalf("not run: %q", r.Reply)
		}
		if err := b.Halt(); err != nil {
			t.Fatalf("Halt: %v", err)
		}
		check := func() {
			t.Helper()
			level(t, sim, "GPIO17", gpio.Low)
			level(t, sim, "GPIO27", gpio.Low)
			level(t, sim, "GPIO18", gpio.Low)
			level(t, sim, "GPIO5", gpio.High) // active low: off is high
			if d := sim.Get("GPIO18").Duty(); d != 0 {
				t.Errorf("fan duty %s after halt", d)
			}
		}
		check()
		if err := b.Wait(t.Context()); err != nil {
			t.Errorf("Wait after Halt: %v", err)
		}
		if got := b.Status(); !strings.HasPrefix(got, "led off, pump off, fan 0%, door open, lamp off; up ") {
			t.Errorf("Status after Halt = %q", got)
		}
		// Halt leaves the board usable.
		b.Run(t.Context(), "led on", alice)
		level(t, sim, "GPIO17", gpio.High)
		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		check()
		if err := b.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, ok := <-b.Events(); ok {
			t.Error("Events still open after Close")
		}
		n := sim.Get("GPIO17").Changes()
		r = b.Run(t.Context(), "led on", alice)
		if r.Ran || sim.Get("GPIO17").Changes() != n {
			t.Errorf("Run after Close ran: %+v", r)
		}
	})
}

func TestReleaseLeavesLevels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		b.Run(t.Context(), "led on; fan 30%", alice)
		b.Release()
		level(t, sim, "GPIO17", gpio.High)
		if got := sim.Get("GPIO18").Duty(); got != pct(30) {
			t.Errorf("fan duty %s after Release", got)
		}
		if _, ok := <-b.Events(); ok {
			t.Error("Events open after Release")
		}
	})
}

func TestInputWords(t *testing.T) {
	specs := []config.Device{
		{Name: "door", Pin: "P1", Kind: config.KindInput, Pull: "up", High: "open", Low: "closed"},
		{Name: "button", Pin: "P2", Kind: config.KindInput, Pull: "down"},
		{Name: "float", Pin: "P3", Kind: config.KindInput},
	}
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, specs)
		defer b.Close()
		for _, tt := range []struct {
			set  func()
			text string
			want string
		}{
			{func() {}, "door", "door is open"},
			{func() { sim.SetInput("P1", gpio.Low) }, "door", "door is closed"},
			{func() {}, "button", "button is low"},
			{func() { sim.SetInput("P2", gpio.High) }, "button", "button is high"},
			{func() {}, "float", "float is low"},
		} {
			tt.set()
			if got := b.Run(t.Context(), tt.text, alice).Reply; got != tt.want {
				t.Errorf("%s: %q, want %q", tt.text, got, tt.want)
			}
		}
		if sim.Get("P3").Pull() != gpio.Float {
			t.Errorf("float pull = %s", sim.Get("P3").Pull())
		}
	})
}

func TestNotifyDebounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		door := sim.Get("GPIO22")
		var got []string
		read := func() {
			for {
				select {
				case ev := <-b.Events():
					got = append(got, ev.String())
				default:
					return
				}
			}
		}
		// A bouncing contact: changes 10ms apart, then quiet on low.
		for _, l := range []gpio.Level{gpio.Low, gpio.High, gpio.Low, gpio.High, gpio.Low} {
			door.SetInput(l)
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(30 * time.Millisecond) // 30ms quiet: still settling (debounce 50ms)
		read()
		if len(got) != 0 {
			t.Errorf("events before the contact settled: %q", got)
		}
		time.Sleep(100 * time.Millisecond)
		read()
		if strings.Join(got, ",") != "door: closed" {
			t.Errorf("events %q, want [door: closed]", got)
		}
		// A glitch that comes back to the same level is no change.
		got = nil
		door.SetInput(gpio.High)
		time.Sleep(5 * time.Millisecond)
		door.SetInput(gpio.Low)
		time.Sleep(200 * time.Millisecond)
		door.Bounce()
		time.Sleep(200 * time.Millisecond)
		read()
		if len(got) != 0 {
			t.Errorf("events %q for a glitch, want none", got)
		}
		door.SetInput(gpio.High)
		time.Sleep(time.Second)
		read()
		if strings.Join(got, ",") != "door: open" {
			t.Errorf("events %q, want [door: open]", got)
		}
	})
}

func TestEventsNeverBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		door := sim.Get("GPIO22")
		for i := range 3 * eventBuffer {
			door.SetInput(i%2 == 0) // high, low, ... starting from high (pulled up) → first is no change
			time.Sleep(time.Second)
		}
		// Nobody read: the buffer holds the newest.
		var evs []Event
		for len(b.Events()) > 0 {
			evs = append(evs, <-b.Events())
		}
		if len(evs) != eventBuffer {
			t.Fatalf("%d events buffered, want %d", len(evs), eventBuffer)
		}
		if last := evs[len(evs)-1]; last.Word != "closed" || last.Level != gpio.Low {
			t.Errorf("last event %v, want door: closed", last)
		}
		if !evs[0].At.Before(evs[1].At) {
			t.Errorf("events out of order: %v then %v", evs[0].At, evs[1].At)
		}
	})
}

// TestAllow: a device's allow list lets in the ids it names and those its
// @handles resolve to (Options.UserID), and nobody by a name: whoever
// calls himself alice, or takes a handle not resolved yet, is not her.
func TestAllow(t *testing.T) {
	specs := testSpecs()
	specs[0].Allow = []string{"@Alice", "333", "@carol"} // led
	ids := map[string]string{"alice": alice.ID}          // carol's is not known yet
	userID := func(h string) (string, bool) {
		id, ok := ids[strings.ToLower(h)]
		return id, ok
	}
	for _, tt := range []struct {
		name string
		c    Caller
		ok   bool
	}{
		{"handle resolved to the id", alice, true},
		{"id", Caller{ID: "333", Username: "carol"}, true},
		{"other", bob, false},
		{"empty", Caller{}, false},
		{"local", Caller{Local: true}, true},
		{"a name is not the person", Caller{ID: "9", Username: "alice"}, false},
		{"a name without an id", Caller{Username: "@alice"}, false},
		{"a handle not resolved yet", Caller{ID: "444", Username: "carol"}, false},
		{"id is not a handle", Caller{Username: "333"}, false},
		{"handle is not an id", Caller{ID: "alice"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim := NewSim()
				b, err := Open(specs, sim.Pin, Options{ThermalPath: filepath.Join(t.TempDir(), "no-thermal"), UserID: userID})
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				r := b.Run(t.Context(), "fan 20%; led on", tt.c)
				if tt.ok {
					if !r.Ran || sim.Get("GPIO17").Level() != gpio.High {
						t.Errorf("refused: %+v", r)
					}
					return
				}
				if r.Ran || !r.Rejected || r.Reply != "nothing run: command 2: you may not use led" {
					t.Errorf("got %+v", r)
				}
				if sim.Get("GPIO18").Duty() != 0 || sim.Get("GPIO17").Level() != gpio.Low {
					t.Error("a pin changed for a refused command")
				}
				// devices without a list are anyone's
				if r := b.Run(t.Context(), "fan 20%", tt.c); !r.Ran {
					t.Errorf("fan 20%%: %+v", r)
				}
			})
		})
	}
}

func TestOneBadCommandRunsNothing(t *testing.T) {
	for _, text := range []string{
		"led on; fan 50%; lde off",
		"led on, fan 50%, door on",
		"led on\nfan 50%\npump pulse 1h",
		"led on; fan 50%; pump on", // bob may not use the pump
		"led on; fan 50%; led blink 500",
	} {
		t.Run(text, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, sim := open(t, testSpecs())
				defer b.Close()
				before := map[string]int{}
				for _, p := range []string{"GPIO17", "GPIO18", "GPIO27", "GPIO5"} {
					before[p] = sim.Get(p).Changes()
				}
				r := b.Run(t.Context(), text, bob)
				if r.Ran || !r.Rejected || !strings.HasPrefix(r.Reply, "nothing run: command 3: ") {
					t.Errorf("got %+v", r)
				}
				for p, n := range before {
					if sim.Get(p).Changes() != n {
						t.Errorf("%s changed", p)
					}
				}
			})
		})
	}
}

func TestStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		thermal := filepath.Join(dir, "temp")
		if err := os.WriteFile(thermal, []byte("48312\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		sim := NewSim()
		b, err := Open(testSpecs(), sim.Pin, Options{Start: time.Now().Add(-(3*time.Hour + 12*time.Minute + 5*time.Second)), ThermalPath: thermal})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		sim.SetInput("GPIO22", gpio.Low)
		want := "led on, pump off, fan 40%, door closed, lamp on; up 3h12m; 48.3°C"
		if got := b.Run(t.Context(), "led on; fan 40%; status", alice).Reply; got != "led on; fan 40%; "+want {
			t.Errorf("reply %q", got)
		}
		if got := b.Status(); got != want {
			t.Errorf("Status() = %q, want %q", got, want)
		}
		os.Remove(thermal)
		if got := b.Status(); got != strings.TrimSuffix(want, "; 48.3°C") {
			t.Errorf("Status() without a thermal zone = %q", got)
		}
	})
}

func TestStatusFits(t *testing.T) {
	var specs []config.Device
	for i := range 40 {
		specs = append(specs, config.Device{Name: "device" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Pin: "P" + string(rune('A'+i)), Kind: config.KindOutput})
	}
	synctest.Test(t, func(t *testing.T) {
		b, _ := open(t, specs)
		defer b.Close()
		for _, text := range []string{"status", "help", "deviceaa on; deviceba on; deviceca on; deviceda on; deviceea on; devicefa on; devicega on; deviceha on; deviceia on; deviceja on"} {
			got := b.Run(t.Context(), text, alice).Reply
			if n := len([]rune(got)); n > MaxReply {
				t.Errorf("%s: %d characters: %q", text, n, got)
			}
			if text == "status" && !strings.HasSuffix(got, "; up 0s") {
				t.Errorf("status lost its uptime: %q", got)
			}
		}
	})
}

func TestHelp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := open(t, testSpecs())
		defer b.Close()
		got := b.Run(t.Context(), "help", bob).Reply
		for _, w := range []string{"pulse", "blink", "40%", "led", "pump (water)", "door"} {
			if !strings.Contains(got, w) {
				t.Errorf("help %q lacks %q", got, w)
			}
		}
		if len([]rune(got)) > MaxReply {
			t.Errorf("help is %d characters", len([]rune(got)))
		}
	})
}

func TestOpenErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		specs []config.Device
		setup func(*Sim)
		want  []string
	}{
		{"no pwm", []config.Device{
			{Name: "led", Pin: "GPIO17", Kind: config.KindOutput, Initial: true},
			{Name: "fan", Pin: "GPIO4", Kind: config.KindPWM, FrequencyHz: 25000, Line: 9},
		}, func(s *Sim) { s.Get("GPIO4").DisablePWM() },
			[]string{"device fan (config line 9)", "pin GPIO4", "*device.SimPin", "cannot do PWM at 25kHz", "GPIO18", "kind: output"}},
		{"bad kind", []config.Device{{Name: "x", Pin: "P1", Kind: "motor"}}, nil, []string{"device x", `kind "motor"`, "output, pwm, input"}},
		{"shared pin", []config.Device{
			{Name: "a", Pin: "P1", Kind: config.KindOutput},
			{Name: "b", Pin: "P1", Kind: config.KindOutput},
		}, nil, []string{"device b", "pin P1 is also device a's"}},
		{"shared name", []config.Device{
			{Name: "a", Pin: "P1", Kind: config.KindOutput},
			{Name: "b", Pin: "P2", Kind: config.KindOutput, Aliases: []string{"A"}},
		}, nil, []string{"device b", `name "a" is also device a's`}},
		{"no pin", []config.Device{{Name: "a", Kind: config.KindOutput}}, nil, []string{"device a", "no pin", "tweetpi pins"}},
		{"command word", []config.Device{{Name: "status", Pin: "P1", Kind: config.KindOutput}}, nil, []string{`"status" is a command word`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim := NewSim()
				if tt.setup != nil {
					tt.setup(sim)
				}
				b, err := Open(tt.specs, sim.Pin, Options{})
				if err == nil {
					b.Close()
					t.Fatal("Open succeeded")
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if tt.name == "no pwm" {
					level(t, sim, "GPIO17", gpio.Low) // set on, then back to safe
				}
			})
		})
	}
}

func TestOpenPinSourceError(t *testing.T) {
	sim := NewSim()
	pins := func(name string) (gpio.PinIO, error) {
		if name == "GPIO99" {
			return nil, errFake("no pin GPIO99; periph knows GPIO2, GPIO3")
		}
		return sim.Pin(name)
	}
	specs := []config.Device{
		{Name: "led", Pin: "GPIO17", Kind: config.KindOutput},
		{Name: "bell", Pin: "GPIO99", Kind: config.KindOutput, Line: 12},
	}
	_, err := Open(specs, pins, Options{})
	if err == nil || err.Error() != "device bell (config line 12): pin GPIO99: no pin GPIO99; periph knows GPIO2, GPIO3" {
		t.Errorf("Open: %v", err)
	}
	if sim.Get("GPIO17").Changes() != 0 {
		t.Error("Open drove a pin before every pin was found")
	}
}

type errFake string

func (e errFake) Error() string { return string(e) }

func TestSafe(t *testing.T) {
	sim := NewSim()
	for _, p := range []string{"GPIO17", "GPIO5", "GPIO18"} {
		sim.Get(p).Out(gpio.Level(p != "GPIO5")) // all on
	}
	sim.Get("GPIO18").PWM(pct(60), 0)
	sim.Get("GPIO22").In(gpio.PullUp, gpio.NoEdge)
	specs := append(testSpecs(), config.Device{Name: "ghost", Pin: "GPIO99", Kind: config.KindOutput})
	pins := func(name string) (gpio.PinIO, error) {
		if name == "GPIO99" || name == "GPIO27" {
			return nil, errFake("no such pin")
		}
		return sim.Pin(name)
	}
	err := Safe(specs, pins)
	if err == nil || !strings.Contains(err.Error(), "device ghost: pin GPIO99") || !strings.Contains(err.Error(), "device pump: pin GPIO27") {
		t.Errorf("Safe error %v, want both failing pins named", err)
	}
	level(t, sim, "GPIO17", gpio.Low)
	level(t, sim, "GPIO5", gpio.High)
	level(t, sim, "GPIO18", gpio.Low)
	if sim.Get("GPIO18").Duty() != 0 {
		t.Error("fan still at pwm")
	}
	if sim.Get("GPIO22").IsOutput() {
		t.Error("Safe drove an input")
	}
	if err := Safe(testSpecs(), sim.Pin); err != nil {
		t.Errorf("Safe: %v", err)
	}
}

func TestLogsPinChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		sim := NewSim()
		b, err := Open(testSpecs()[:3], sim.Pin, Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
		if err != nil {
			t.Fatal(err)
		}
		buf.Reset()
		b.Run(t.Context(), "led on; fan 40%", alice)
		b.Close()
		var lines []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			lines = append(lines, m)
		}
		first := lines[0]
		if first["msg"] != "pin set" || first["level"] != "High" || first["device"] != "led" || first["pin"] != "GPIO17" || first["level"] == nil || first["time"] == nil {
			t.Errorf("log %v", first)
		}
		if lines[1]["duty"] != "40%" || lines[1]["device"] != "fan" {
			t.Errorf("log %v", lines[1])
		}
	})
}

func TestRunCancelledContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if r := b.Run(ctx, "led on", alice); r.Ran || sim.Get("GPIO17").Level() != gpio.Low {
			t.Errorf("Run with a done context: %+v", r)
		}
	})
}

func TestWaitContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := open(t, testSpecs())
		defer b.Close()
		b.Run(t.Context(), "led pulse 1h", alice)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := b.Wait(ctx); err != context.DeadlineExceeded {
			t.Errorf("Wait = %v, want deadline exceeded", err)
		}
		if p := b.Pending(); p != "led off in 59m (pulse)" {
			t.Errorf("Pending = %q", p)
		}
	})
}
