package device

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that the parser never panics, that its replies fit and
// carry no link or mention, and that a rejected text drives no pin.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"led on", "@mypi led on", "#status", "help", "pump pulse 30s", "led blink 3 200ms",
		"fan 40%", "led on; fan 50%, door\npump off", "lde on", "ｌｅｄ ｏｎ", "le\u200bd on",
		"led pulse 9999999999h", "fan 0100%", "on led", "https://t.co/x led on", "led blink 100 1m",
		"water toggle", ";;;,,\n", "@a @b", "led pulse 1.5s", "fan -0%",
	} {
		f.Add(s)
	}
	specs := testSpecs()
	f.Fuzz(func(t *testing.T, text string) {
		acts, err := Parse(text, specs)
		if err != nil {
			msg := err.Error()
			if len([]rune(msg)) > MaxReply || strings.Contains(msg, "@") || strings.Contains(msg, "://") || !utf8.ValidString(msg) {
				t.Fatalf("Parse(%q) reply %q", text, msg)
			}
		} else if len(acts) == 0 || len(acts) > MaxCommands {
			t.Fatalf("Parse(%q) = %d actions", text, len(acts))
		}

		sim := NewSim()
		b, oerr := Open(specs, sim.Pin, Options{ThermalPath: "/nonexistent", UserID: func(string) (string, bool) { return "1", true }})
		if oerr != nil {
			t.Fatal(oerr)
		}
		defer b.Close()
		before := sim.String()
		changes := 0
		for _, p := range []string{"GPIO17", "GPIO27", "GPIO18", "GPIO5"} {
			changes += sim.Get(p).Changes()
		}
		r := b.Run(t.Context(), text, Caller{ID: "1", Username: "alice"})
		if len([]rune(r.Reply)) > MaxReply {
			t.Fatalf("Run(%q) reply of %d characters", text, len([]rune(r.Reply)))
		}
		if (err != nil) != r.Rejected {
			t.Fatalf("Parse error %v but Run rejected %t", err, r.Rejected)
		}
		if r.Rejected {
			after := 0
			for _, p := range []string{"GPIO17", "GPIO27", "GPIO18", "GPIO5"} {
				after += sim.Get(p).Changes()
			}
			if r.Ran || after != changes || sim.String() != before {
				t.Fatalf("Run(%q) was rejected (%q) but pins changed: %s -> %s", text, r.Reply, before, sim.String())
			}
		}
	})
}
