//go:build vmtest

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
)

// vmSet is one level the kernel was asked to drive, with its trace time.
type vmSet struct {
	line string
	v    int
	at   float64 // seconds since boot, the trace's clock
}

// timed are the levels that threads named comm set on the chip's lines
// since the last reset, in order, with the kernel's timestamps.
func (g *vmTrace) timed(t *testing.T, s *vmChip, comm string) []vmSet {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vmTracefs, "trace"))
	if err != nil {
		t.Fatal(err)
	}
	byOffset := map[int]string{}
	for name, n := range s.lines {
		byOffset[n] = name
	}
	var out []vmSet
	for _, l := range strings.Split(string(data), "\n") {
		// "  tweetpi-131  [000] .....  11.891234: gpio_value: 516 set 1"
		head, ev, ok := strings.Cut(l, ": gpio_value: ")
		if !ok || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		f := strings.Fields(head)
		if len(f) < 2 {
			continue
		}
		task := f[0]
		if i := strings.LastIndex(task, "-"); i < 0 || task[:i] != comm {
			continue
		}
		at, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		var gpioN, v int
		var op string
		if _, err := fmt.Sscanf(ev, "%d %s %d", &gpioN, &op, &v); err != nil || op != "set" {
			continue
		}
		if name, ok := byOffset[gpioN-g.base]; ok {
			out = append(out, vmSet{name, v, at})
		}
	}
	return out
}

// neverBoth fails if the kernel had a and b high at once, and returns the
// gap between a's last fall and b's first rise after it (-1 if none).
func neverBoth(t *testing.T, sets []vmSet, a, b string) float64 {
	t.Helper()
	level := map[string]int{}
	fell, gap := -1.0, -1.0
	for _, s := range sets {
		level[s.line] = s.v
		if level[a] == 1 && level[b] == 1 {
			t.Errorf("at %.6f the kernel drove %s and %s high together", s.at, a, b)
		}
		if s.line == a && s.v == 0 {
			fell = s.at
		}
		if s.line == b && s.v == 1 && fell >= 0 && gap < 0 {
			gap = s.at - fell
		}
	}
	return gap
}

// traceComm is the name the trace gives this test process's threads.
func traceComm() string {
	c, _ := os.ReadFile("/proc/self/comm")
	return strings.TrimSpace(string(c))
}

// Interlocks and all off on real lines: the kernel never drives the two
// lines of a group high together, and the second goes high only after
// the first has been low for interlock_wait, by the kernel's own clock.
func TestVMInterlockAndAllOff(t *testing.T) {
	s := vmGPIOSim(t)
	const wait = 300 * time.Millisecond
	b, err := device.Open([]config.Device{
		// This process's lines (periph keeps a line requested once it had
		// it); tweetpi do's test below uses HEATER and SIREN.
		{Name: "heater", Pin: "PUMP", Kind: config.KindOutput},
		{Name: "cooler", Pin: "BELL", Kind: config.KindOutput},
		{Name: "led", Pin: "LED", Kind: config.KindOutput},
	}, vmPins(t), device.Options{Interlocks: [][]string{{"heater", "cooler"}}, InterlockWait: wait})
	if err != nil {
		t.Fatalf("Open: %v\n%s", err, vmLineOwners())
	}
	defer b.Close()
	tr := vmStartTrace(t, s)
	tr.reset(t)

	vmRun(t, b, "heater on")
	s.wantLevel(t, "PUMP", 1, "heater on")
	if got := vmRun(t, b, "cooler on"); got != "cooler on (heater off first)" {
		t.Errorf("cooler on: %q", got)
	}
	s.wantLevel(t, "PUMP", 0, "cooler on")
	s.wantLevel(t, "BELL", 1, "cooler on")
	if got := vmRun(t, b, "heater pulse 1s"); got != "heater on for 1s (cooler off first)" {
		t.Errorf("heater pulse: %q", got)
	}
	s.wantLevel(t, "PUMP", 1, "heater pulse")
	s.wantLevel(t, "BELL", 0, "heater pulse")

	sets := tr.timed(t, s, traceComm())
	gap1, gap2 := neverBoth(t, sets, "PUMP", "BELL"), neverBoth(t, sets, "BELL", "PUMP")
	if gap1 < wait.Seconds() {
		t.Errorf("the kernel saw BELL rise %.3fs after PUMP fell, want %s or more", gap1, wait)
	}
	if gap2 < wait.Seconds() {
		t.Errorf("the kernel saw PUMP rise %.3fs after BELL fell, want %s or more", gap2, wait)
	}
	t.Logf("kernel's clock: cooler rose %.1fms after the heater fell, the heater %.1fms after the cooler (interlock_wait %s)", gap1*1000, gap2*1000, wait)

	vmRun(t, b, "led on")
	if got := vmRun(t, b, "all off"); got != "all off: heater, led" {
		t.Errorf("all off: %q", got)
	}
	for _, l := range []string{"PUMP", "BELL", "LED"} {
		s.wantLevel(t, l, 0, "all off")
	}
	time.Sleep(1200 * time.Millisecond) // past the cancelled pulse's end
	s.wantLevel(t, "PUMP", 0, "after the cancelled pulse's end")
	if got := b.Run(context.Background(), "all off", device.Caller{Local: true}).Reply; got != "all off: nothing was on" {
		t.Errorf("all off again: %q", got)
	}
}

// tweetpi do under an interlock opens the partner and drives it off before
// the named device goes on, in its own process.
func TestVMDoInterlock(t *testing.T) {
	s := vmGPIOSim(t)
	cfg := writeVMConfig(t, `  heater: {pin: HEATER, kind: output}
  cooler: {pin: SIREN, kind: output}
interlocks: [[heater, cooler]]
interlock_wait: 400ms
`)
	s.setPull(t, "HEATER", true) // as if the heater had been left on
	tr := vmStartTrace(t, s)
	tr.reset(t)
	// A pulse, so that do exits by itself: "cooler on" would hold the
	// line until Ctrl-C.
	c := vmTweetpi(t, "do", "-config", cfg, "cooler pulse 600ms")
	out, err := c.Output()
	if err != nil || strings.TrimSpace(string(out)) != "cooler on for 600ms" {
		t.Fatalf("tweetpi do cooler pulse 600ms: %v: %s", err, out)
	}
	sets := tr.timed(t, s, "tweetpi")
	gap := neverBoth(t, sets, "HEATER", "SIREN")
	if gap < 0.4 {
		t.Errorf("SIREN rose %.3fs after HEATER fell (trace %v), want 0.4s or more", gap, sets)
	}
	t.Logf("kernel's clock: SIREN rose %.1fms after HEATER fell (interlock_wait 400ms)", gap*1000)
	s.setPull(t, "HEATER", false)
}
