package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestPinNames: pin names periph would refuse are refused at load, with
// the name meant, on the sim backend (the shape of periph's names) and on
// the periph backend (the board's own pins, when known).
func TestPinNames(t *testing.T) {
	var pi []string // a Raspberry Pi 4 as periph sees it: GPIO0-GPIO57 and some line names
	for i := range 58 {
		pi = append(pi, fmt.Sprintf("GPIO%d", i))
	}
	pi = append(pi, "ID_SDA", "SPI_CE0_N", "STATUS_LED")
	for _, tc := range []struct {
		backend string
		board   []string
		pin     string
		want    string // "" when it loads
	}{
		{"sim", nil, "GPIO17", ""},
		{"sim", nil, "GPIO0", ""},
		{"sim", nil, "LED_LINE", ""}, // a line name: the shape is right
		{"sim", nil, "GPIO 17", `"GPIO 17" is not a pin name; did you mean GPIO17?`},
		{"sim", nil, "gpio17", "did you mean GPIO17?"},
		{"sim", nil, "GPIO017", "did you mean GPIO17?"},
		{"sim", nil, "BCM17", "did you mean GPIO17?"},
		{"sim", nil, "GPIO_17", "did you mean GPIO17?"},
		{"sim", nil, "pin 11", `"pin 11" is a header pin number, not a pin name: on a Raspberry Pi header pin 11 is GPIO17; write GPIO17`},
		{"sim", nil, "P1_11", "header pin 11 is GPIO17; write GPIO17"},
		{"sim", nil, "pin 6", "header pin 6 is ground, not a GPIO"},
		{"sim", nil, "17", `"17" is a bare number; periph names pins GPIOn: write GPIO17 for GPIO 17 (header pin 17 is 3.3V power on a Raspberry Pi)`},
		{"sim", nil, "11", "write GPIO11 for GPIO 11, or GPIO17 if you mean header pin 11"},
		{"sim", nil, "my pin", "is not a pin name: periph names pins like GPIO17, or by their kernel line name"},
		{"sim", nil, "“GPIO17”", "is not a pin name"},
		{"periph", nil, "GPIO99", ""}, // no board known: the shape only
		{"periph", nil, "GPIO 17", "did you mean GPIO17?"},
		{"periph", pi, "GPIO17", ""},
		{"periph", pi, "SPI_CE0_N", ""},
		{"periph", pi, "GPIO99", `"GPIO99" is not a pin of this board: its GPIO pins are GPIO0 to GPIO57 (tweetpi pins lists them all)`},
		{"periph", pi, "GPIO 17", "did you mean GPIO17?"},
		{"periph", pi, "pin 11", "write GPIO17"},
		{"periph", pi, "spi_ce0_n", "is not a pin of this board; did you mean SPI_CE0_N?"},
		{"periph", pi, "SPI_CE0", "did you mean SPI_CE0_N?"},
		{"periph", pi, "LED", "is not a pin of this board; it has GPIO0, GPIO1"},
		{"periph", []string{"GPIO2", "GPIO3"}, "pin 11", "is not a pin of this board"}, // GPIO17 is not on it: not offered
	} {
		t.Run(tc.backend+" "+tc.pin, func(t *testing.T) {
			data := fmt.Sprintf("gpio: {backend: %s}\ndevices:\n  led: {pin: %q, kind: output}\n", tc.backend, tc.pin)
			calls := 0
			opt := Options{Pins: func() []string { calls++; return tc.board }}
			_, err := Parse("c.yaml", []byte(data), opt)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("%v", err)
			case tc.want != "" && err == nil:
				t.Errorf("%q loads; want %q", tc.pin, tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), "c.yaml:3: devices.led.pin: "+tc.want) && !strings.Contains(err.Error(), tc.want):
				t.Errorf("%v\nwant %q", err, tc.want)
			}
			if len(tc.board) == 2 && err != nil && strings.Contains(err.Error(), "GPIO17") {
				t.Errorf("suggests a pin the board does not have: %v", err)
			}
			if want := map[string]int{"sim": 0, "periph": 1}[tc.backend]; calls != want {
				t.Errorf("Options.Pins called %d times, want %d", calls, want)
			}
		})
	}
}
