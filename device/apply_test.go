package device

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/onewire"

	"github.com/tweetpi/tweetpi/config"
)

// Apply: a reload changes what changed and nothing else.

// changesOf counts each pin's Out and PWM calls.
func changesOf(sim *Sim, pins ...string) map[string]int {
	out := map[string]int{}
	for _, p := range pins {
		out[p] = sim.Get(p).Changes()
	}
	return out
}

var testPins = []string{"GPIO17", "GPIO27", "GPIO18", "GPIO22", "GPIO5"}

func mustApply(t *testing.T, b *Board, sim *Sim, specs []config.Device, opt Options) Changes {
	t.Helper()
	ch, err := b.Apply(specs, sim.Pin, opt)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return ch
}

// The same configuration (written on other lines): no pin is touched, a
// pulse and a max_on timer go on and end on time, the uptime goes on.
func TestApplyUnchanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		time.Sleep(10 * time.Minute)
		b.Run(t.Context(), "led pulse 30s; pump on; fan 40%", alice)
		time.Sleep(10 * time.Second)
		before := changesOf(sim, testPins...)
		specs := testSpecs()
		for i := range specs {
			specs[i].Line = 40 + i // a comment added above them
		}
		ch := mustApply(t, b, sim, specs, Options{})
		if !ch.empty() {
			t.Errorf("changes %+v, want none", ch)
		}
		if got := changesOf(sim, testPins...); !mapsEqual(got, before) {
			t.Errorf("pin changes %v after the reload, want %v: a pin was touched", got, before)
		}
		if got := b.Pending(); !strings.Contains(got, "led off in 20s (pulse)") || !strings.Contains(got, "pump off in 4m50s (max_on)") {
			t.Errorf("pending %q, want the pulse and max_on still running", got)
		}
		if got := b.Status(); !strings.Contains(got, "up 10m") || !strings.Contains(got, "led on") || !strings.Contains(got, "fan 40%") {
			t.Errorf("status %q, want the states and the uptime kept", got)
		}
		time.Sleep(19*time.Second + 900*time.Millisecond)
		level(t, sim, "GPIO17", gpio.High)
		time.Sleep(200 * time.Millisecond)
		level(t, sim, "GPIO17", gpio.Low) // the pulse ended on time
		time.Sleep(4*time.Minute + 30*time.Second)
		level(t, sim, "GPIO27", gpio.Low) // max_on too
		if r := b.Run(t.Context(), "led", alice); r.Reply != "led is off" {
			t.Errorf("led: %q", r.Reply)
		}
	})
}

func (c Changes) empty() bool {
	return len(c.Added)+len(c.Reopened)+len(c.Updated)+len(c.Removed)+len(c.Released)+len(c.Off) == 0 && !c.Interlocks && !c.Schedules
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A changed device is set up again, and only it; a new one is set up; a
// removed one goes safe and its pin is let go of.
func TestApplyChangedAddedRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		b.Run(t.Context(), "led pulse 1m; pump on; fan 40%; lamp on", alice)
		before := changesOf(sim, testPins...)
		specs := testSpecs()
		specs[1].MaxOn = time.Minute                                                              // pump changed
		specs = slices.Delete(specs, 4, 5)                                                        // lamp removed
		specs = append(specs, config.Device{Name: "bell", Pin: "GPIO6", Kind: config.KindOutput}) // added
		ch := mustApply(t, b, sim, specs, Options{})
		if !slices.Equal(ch.Reopened, []string{"pump"}) || !slices.Equal(ch.Added, []string{"bell"}) || !slices.Equal(ch.Removed, []string{"lamp"}) {
			t.Errorf("changes %+v, want pump reopened, bell added, lamp removed", ch)
		}
		if !slices.Equal(ch.Released, []string{"GPIO5"}) {
			t.Errorf("released %v, want GPIO5", ch.Released)
		}
		after := changesOf(sim, testPins...)
		for _, p := range []string{"GPIO17", "GPIO18", "GPIO22"} {
			if after[p] != before[p] {
				t.Errorf("%s changed %d times at the reload; it is not the changed device's", p, after[p]-before[p])
			}
		}
		level(t, sim, "GPIO27", gpio.Low) // pump: set up again, at its initial level
		if after["GPIO27"] == before["GPIO27"] {
			t.Error("pump's pin was not set up again")
		}
		lamp := sim.Get("GPIO5")
		if !lamp.Released() || lamp.Level() != gpio.High { // active low: off is high
			t.Errorf("lamp: released %t level %s; want its safe level (high), then released", lamp.Released(), lamp.Level())
		}
		if bell := sim.Get("GPIO6"); !bell.IsOutput() || bell.Level() != gpio.Low {
			t.Errorf("bell: output %t level %s, want an output at its initial level", bell.IsOutput(), bell.Level())
		}
		if r := b.Run(t.Context(), "pump on", alice); r.Reply != "pump on (off by itself in 1m)" {
			t.Errorf("pump on: %q, want the new max_on", r.Reply)
		}
		if r := b.Run(t.Context(), "lamp on", alice); r.Reply == "lamp on" {
			t.Errorf("lamp on after it was removed: %q", r.Reply)
		}
		if r := b.Run(t.Context(), "bell on", alice); r.Reply != "bell on" {
			t.Errorf("bell on: %q", r.Reply)
		}
		time.Sleep(time.Minute + time.Millisecond)
		level(t, sim, "GPIO17", gpio.Low) // led's pulse ran on and ended
		if b.Devices()[len(specs)-1].Name != "bell" {
			t.Errorf("devices %v", b.Devices())
		}
	})
}

// Who may use a device, whether it asks first and its other names change
// without touching it: a running timer goes on.
func TestApplyUpdatesInPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		if r := b.Run(t.Context(), "water on", alice); !strings.HasPrefix(r.Reply, "pump on") {
			t.Fatalf("water on: %q", r.Reply)
		}
		before := sim.Get("GPIO27").Changes()
		specs := testSpecs()
		specs[1].Allow = []string{"222"} // bob now, alice no longer
		specs[1].Aliases = []string{"well"}
		ch := mustApply(t, b, sim, specs, Options{})
		if !slices.Equal(ch.Updated, []string{"pump"}) || len(ch.Reopened) > 0 {
			t.Errorf("changes %+v, want pump updated", ch)
		}
		if sim.Get("GPIO27").Changes() != before {
			t.Error("the pump's pin was touched")
		}
		if r := b.Run(t.Context(), "pump off", alice); r.Reply != "you may not use pump" {
			t.Errorf("alice: %q", r.Reply)
		}
		if r := b.Run(t.Context(), "water off", bob); r.Rejected != true {
			t.Errorf("the old alias: %q", r.Reply)
		}
		if got := b.Pending(); !strings.Contains(got, "pump off in 5m (max_on)") {
			t.Errorf("pending %q, want max_on still running", got)
		}
		time.Sleep(5*time.Minute + time.Millisecond)
		level(t, sim, "GPIO27", gpio.Low)
		if r := b.Run(t.Context(), "well on", bob); !strings.HasPrefix(r.Reply, "pump on") {
			t.Errorf("bob, new alias: %q", r.Reply)
		}
	})
}

// A device that moves to another pin lets go of the old one; two devices
// that swap pins keep both.
func TestApplyPins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		specs := testSpecs()
		specs[0].Pin, specs[1].Pin = specs[1].Pin, specs[0].Pin // led and pump swap
		specs[2].Pin = "GPIO19"                                 // fan moves
		b.Run(t.Context(), "fan 50%", alice)
		ch := mustApply(t, b, sim, specs, Options{})
		if !slices.Equal(ch.Released, []string{"GPIO18"}) {
			t.Errorf("released %v, want only GPIO18", ch.Released)
		}
		if old := sim.Get("GPIO18"); !old.Released() || old.Duty() != 0 {
			t.Errorf("the fan's old pin: released %t duty %s, want safe and released", old.Released(), old.Duty())
		}
		b.Run(t.Context(), "led on; fan 30%", alice)
		level(t, sim, "GPIO27", gpio.High)
		if got := sim.Get("GPIO19").Duty(); got != pct(30) {
			t.Errorf("fan on its new pin: duty %s", got)
		}
	})
}

// A removed input's watcher stops; a changed one's starts again with its
// new words.
func TestApplyInputs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		specs := testSpecs()
		specs[3].High, specs[3].Low = "ajar", "shut"
		mustApply(t, b, sim, specs, Options{})
		sim.SetInput("GPIO22", gpio.Low)
		time.Sleep(time.Second)
		if ev := <-b.Events(); ev.String() != "door: shut" {
			t.Errorf("event %q, want the new word", ev)
		}
		mustApply(t, b, sim, slices.Delete(testSpecs(), 3, 4), Options{})
		sim.SetInput("GPIO22", gpio.High)
		time.Sleep(time.Second)
		select {
		case ev := <-b.Events():
			t.Errorf("event %q from a removed input", ev)
		default:
		}
		synctest.Wait() // no watcher left behind: the bubble ends with the board
	})
}

// A question waiting for a yes does not outlive a reload, even one that
// changes nothing: the yes is answered and runs nothing.
func TestApplyDropsQuestions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := openConfirm(t)
		defer b.Close()
		if r := b.Run(t.Context(), "garage on", alice); !strings.HasPrefix(r.Reply, "reply yes within 60s") {
			t.Fatalf("garage on: %q", r.Reply)
		}
		ch := mustApply(t, b, sim, confirmSpecs(), Options{})
		if ch.Dropped != 1 {
			t.Errorf("dropped %d, want 1", ch.Dropped)
		}
		r := b.Run(t.Context(), "yes", alice)
		if r.Reply != nothingWaits || r.Ran {
			t.Errorf("yes after a reload: %+v, want %q and nothing run", r, nothingWaits)
		}
		level(t, sim, "G", gpio.Low)
		// Confirm turned off by the reload: the command runs at once.
		specs := confirmSpecs()
		specs[0].Confirm = false
		mustApply(t, b, sim, specs, Options{})
		if r := b.Run(t.Context(), "garage on", alice); !strings.HasPrefix(r.Reply, "garage on") {
			t.Errorf("garage on without confirm: %q", r.Reply)
		}
	})
}

// Interlocks change with a reload; a new group never leaves two on.
func TestApplyInterlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim, log := openLocked(t, 0)
		defer b.Close()
		b.Run(t.Context(), "led on; cooler on; down pulse 10m", alice)
		pins := func(name string) (gpio.PinIO, error) {
			p, err := sim.Pin(name)
			return recPin{p, name, log}, err
		}
		ch, err := b.Apply(interlockSpecs(), pins, Options{Interlocks: [][]string{{"heater", "cooler", "fan"}, {"led", "down"}}})
		if err != nil {
			t.Fatal(err)
		}
		if !ch.Interlocks || !slices.Equal(ch.Off, []string{"led", "down"}) {
			t.Errorf("changes %+v, want the interlocks changed and led and down off", ch)
		}
		level(t, sim, "L", gpio.Low)
		level(t, sim, "D", gpio.Low)
		level(t, sim, "C", gpio.High) // its group is the same: it stays on
		if got := b.Pending(); got != "" {
			t.Errorf("pending %q: down's pulse was not cancelled", got)
		}
		if r := b.Run(t.Context(), "led on", alice); r.Reply != "led on" {
			t.Errorf("led on: %q", r.Reply)
		}
		if r := b.Run(t.Context(), "down on", alice); !strings.Contains(r.Reply, "(led off first)") {
			t.Errorf("down on: %q, want led turned off first", r.Reply)
		}
		if r := b.Run(t.Context(), "up on", alice); !strings.HasPrefix(r.Reply, "up on") {
			t.Errorf("up on, no longer interlocked with down: %q", r.Reply)
		}
		log.neverTogether(t, "H", "C", "F")
	})
}

// A command waiting out interlock_wait when a reload takes its device
// away does not run.
func TestApplyDuringInterlockWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim, _ := openLocked(t, 10*time.Second)
		defer b.Close()
		b.Run(t.Context(), "heater on", alice)
		done := make(chan Result)
		go func() { done <- b.Run(context.Background(), "cooler on", alice) }()
		time.Sleep(time.Second)
		synctest.Wait()
		specs := interlockSpecs()
		specs[1].Pin = "C2"
		mustApply(t, b, sim, specs, Options{Interlocks: [][]string{{"heater", "cooler", "fan"}}, InterlockWait: 10 * time.Second})
		r := <-done
		if r.Reply != "heater off; cooler not turned on: the configuration was reloaded while it waited; send it again" {
			t.Errorf("reply %q", r.Reply)
		}
		level(t, sim, "C", gpio.Low)
		level(t, sim, "C2", gpio.Low)
	})
}

// Schedules: a kept one goes on (and does not run twice for one time), a
// removed one stops, a new one runs.
func TestApplySchedules(t *testing.T) {
	loc := berlin(t)
	synctest.Test(t, func(t *testing.T) {
		keep := config.Schedule{At: "06:30", Do: "pump pulse 1s", Line: 3}
		gone := config.Schedule{At: "06:31", Do: "heater on"}
		b, sim, log, c := schedBoard(t, loc, "2025-06-10 06:29", keep, gone)
		specs := b.Devices()
		time.Sleep(90 * time.Second) // 06:30:30: keep ran
		if n := len(log.with("schedule ran")); n != 1 {
			t.Fatalf("%d runs before the reload, want 1", n)
		}
		keep.Line = 9
		added := config.Schedule{At: "06:32", Do: "cooler on"}
		ch := mustApply(t, b, sim, specs, Options{
			Schedules: []config.Schedule{keep, added}, Location: loc, Now: c.now,
			Interlocks: [][]string{{"heater", "cooler"}}, InterlockWait: time.Second,
		})
		if !ch.Schedules || ch.Interlocks {
			t.Errorf("changes %+v, want the schedules changed and not the interlocks", ch)
		}
		time.Sleep(3 * time.Minute)
		got := dues(log.with("schedule ran"))
		want := []string{"2025-06-10T06:30:00+02:00", "2025-06-10T06:32:00+02:00"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("ran %v, want %v", got, want)
		}
		level(t, sim, "H", gpio.Low)
		level(t, sim, "C", gpio.High)
		if r := b.Run(t.Context(), "schedules", alice); !strings.Contains(r.Reply, "cooler on at 06:32") || strings.Contains(r.Reply, "heater") {
			t.Errorf("schedules: %q", r.Reply)
		}
	})
}

// closeCount counts the closes of the buses it opens.
type closeCount struct {
	sim *Sim
	mu  sync.Mutex
	n   map[string]int
}

type countedI2C struct {
	i2c.BusCloser
	c    *closeCount
	name string
}

func (b countedI2C) Close() error {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	b.c.n["i2c"+b.name]++
	return nil
}

type countedW1 struct {
	onewire.BusCloser
	c *closeCount
}

func (b countedW1) Close() error {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	b.c.n["w1"]++
	return nil
}

func (c *closeCount) opts() Options {
	return Options{
		ThermalPath: "/nonexistent",
		I2C: func(name string) (i2c.BusCloser, error) {
			b, err := c.sim.I2C(name)
			return countedI2C{b, c, name}, err
		},
		OneWire: func(name string) (onewire.BusCloser, error) {
			b, err := c.sim.OneWire(name)
			return countedW1{b, c}, err
		},
	}
}

func (c *closeCount) closes() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// Sensors come and go with a reload; a bus no sensor uses any more is
// closed, one still in use is not.
func TestApplySensors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := NewSim()
		cc := &closeCount{sim: sim, n: map[string]int{}}
		specs := []config.Device{
			{Name: "led", Pin: "L", Kind: config.KindOutput},
			{Name: "tank", Kind: config.KindDS18B20, Address: "28-00000a1b2c3d"},
			{Name: "room", Kind: config.KindBME280, Bus: "1", Address: "0x76"},
		}
		b, err := Open(specs, sim.Pin, cc.opts())
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		next := []config.Device{specs[0], specs[2], {Name: "hall", Kind: config.KindAHT20, Bus: "1", Address: "0x38"}}
		ch := mustApply(t, b, sim, next, cc.opts())
		if !slices.Equal(ch.Added, []string{"hall"}) || !slices.Equal(ch.Removed, []string{"tank"}) {
			t.Errorf("changes %+v", ch)
		}
		if got := cc.closes(); got["w1"] != 1 || got["i2c1"] != 0 {
			t.Errorf("closes %v, want the 1-Wire bus closed and I2C 1 kept", got)
		}
		r := b.Run(t.Context(), "status", alice)
		if !strings.Contains(r.Reply, "room 25.1°C") || !strings.Contains(r.Reply, "hall 22.5°C") || strings.Contains(r.Reply, "tank") {
			t.Errorf("status %q", r.Reply)
		}
		if got := b.Sensors(); len(got) != 2 || got[0].Device != "room" || got[1].Device != "hall" {
			t.Errorf("sensors %v", got)
		}
		b.Close()
		if got := cc.closes(); got["i2c1"] != 1 {
			t.Errorf("closes after Close %v, want I2C 1 closed once", got)
		}
	})
}

// What does not check out changes nothing; a pin that refuses its new
// setup undoes the reload.
func TestApplyRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		b.Run(t.Context(), "led pulse 1m", alice)
		before := changesOf(sim, testPins...)
		for _, tt := range []struct {
			name  string
			specs []config.Device
			opt   Options
			err   string
		}{
			{"two on one pin", append(testSpecs(), config.Device{Name: "bell", Pin: "GPIO17", Kind: config.KindOutput}), Options{}, "pin GPIO17 is also device led's"},
			{"a group of a missing device", testSpecs(), Options{Interlocks: [][]string{{"led", "heater"}}}, "no device heater"},
			{"a schedule of a missing device", testSpecs(), Options{Schedules: []config.Schedule{{At: "06:30", Do: "bell on"}}}, "bell"},
			{"no such pin", append(testSpecs(), config.Device{Name: "bell", Pin: "", Kind: config.KindOutput}), Options{}, "no pin"},
		} {
			if _, err := b.Apply(tt.specs, sim.Pin, tt.opt); err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.err)
			}
		}
		if got := changesOf(sim, testPins...); !mapsEqual(got, before) {
			t.Errorf("pin changes %v, want %v: a refused reload touched a pin", got, before)
		}
		// The fan moves to a pin without PWM: refused at its setup, undone.
		sim.Get("GPIO12").DisablePWM()
		specs := testSpecs()
		specs[2].Pin = "GPIO12"
		specs[0].MaxOn = time.Hour
		_, err := b.Apply(specs, sim.Pin, Options{})
		if err == nil || !strings.Contains(err.Error(), "cannot do PWM") || !strings.Contains(err.Error(), "undone") {
			t.Fatalf("err %v, want the PWM failure and undone", err)
		}
		if r := b.Run(t.Context(), "fan 30%", alice); r.Reply != "fan 30%" {
			t.Errorf("fan after the undone reload: %q", r.Reply)
		}
		if got := sim.Get("GPIO18").Duty(); got != pct(30) {
			t.Errorf("fan on its old pin: duty %s", got)
		}
		if r := b.Run(t.Context(), "led on", alice); r.Reply != "led on" {
			t.Errorf("led on: %q, want the old configuration (no max_on)", r.Reply)
		}
		b.Close()
		if _, err := b.Apply(testSpecs(), sim.Pin, Options{}); err == nil {
			t.Error("Apply on a closed board: no error")
		}
	})
}

// Commands, reads and reloads at once: the race detector's test.
func TestApplyConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for _, cmd := range []string{"led pulse 1s", "water on", "fan 40%", "status", "lamp toggle", "all off", "help"} {
			wg.Go(func() {
				for ctx.Err() == nil {
					b.Run(ctx, cmd, alice)
					time.Sleep(100 * time.Millisecond)
				}
			})
		}
		wg.Go(func() {
			f := b.Watch()
			defer f.Stop()
			for ctx.Err() == nil {
				f.Take()
				b.States()
				b.Sensors()
				b.Devices()
				time.Sleep(50 * time.Millisecond)
			}
		})
		for i := range 50 {
			specs := testSpecs()
			if i%2 == 1 {
				specs[1].Allow = nil
				specs[0].Pin = "GPIO6"
				specs = specs[:4]
			}
			mustApply(t, b, sim, specs, Options{})
			time.Sleep(130 * time.Millisecond)
		}
		cancel()
		wg.Wait()
	})
}

// Devices of other nodes reload too: a new alias, a new one, one gone,
// and a local device that becomes another node's (its pin goes safe and
// is let go of); nothing local is touched otherwise.
func TestApplyRemote(t *testing.T) {
	f := onlineFleet()
	b, sim := openFleet(t, f)
	b.Run(t.Context(), "led on", aliceCmd)
	specs := fleetSpecs()
	specs[1].Aliases = []string{"water", "sprinkler"}
	specs = slices.Delete(specs, 3, 4) // garage_door goes
	specs = append(specs, config.Device{Name: "garage_light", Node: "garage", NodeDevice: "light"})
	before := sim.Get("GPIO17").Changes()
	ch, err := b.Apply(specs, sim.Pin, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.Updated, []string{"garden_pump"}) || !slices.Equal(ch.Added, []string{"garage_light"}) || !slices.Equal(ch.Removed, []string{"garage_door"}) {
		t.Errorf("changes %+v", ch)
	}
	if sim.Get("GPIO17").Changes() != before {
		t.Error("the local led was touched")
	}
	if r := b.Run(t.Context(), "sprinkler on", aliceCmd); r.Reply != "garden: pump on" {
		t.Errorf("the new alias: %q", r.Reply)
	}
	if r := b.Run(t.Context(), "garage_door", aliceCmd); !r.Rejected {
		t.Errorf("the removed device: %q", r.Reply)
	}
	if r := b.Run(t.Context(), "status", aliceCmd); !strings.HasPrefix(r.Reply, "led on, garden_pump off, garden_fan 40%, garage_light ?;") {
		t.Errorf("status %q", r.Reply)
	}
	// led moves to another node.
	specs[0] = config.Device{Name: "led", Node: "garage", NodeDevice: "led"}
	if _, err := b.Apply(specs, sim.Pin, Options{}); err != nil {
		t.Fatal(err)
	}
	if p := sim.Get("GPIO17"); p.Level() != gpio.Low || !p.Released() {
		t.Errorf("the old led's pin: level %s released %t, want safe and released", p.Level(), p.Released())
	}
	f.set("garage", "led", Remote{Online: true, Known: true, Kind: config.KindOutput, State: "off"})
	if r := b.Run(t.Context(), "led on", aliceCmd); r.Reply != "garage: led on" {
		t.Errorf("led on, now garage's: %q", r.Reply)
	}
	// A board without a fleet refuses a device of another node.
	plain, _ := open(t, testSpecs())
	defer plain.Close()
	if _, err := plain.Apply(append(testSpecs(), specs[2]), sim.Pin, Options{}); err == nil || !strings.Contains(err.Error(), "add the mqtt: section") {
		t.Errorf("err %v", err)
	}
}
