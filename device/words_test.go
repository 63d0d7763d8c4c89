package device

import (
	"slices"
	"strings"
	"testing"

	"github.com/tweetpi/tweetpi/config"
)

// TestCommandWords ties the places the command words show: the verbs Parse
// takes, config's reserved names (which no device may be called) and the
// help text. A verb added to one and not the others fails here.
func TestCommandWords(t *testing.T) {
	specs := testSpecs()
	verbs := append([]string{VerbHelp}, allVerbs...)
	for _, v := range verbs {
		if !slices.Contains(config.ReservedWords, v) {
			t.Errorf("verb %q is not in config.ReservedWords: a device could be called it", v)
		}
	}
	help := Help(specs)
	for _, w := range config.ReservedWords {
		text := "led " + w
		switch w {
		case VerbHelp, VerbStatus, VerbYes, VerbSchedules:
			text = w
		case VerbPulse:
			text = "led pulse 1s"
		case VerbBlink:
			text = "led blink 2"
		case config.WordAll:
			text = "all off" // every device at once
		}
		if _, err := Parse(text, specs); err != nil {
			t.Errorf("reserved word %q: Parse(%q): %v", w, text, err)
		}
		if w != VerbHelp && !slices.Contains(strings.FieldsFunc(help, func(r rune) bool { return !('a' <= r && r <= 'z') }), w) {
			t.Errorf("help does not name %q: %s", w, help)
		}
		dev := []config.Device{{Name: w, Pin: "GPIO17", Kind: config.KindOutput}}
		if _, err := Open(dev, NewSim().Pin, Options{}); err == nil || !strings.Contains(err.Error(), "command word") {
			t.Errorf("a device named %q opened: %v", w, err)
		}
		if err := (&config.Config{Twitter: config.Default().Twitter, StateDir: "/x", GPIO: config.GPIO{Backend: "sim"}, Devices: dev}).Validate(); err == nil {
			t.Errorf("config accepts a device named %q", w)
		}
	}
}
