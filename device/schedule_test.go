package device

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	_ "time/tzdata" // Europe/Berlin even where the system has no zone files; the test binary only

	"periph.io/x/conn/v3/gpio"

	"github.com/tweetpi/tweetpi/config"
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustTime(t *testing.T, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseCron(t *testing.T) {
	for _, tt := range []struct {
		in, err string
	}{
		{"0 6 * * *", ""},
		{"*/15 * * * *", ""},
		{"0 */2 * * 1-5", ""},
		{"30 6 1,15 jan-mar mon", ""},
		{"0 0 * * 7", ""},
		{"@daily", ""},
		{"5-50/5 8-18 * * MON-FRI", ""},
		{"0 6 * *", `has 4 fields`},
		{"0 24 * * *", "hour 24 is out of range 0-23"},
		{"60 * * * *", "minute 60 is out of range 0-59"},
		{"0 0 0 * *", "day of month 0 is out of range 1-31"},
		{"0 0 * 13 *", "month 13 is out of range 1-12"},
		{"0 0 * * 8", "day of week 8 is out of range 0-7"},
		{"0 0 * * funday", `day of week "funday" is not a number`},
		{"*/0 * * * *", `minute step "0"`},
		{"0 20-8 * * *", "goes backwards"},
		{"0 0 30 2 *", "never comes"},
		{"@reboot", "not a cron macro"},
		{"0 0 ,1 * *", "day of month is empty"},
		{"-1 * * * *", "minute is empty"},
	} {
		_, err := parseCron(tt.in)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("parseCron(%q): %v", tt.in, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseCron(%q) = %v, want an error with %q", tt.in, err, tt.err)
		}
	}
	for _, bad := range []string{"06:3", "24:00", "06:60", "-1:00", "0630", "6:30pm", "06:30:00"} {
		if _, err := parseAt(bad); err == nil {
			t.Errorf("parseAt(%q) took it", bad)
		}
	}
}

// TestNext walks each schedule from a start and lists the runs, in
// Europe/Berlin, across both changes of 2025: 30 March 02:00 CET -> 03:00
// CEST, 26 October 03:00 CEST -> 02:00 CET.
func TestNext(t *testing.T) {
	loc := berlin(t)
	for _, tt := range []struct {
		name, at, cron, from string
		want                 []string // RFC 3339
	}{
		{"daily across spring forward", "06:30", "", "2025-03-29 07:00", []string{
			"2025-03-30T06:30:00+02:00", "2025-03-31T06:30:00+02:00"}},
		// 02:30 does not exist on 30 March: it runs at the jump, 03:00 CEST.
		{"in the gap: at the jump, once", "02:30", "", "2025-03-29 03:00", []string{
			"2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00"}},
		{"daily across fall back", "06:30", "", "2025-10-25 07:00", []string{
			"2025-10-26T06:30:00+01:00", "2025-10-27T06:30:00+01:00"}},
		{"in the repeated hour: the first pass only", "02:30", "", "2025-10-25 03:00", []string{
			"2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00"}},
		{"several in the gap run once", "", "15,45 2 * * *", "2025-03-30 01:00", []string{
			"2025-03-30T03:00:00+02:00", "2025-03-31T02:15:00+02:00", "2025-03-31T02:45:00+02:00"}},
		{"hour * follows the clock through the repeated hour", "", "*/30 * * * *", "2025-10-26 01:45", []string{
			"2025-10-26T02:00:00+02:00", "2025-10-26T02:30:00+02:00", "2025-10-26T02:00:00+01:00", "2025-10-26T02:30:00+01:00", "2025-10-26T03:00:00+01:00"}},
		{"hour * through the gap", "", "0 * * * *", "2025-03-30 00:30", []string{
			"2025-03-30T01:00:00+01:00", "2025-03-30T03:00:00+02:00", "2025-03-30T04:00:00+02:00"}},
		{"weekdays every two hours", "", "0 */2 * * 1-5", "2025-06-06 21:30", []string{ // a Friday
			"2025-06-06T22:00:00+02:00", "2025-06-09T00:00:00+02:00", "2025-06-09T02:00:00+02:00"}},
		{"day of month or of week", "", "0 12 13 * fri", "2025-06-10 00:00", []string{
			"2025-06-13T12:00:00+02:00", "2025-06-20T12:00:00+02:00", "2025-06-27T12:00:00+02:00", "2025-07-04T12:00:00+02:00", "2025-07-11T12:00:00+02:00", "2025-07-13T12:00:00+02:00"}},
		{"February 29", "", "0 0 29 2 *", "2025-01-01 00:00", []string{"2028-02-29T00:00:00+01:00"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, err := parseWhen(config.Schedule{At: tt.at, Cron: tt.cron})
			if err != nil {
				t.Fatal(err)
			}
			at := mustTime(t, loc, tt.from)
			var got []string
			for range tt.want {
				at = w.next(at, loc)
				got = append(got, at.In(loc).Format(time.RFC3339))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("runs\n %s\nwant\n %s", strings.Join(got, "\n "), strings.Join(tt.want, "\n "))
			}
		})
	}
}

// logRec keeps the board's log records: message and attributes.
type logRec struct {
	mu   sync.Mutex
	recs []map[string]string
}

func (l *logRec) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRec) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRec) WithGroup(string) slog.Handler            { return l }
func (l *logRec) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, m)
	return nil
}

// with returns the records whose message starts with msg.
func (l *logRec) with(msg string) []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, r := range l.recs {
		if strings.HasPrefix(r["msg"], msg) {
			out = append(out, r)
		}
	}
	return out
}

// clock is a wall clock over the bubble's fake time: it starts at a set
// time and can jump, as a suspend or an NTP step does.
type clock struct {
	base time.Time // the bubble's time at start
	wall time.Time // the wall clock then
	jump atomic.Int64
}

func newClock(start time.Time) *clock {
	return &clock{base: time.Now(), wall: start}
}

func (c *clock) now() time.Time {
	return c.wall.Add(time.Since(c.base) + time.Duration(c.jump.Load()))
}

// schedBoard opens a pump and the schedules on a clock starting at start,
// and runs the schedules until the test ends.
func schedBoard(t *testing.T, loc *time.Location, start string, scheds ...config.Schedule) (*Board, *Sim, *logRec, *clock) {
	t.Helper()
	sim := NewSim()
	log := &logRec{}
	c := newClock(mustTime(t, loc, start))
	b, err := Open([]config.Device{
		{Name: "pump", Pin: "P", Kind: config.KindOutput, MaxOn: time.Hour},
		{Name: "heater", Pin: "H", Kind: config.KindOutput},
		{Name: "cooler", Pin: "C", Kind: config.KindOutput},
	}, sim.Pin, Options{
		Logger: slog.New(log), Schedules: scheds, Location: loc, Now: c.now,
		Interlocks: [][]string{{"heater", "cooler"}}, InterlockWait: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- b.RunSchedules(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunSchedules: %v", err)
		}
		b.Close()
	})
	return b, sim, log, c
}

func dues(recs []map[string]string) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r["due"])
	}
	return out
}

// The scheduler itself, over days of fake time, across both changes.
func TestRunSchedulesAcrossDST(t *testing.T) {
	loc := berlin(t)
	for _, tt := range []struct {
		name, start string
		want        []string
	}{
		{"spring forward", "2025-03-28 12:00", []string{
			"2025-03-29T02:30:00+01:00", "2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00"}},
		{"fall back", "2025-10-25 12:00", []string{
			"2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00", "2025-10-28T02:30:00+01:00"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, sim, log, c := schedBoard(t, loc, tt.start, config.Schedule{At: "02:30", Do: "pump pulse 1s"})
				var ranAt []string
				time.Sleep(500 * time.Millisecond)
				for range 3 * 24 * 60 { // watch each minute of three days, half a second in
					time.Sleep(time.Minute)
					if sim.Get("P").Level() == gpio.High {
						ranAt = append(ranAt, c.now().Truncate(time.Minute).In(loc).Format(time.RFC3339))
					}
				}
				if got := dues(log.with("schedule ran")); strings.Join(got, " ") != strings.Join(tt.want, " ") {
					t.Errorf("ran\n %s\nwant\n %s", strings.Join(got, "\n "), strings.Join(tt.want, "\n "))
				}
				if strings.Join(ranAt, " ") != strings.Join(tt.want, " ") {
					t.Errorf("the pump was on at %s, want %s", ranAt, tt.want)
				}
				if s := log.with("schedule skipped"); len(s) > 0 {
					t.Errorf("skipped: %v", s)
				}
			})
		})
	}
}

// A time that passes while the machine sleeps (the wall clock jumps past
// it) is skipped and logged, and the next day runs.
func TestRunSchedulesSkipsMissed(t *testing.T) {
	loc := berlin(t)
	synctest.Test(t, func(t *testing.T) {
		_, sim, log, c := schedBoard(t, loc, "2025-06-10 06:00", config.Schedule{At: "06:30", Do: "pump pulse 1s"})
		time.Sleep(10 * time.Minute)
		before := sim.Get("P").Changes()
		c.jump.Add(int64(time.Hour)) // asleep from 06:10 to 07:10
		time.Sleep(10 * time.Minute)
		if n := sim.Get("P").Changes() - before; n != 0 {
			t.Errorf("the pump was driven %d times for a missed time", n)
		}
		s := log.with("schedule skipped")
		if len(s) != 1 || s[0]["due"] != "2025-06-10T06:30:00+02:00" {
			t.Fatalf("skipped: %v", s)
		}
		if len(log.with("schedule ran")) != 0 {
			t.Errorf("a late run ran")
		}
		time.Sleep(24 * time.Hour)
		if got := dues(log.with("schedule ran")); strings.Join(got, " ") != "2025-06-11T06:30:00+02:00" {
			t.Errorf("ran %v, want the next day's", got)
		}
	})
}

// A daemon stopped over a time does not run it when it starts again.
func TestRunSchedulesAfterAStop(t *testing.T) {
	loc := berlin(t)
	synctest.Test(t, func(t *testing.T) {
		_, sim, log, _ := schedBoard(t, loc, "2025-06-10 06:31", config.Schedule{At: "06:30", Do: "pump pulse 1s"})
		time.Sleep(time.Hour)
		if sim.Get("P").Changes() != 1 || len(log.with("schedule ran")) != 0 || len(log.with("schedule skipped")) != 0 { // Open set it off once
			t.Errorf("started at 06:31: %v", log.recs)
		}
	})
}

// A clock set back after a run does not run the same time again.
func TestRunSchedulesClockBack(t *testing.T) {
	loc := berlin(t)
	synctest.Test(t, func(t *testing.T) {
		_, _, log, c := schedBoard(t, loc, "2025-06-10 06:29", config.Schedule{At: "06:30", Do: "pump pulse 1s"})
		time.Sleep(5 * time.Minute)
		c.jump.Add(int64(-10 * time.Minute)) // 06:34 -> 06:24
		time.Sleep(20 * time.Minute)
		if got := dues(log.with("schedule ran")); len(got) != 1 {
			t.Errorf("ran %v, want 06:30 once", got)
		}
	})
}

// A Raspberry Pi without a real-time clock boots in 1970 (the bubble's
// clock starts in 2000): nothing runs until the clock is set.
func TestRunSchedulesWaitsForTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := NewSim()
		log := &logRec{}
		var jump atomic.Int64
		now := func() time.Time { return time.Now().Add(time.Duration(jump.Load())) }
		b, err := Open([]config.Device{{Name: "pump", Pin: "P", Kind: config.KindOutput}}, sim.Pin, Options{
			Logger: slog.New(log), Location: time.UTC, Now: now,
			Schedules: []config.Schedule{{Cron: "* * * * *", Do: "pump pulse 1s"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		go b.RunSchedules(t.Context())
		time.Sleep(time.Hour)
		if len(log.with("schedule ran")) != 0 || len(log.with("schedules wait: the clock is not set")) != 1 {
			t.Errorf("with the clock in 2000: %v", log.recs)
		}
		jump.Store(int64(time.Until(time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC))))
		time.Sleep(3*time.Minute + time.Second)
		if got := dues(log.with("schedule ran")); len(got) != 2 && len(got) != 3 {
			t.Errorf("after the clock was set, ran %v", got)
		}
		if len(log.with("schedules start: the clock is set")) != 1 {
			t.Errorf("no log of the clock being set")
		}
	})
}

// Schedules go through the same rules as a post: interlocks and max_on.
func TestRunSchedulesSameRules(t *testing.T) {
	loc := berlin(t)
	synctest.Test(t, func(t *testing.T) {
		b, sim, log, c := schedBoard(t, loc, "2025-06-10 06:00",
			config.Schedule{At: "06:30", Do: "cooler on"},
			config.Schedule{At: "06:31", Do: "pump on"})
		b.Run(t.Context(), "heater on", alice)
		time.Sleep(mustTime(t, loc, "2025-06-10 06:30").Add(500 * time.Millisecond).Sub(c.now()))
		level(t, sim, "H", gpio.Low) // turned off first
		level(t, sim, "C", gpio.Low) // and waiting its second
		time.Sleep(time.Second)
		level(t, sim, "C", gpio.High)
		r := log.with("schedule ran")
		if len(r) != 1 || r[0]["reply"] != "cooler on (heater off first)" {
			t.Errorf("ran %v", r)
		}
		time.Sleep(time.Hour + time.Minute)
		level(t, sim, "P", gpio.Low) // max_on 1h
	})
}

func TestSchedulesReply(t *testing.T) {
	loc := berlin(t)
	synctest.Test(t, func(t *testing.T) {
		b, _, _, _ := schedBoard(t, loc, "2025-06-10 12:00", // a Tuesday
			config.Schedule{At: "06:30", Do: "pump pulse 30s"},
			config.Schedule{Cron: "0 */2 * * 1-5", Do: "pump on"},
			config.Schedule{Cron: "0 9 * * sat", Do: "heater on"},
			config.Schedule{Cron: "0 0 1 1 *", Do: "all off"})
		want := "schedules: pump pulse 30s at 06:30, next tomorrow 06:30; pump on cron 0 */2 * * 1-5, next today 14:00; heater on cron 0 9 * * sat, next Sat 09:00; all off cron 0 0 1 1 *, next 2026-01-01 00:00"
		if r := b.Run(t.Context(), "schedules", alice); r.Reply != fit(want) {
			t.Errorf("reply\n %q\nwant\n %q", r.Reply, fit(want))
		}
	})
	b, err := Open(nil, NewSim().Pin, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if r := b.Run(context.Background(), "schedules", alice); r.Reply != "no schedules; they go under schedules: in the config" {
		t.Errorf("no schedules: %q", r.Reply)
	}
}

// CheckConfig reports bad times and commands with the file's lines.
func TestCheckConfig(t *testing.T) {
	data := `devices:
  pump: {pin: GPIO27, kind: output, max_on: 5m}
  door: {pin: GPIO22, kind: input}
schedules:
  - {at: "06:30", do: "pump pulse 30s"}
  - {at: "6:61", do: "pump on"}
  - cron: "0 25 * * *"
    do: "pmp pulse 30s"
  - {cron: "0 6 * * *", do: "door"}
  - {cron: "0 6 * * *", do: "pump pulse 1h"}
  - {cron: "@daily", do: "all off"}
`
	c, err := config.Parse("config.yaml", []byte(data), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = CheckConfig(c)
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("CheckConfig: %v (%T)", err, err)
	}
	want := `config.yaml:6: schedules[2].at: "6:61" is not a time of day; write it like "06:30" (00:00 to 23:59, local time)
config.yaml:7: schedules[3].cron: "0 25 * * *": hour 25 is out of range 0-23
config.yaml:8: schedules[3].do: "pmp pulse 30s" is not a command: no device "pmp"; did you mean pump?
config.yaml:9: schedules[4].do: "door" does nothing on a schedule (no one reads its answer); give a command that acts, like "pump pulse 30s"
config.yaml:10: schedules[5].do: "pump pulse 1h" is not a command: pump pulse 1h refused: it must be 10ms to 5m (pump's max_on)`
	if got := err.Error(); got != want {
		t.Errorf("errors\n%s\nwant\n%s", got, want)
	}
	c.Schedules = c.Schedules[:1]
	if err := CheckConfig(c); err != nil {
		t.Errorf("a good schedule: %v", err)
	}
}
