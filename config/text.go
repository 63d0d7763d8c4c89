package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The text rules the packages above config share: how a duration is
// written and how long a text is as X counts it. They live here because
// config is the one package both the device and the X sides import.

// FormatDuration writes a duration short, the way a person writes it: 30s,
// 1m30s, 500ms, 1.5s, 10m, 2h, 3h12m, and days past 24 hours: 2d3h. It is
// the one duration format of tweetpi's messages and replies.
func FormatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + FormatDuration(-d)
	case d == 0:
		return "0s"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d%time.Second != 0 && d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	case d%time.Second != 0:
		return d.String() // keep the fraction: 5m0.5s
	}
	var b strings.Builder
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		d -= days * 24 * time.Hour
	}
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
		d -= m * time.Minute
	}
	if s := d / time.Second; s > 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}

// Weight is a text's length as X counts it for the 280 of a post
// (approximately: code points in the Latin, general punctuation and similar
// ranges weigh 1, others, such as CJK and emoji, 2).
func Weight(s string) int {
	n := 0
	for _, r := range s {
		n += runeWeight(r)
	}
	return n
}

func runeWeight(r rune) int {
	switch {
	case r <= 0x10FF, r >= 0x2000 && r <= 0x200D, r >= 0x2010 && r <= 0x201F, r >= 0x2032 && r <= 0x2037:
		return 1
	}
	return 2
}

// Truncate cuts s to a Weight of at most max, ending with "…" (which
// weighs 2) when it cuts, after dropping the spaces and list separators (, ;) the cut
// leaves at the end. It is the one truncation of replies: the device's
// (MaxReply) and the post's (280 with its time stamp).
func Truncate(s string, max int) string {
	if Weight(s) <= max {
		return s
	}
	const ellipsis = "…"
	if max < Weight(ellipsis) {
		return ""
	}
	n := 0
	for i, r := range s {
		if n+runeWeight(r)+runeWeight('…') > max {
			return strings.TrimRight(s[:i], " ,;") + ellipsis
		}
		n += runeWeight(r)
	}
	return s
}
