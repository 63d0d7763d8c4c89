package device

import (
	"strings"
	"testing"
)

// TestRefusalsNameDeviceAndWord: every refusal of a command on a device
// names the device and the word it could not take, so that a reply makes
// sense on its own ("fan 0.5" was answered "fan: no verb that word").
func TestRefusalsNameDeviceAndWord(t *testing.T) {
	for _, tc := range []struct {
		text, word, hint string
	}{
		{"fan 0.5", `"0.5"`, "50%"},
		{"fan 0.5%", `"0.5%"`, "whole"},
		{"fan 150%", `"150%"`, "0% to 100%"},
		{"fan -5%", "", "0% to 100%"},
		{"fan 40", `"40"`, "fan 40%"},
		{"led 40%", `"40%"`, "not pwm"},
		{"led pulse 5x", `"5x"`, "led pulse 30s"},
		{"led pulse soon", `"soon"`, "not a duration"},
		{"led pulse", `pulse`, "led pulse 30s"},
		{"led blink x", `"x"`, "1 to 100"},
		{"led blink 0", `"0"`, "1 to 100"},
		{"led blink", `blink`, "led blink 3"},
		{"led blink 3 10ms", "10ms", "50ms to 1m"},
		{"led blink 3 2s 5", `"5"`, "led blink 3 2s"},
		{"led on now", `"now"`, "led on"},
		{"fan 40% please", `"please"`, "fan 40%"},
		{"door on", `on`, "just its name"},
		{"led flash", `"flash"`, "say on, off"},
		{"pump pulse 10m", "10m", "max_on"},
	} {
		_, err := Parse(tc.text, testSpecs())
		if err == nil {
			t.Errorf("%q: parsed", tc.text)
			continue
		}
		dev := strings.Fields(tc.text)[0]
		msg := err.Error()
		if !strings.HasPrefix(msg, dev) {
			t.Errorf("%q: %q does not start with the device %s", tc.text, msg, dev)
		}
		if !strings.Contains(msg, tc.word) || !strings.Contains(msg, tc.hint) {
			t.Errorf("%q: %q lacks the word %s or the hint %q", tc.text, msg, tc.word, tc.hint)
		}
	}
}
