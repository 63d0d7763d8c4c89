package device

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tweetpi/tweetpi/config"
)

// Schedules: a command at set times, on a five-field cron parser of the
// standard library's time package (robfig/cron is unmaintained since
// 2021, and its DST rules are not the ones below).
//
// Times are wall-clock times in the board's location. On the day the
// clocks go forward, a time inside the skipped hour runs once, at the
// jump (02:30 runs at 03:00). On the day they go back, a time inside the
// repeated hour runs the first time only. Both hold for `at` and for a
// cron with a fixed hour field; a cron whose hour field is * ("*/15 * * *
// *") follows the clock instead: it runs every 15 minutes through both
// passes of the repeated hour, and has nothing to skip in the missing one.
//
// Nothing runs late: a time that passed while the daemon was stopped, the
// machine slept or the clock jumped ahead is skipped and logged.

const (
	// ScheduleTolerance is how late a schedule may still run: a run found
	// later than this (after a suspend or a clock jump) is skipped.
	ScheduleTolerance = time.Minute
	// scheduleTick is the longest the scheduler sleeps before it looks at
	// the wall clock again: timers run on the monotonic clock, which stops
	// while the machine sleeps and ignores clock jumps.
	scheduleTick = time.Minute
	// searchDays bounds the search for the next run: 5 years finds a
	// February 29 and proves that "0 0 30 2 *" never comes.
	searchDays = 5*366 + 1
)

// saneClock is the earliest time a schedule believes: a Raspberry Pi
// without a real-time clock boots in 1970 until NTP sets the time.
var saneClock = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// cronSpec is a parsed time: each field as a bit set.
type cronSpec struct {
	minute uint64 // bit 0-59
	hour   uint32 // bit 0-23
	dom    uint32 // bit 1-31
	month  uint16 // bit 1-12
	dow    uint8  // bit 0-6, Sunday 0

	domAny, dowAny bool // the field starts with *: the other day field decides alone
	hourAny        bool // the hour field is *: follow the clock (see above)
}

type cronField struct {
	name     string
	min, max int
	names    []string // names for min, min+1, ...
}

var cronFields = [5]cronField{
	{"minute", 0, 59, nil},
	{"hour", 0, 23, nil},
	{"day of month", 1, 31, nil},
	{"month", 1, 12, []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{"day of week", 0, 7, []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

var cronMacros = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

const cronFix = `five fields: minute hour day-of-month month day-of-week, like "0 */2 * * 1-5"`

// parseCron parses a five-field cron expression: each field *, a number,
// a range a-b, a step */n or a-b/n, or a list of those; months and days
// of the week may be names (jan, mon); 0 and 7 are Sunday. Either day
// field restricted alone decides; both restricted, either matches (as
// Vixie cron does). A macro (@daily, @hourly...) stands for its fields.
func parseCron(s string) (*cronSpec, error) {
	text := strings.ToLower(strings.Join(strings.Fields(s), " "))
	if m, ok := cronMacros[text]; ok {
		text = m
	} else if strings.HasPrefix(text, "@") {
		return nil, fmt.Errorf("%q is not a cron macro; use @hourly, @daily, @weekly, @monthly, @yearly or %s", s, cronFix)
	}
	f := strings.Fields(text)
	if len(f) != 5 {
		return nil, fmt.Errorf("%q has %d fields; a cron has %s", s, len(f), cronFix)
	}
	var bits [5]uint64
	for i, field := range f {
		b, err := parseField(field, cronFields[i])
		if err != nil {
			return nil, fmt.Errorf("%q: %v", s, err)
		}
		bits[i] = b
	}
	if bits[4]&(1<<7) != 0 { // 7 is Sunday too
		bits[4] |= 1
	}
	c := &cronSpec{
		minute: bits[0], hour: uint32(bits[1]), dom: uint32(bits[2]), month: uint16(bits[3]), dow: uint8(bits[4] & 0x7f),
		domAny: strings.HasPrefix(f[2], "*"), dowAny: strings.HasPrefix(f[4], "*"),
		hourAny: f[1] == "*",
	}
	if c.next(saneClock, time.UTC).IsZero() {
		return nil, fmt.Errorf("%q never comes: no month has that day", s)
	}
	return c, nil
}

func parseField(s string, f cronField) (uint64, error) {
	var bits uint64
	for _, item := range strings.Split(s, ",") {
		rng, stepText, hasStep := strings.Cut(item, "/")
		lo, hi := f.min, f.max
		switch {
		case rng == "*":
			if f.name == "day of week" {
				hi = 6
			}
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = fieldValue(a, f); err != nil {
				return 0, err
			}
			if hi, err = fieldValue(b, f); err != nil {
				return 0, err
			}
			if lo > hi {
				return 0, fmt.Errorf("%s range %s goes backwards; write it low-high", f.name, rng)
			}
		default:
			v, err := fieldValue(rng, f)
			if err != nil {
				return 0, err
			}
			lo = v
			if !hasStep {
				hi = v
			}
		}
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 || n > f.max {
				return 0, fmt.Errorf("%s step %q is not a number from 1 to %d", f.name, stepText, f.max)
			}
			step = n
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

func fieldValue(s string, f cronField) (int, error) {
	if i := slices.Index(f.names, s); i >= 0 {
		return f.min + i, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || s == "" || s[0] == '+' || s[0] == '-' {
		if s == "" {
			return 0, fmt.Errorf("%s is empty; write a number, a range or *", f.name)
		}
		return 0, fmt.Errorf("%s %q is not a number", f.name, s)
	}
	if n < f.min || n > f.max {
		return 0, fmt.Errorf("%s %d is out of range %d-%d", f.name, n, f.min, f.max)
	}
	return n, nil
}

// parseAt parses "06:30": every day at that wall-clock time.
func parseAt(s string) (*cronSpec, error) {
	hh, mm, ok := strings.Cut(s, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 || hh[0] == '-' || hh[0] == '+' || h > 23 || m > 59 || m < 0 {
		return nil, fmt.Errorf("%q is not a time of day; write it like \"06:30\" (00:00 to 23:59, local time)", s)
	}
	return &cronSpec{minute: 1 << m, hour: 1 << h, dom: ^uint32(0), month: ^uint16(0), dow: 0x7f, domAny: true, dowAny: true}, nil
}

func (c *cronSpec) dayOK(t time.Time) bool {
	if c.month&(1<<t.Month()) == 0 {
		return false
	}
	dom := c.dom&(1<<t.Day()) != 0
	dow := c.dow&(1<<t.Weekday()) != 0
	switch {
	case c.domAny && c.dowAny:
		return true
	case c.domAny:
		return dow
	case c.dowAny:
		return dom
	}
	return dom || dow
}

// next is the first run strictly after after, or zero if none comes in
// five years.
func (c *cronSpec) next(after time.Time, loc *time.Location) time.Time {
	if c.hourAny {
		return c.nextByClock(after, loc)
	}
	return c.nextByWall(after, loc)
}

// nextByWall walks wall-clock dates and times: each wall-clock minute of
// the schedule runs once at most (see resolve).
func (c *cronSpec) nextByWall(after time.Time, loc *time.Location) time.Time {
	a := after.In(loc)
	y, mo, d := a.Date()
	h, mi := a.Hour(), a.Minute()
	for day := range searchDays {
		date := time.Date(y, mo, d+day, 12, 0, 0, 0, loc)
		if !c.dayOK(date) {
			continue
		}
		for hh := range 24 {
			if c.hour&(1<<hh) == 0 || day == 0 && hh < h {
				continue
			}
			for mm := range 60 {
				if c.minute&(1<<mm) == 0 || day == 0 && hh == h && mm <= mi {
					continue
				}
				if t := resolve(date.Year(), date.Month(), date.Day(), hh, mm, loc); t.After(after) {
					return t
				}
			}
		}
	}
	return time.Time{}
}

// resolve is the instant of a wall-clock time: in the gap of a
// spring-forward, the instant of the jump; in the repeated hour of a
// fall-back, its first pass.
func resolve(y int, mo time.Month, d, hh, mm int, loc *time.Location) time.Time {
	t := time.Date(y, mo, d, hh, mm, 0, 0, loc)
	if t.Hour() != hh || t.Minute() != mm {
		// The wall clock skips this time; Go put t on one side of the gap.
		start, end := t.ZoneBounds()
		asked := time.Date(y, mo, d, hh, mm, 0, 0, time.UTC)
		got := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
		if got.After(asked) {
			return start // after the jump: the jump is where its zone starts
		}
		return end
	}
	start, _ := t.ZoneBounds()
	if start.IsZero() {
		return t
	}
	_, off := t.Zone()
	_, before := start.Add(-time.Second).Zone()
	if before > off { // the clocks went back at start: is there an earlier pass?
		e := t.Add(-time.Duration(before-off) * time.Second)
		if e.Before(start) && e.Hour() == hh && e.Minute() == mm {
			return e
		}
	}
	return t
}

// nextByClock walks real minutes, for a cron whose hour is *: every
// minute the clock shows is a candidate, twice in a repeated hour.
func (c *cronSpec) nextByClock(after time.Time, loc *time.Location) time.Time {
	t := after.Truncate(time.Minute).Add(time.Minute)
	end := after.AddDate(0, 0, searchDays)
	for t.Before(end) {
		lt := t.In(loc)
		if !c.dayOK(lt) {
			n := time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, loc)
			if !n.After(t) {
				n = t.Add(time.Minute)
			}
			t = n
			continue
		}
		if c.minute&(1<<lt.Minute()) != 0 {
			return t
		}
		t = t.Add(time.Minute)
	}
	return time.Time{}
}

// schedule is one schedule on the board.
type schedule struct {
	spec config.Schedule
	when *cronSpec
	next time.Time // the next run; zero until RunSchedules starts
	last time.Time // the last time that came (run or skipped): never again
}

func parseWhen(s config.Schedule) (*cronSpec, error) {
	if s.Cron != "" {
		return parseCron(s.Cron)
	}
	return parseAt(s.At)
}

// checkDo checks a schedule's command: it must parse, and act.
func checkDo(do string, specs []config.Device) error {
	acts, err := Parse(do, specs)
	if err != nil {
		return fmt.Errorf("%q is not a command: %v", do, err)
	}
	for _, a := range acts {
		switch a.Verb {
		case VerbHelp, VerbStatus, VerbState, VerbSchedules, VerbYes:
			return fmt.Errorf("%q does nothing on a schedule (no one reads its answer); give a command that acts, like \"pump pulse 30s\"", do)
		}
	}
	return nil
}

func parseSchedules(list []config.Schedule, specs []config.Device) ([]*schedule, error) {
	var out []*schedule
	for i, s := range list {
		w, err := parseWhen(s)
		if err != nil {
			return nil, fmt.Errorf("schedule %d: %v", i+1, err)
		}
		if err := checkDo(s.Do, specs); err != nil {
			return nil, fmt.Errorf("schedule %d: %v", i+1, err)
		}
		out = append(out, &schedule{spec: s, when: w})
	}
	return out, nil
}

// CheckConfig checks what the config package cannot, since it does not
// know the command language: each schedule's at or cron, and its do,
// which must be a command a post could give. The errors are config.Errors
// with the file, the line and a fix, like the config's own. cmd calls it
// after config.Load wherever a config is loaded to run with.
func CheckConfig(c *config.Config) error {
	var errs config.Errors
	for i, s := range c.Schedules {
		key := fmt.Sprintf("schedules[%d]", i+1)
		when, whenKey := s.At, key+".at"
		if s.Cron != "" {
			when, whenKey = s.Cron, key+".cron"
		}
		if when != "" && (s.At == "" || s.Cron == "") {
			if _, err := parseWhen(s); err != nil {
				errs = append(errs, &config.Error{File: c.Path, Line: s.WhenLine, Key: whenKey, Value: when, Msg: err.Error()})
			}
		}
		if s.Do != "" {
			if err := checkDo(s.Do, c.Devices); err != nil {
				errs = append(errs, &config.Error{File: c.Path, Line: s.DoLine, Key: key + ".do", Value: s.Do, Msg: err.Error()})
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *config.Error) int { return a.Line - b.Line })
	return errs
}

// wall is the wall-clock time now, without the monotonic reading: the
// schedules compare it with the calendar.
func (b *Board) wall() time.Time { return b.now().Round(0) }

// RunSchedules runs the board's schedules until ctx ends or the board
// closes; it returns nil then. Each run goes through Run as a local
// caller (the file is the owner's: device allow lists and confirmation do
// not apply; interlocks and max_on do) and is logged; nothing is
// answered. A time found more than ScheduleTolerance late is skipped and
// logged. The schedules an Apply brings take over at once: one it kept
// goes on from where it was. Start it once per board.
func (b *Board) RunSchedules(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-b.ctx.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	insane := false
	for {
		scheds := b.lay().scheds
		var wake <-chan time.Time
		var t *time.Timer
		if len(scheds) > 0 {
			now := b.wall()
			if now.Before(saneClock) {
				if !insane {
					b.log.Warn("schedules wait: the clock is not set", "now", now.Format(time.RFC3339))
					insane = true
				}
			} else {
				if insane {
					b.log.Info("schedules start: the clock is set", "now", now.Format(time.RFC3339))
					insane = false
				}
				b.due(ctx, scheds, now)
			}
			wait := scheduleTick
			for _, s := range scheds {
				if !s.next.IsZero() {
					wait = min(wait, s.next.Sub(now))
				}
			}
			t = time.NewTimer(max(wait, 0))
			wake = t.C
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-b.reloaded:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// due runs or skips the schedules whose time has come, and works out
// each one's next time.
func (b *Board) due(ctx context.Context, scheds []*schedule, now time.Time) {
	for _, s := range scheds {
		from := now
		if s.last.After(from) {
			from = s.last // the clock went back: a time already come does not come again
		}
		switch {
		case s.next.IsZero():
			s.next = s.when.next(from, b.loc)
			if !s.next.IsZero() {
				b.log.Debug("schedule next", "schedule", s.spec.When(), "do", s.spec.Do, "next", s.next.Format(time.RFC3339))
			}
			continue
		case s.next.After(now):
			if n := s.when.next(from, b.loc); !n.IsZero() && n.Before(s.next) {
				s.next = n // the clock went back
			}
			continue
		}
		late := now.Sub(s.next)
		if late > ScheduleTolerance {
			b.log.Warn("schedule skipped: its time passed while the daemon was stopped, the machine slept or the clock jumped",
				"schedule", s.spec.When(), "do", s.spec.Do, "due", s.next.Format(time.RFC3339), "late", late.Round(time.Second).String())
		} else if ctx.Err() == nil {
			r := b.Run(ctx, s.spec.Do, Caller{Local: true})
			b.log.Info("schedule ran", "schedule", s.spec.When(), "do", s.spec.Do, "due", s.next.Format(time.RFC3339),
				"ran", r.Ran, "reply", r.Reply)
		}
		s.last = s.next
		if now.After(from) {
			from = now
		}
		s.next = s.when.next(from, b.loc)
	}
}

// ListSchedules is the reply to "schedules" for a configuration's
// schedules, without a board (tweetpi do): each with its next run after
// now in loc.
func ListSchedules(list []config.Schedule, loc *time.Location, now time.Time) string {
	var scheds []*schedule
	for _, s := range list {
		w, err := parseWhen(s)
		if err != nil {
			continue // CheckConfig reports it
		}
		scheds = append(scheds, &schedule{spec: s, when: w})
	}
	return listSchedules(scheds, loc, now)
}

func listSchedules(scheds []*schedule, loc *time.Location, now time.Time) string {
	if len(scheds) == 0 {
		return "no schedules; they go under schedules: in the config"
	}
	parts := make([]string, len(scheds))
	for i, s := range scheds {
		next := s.when.next(now, loc)
		when := "never"
		if !next.IsZero() {
			when = dayWord(next.In(loc), now.In(loc))
		}
		parts[i] = fmt.Sprintf("%s %s, next %s", s.spec.Do, s.spec.When(), when)
	}
	return fit("schedules: " + strings.Join(parts, "; "))
}

// dayWord writes a time near now short: "today 14:00", "tomorrow 06:30",
// "Mon 06:30", "2026-03-29 03:00".
func dayWord(t, now time.Time) string {
	y1, m1, d1 := now.Date()
	y2, m2, d2 := t.Date()
	days := int(time.Date(y2, m2, d2, 0, 0, 0, 0, time.UTC).Sub(time.Date(y1, m1, d1, 0, 0, 0, 0, time.UTC)) / (24 * time.Hour))
	clock := t.Format("15:04")
	switch {
	case days == 0:
		return "today " + clock
	case days == 1:
		return "tomorrow " + clock
	case days > 1 && days < 7:
		return t.Format("Mon") + " " + clock
	}
	return t.Format("2006-01-02") + " " + clock
}
