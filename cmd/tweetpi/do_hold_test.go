package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// TestDoHoldsTheLine: on real pins `tweetpi do "led on"` (the README's
// wiring test) holds the line until Ctrl-C, saying so: with the README's
// dtparam=strict_gpiod the kernel releases a line when its process exits,
// so returning at once would turn the LED off again. Ctrl-C turns it off
// and is not a failure. A command that leaves nothing on returns at once.
func TestDoHoldsTheLine(t *testing.T) {
	pins := fakeBoard(t)
	cfg := writeConfig(t, `devices:
  led:  {pin: GPIO17, kind: output}
  fan:  {pin: GPIO18, kind: pwm}
`)
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var stdout, stderr bytes.Buffer
		done := make(chan error)
		go func() {
			done <- run(ctx, []string{"do", "-config", cfg, "led on"}, noEnv, nil, &stdout, &stderr)
		}()
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("do returned (%v) with the led on; stderr %q", err, stderr.String())
		default:
		}
		if l := pins["GPIO17"].Read(); l != gpio.High {
			t.Errorf("GPIO17 is %s while held, want High", l)
		}
		if want := "holding: led on until Ctrl-C"; !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q does not say %q", stderr.String(), want)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Ctrl-C while holding: %v, want no error", err)
		}
		if l := pins["GPIO17"].Read(); l != gpio.Low {
			t.Errorf("GPIO17 is %s after Ctrl-C, want Low", l)
		}
		if !strings.Contains(stdout.String(), "led off") {
			t.Errorf("stdout %q does not say the led is off", stdout.String())
		}
	})
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		_, stderr, code := runCmd(t.Context(), "do", "-config", cfg, "led off; fan 0%")
		if code != 0 || time.Since(start) != 0 || strings.Contains(stderr, "holding") {
			t.Errorf("led off: exit %d after %s, stderr %q; want 0 at once", code, time.Since(start), stderr)
		}
	})
}
