package device

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/tweetpi/tweetpi/config"
)

// pinLog records every level set on the pins it wraps, in order, with the
// (fake) time: a test can replay it to check that two outputs were never
// high together.
type pinLog struct {
	mu sync.Mutex
	ev []pinEvent
}

type pinEvent struct {
	pin  string
	high bool
	at   time.Time
}

func (l *pinLog) add(pin string, high bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ev = append(l.ev, pinEvent{pin, high, time.Now()})
}

func (l *pinLog) events() []pinEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]pinEvent(nil), l.ev...)
}

// neverTogether fails if any two of pins were high at the same time, by
// the order the levels were set in.
func (l *pinLog) neverTogether(t *testing.T, pins ...string) {
	t.Helper()
	high := map[string]bool{}
	for i, e := range l.events() {
		high[e.pin] = e.high
		var on []string
		for _, p := range pins {
			if high[p] {
				on = append(on, p)
			}
		}
		if len(on) > 1 {
			t.Errorf("event %d at %s: %s high together", i, e.at.Format("15:04:05.000"), strings.Join(on, " and "))
		}
	}
}

// lastHigh is when pin last went high, or zero.
func (l *pinLog) lastHigh(pin string) time.Time {
	var at time.Time
	for _, e := range l.events() {
		if e.pin == pin && e.high {
			at = e.at
		}
	}
	return at
}

type recPin struct {
	gpio.PinIO
	name string
	log  *pinLog
}

func (p recPin) Out(l gpio.Level) error {
	err := p.PinIO.Out(l)
	p.log.add(p.name, l == gpio.High)
	return err
}

func (p recPin) PWM(d gpio.Duty, f physic.Frequency) error {
	err := p.PinIO.PWM(d, f)
	p.log.add(p.name, d > 0)
	return err
}

func interlockSpecs() []config.Device {
	return []config.Device{
		{Name: "heater", Pin: "H", Kind: config.KindOutput, MaxOn: time.Hour},
		{Name: "cooler", Pin: "C", Kind: config.KindOutput},
		{Name: "fan", Pin: "F", Kind: config.KindPWM, FrequencyHz: 25000},
		{Name: "up", Pin: "U", Kind: config.KindOutput, MaxOn: time.Second},
		{Name: "down", Pin: "D", Kind: config.KindOutput},
		{Name: "led", Pin: "L", Kind: config.KindOutput},
	}
}

// openLocked opens interlockSpecs with groups [heater, cooler, fan] and
// [up, down], waiting wait, on recorded sim pins.
func openLocked(t *testing.T, wait time.Duration) (*Board, *Sim, *pinLog) {
	t.Helper()
	sim := NewSim()
	log := &pinLog{}
	pins := func(name string) (gpio.PinIO, error) {
		p, err := sim.Pin(name)
		return recPin{p, name, log}, err
	}
	b, err := Open(interlockSpecs(), pins, Options{
		ThermalPath:   filepath.Join(t.TempDir(), "none"),
		Interlocks:    [][]string{{"heater", "cooler", "fan"}, {"up", "down"}},
		InterlockWait: wait,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b, sim, log
}

func TestInterlockTurnsTheOtherOffAndWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim, log := openLocked(t, 500*time.Millisecond)
		defer b.Close()
		time.Sleep(time.Second) // Open counts as an off: let it pass
		if r := b.Run(t.Context(), "heater on", alice); r.Reply != "heater on (off by itself in 1h)" {
			t.Fatalf("heater on: %q", r.Reply)
		}
		start := time.Now()
		done := make(chan Result)
		go func() { done <- b.Run(t.Context(), "cooler on", alice) }()
		synctest.Wait()
		// The heater went off at once; the cooler waits.
		level(t, sim, "H", gpio.Low)
		level(t, sim, "C", gpio.Low)
		time.Sleep(499 * time.Millisecond)
		synctest.Wait()
		level(t, sim, "C", gpio.Low)
		r := <-done
		if got := time.Since(start); got != 500*time.Millisecond {
			t.Errorf("cooler on after %s, want 500ms", got)
		}
		if r.Reply != "cooler on (heater off first)" || !r.Ran {
			t.Errorf("cooler on: %+v", r)
		}
		level(t, sim, "C", gpio.High)
		level(t, sim, "H", gpio.Low)
		log.neverTogether(t, "H", "C", "F")
	})
}

func TestInterlockWaitCountsFromTheLastOff(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup string        // run before
		after time.Duration // then this long passes
		want  time.Duration // the cooler's wait
	}{
		{"off long ago", "heater off", 10 * time.Second, 0},
		{"off just now", "heater on; heater off", 200 * time.Millisecond, 300 * time.Millisecond},
		{"right after open", "", 0, 500 * time.Millisecond},
		{"pwm partner", "fan 40%; fan 0%", 100 * time.Millisecond, 400 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, _, _ := openLocked(t, 500*time.Millisecond)
				defer b.Close()
				if tt.setup != "" {
					time.Sleep(time.Minute)
					if r := b.Run(t.Context(), tt.setup, alice); !r.Ran {
						t.Fatalf("%s: %+v", tt.setup, r)
					}
				}
				time.Sleep(tt.after)
				start := time.Now()
				if r := b.Run(t.Context(), "cooler on", alice); r.Reply != "cooler on" {
					t.Errorf("cooler on: %q", r.Reply)
				}
				if got := time.Since(start); got != tt.want {
					t.Errorf("waited %s, want %s", got, tt.want)
				}
			})
		})
	}
}

// slowPin takes d to set its line: the line changes as Out returns (a
// loaded machine, a slow bus).
type slowPin struct {
	recPin
	d time.Duration
}

func (p slowPin) Out(l gpio.Level) error {
	time.Sleep(p.d)
	return p.recPin.Out(l)
}

// TestInterlockWaitFromTheLineAtOpen: right after open, interlock_wait
// counts from when each partner's line reached its starting level, not
// from before the write: a write that takes 50 ms does not shorten the wait
// as the line sees it.
func TestInterlockWaitFromTheLineAtOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := NewSim()
		log := &pinLog{}
		var heaterSet time.Time
		pins := func(name string) (gpio.PinIO, error) {
			p, err := sim.Pin(name)
			if name == "H" {
				return slowPin{recPin{p, name, log}, 50 * time.Millisecond}, err
			}
			return recPin{p, name, log}, err
		}
		specs := interlockSpecs()[:2]
		b, err := Open(specs, pins, Options{
			ThermalPath:   filepath.Join(t.TempDir(), "none"),
			Interlocks:    [][]string{{"heater", "cooler"}},
			InterlockWait: 300 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		heaterSet = time.Now() // the heater's line is set once Open returns (the cooler's write is instant)
		if r := b.Run(t.Context(), "cooler on", alice); r.Reply != "cooler on" {
			t.Fatalf("cooler on: %q", r.Reply)
		}
		if got := time.Since(heaterSet); got < 300*time.Millisecond {
			t.Errorf("the cooler went on %s after the heater's line went off, want interlock_wait (300ms) or more", got)
		}
	})
}

// While one command waits out interlock_wait, the rest of the board goes
// on: status, other devices, the other group.
func TestInterlockWaitDoesNotHoldTheBoard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim, _ := openLocked(t, 30*time.Second)
		defer b.Close()
		time.Sleep(time.Minute)
		b.Run(t.Context(), "heater on", alice)
		done := make(chan Result)
		go func() { done <- b.Run(t.Context(), "cooler on", alice) }()
		synctest.Wait()
		start := time.Now()
		for _, c := range []string{"status", "led on", "down on", "heater", "help"} {
			if r := b.Run(t.Context(), c, alice); r.Rejected {
				t.Errorf("%s: %+v", c, r)
			}
		}
		if s := b.Status(); !strings.Contains(s, "heater off, cooler off") || !strings.Contains(s, "led on") {
			t.Errorf("status during the wait: %q", s)
		}
		if time.Since(start) != 0 {
			t.Errorf("the other commands took %s during the wait, want no time", time.Since(start))
		}
		level(t, sim, "L", gpio.High)
		level(t, sim, "D", gpio.High)
		if r := <-done; r.Reply != "cooler on (heater off first)" {
			t.Errorf("cooler: %q", r.Reply)
		}
	})
}

// Commands on one group from many sources at once take turns: never two
// on together, and the last one asked wins.
func TestInterlockConcurrentCommands(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim, log := openLocked(t, 500*time.Millisecond)
		defer b.Close()
		var wg sync.WaitGroup
		cmds := []string{"heater on", "cooler on", "fan 50%", "heater pulse 2s", "cooler toggle", "fan on", "heater blink 3 200ms"}
		for i, c := range cmds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(i) * 100 * time.Millisecond)
				b.Run(t.Context(), c, alice)
			}()
		}
		wg.Wait()
		time.Sleep(time.Minute)
		log.neverTogether(t, "H", "C", "F")
		if lh, lc := log.lastHigh("H"), log.lastHigh("C"); lh.IsZero() || lc.IsZero() {
			t.Errorf("heater high at %v, cooler at %v: each should have run", lh, lc)
		}
		_ = sim
	})
}

func TestInterlockJobs(t *testing.T) {
	t.Run("a partner going on cancels a blink", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b, sim, log := openLocked(t, 100*time.Millisecond)
			defer b.Close()
			time.Sleep(time.Second)
			b.Run(t.Context(), "heater blink 10 1s", alice)
			time.Sleep(2200 * time.Millisecond) // in an on half
			r := b.Run(t.Context(), "cooler on", alice)
			if r.Reply != "cooler on (heater off first)" {
				t.Errorf("cooler: %q", r.Reply)
			}
			changes := sim.Get("H").Changes()
			time.Sleep(20 * time.Second)
			if n := sim.Get("H").Changes() - changes; n != 0 {
				t.Errorf("the heater's blink changed its pin %d times after the cooler went on", n)
			}
			level(t, sim, "H", gpio.Low)
			log.neverTogether(t, "H", "C", "F")
		})
	})
	t.Run("a partner in the off half of its blink", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b, sim, log := openLocked(t, 100*time.Millisecond)
			defer b.Close()
			time.Sleep(time.Second)
			b.Run(t.Context(), "heater blink 10 1s", alice)
			time.Sleep(2700 * time.Millisecond) // off since 2.5s
			if r := b.Run(t.Context(), "cooler on", alice); r.Reply != "cooler on (heater off first)" {
				t.Errorf("cooler: %q", r.Reply)
			}
			time.Sleep(20 * time.Second)
			level(t, sim, "H", gpio.Low)
			log.neverTogether(t, "H", "C", "F")
		})
	})
	t.Run("max_on's off counts for the wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b, sim, _ := openLocked(t, 500*time.Millisecond)
			defer b.Close()
			time.Sleep(time.Second)
			b.Run(t.Context(), "up on", alice) // max_on 1s
			time.Sleep(1200 * time.Millisecond)
			level(t, sim, "U", gpio.Low)
			start := time.Now()
			if r := b.Run(t.Context(), "down on", alice); r.Reply != "down on" {
				t.Errorf("down: %q", r.Reply)
			}
			if got := time.Since(start); got != 300*time.Millisecond {
				t.Errorf("waited %s, want 300ms (500ms after max_on turned up off)", got)
			}
		})
	})
	t.Run("pulse", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b, sim, log := openLocked(t, 500*time.Millisecond)
			defer b.Close()
			time.Sleep(time.Second)
			b.Run(t.Context(), "cooler on", alice)
			if r := b.Run(t.Context(), "heater pulse 2s", alice); r.Reply != "heater on for 2s (cooler off first)" {
				t.Errorf("pulse: %q", r.Reply)
			}
			level(t, sim, "H", gpio.High)
			time.Sleep(1999 * time.Millisecond)
			level(t, sim, "H", gpio.High)
			time.Sleep(2 * time.Millisecond)
			level(t, sim, "H", gpio.Low)
			log.neverTogether(t, "H", "C", "F")
		})
	})
}

func TestInterlockGivesUp(t *testing.T) {
	for _, tt := range []struct {
		name  string
		do    func(b *Board)
		reply string
	}{
		{"all off", func(b *Board) { b.Run(t.Context(), "all off", alice) }, "cooler not turned on: all off came while it waited for heater, fan"},
		{"halt", func(b *Board) { b.Halt() }, "cooler not turned on: all off came while it waited for heater, fan"},
		{"close", func(b *Board) { b.Close() }, "cooler not turned on: shutting down"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, sim, _ := openLocked(t, 10*time.Second)
				defer b.Close()
				done := make(chan Result)
				go func() { done <- b.Run(t.Context(), "cooler on; led on", alice) }()
				synctest.Wait()
				time.Sleep(time.Second)
				tt.do(b)
				r := <-done
				if want := tt.reply + "; the rest not run"; r.Reply != want {
					t.Errorf("reply %q, want %q", r.Reply, want)
				}
				time.Sleep(time.Minute)
				level(t, sim, "C", gpio.Low)
				level(t, sim, "L", gpio.Low)
			})
		})
	}
}

// An off on an interlocked device waits for a command ahead of it on the
// group: the last command wins.
func TestInterlockOffAfterOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim, _ := openLocked(t, 500*time.Millisecond)
		defer b.Close()
		go b.Run(t.Context(), "heater on", alice) // waits 500ms: just opened
		synctest.Wait()
		if r := b.Run(t.Context(), "heater off", alice); r.Reply != "heater off" {
			t.Errorf("off: %q", r.Reply)
		}
		time.Sleep(time.Second)
		level(t, sim, "H", gpio.Low)
	})
}

func TestInterlockNoWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim, log := openLocked(t, 0)
		defer b.Close()
		b.Run(t.Context(), "heater on", alice)
		start := time.Now()
		if r := b.Run(t.Context(), "cooler on", alice); r.Reply != "cooler on (heater off first)" {
			t.Errorf("cooler: %q", r.Reply)
		}
		if time.Since(start) != 0 {
			t.Errorf("waited %s with interlock_wait 0", time.Since(start))
		}
		level(t, sim, "H", gpio.Low)
		log.neverTogether(t, "H", "C", "F")
	})
}

func TestInterlockOpenErrors(t *testing.T) {
	for _, tt := range []struct {
		groups [][]string
		specs  func([]config.Device)
		want   string
	}{
		{[][]string{{"heater", "nope"}}, nil, "no device nope"},
		{[][]string{{"heater"}}, nil, "two or more"},
		{[][]string{{"heater", "cooler"}, {"cooler", "fan"}}, nil, "another group"},
		{[][]string{{"heater", "door"}}, func(s []config.Device) {
			s[5] = config.Device{Name: "door", Pin: "L", Kind: config.KindInput, Pull: "up"}
		}, "only outputs and pwm"},
		{[][]string{{"heater", "cooler"}}, func(s []config.Device) { s[1].Initial = true }, "starts on"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			specs := interlockSpecs()
			if tt.specs != nil {
				tt.specs(specs)
			}
			sim := NewSim()
			b, err := Open(specs, sim.Pin, Options{Interlocks: tt.groups})
			if err == nil {
				b.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
			if n := sim.Get("C").Changes(); n != 0 {
				t.Errorf("a pin was driven %d times", n)
			}
		})
	}
}

func ExampleBoard_Run_interlock() {
	sim := NewSim()
	b, err := Open([]config.Device{
		{Name: "heater", Pin: "GPIO5", Kind: config.KindOutput},
		{Name: "cooler", Pin: "GPIO6", Kind: config.KindOutput},
	}, sim.Pin, Options{Interlocks: [][]string{{"heater", "cooler"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	fmt.Println(b.Run(context.Background(), "heater on", Caller{Local: true}).Reply)
	fmt.Println(b.Run(context.Background(), "cooler on", Caller{Local: true}).Reply)
	fmt.Println(sim)
	// Output:
	// heater on
	// cooler on (heater off first)
	// GPIO5 low, GPIO6 high
}
