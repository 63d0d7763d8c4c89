package bot

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tweetpi/tweetpi/config"
)

// WriteText writes st for a person, as `tweetpi status` prints it; times
// are local, now is the time it is read.
func (st *Status) WriteText(w io.Writer, now time.Time) error {
	var b strings.Builder
	at := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		if y, m, d := t.Local().Date(); y == now.Local().Year() && m == now.Local().Month() && d == now.Local().Day() {
			return t.Local().Format("15:04:05")
		}
		return t.Local().Format("2006-01-02 15:04:05")
	}
	fmt.Fprintf(&b, "tweetpi %s (pid %d), up %s", st.Version, st.PID, config.FormatDuration(time.Duration(st.UptimeSeconds)*time.Second))
	if st.Account != "" && st.Account != "@" {
		fmt.Fprintf(&b, ", account %s (api %s)", st.Account, st.API)
	}
	b.WriteString("\n")
	if age := now.Sub(st.Updated); age > StatusEvery+5*time.Second {
		fmt.Fprintf(&b, "as of %s (%s ago: off a tmpfs the file is written only when something that matters changes)\n", at(st.Updated), age.Round(time.Second))
	}
	if d := st.Delivery; d != nil {
		mode := "polls"
		if d.Mode == DeliveryStream {
			mode = "the X Activity API stream, with polls to reconcile"
		}
		fmt.Fprintf(&b, "delivery: %s, since %s\n", mode, at(d.Since))
	} else if st.API == "" {
		b.WriteString("delivery: none (no twitter: section: the devices are on MQTT only)\n")
	} else {
		b.WriteString("delivery: starting (waiting for a sane clock or the account)\n")
	}
	for _, in := range st.Inboxes {
		fmt.Fprintf(&b, "%-9s last poll %s (%d new), next %s", in.Inbox+":", at(in.LastPoll), in.LastNew, at(in.NextPoll))
		if in.LastError != "" {
			fmt.Fprintf(&b, "; failing (%d in a row): %s", in.Failures, in.LastError)
		}
		b.WriteString("\n")
	}
	if len(st.RateLimits) > 0 {
		b.WriteString("rate limits:\n")
		for _, l := range st.RateLimits {
			fmt.Fprintf(&b, "  %-22s %d of %d left, resets %s", l.Endpoint, l.Remaining, l.Limit, at(l.Reset))
			if l.DayLimit > 0 {
				fmt.Fprintf(&b, "; %d of %d left for 24 h, resets %s", l.DayRemaining, l.DayLimit, at(l.DayReset))
			}
			b.WriteString("\n")
		}
	}
	if c := st.Commands; c != nil {
		var parts []string
		for _, r := range Results {
			parts = append(parts, fmt.Sprintf("%d %s", c.Today[r], strings.ReplaceAll(r, "_", " ")))
		}
		fmt.Fprintf(&b, "commands today (UTC %s): %s\n", c.Day, strings.Join(parts, ", "))
	}
	if s := st.Spend; s != nil {
		fmt.Fprintf(&b, "spend (estimated): today %s", FormatUSD(s.TodayUSD))
		if s.DailyBudgetUSD > 0 {
			fmt.Fprintf(&b, " of budget.daily %s", FormatUSD(s.DailyBudgetUSD))
			if s.Capped {
				b.WriteString(" (reached: replies withheld until 00:00 UTC)")
			}
		}
		fmt.Fprintf(&b, ", this month %s (UTC %s)\n", FormatUSD(s.MonthUSD), s.Month)
	}
	if m := st.MQTT; m != nil {
		state := "not connected"
		if m.Connected {
			state = "connected"
		}
		fmt.Fprintf(&b, "mqtt: %s to %s as node %s, since %s", state, m.Broker, m.Node, at(m.Since))
		if len(m.Offline) > 0 {
			fmt.Fprintf(&b, "; offline nodes: %s", strings.Join(m.Offline, ", "))
		}
		b.WriteString("\n")
	}
	var devs []string
	for _, d := range st.Devices {
		s := d.Name + " " + d.State
		if d.Node != "" {
			s = d.Name + " (" + d.Node + ") " + d.State
		}
		devs = append(devs, s)
	}
	if len(devs) == 0 {
		devs = []string{"none"}
	}
	fmt.Fprintf(&b, "devices: %s\n", strings.Join(devs, ", "))
	if st.StateWriteErrors > 0 {
		fmt.Fprintf(&b, "state file: %d writes failed (see journalctl -u tweetpi)\n", st.StateWriteErrors)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
