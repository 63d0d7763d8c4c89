package device

import (
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tweetpi/tweetpi/config"
)

func confirmSpecs() []config.Device {
	return []config.Device{
		{Name: "garage", Pin: "G", Kind: config.KindOutput, MaxOn: time.Second, Confirm: true},
		{Name: "gate", Pin: "T", Kind: config.KindPWM, FrequencyHz: 1000, Confirm: true},
		{Name: "led", Pin: "L", Kind: config.KindOutput},
	}
}

func openConfirm(t *testing.T) (*Board, *Sim) {
	t.Helper()
	sim := NewSim()
	b, err := Open(confirmSpecs(), sim.Pin, Options{ThermalPath: filepath.Join(t.TempDir(), "none")})
	if err != nil {
		t.Fatal(err)
	}
	return b, sim
}

const nothingWaits = "nothing waits for your yes; a question lapses after 60s, at a restart and at a reload: send the command again"

func TestConfirm(t *testing.T) {
	for _, tt := range []struct {
		name    string
		who     Caller        // says yes
		after   time.Duration // this long after the question
		reply   string
		garage  gpio.Level // right after the yes
		yesRuns bool
	}{
		{"in time", alice, 59 * time.Second, "garage on for 1s", gpio.High, true},
		{"at the limit", alice, 60 * time.Second, "garage on for 1s", gpio.High, true},
		{"late", alice, 61 * time.Second, "too late: the 60s to say yes to garage pulse 1s ran out; not run, send it again", gpio.Low, false},
		{"a stranger's yes", bob, time.Second, nothingWaits, gpio.Low, false},
		{"a yes with no id", Caller{Username: "alice"}, time.Second, nothingWaits, gpio.Low, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, sim := openConfirm(t)
				defer b.Close()
				before := sim.Get("G").Changes()
				r := b.Run(t.Context(), "garage pulse 1s", alice)
				if r.Reply != "reply yes within 60s to run: garage pulse 1s" || r.Ran || r.Rejected {
					t.Errorf("question: %+v", r)
				}
				time.Sleep(tt.after)
				if n := sim.Get("G").Changes() - before; n != 0 {
					t.Fatalf("the pin was driven %d times before the yes", n)
				}
				r = b.Run(t.Context(), "yes", tt.who)
				if r.Reply != tt.reply || r.Ran != tt.yesRuns || r.Rejected == tt.yesRuns {
					t.Errorf("yes: %+v, want %q (runs %t)", r, tt.reply, tt.yesRuns)
				}
				level(t, sim, "G", tt.garage)
				if tt.who != alice {
					return // TestConfirmStrangerThenAuthor: alice's yes still counts
				}
				// Once: a second yes runs nothing.
				time.Sleep(2 * time.Second)
				mid := sim.Get("G").Changes()
				if r := b.Run(t.Context(), "Yes!", alice); r.Reply != nothingWaits || r.Ran {
					t.Errorf("second yes: %+v", r)
				}
				if n := sim.Get("G").Changes() - mid; n != 0 {
					t.Errorf("the second yes drove the pin %d times", n)
				}
			})
		})
	}
}

// A stranger's yes leaves the question to its author.
func TestConfirmStrangerThenAuthor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := openConfirm(t)
		defer b.Close()
		b.Run(t.Context(), "garage on", alice)
		if r := b.Run(t.Context(), "yes", bob); r.Ran {
			t.Errorf("bob's yes ran: %+v", r)
		}
		level(t, sim, "G", gpio.Low)
		if r := b.Run(t.Context(), "yes", Caller{ID: "111", Username: "someone-else"}); r.Reply != "garage on (off by itself in 1s)" {
			t.Errorf("alice's yes (same id, another handle): %q", r.Reply)
		}
		level(t, sim, "G", gpio.High)
	})
}

func TestConfirmWhat(t *testing.T) {
	for _, tt := range []struct {
		text   string
		caller Caller
		asks   bool
		reply  string
	}{
		{"garage on", alice, true, "reply yes within 60s to run: garage on"},
		{"garage toggle", alice, true, "reply yes within 60s to run: garage toggle"},
		{"garage blink 2", alice, true, "reply yes within 60s to run: garage blink 2 1s"},
		{"gate 30%", alice, true, "reply yes within 60s to run: gate 30%"},
		{"led on; garage pulse 1s", alice, true, "reply yes within 60s to run: led on; garage pulse 1s"},
		// Off never waits: a confirmation must not hold up the safe state.
		{"garage off", alice, false, "garage off"},
		{"gate 0%", alice, false, "gate 0%"},
		{"all off", alice, false, "all off: nothing was on"},
		{"garage", alice, false, "garage is off"},
		{"led on", alice, false, "led on"},
		// Not a person on X: tweetpi do, a schedule.
		{"garage on", Caller{Local: true}, false, "garage on (off by itself in 1s)"},
	} {
		t.Run(tt.text, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, sim := openConfirm(t)
				defer b.Close()
				r := b.Run(t.Context(), tt.text, tt.caller)
				if r.Reply != tt.reply {
					t.Errorf("reply %q, want %q", r.Reply, tt.reply)
				}
				if tt.asks && (sim.Get("L").Level() == gpio.High || sim.Get("G").Level() == gpio.High) {
					t.Errorf("something ran before the yes: %s", sim)
				}
			})
		})
	}
}

// A list that mixes devices waits whole, and runs whole on the yes.
func TestConfirmList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := openConfirm(t)
		defer b.Close()
		b.Run(t.Context(), "led on; garage pulse 1s", alice)
		level(t, sim, "L", gpio.Low)
		if r := b.Run(t.Context(), "yes", alice); r.Reply != "led on; garage on for 1s" {
			t.Errorf("yes: %q", r.Reply)
		}
		level(t, sim, "L", gpio.High)
		level(t, sim, "G", gpio.High)
	})
}

// A new question replaces the person's earlier one.
func TestConfirmReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, sim := openConfirm(t)
		defer b.Close()
		b.Run(t.Context(), "garage on", alice)
		b.Run(t.Context(), "gate 50%", alice)
		b.Run(t.Context(), "garage on", bob) // bob's own
		if r := b.Run(t.Context(), "yes", alice); r.Reply != "gate 50%" {
			t.Errorf("yes: %q", r.Reply)
		}
		level(t, sim, "G", gpio.Low)
		if r := b.Run(t.Context(), "yes", bob); r.Reply != "garage on (off by itself in 1s)" {
			t.Errorf("bob's yes: %q", r.Reply)
		}
	})
}

// A restart or a reload is a new board: it forgets every question, and a
// yes after it runs nothing.
func TestConfirmLapsesWithTheBoard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := NewSim()
		b1, err := Open(confirmSpecs(), sim.Pin, Options{})
		if err != nil {
			t.Fatal(err)
		}
		b1.Run(t.Context(), "garage on", alice)
		b1.Close()
		b2, err := Open(confirmSpecs(), sim.Pin, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b2.Close()
		before := sim.Get("G").Changes()
		if r := b2.Run(t.Context(), "yes", alice); r.Reply != nothingWaits || r.Ran {
			t.Errorf("yes after a restart: %+v", r)
		}
		if sim.Get("G").Changes() != before {
			t.Errorf("the yes drove the pin")
		}
	})
}

func TestConfirmYesAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := openConfirm(t)
		defer b.Close()
		b.Run(t.Context(), "garage on", alice)
		if r := b.Run(t.Context(), "yes; led on", alice); !r.Rejected || !strings.Contains(r.Reply, "say yes alone") {
			t.Errorf("yes in a list: %+v", r)
		}
		if r := b.Run(t.Context(), "@mypi yes.", alice); r.Reply != "garage on (off by itself in 1s)" {
			t.Errorf("yes after the list: %q", r.Reply)
		}
	})
}
