package main

import (
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"

	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// TestCheckPinsOnABoard: with the periph backend, check refuses the pin
// names this board does not have, with their line and the name meant. The
// board is gpiotest pins in periph's registry, as a Pi's GPIO0-GPIO27.
func TestCheckPinsOnABoard(t *testing.T) {
	fakeBoard(t)
	path := writeFile(t, t.TempDir(), "config.yaml", `devices:
  led:  {pin: GPIO17, kind: output}
  pump: {pin: GPIO99, kind: output}
  fan:  {pin: "GPIO 18", kind: output}
  door: {pin: pin 15, kind: input}
`, 0o600)
	code, stdout, stderr := checkRun(t, nil, "-config", path)
	if code != 1 || stdout != "" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	want := strings.Join([]string{
		"tweetpi: " + path + `:3: devices.pump.pin: "GPIO99" is not a pin of this board: its GPIO pins are GPIO0 to GPIO27 (tweetpi pins lists them all)`,
		path + `:4: devices.fan.pin: "GPIO 18" is not a pin name; did you mean GPIO18?`,
		path + `:5: devices.door.pin: "pin 15" is a header pin number, not a pin name: on a Raspberry Pi header pin 15 is GPIO22; write GPIO22`,
	}, "\n") + "\n"
	if stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
	}
}

// TestE2ECheckPinNames: the binary's check refuses, on the sim backend, a
// pin name periph would refuse on a Pi, and names the pin meant.
func TestE2ECheckPinNames(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	path := writeFile(t, t.TempDir(), "config.yaml", "gpio: {backend: sim}\ndevices:\n  led: {pin: GPIO 17, kind: output}\n", 0o600)
	out, err := exec.Command(tweetpiBinary(t), "check", "-config", path).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1: %s", err, out)
	}
	if want := path + `:3: devices.led.pin: "GPIO 17" is not a pin name; did you mean GPIO17?`; !strings.Contains(string(out), want) {
		t.Errorf("output %q lacks %q", out, want)
	}
}

// fakeBoard puts gpiotest pins GPIO0-GPIO27 in periph's registry, as a
// Pi's header, until the test ends; it skips on a machine with pins of its
// own. Tests that use it must not run in parallel.
func fakeBoard(t *testing.T) map[string]*gpiotest.Pin {
	t.Helper()
	if err := initPeriph(cmdLogger(io.Discard, false)); err != nil {
		t.Fatal(err)
	}
	if len(gpioreg.All()) > 0 {
		t.Skip("this machine has GPIO pins of its own")
	}
	pins := map[string]*gpiotest.Pin{}
	for i := range 28 {
		name := fmt.Sprintf("GPIO%d", i)
		p := &gpiotest.Pin{N: name, Num: i}
		if err := gpioreg.Register(p); err != nil {
			t.Fatal(err)
		}
		pins[name] = p
		t.Cleanup(func() { gpioreg.Unregister(name) })
	}
	return pins
}
