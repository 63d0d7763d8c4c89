package device

import (
	"strings"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/config"
)

func testSpecs() []config.Device {
	return []config.Device{
		{Name: "led", Pin: "GPIO17", Kind: config.KindOutput},
		{Name: "pump", Pin: "GPIO27", Kind: config.KindOutput, MaxOn: 5 * time.Minute, Aliases: []string{"water"}, Allow: []string{"@alice"}},
		{Name: "fan", Pin: "GPIO18", Kind: config.KindPWM, FrequencyHz: 25000},
		{Name: "door", Pin: "GPIO22", Kind: config.KindInput, Pull: "up", Notify: true, High: "open", Low: "closed", Debounce: 50 * time.Millisecond},
		{Name: "lamp", Pin: "GPIO5", Kind: config.KindOutput, ActiveLow: true, Initial: true},
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		text string
		want string // the actions' String()s joined by " | "
	}{
		{"led on", "led on"},
		{"LED ON", "led on"},
		{"@mypi led on", "led on"},
		{"@mypi @bob led off @mypi", "led off"},
		{"#status", "status"},
		{"help", "help"},
		{"led", "led"},
		{"led status", "led"},
		{"door", "door"},
		{"led toggle", "led toggle"},
		{"water on", "pump on"},
		{"pump pulse 30s", "pump pulse 30s"},
		{"pump pulse 1m30s", "pump pulse 1m30s"},
		{"led pulse 500ms", "led pulse 500ms"},
		{"pump pulse 5m", "pump pulse 5m"},
		{"led blink 3", "led blink 3 1s"},
		{"led blink 100 200ms", "led blink 100 200ms"},
		{"fan 40%", "fan 40%"},
		{"fan 0%", "fan 0%"},
		{"fan 100%", "fan 100%"},
		{"fan on", "fan on"},
		{"fan toggle", "fan toggle"},
		{"led on; fan 50%, pump pulse 10s\ndoor", "led on | fan 50% | pump pulse 10s | door"},
		{"led on;;", "led on"},
		{"@mypi led on https://t.co/abc", "led on"},
		{"ｌｅｄ ｏｎ", "led on"},           // full-width letters fold to ASCII
		{"led\u00a0on", "led on"},      // no-break space is a space
		{"led\u3000on", "led on"},      // ideographic space
		{"  led   on  \r\n", "led on"}, // spaces and CRLF
		{"led on.", "led on"},
		{"led?", "led"},
		{"pump off!!", "pump off"},
		{"led blink 2 1.5s.", "led blink 2 1.5s"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			acts, err := Parse(tt.text, testSpecs())
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.text, err)
			}
			var got []string
			for _, a := range acts {
				got = append(got, a.String())
			}
			if g := strings.Join(got, " | "); g != tt.want {
				t.Errorf("Parse(%q) = %q, want %q", tt.text, g, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		text string
		want string // the whole reply
	}{
		{"", `no command; say "help" for the commands`},
		{"@mypi", `no command; say "help" for the commands`},
		{"https://t.co/x", `no command; say "help" for the commands`},
		{"lde on", `no device "lde"; did you mean led?`},
		{"pmup on", `no device "pmup"; did you mean pump?`},
		{"watr on", `no device "watr"; did you mean water?`},
		{"stauts", `no device "stauts"; did you mean status?`},
		{"toaster on", `no device "toaster"; say help`},
		{"led onn", `led: no verb "onn"; did you mean led on?`},
		{"led blnk 3", `led: no verb "blnk"; did you mean led blink?`},
		{"led flash", `led: no verb "flash"; say on, off, toggle, pulse 30s or blink 3`},
		{"on led", `the device comes first: say led on`},
		{"door on", `door is an input: no "on"; say just its name`},
		{"fan pulse 3s", `fan is pwm: no "pulse"; say on, off, toggle or 0-100%`},
		{"led 50%", `led "50%": led is an output, not pwm; say on, off, toggle, pulse 30s or blink 3`},
		{"fan 101%", `fan "101%": pwm takes 0% to 100%`},
		{"fan -5%", `fan "-5%": pwm takes 0% to 100%`},
		{"fan 40", `fan "40": pwm takes a percent; say fan 40%`},
		{"fan 0.5", `fan "0.5": pwm takes a percent; say fan 50%`},
		{"fan 12.5%", `fan "12.5%": pwm takes whole percents, 0% to 100%`},
		{"led on now", `led on: "now" is one word too many; say led on`},
		{"led on now please", `led on: "now" and the words after it are too many; say led on`},
		{"help me", `help takes nothing after it`},
		{"pump pulse", `pump pulse: how long? say pump pulse 30s`},
		{"pump pulse 10m", `pump pulse 10m refused: it must be 10ms to 5m (pump's max_on)`},
		{"led pulse 25h", `led pulse 1d1h refused: it must be 10ms to 1d (the longest pulse)`},
		{"led pulse 1ms", `led pulse 1ms refused: it must be 10ms to 1d (the longest pulse)`},
		{"led pulse -1s", `led pulse "-1s": not a duration; say led pulse 30s, 1m30s or 500ms`},
		{"led pulse soon", `led pulse "soon": not a duration; say led pulse 30s, 1m30s or 500ms`},
		{"led blink", `led blink: how many times? say led blink 3`},
		{"led blink 0", `led blink "0": say a count from 1 to 100, like led blink 3`},
		{"led blink 101", `led blink "101": say a count from 1 to 100, like led blink 3`},
		{"led blink 3 10ms", `led blink period 10ms refused: it must be 50ms to 1m`},
		{"led blink 3 soon", `led blink 3 "soon": not a duration; say a period like led blink 3 500ms`},
		{"led on; lde off", `nothing run: command 2: no device "lde"; did you mean led?`},
		{"led on; led on; led on; led on; led on; led on; led on; led on; led on; led on; led on", `too many commands (11); at most 10 in one post`},
		{"le\u200bd on", `not understood: use plain letters and digits (no emoji or special characters)`},
		{"l\u0435d on", `not understood: use plain letters and digits (no emoji or special characters)`}, // Cyrillic e
		{"led on 👍", `not understood: use plain letters and digits (no emoji or special characters)`},
		{"@bob.example.com on", `no device "on"; say help`},
		{"bob.example.com on", `no device that word; say help`},
		{"http-x.co on", `no device that word; say help`},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			acts, err := Parse(tt.text, testSpecs())
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tt.text, acts)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%q) error\n got %q\nwant %q", tt.text, got, tt.want)
			}
			if strings.Contains(err.Error(), "@") || strings.Contains(err.Error(), "http") || len(err.Error()) > MaxReply {
				t.Errorf("reply %q has a mention or link, or is too long", err)
			}
		})
	}
}

func TestParseBlinkMaxOn(t *testing.T) {
	specs := []config.Device{{Name: "bell", Pin: "P1", Kind: config.KindOutput, MaxOn: 100 * time.Millisecond}}
	if _, err := Parse("bell blink 2 200ms", specs); err != nil {
		t.Errorf("bell blink 2 200ms: %v", err)
	}
	_, err := Parse("bell blink 2 1s", specs)
	if err == nil || !strings.Contains(err.Error(), "max_on") {
		t.Errorf("bell blink 2 1s: error %v, want a max_on refusal", err)
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"led", "led", 0}, {"lde", "led", 1}, {"le", "led", 1},
		{"pmup", "pump", 1}, {"kitten", "sitting", 3}, {"", "abc", 3},
	}
	for _, tt := range tests {
		if got := config.EditDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestFmtDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {500 * time.Millisecond, "500ms"}, {1500 * time.Millisecond, "1.5s"},
		{30 * time.Second, "30s"}, {90 * time.Second, "1m30s"}, {2 * time.Hour, "2h"},
		{3*time.Hour + 12*time.Minute, "3h12m"}, {50 * time.Hour, "2d2h"},
	}
	for _, tt := range tests {
		if got := fmtDuration(tt.d); got != tt.want {
			t.Errorf("fmtDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
