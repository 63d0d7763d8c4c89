package device

import (
	"context"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/config"
)

func benchNext(b *testing.B, s config.Schedule) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Fatal(err)
	}
	w, err := parseWhen(s)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2025, 3, 29, 12, 0, 0, 0, loc)
	b.ReportAllocs()
	for b.Loop() {
		if w.next(at, loc).IsZero() {
			b.Fatal("no next")
		}
	}
}

func BenchmarkNextAt(b *testing.B)           { benchNext(b, config.Schedule{At: "06:30"}) }
func BenchmarkNextCronWeekdays(b *testing.B) { benchNext(b, config.Schedule{Cron: "0 */2 * * 1-5"}) }
func BenchmarkNextCronClock(b *testing.B)    { benchNext(b, config.Schedule{Cron: "*/15 * * * *"}) }
func BenchmarkNextCronLeapDay(b *testing.B)  { benchNext(b, config.Schedule{Cron: "0 0 29 2 *"}) }

// BenchmarkRunInterlocked is a command on an interlocked device, turning
// its partner off first (interlock_wait 0: the cost of the group's turn).
func BenchmarkRunInterlocked(b *testing.B) {
	sim := NewSim()
	board, err := Open(interlockSpecs(), sim.Pin, Options{Interlocks: [][]string{{"heater", "cooler", "fan"}}})
	if err != nil {
		b.Fatal(err)
	}
	defer board.Close()
	ctx := context.Background()
	cmds := []string{"heater on", "cooler on"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if r := board.Run(ctx, cmds[i%2], Caller{Local: true}); !r.Ran {
			b.Fatal(r.Reply)
		}
		i++
	}
}

func BenchmarkRunAllOff(b *testing.B) {
	sim := NewSim()
	board, err := Open(interlockSpecs(), sim.Pin, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer board.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		board.Run(ctx, "led on", Caller{Local: true})
		if r := board.Run(ctx, "all off", Caller{Local: true}); r.Reply != "all off: led" {
			b.Fatal(r.Reply)
		}
	}
}
