package device

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tweetpi/tweetpi/config"
)

// values renders states as "led=on fan=40".
func values(states []State) string {
	var parts []string
	for _, s := range states {
		parts = append(parts, s.Device+"="+s.Value())
	}
	return strings.Join(parts, " ")
}

// take waits until the feed has something and takes it.
func take(t *testing.T, f *Feed) string {
	t.Helper()
	synctest.Wait()
	select {
	case <-f.C():
	default:
		return ""
	}
	return values(f.Take())
}

// TestFeedEveryCause: a state change reaches the feed whatever made it: a
// command, max_on, the end of a pulse, an input, Close.
func TestFeedEveryCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := NewSim()
		specs := append(testSpecs(), config.Device{Name: "bell", Pin: "GPIO23", Kind: config.KindInput, High: "ringing", Low: "quiet", Debounce: 10 * time.Millisecond})
		b, err := Open(specs, sim.Pin, Options{WatchInputs: true, UserID: handles})
		if err != nil {
			t.Fatal(err)
		}
		f := b.Watch()
		if got := take(t, f); got != "" {
			t.Errorf("a change before any happened: %s", got)
		}
		b.Run(t.Context(), "led on; fan 40%", alice)
		if got, want := take(t, f), "led=on fan=40"; got != want {
			t.Errorf("after a command: %q, want %q", got, want)
		}
		b.Run(t.Context(), "pump on", alice)
		take(t, f)
		time.Sleep(5*time.Minute + time.Millisecond) // max_on
		if got, want := take(t, f), "pump=off"; got != want {
			t.Errorf("after max_on: %q, want %q", got, want)
		}
		b.Run(t.Context(), "led pulse 2s", alice)
		if got, want := take(t, f), "led=on"; got != want {
			t.Errorf("pulse start: %q, want %q", got, want)
		}
		time.Sleep(2 * time.Second)
		if got, want := take(t, f), "led=off"; got != want {
			t.Errorf("pulse end: %q, want %q", got, want)
		}
		// An input without notify is watched too (WatchInputs).
		sim.SetInput("GPIO23", gpio.High)
		time.Sleep(20 * time.Millisecond)
		if got, want := take(t, f), "bell=ringing"; got != want {
			t.Errorf("input: %q, want %q", got, want)
		}
		if n := len(b.Events()); n != 0 {
			t.Errorf("a change of an input without notify became %d notify events", n)
		}
		b.Run(t.Context(), "led on", alice)
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-f.Done():
		default:
			t.Fatal("Done is not closed after Close")
		}
		if got, want := values(f.Take()), "led=off pump=off fan=0 lamp=off"; got != want {
			t.Errorf("after Close: %q, want the safe levels %q", got, want)
		}
		if g := b.Watch(); g.Done() == nil {
			t.Error("no Done")
		} else {
			select {
			case <-g.Done():
			default:
				t.Error("a feed made after Close is not done")
			}
		}
	})
}

// TestFeedCoalesces: a reader that falls behind sees each device once, at
// its newest state, and the board never waits for it.
func TestFeedCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := open(t, testSpecs())
		defer b.Close()
		f := b.Watch()
		for i := range 1000 {
			b.Run(t.Context(), []string{"led on", "led off"}[i%2]+"; fan "+[]string{"10%", "20%"}[i%2], alice)
		}
		if got, want := take(t, f), "led=off fan=20"; got != want {
			t.Errorf("got %q, want the newest states %q", got, want)
		}
		f.Stop()
		b.Run(t.Context(), "led on", alice)
		if got := take(t, f); got != "" {
			t.Errorf("a stopped feed still gets %q", got)
		}
	})
}

func TestStates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := open(t, testSpecs())
		defer b.Close()
		b.Run(t.Context(), "fan 75%", alice)
		sim.SetInput("GPIO22", gpio.Low)
		got := b.States()
		want := []State{
			{Device: "led", Kind: config.KindOutput},
			{Device: "pump", Kind: config.KindOutput},
			{Device: "fan", Kind: config.KindPWM, On: true, Percent: 75},
			{Device: "door", Kind: config.KindInput, Word: "closed"},
			{Device: "lamp", Kind: config.KindOutput, On: true},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("States() =\n%+v\nwant\n%+v", got, want)
		}
		if got, want := values(got), "led=off pump=off fan=75 door=closed lamp=on"; got != want {
			t.Errorf("values %q, want %q", got, want)
		}
	})
}

func TestCPUTemperature(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		file string
		want float64
		ok   bool
	}{
		{"48312\n", 48.312, true},
		{"-5000", -5, true},
		{"garbage", 0, false},
		{"999999999", 0, false},
	} {
		p := filepath.Join(dir, "temp")
		if err := os.WriteFile(p, []byte(tc.file), 0o600); err != nil {
			t.Fatal(err)
		}
		b := newBoard(Options{ThermalPath: p})
		got, ok := b.CPUTemperature()
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: %v %t, want %v %t", tc.file, got, ok, tc.want, tc.ok)
		}
	}
	b := newBoard(Options{ThermalPath: filepath.Join(dir, "none")})
	if _, ok := b.CPUTemperature(); ok {
		t.Error("a reading without a thermal zone")
	}
}
