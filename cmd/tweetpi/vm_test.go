//go:build vmtest

// These tests drive real Linux GPIO character devices: the lines of the
// kernel's gpio-sim driver, inside the VM that deploy/vmtest/run.sh boots.
// Each one acts through periph (the backend tweetpi ships) and checks the
// kernel's side of the line in sysfs, where gpio-sim shows the level a
// requested output drives and lets the test set the pull an input reads.
//
// They need the chip that deploy/vmtest/init makes (TWEETPI_GPIOSIM names its
// configfs directory) and skip without it; `go test ./...` never builds them.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
)

// simChip is the gpio-sim chip: where each named line shows its level.
type simChip struct {
	name  string         // gpiochipN
	dir   string         // /sys/devices/platform/<dev_name>/<chip_name>
	lines map[string]int // line name -> offset
}

var (
	simOnce sync.Once
	sim     *simChip
	simErr  error
)

// gpioSim returns the chip the VM's /init made, or skips the test.
func gpioSim(t *testing.T) *simChip {
	t.Helper()
	cfs := os.Getenv("TWEETPI_GPIOSIM")
	if cfs == "" {
		t.Skip("no gpio-sim chip: run these through deploy/vmtest/run.sh")
	}
	simOnce.Do(func() { sim, simErr = readSim(cfs) })
	if simErr != nil {
		t.Fatal(simErr)
	}
	return sim
}

func readSim(cfs string) (*simChip, error) {
	read := func(p string) (string, error) {
		b, err := os.ReadFile(p)
		return strings.TrimSpace(string(b)), err
	}
	dev, err := read(filepath.Join(cfs, "dev_name"))
	if err != nil {
		return nil, err
	}
	chip, err := read(filepath.Join(cfs, "bank0", "chip_name"))
	if err != nil {
		return nil, err
	}
	s := &simChip{name: chip, dir: filepath.Join("/sys/devices/platform", dev, chip), lines: map[string]int{}}
	dirs, err := filepath.Glob(filepath.Join(cfs, "bank0", "line*"))
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "line"))
		if err != nil {
			continue
		}
		name, err := read(filepath.Join(d, "name"))
		if err != nil {
			return nil, err
		}
		s.lines[name] = n
	}
	return s, nil
}

func (s *simChip) path(t *testing.T, line, file string) string {
	t.Helper()
	n, ok := s.lines[line]
	if !ok {
		t.Fatalf("gpio-sim has no line %s", line)
	}
	return filepath.Join(s.dir, fmt.Sprintf("sim_gpio%d", n), file)
}

// level is what the kernel sees on the line: the driven level of a
// requested output, else the pull.
func (s *simChip) level(t *testing.T, line string) int {
	t.Helper()
	b, err := os.ReadFile(s.path(t, line, "value"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s value %q: %v", line, b, err)
	}
	return v
}

// wantLevel fails unless the kernel sees want on line.
func (s *simChip) wantLevel(t *testing.T, line string, want int, when string) {
	t.Helper()
	if got := s.level(t, line); got != want {
		t.Errorf("%s: kernel level of %s is %d, want %d", when, line, got, want)
	}
}

// awaitLevel waits up to d for the kernel to see want on line.
func (s *simChip) awaitLevel(t *testing.T, line string, want int, d time.Duration, when string) {
	t.Helper()
	end := time.Now().Add(d)
	for {
		got := s.level(t, line)
		if got == want {
			return
		}
		if time.Now().After(end) {
			t.Errorf("%s: kernel level of %s still %d after %s, want %d", when, line, got, d, want)
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// setPull drives an input from the outside, as a switch or a sensor would.
func (s *simChip) setPull(t *testing.T, line string, up bool) {
	t.Helper()
	p := "pull-down"
	if up {
		p = "pull-up"
	}
	if err := os.WriteFile(s.path(t, line, "pull"), []byte(p), 0); err != nil {
		t.Fatalf("%s: set %s: %v", line, p, err)
	}
}

func (s *simChip) pull(t *testing.T, line string) string {
	t.Helper()
	b, err := os.ReadFile(s.path(t, line, "pull"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

var (
	pinsOnce sync.Once
	pins     device.PinSource
	pinsErr  error
)

// vmPins is the pin source tweetpi uses with `gpio: {backend: periph}`:
// periph's host drivers, then gpioreg by name.
func vmPins(t *testing.T) device.PinSource {
	t.Helper()
	pinsOnce.Do(func() {
		pins, pinsErr = periphPins(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	})
	if pinsErr != nil {
		t.Fatal(pinsErr)
	}
	return pins
}

// openBoard opens devs on the periph pins and closes the board when the
// test ends.
func openBoard(t *testing.T, devs ...config.Device) *device.Board {
	t.Helper()
	gpioSim(t)
	b, err := device.Open(devs, vmPins(t), device.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// run runs a command as a person at the device and fails unless it ran.
func mustRun(t *testing.T, b *device.Board, text string) string {
	t.Helper()
	r := b.Run(context.Background(), text, device.Caller{Local: true})
	if !r.Ran || r.Rejected {
		t.Fatalf("%q: %+v, want it run", text, r)
	}
	return r.Reply
}

func waitJobs(t *testing.T, b *device.Board, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := b.Wait(ctx); err != nil {
		t.Fatalf("jobs still running after %s: %s", d, b.Pending())
	}
}

func TestVMOnOffToggle(t *testing.T) {
	s := gpioSim(t)
	b := openBoard(t, config.Device{Name: "led", Pin: "LED", Kind: config.KindOutput})
	s.wantLevel(t, "LED", 0, "opened with initial off")
	for _, c := range []struct {
		cmd  string
		want int
	}{
		{"led on", 1},
		{"led off", 0},
		{"led toggle", 1},
		{"LED TOGGLE", 0},
		{"led on; led off; led on", 1},
	} {
		mustRun(t, b, c.cmd)
		s.wantLevel(t, "LED", c.want, c.cmd)
	}
	if got := b.Run(context.Background(), "led", device.Caller{Local: true}).Reply; got != "led is on" {
		t.Errorf("state: got %q, want %q", got, "led is on")
	}
}

func TestVMPulseAndMaxOn(t *testing.T) {
	s := gpioSim(t)
	b := openBoard(t, config.Device{Name: "pump", Pin: "PUMP", Kind: config.KindOutput, MaxOn: 700 * time.Millisecond})

	t0 := time.Now()
	mustRun(t, b, "pump pulse 400ms")
	s.wantLevel(t, "PUMP", 1, "pulse started")
	waitJobs(t, b, 10*time.Second)
	if el := time.Since(t0); el < 400*time.Millisecond {
		t.Errorf("pulse 400ms ended after %s", el)
	}
	s.wantLevel(t, "PUMP", 0, "pulse over")

	t0 = time.Now()
	mustRun(t, b, "pump on")
	s.wantLevel(t, "PUMP", 1, "on with max_on")
	waitJobs(t, b, 10*time.Second)
	if el := time.Since(t0); el < 700*time.Millisecond {
		t.Errorf("max_on 700ms turned it off after %s", el)
	}
	s.wantLevel(t, "PUMP", 0, "after max_on")

	// A new command cancels a running pulse.
	mustRun(t, b, "pump pulse 600ms")
	mustRun(t, b, "pump off")
	time.Sleep(800 * time.Millisecond)
	s.wantLevel(t, "PUMP", 0, "pulse cancelled by off")
	mustRun(t, b, "pump pulse 600ms")
	mustRun(t, b, "pump on")
	time.Sleep(650 * time.Millisecond)
	s.wantLevel(t, "PUMP", 1, "pulse cancelled by on, max_on not yet over")
	waitJobs(t, b, 10*time.Second)
	s.wantLevel(t, "PUMP", 0, "after max_on")
}

func TestVMBlink(t *testing.T) {
	s := gpioSim(t)
	b := openBoard(t, config.Device{Name: "bell", Pin: "BELL", Kind: config.KindOutput})
	mustRun(t, b, "bell blink 3 400ms")
	// Count the rising edges the kernel sees: one sample every 2ms against
	// 200ms halves.
	rises, last := 0, 0
	end := time.Now().Add(10 * time.Second)
	done := make(chan struct{})
	go func() { _ = b.Wait(context.Background()); close(done) }()
	for busy := true; busy && time.Now().Before(end); {
		select {
		case <-done:
			busy = false
		default:
		}
		v := s.level(t, "BELL")
		if v == 1 && last == 0 {
			rises++
		}
		last = v
		time.Sleep(2 * time.Millisecond)
	}
	if rises != 3 {
		t.Errorf("blink 3: kernel saw %d rising edges, want 3", rises)
	}
	s.wantLevel(t, "BELL", 0, "blink over")
}

func TestVMPWMRefused(t *testing.T) {
	s := gpioSim(t)
	devs := []config.Device{
		{Name: "led", Pin: "LED", Kind: config.KindOutput, Initial: true},
		{Name: "lamp", Pin: "LAMP", Kind: config.KindOutput, ActiveLow: true, Initial: true},
		{Name: "fan", Pin: "FAN", Kind: config.KindPWM, FrequencyHz: 25000},
	}
	b, err := device.Open(devs, vmPins(t), device.Options{})
	if err == nil {
		b.Close()
		t.Fatal("Open of a pwm on a gpio-cdev line succeeded; want it refused")
	}
	msg := err.Error()
	for _, want := range []string{"fan", "FAN", "PWM", "kind: output"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	// What it had set before the pwm went back to the safe level.
	s.wantLevel(t, "LED", 0, "after the refused Open")
	s.wantLevel(t, "LAMP", 1, "after the refused Open (active_low)")
}

func TestVMActiveLow(t *testing.T) {
	s := gpioSim(t)
	b := openBoard(t, config.Device{Name: "lamp", Pin: "LAMP", Kind: config.KindOutput, ActiveLow: true})
	s.wantLevel(t, "LAMP", 1, "opened off (active_low)")
	mustRun(t, b, "lamp on")
	s.wantLevel(t, "LAMP", 0, "lamp on (active_low)")
	mustRun(t, b, "lamp toggle")
	s.wantLevel(t, "LAMP", 1, "lamp toggled off (active_low)")
	mustRun(t, b, "lamp pulse 300ms")
	s.wantLevel(t, "LAMP", 0, "pulse on (active_low)")
	waitJobs(t, b, 10*time.Second)
	s.wantLevel(t, "LAMP", 1, "pulse over (active_low)")
}

func TestVMSafeAfterClose(t *testing.T) {
	s := gpioSim(t)
	b, err := device.Open([]config.Device{
		{Name: "led", Pin: "LED", Kind: config.KindOutput, Initial: true},
		{Name: "lamp", Pin: "LAMP", Kind: config.KindOutput, ActiveLow: true, Initial: true},
		{Name: "bell", Pin: "BELL", Kind: config.KindOutput},
	}, vmPins(t), device.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.wantLevel(t, "LED", 1, "opened with initial on")
	s.wantLevel(t, "LAMP", 0, "opened with initial on (active_low)")
	mustRun(t, b, "bell blink 50 1s")
	s.wantLevel(t, "BELL", 1, "blinking")

	if err := b.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
	s.wantLevel(t, "LED", 0, "after Halt")
	s.wantLevel(t, "LAMP", 1, "after Halt (active_low)")
	s.wantLevel(t, "BELL", 0, "after Halt stopped the blink")

	mustRun(t, b, "led on, lamp on, bell pulse 5s")
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s.wantLevel(t, "LED", 0, "after Close")
	s.wantLevel(t, "LAMP", 1, "after Close (active_low)")
	s.wantLevel(t, "BELL", 0, "after Close stopped the pulse")
	time.Sleep(1200 * time.Millisecond) // a blink or pulse step would have come by now
	s.wantLevel(t, "BELL", 0, "a while after Close")
	if r := b.Run(context.Background(), "led on", device.Caller{Local: true}); r.Ran {
		t.Errorf("a closed board ran %q: %+v", "led on", r)
	}
	s.wantLevel(t, "LED", 0, "command after Close")
}

func TestVMInputs(t *testing.T) {
	s := gpioSim(t)
	b := openBoard(t,
		config.Device{Name: "door", Pin: "DOOR", Kind: config.KindInput, Pull: "up", High: "open", Low: "closed"},
		config.Device{Name: "button", Pin: "BUTTON", Kind: config.KindInput, Pull: "down", High: "pressed", Low: "released"},
	)
	// The configured pulls reached the kernel.
	if got := s.pull(t, "DOOR"); got != "pull-up" {
		t.Errorf("DOOR pull after Open: %s, want pull-up", got)
	}
	if got := s.pull(t, "BUTTON"); got != "pull-down" {
		t.Errorf("BUTTON pull after Open: %s, want pull-down", got)
	}
	state := func(dev string) string {
		return b.Run(context.Background(), dev, device.Caller{Local: true}).Reply
	}
	if got, want := state("door"), "door is open"; got != want {
		t.Errorf("door pulled up by its config: %q, want %q", got, want)
	}
	if got, want := state("button"), "button is released"; got != want {
		t.Errorf("button pulled down by its config: %q, want %q", got, want)
	}
	for _, c := range []struct {
		line, dev string
		up        bool
		want      string
	}{
		{"DOOR", "door", false, "door is closed"},
		{"DOOR", "door", true, "door is open"},
		{"BUTTON", "button", true, "button is pressed"},
		{"BUTTON", "button", false, "button is released"},
	} {
		s.setPull(t, c.line, c.up)
		if got := state(c.dev); got != c.want {
			t.Errorf("%s pulled up=%v: %q, want %q", c.line, c.up, got, c.want)
		}
	}
	s.setPull(t, "DOOR", false)
	s.setPull(t, "BUTTON", true)
	st := state("status")
	if !strings.Contains(st, "door closed") || !strings.Contains(st, "button pressed") {
		t.Errorf("status %q: want door closed and button pressed", st)
	}
}

func TestVMNotify(t *testing.T) {
	s := gpioSim(t)
	const debounce = 150 * time.Millisecond
	b := openBoard(t, config.Device{Name: "door", Pin: "DOOR", Kind: config.KindInput, Pull: "up", Notify: true,
		High: "open", Low: "closed", Debounce: debounce})
	ev := b.Events()
	next := func(d time.Duration) (device.Event, bool) {
		select {
		case e, ok := <-ev:
			return e, ok
		case <-time.After(d):
			return device.Event{}, false
		}
	}
	time.Sleep(300 * time.Millisecond) // the watcher has read the start level

	t0 := time.Now()
	s.setPull(t, "DOOR", false)
	e, ok := next(5 * time.Second)
	if !ok || e.String() != "door: closed" || e.Level != gpio.Low {
		t.Fatalf("after the door closed: event %+v (ok %v), want door: closed", e, ok)
	}
	if el := time.Since(t0); el < debounce {
		t.Errorf("event %s after the edge, before the debounce time %s", el, debounce)
	}

	// A bouncing contact: several edges faster than the debounce time give
	// one event with the level it settles at.
	for _, up := range []bool{true, false, true, false, true} {
		s.setPull(t, "DOOR", up)
	}
	e, ok = next(5 * time.Second)
	if !ok || e.String() != "door: open" {
		t.Fatalf("after bouncing open: event %+v (ok %v), want door: open", e, ok)
	}
	if e, ok := next(3 * debounce); ok {
		t.Errorf("a second event after one settled change: %+v", e)
	}

	// A bounce that settles where it started is no change.
	for _, up := range []bool{false, true} {
		s.setPull(t, "DOOR", up)
	}
	if e, ok := next(3 * debounce); ok {
		t.Errorf("an event for a bounce back to open: %+v", e)
	}
	b.Close()
	if _, ok := <-ev; ok {
		t.Error("Events still open after Close")
	}
}
