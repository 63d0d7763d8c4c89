package device

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
)

// benchTexts are command texts as they arrive, handles and all.
var benchTexts = []struct{ name, text string }{
	{"on", "@mypi led on"},
	{"pwm", "@mypi fan 40%"},
	{"pulse_alias", "@mypi water pulse 30s"},
	{"several", "@mypi led on; fan 50%, pump pulse 10s\ndoor"},
	{"typo", "@mypi lde on"}, // the "did you mean led?" path
	{"link", "@mypi #led on https://t.co/abc"},
}

// BenchmarkParse is the command grammar alone.
func BenchmarkParse(b *testing.B) {
	specs := testSpecs()
	for _, tc := range benchTexts {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Parse(tc.text, specs)
			}
		})
	}
}

// BenchmarkRun is what the daemon's handler does with a command: parse,
// check the allow lists, set the pin (sim) and log "pin set" as JSON.
func BenchmarkRun(b *testing.B) {
	sim := NewSim()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	board, err := Open(testSpecs(), sim.Pin, Options{Logger: log, ThermalPath: filepath.Join(b.TempDir(), "no-thermal"), UserID: handles})
	if err != nil {
		b.Fatal(err)
	}
	defer board.Close()
	ctx := context.Background()
	for _, text := range []string{"@mypi led toggle", "@mypi fan 40%"} {
		b.Run(text[6:], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := board.Run(ctx, text, Caller{ID: "111", Username: "alice"}); !r.Ran {
					b.Fatalf("not run: %s", r.Reply)
				}
			}
		})
	}
}
