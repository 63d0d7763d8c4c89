package config

import (
	"strings"
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {500 * time.Millisecond, "500ms"}, {1500 * time.Millisecond, "1.5s"},
		{30 * time.Second, "30s"}, {90 * time.Second, "1m30s"}, {10 * time.Minute, "10m"}, {2 * time.Hour, "2h"},
		{3*time.Hour + 12*time.Minute, "3h12m"}, {50 * time.Hour, "2d2h"}, {-time.Second, "-1s"},
		{5*time.Minute + 500*time.Millisecond, "5m0.5s"},
	} {
		if got := FormatDuration(tt.d); got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		s    string
		max  int
		want string
	}{
		{"led on", 10, "led on"},
		{"led on, pump off", 10, "led on…"},
		{"日本語のテキスト", 7, "日本…"}, // 2 each, and the ellipsis too
		{"abc", 1, ""},
	} {
		got := Truncate(tt.s, tt.max)
		if got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
		}
		if Weight(got) > tt.max {
			t.Errorf("Truncate(%q, %d) weighs %d", tt.s, tt.max, Weight(got))
		}
	}
	long := strings.Repeat("é🙂 ", 200)
	for max := 0; max < 300; max++ {
		if w := Weight(Truncate(long, max)); w > max {
			t.Fatalf("Truncate to %d weighs %d", max, w)
		}
	}
}
