package device

import (
	"testing"
	"time"
)

// FuzzCron feeds parseCron any text: it must never panic, and a schedule
// it takes must give a next run after its start, or none.
func FuzzCron(f *testing.F) {
	for _, s := range []string{"0 6 * * *", "*/15 * * * *", "0 */2 * * 1-5", "30 6 1,15 jan-mar mon", "@daily", "0 0 29 2 *", "5-50/5 8-18 * * MON-FRI", "0 0 * * 7", "*/0 * * * *", "- - - - -"} {
		f.Add(s)
	}
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Fatal(err)
	}
	start := time.Date(2025, 10, 25, 12, 0, 0, 0, loc)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCron(s)
		if err != nil {
			return
		}
		at := start
		for range 3 {
			n := c.next(at, loc)
			if n.IsZero() {
				return
			}
			if !n.After(at) {
				t.Fatalf("%q: next after %s is %s", s, at, n)
			}
			at = n
		}
	})
}
