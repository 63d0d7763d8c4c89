package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Pin names, checked at load the way periph names pins: GPIOn (the number
// the SoC gives the line, BCM numbering on a Raspberry Pi) or a kernel line
// name. On the periph backend, when the caller knows the board's pins
// (Options.Pins), a pin must be one of them; otherwise (the sim backend, or
// a machine where periph sees no pins) only the shape is checked: GPIOn
// written exactly so, or a line name with no spaces or quotes. The common
// slips get the name meant: "GPIO 17", "gpio17", "GPIO017", "BCM17",
// "17", and header pin numbers ("pin 11", "P1_11") through the Raspberry
// Pi's 40-pin header.

var (
	gpioName  = regexp.MustCompile(`^GPIO(0|[1-9][0-9]{0,2})$`)
	gpioSlip  = regexp.MustCompile(`(?i)^\s*(?:gpio|bcm|gp|io)[\s_\-#.:]*([0-9]{1,3})\s*$`)
	headerPin = regexp.MustCompile(`(?i)^\s*(?:pin|p1|j8|header|phys(?:ical)?|board)[\s_\-#.:]*([0-9]{1,2})\s*$`)
	bareNum   = regexp.MustCompile(`^\s*([0-9]{1,3})\s*$`)
	lineName  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-\[\]/]*$`)
)

// piHeader maps the Raspberry Pi's 40-pin header to GPIO numbers; the pins
// not here are power or ground.
var piHeader = map[int]int{
	3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24, 19: 10,
	21: 9, 22: 25, 23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5, 31: 6, 32: 12, 33: 13, 35: 19,
	36: 16, 37: 26, 38: 20, 40: 21,
}

// piPower names the header pins that carry no GPIO.
func piPower(n int) string {
	switch n {
	case 1, 17:
		return "3.3V power"
	case 2, 4:
		return "5V power"
	}
	return "ground"
}

// checkPin checks a device's pin name; board is the board's pin names, or
// nil when they are not known.
func (d *decoder) checkPin(key, pin string, board []string) {
	line, raw := d.at(key, pin)
	if len(board) > 0 && slices.Contains(board, pin) {
		return
	}
	if len(board) == 0 && (gpioName.MatchString(pin) || lineName.MatchString(pin) && !gpioSlip.MatchString(pin) && !headerPin.MatchString(pin) && !bareNum.MatchString(pin)) {
		return
	}
	d.add(line, key, raw, quote(raw)+" "+pinProblem(pin, board))
}

// pinProblem says what is wrong with a pin name and what to write.
func pinProblem(pin string, board []string) string {
	on := func(name string) bool { return len(board) == 0 || slices.Contains(board, name) }
	list := " (tweetpi pins lists them all)"
	if len(board) == 0 {
		list = ""
	}
	if m := headerPin.FindStringSubmatch(pin); m != nil {
		n, _ := strconv.Atoi(m[1])
		g, ok := piHeader[n]
		switch {
		case n < 1 || n > 40:
			return "is a header pin number, not a pin name; periph names pins by their GPIO number, like GPIO17 (header pin 11 on a Raspberry Pi)" + list
		case !ok:
			return fmt.Sprintf("is a header pin number, not a pin name: on a Raspberry Pi header pin %d is %s, not a GPIO; pick a GPIO pin, like GPIO17 (header pin 11)", n, piPower(n))
		case on(fmt.Sprintf("GPIO%d", g)):
			return fmt.Sprintf("is a header pin number, not a pin name: on a Raspberry Pi header pin %d is GPIO%d; write GPIO%d", n, g, g)
		}
	}
	if m := bareNum.FindStringSubmatch(pin); m != nil {
		n, _ := strconv.Atoi(m[1])
		msg := fmt.Sprintf("is a bare number; periph names pins GPIOn: write GPIO%d for GPIO %d", n, n)
		if g, ok := piHeader[n]; ok && on(fmt.Sprintf("GPIO%d", g)) {
			msg += fmt.Sprintf(", or GPIO%d if you mean header pin %d", g, n)
		} else if n >= 1 && n <= 40 && !ok {
			msg += fmt.Sprintf(" (header pin %d is %s on a Raspberry Pi)", n, piPower(n))
		}
		return msg
	}
	if m := gpioSlip.FindStringSubmatch(pin); m != nil {
		n, _ := strconv.Atoi(m[1])
		if name := fmt.Sprintf("GPIO%d", n); name != pin && on(name) {
			return "is not a pin name; did you mean " + name + "?"
		}
	}
	if len(board) == 0 {
		return "is not a pin name: periph names pins like GPIO17, or by their kernel line name (no spaces or quotes)"
	}
	// On a board: the name in another case, a near name, or the range.
	for _, b := range board {
		if strings.EqualFold(b, pin) {
			return "is not a pin of this board; did you mean " + b + "?"
		}
	}
	if m := Nearest(pin, board); m != "" && !gpioName.MatchString(pin) {
		return "is not a pin of this board; did you mean " + m + "?" + list
	}
	lo, hi := -1, -1
	for _, b := range board {
		if m := gpioName.FindStringSubmatch(b); m != nil {
			n, _ := strconv.Atoi(m[1])
			if lo < 0 || n < lo {
				lo = n
			}
			hi = max(hi, n)
		}
	}
	if lo >= 0 && gpioSlip.MatchString(pin) {
		return fmt.Sprintf("is not a pin of this board: its GPIO pins are GPIO%d to GPIO%d%s", lo, hi, list)
	}
	shown := board
	more := ""
	if len(shown) > 12 {
		shown, more = shown[:12], fmt.Sprintf(" and %d more", len(board)-12)
	}
	return fmt.Sprintf("is not a pin of this board; it has %s%s%s", strings.Join(shown, ", "), more, list)
}
