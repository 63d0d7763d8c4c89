package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults and limits of interlocks and sensors.
const (
	DefaultInterlockWait = 500 * time.Millisecond
	// MaxInterlockWait bounds interlock_wait: a command that turns a
	// device on waits this long at most for the others of its group.
	MaxInterlockWait = time.Minute
	// DefaultI2CBus is the bus of an I2C sensor with no bus key: the one on
	// a Raspberry Pi's header pins 3 and 5 (/dev/i2c-1).
	DefaultI2CBus = "1"
)

// defaultI2CAddress is each I2C sensor's address when none is given.
var defaultI2CAddress = map[string]string{KindBME280: "0x76", KindAHT20: "0x38"}

// i2cAddresses are the addresses each I2C sensor can answer at (the
// BME280's SDO pin chooses 0x76 or 0x77; the AHT20 has one).
var i2cAddresses = map[string][]string{KindBME280: {"0x76", "0x77"}, KindAHT20: {"0x38"}}

var (
	// w1ID is a 1-Wire sensor's id as the kernel names it under
	// /sys/bus/w1/devices: the family code (28 for a DS18B20, 10 for a
	// DS18S20, 22 for a DS1822) and the 48-bit serial number in hex.
	w1ID     = regexp.MustCompile(`^(28|10|22)-[0-9a-f]{12}$`)
	busDigit = regexp.MustCompile(`^[0-9]{1,3}$`)
)

// automation decodes the top-level interlocks, interlock_wait and
// schedules.
func (d *decoder) automation(m map[string]entry, c *Config) {
	if e, ok := m["interlocks"]; ok && !isNull(e.v) {
		c.Interlocks = d.interlocks(e.v)
	}
	if e, ok := m["interlock_wait"]; ok {
		if s, ok := d.str(e.v, "interlock_wait", "500ms"); ok {
			switch v, err := time.ParseDuration(strings.TrimSpace(s)); {
			case s == "0":
				c.InterlockWait = 0
			case bareNumber.MatchString(s):
				d.addf(e.v.Line, "interlock_wait", s, "%s has no unit; write it like %sms or %ss", quote(s), s, s)
			case err != nil:
				d.addf(e.v.Line, "interlock_wait", s, "%s is not a duration; write it like 500ms or 2s", quote(s))
			case v < 0 || v > MaxInterlockWait:
				d.addf(e.v.Line, "interlock_wait", s, "%s is out of range; it is 0 (no wait) to %s, like 500ms", quote(s), FormatDuration(MaxInterlockWait))
			default:
				c.InterlockWait = v
			}
		}
	}
	if e, ok := m["schedules"]; ok && !isNull(e.v) {
		c.Schedules = d.schedules(e.v)
	}
}

// interlocks reads a list of groups, each a list of device names.
func (d *decoder) interlocks(n *yaml.Node) [][]string {
	const example = "[[heater, cooler], [door_up, door_down]]"
	if n.Kind != yaml.SequenceNode {
		d.addf(n.Line, "interlocks", "", "must be a list of groups, each a list of device names, like %s, not %s", example, what(n))
		return nil
	}
	d.pos["interlocks"] = place{line: n.Line}
	var out [][]string
	for i, g := range n.Content {
		g = resolve(g)
		key := fmt.Sprintf("interlocks[%d]", i)
		if g.Kind != yaml.SequenceNode {
			fix := "each group is a list of device names in brackets, like [heater, cooler]"
			if g.Kind == yaml.ScalarNode && !isNull(g) {
				fix = fmt.Sprintf("write it in brackets with the devices it excludes, like [%s, cooler]", g.Value)
			}
			d.addf(g.Line, "interlocks", "", "group %d is %s; %s", i+1, whatItem(g), fix)
			continue
		}
		d.pos[key] = place{line: g.Line}
		group := []string{}
		for j, it := range g.Content {
			it = resolve(it)
			if it.Kind != yaml.ScalarNode || isNull(it) {
				d.addf(it.Line, "interlocks", "", "group %d, item %d is %s; write device names, like [heater, cooler]", i+1, j+1, whatItem(it))
				continue
			}
			d.pos[fmt.Sprintf("%s[%d]", key, len(group))] = place{line: it.Line, raw: it.Value}
			group = append(group, it.Value)
		}
		out = append(out, group)
	}
	return out
}

var scheduleKeys = []string{"at", "cron", "do"}

// schedules reads a list of {at|cron, do} mappings.
func (d *decoder) schedules(n *yaml.Node) []Schedule {
	if n.Kind != yaml.SequenceNode {
		d.addf(n.Line, "schedules", "", `must be a list of schedules, each like {at: "06:30", do: "pump pulse 30s"}, not %s`, what(n))
		return nil
	}
	var out []Schedule
	for i, it := range n.Content {
		it = resolve(it)
		key := fmt.Sprintf("schedules[%d]", i+1)
		if isNull(it) {
			d.addf(it.Line, key, "", `is empty; write {at: "06:30", do: "pump pulse 30s"}, or remove the dash`)
			continue
		}
		m, ok := d.mapping(it, key, scheduleKeys, "schedule", `at: "06:30"`)
		if !ok {
			continue
		}
		s := Schedule{Line: it.Line}
		if e, ok := m["at"]; ok {
			if v, ok := d.str(e.v, key+".at", "06:30"); ok {
				s.At, s.WhenLine = strings.TrimSpace(v), e.v.Line
			}
		}
		if e, ok := m["cron"]; ok {
			if v, ok := d.str(e.v, key+".cron", "0 6 * * *"); ok {
				s.Cron, s.WhenLine = strings.Join(strings.Fields(v), " "), e.v.Line
			}
		}
		if e, ok := m["do"]; ok {
			if v, ok := d.str(e.v, key+".do", "pump pulse 30s"); ok {
				s.Do, s.DoLine = strings.TrimSpace(v), e.v.Line
			}
		}
		_, hasAt := m["at"]
		_, hasCron := m["cron"]
		_, hasDo := m["do"]
		switch {
		case hasAt && hasCron:
			d.addf(m["cron"].line, key, "", "has both at and cron; keep one")
		case !hasAt && !hasCron:
			d.addf(it.Line, key, "", `says no time; add at: "06:30" (every day) or cron: "0 6 * * *" (five fields)`)
		case hasAt && s.At == "" && !d.bad[key+".at"]:
			d.addf(m["at"].line, key+".at", "", `is empty; write a time of day like "06:30"`)
		case hasCron && s.Cron == "" && !d.bad[key+".cron"]:
			d.addf(m["cron"].line, key+".cron", "", `is empty; write five fields like "0 6 * * *"`)
		}
		switch {
		case !hasDo:
			d.addf(it.Line, key, "", `says nothing to do; add do: with a command, like do: "pump pulse 30s"`)
		case s.Do == "" && !d.bad[key+".do"]:
			d.addf(m["do"].line, key+".do", "", `is empty; write a command, like "pump pulse 30s"`)
		}
		if s.WhenLine == 0 {
			s.WhenLine = s.Line
		}
		if s.DoLine == 0 {
			s.DoLine = s.Line
		}
		out = append(out, s)
	}
	return out
}

// deviceMore decodes the device keys of interlocks, confirmation and
// sensors.
func (d *decoder) deviceMore(m map[string]entry, key string, dev *Device) {
	if e, ok := m["confirm"]; ok {
		if v, ok := d.boolean(e.v, key+".confirm"); ok {
			dev.Confirm = v
		}
	}
	if e, ok := m["bus"]; ok {
		if s, ok := d.nonEmpty(e.v, key+".bus", "1", "bus 1"); ok {
			dev.Bus = strings.TrimPrefix(strings.TrimSpace(s), "/dev/i2c-")
		}
	}
	if e, ok := m["address"]; ok {
		if s, ok := d.nonEmpty(e.v, key+".address", "0x76", "the sensor's usual address"); ok {
			dev.Address = strings.TrimSpace(s)
		}
	}
}

// sensorDefaults fills a sensor's bus and address.
func (dev *Device) sensorDefaults() {
	switch dev.Kind {
	case KindBME280, KindAHT20:
		if dev.Bus == "" {
			dev.Bus = DefaultI2CBus
		}
		if dev.Address == "" {
			dev.Address = defaultI2CAddress[dev.Kind]
		}
		if v, err := strconv.ParseUint(dev.Address, 0, 16); err == nil {
			dev.Address = fmt.Sprintf("0x%02x", v)
		}
	case KindDS18B20:
		dev.Address = strings.ToLower(dev.Address)
	}
}

// I2CAddress is an I2C sensor's address as a number; 0 for other devices.
func (dev Device) I2CAddress() uint16 {
	if dev.Kind != KindBME280 && dev.Kind != KindAHT20 {
		return 0
	}
	v, err := strconv.ParseUint(dev.Address, 0, 16)
	if err != nil {
		return 0
	}
	return uint16(v)
}

// checkSensor checks a sensor's bus and address.
func (d *decoder) checkSensor(dev Device) {
	key := "devices." + dev.Name
	switch dev.Kind {
	case KindDS18B20:
		line, raw := d.at(key+".address", dev.Address)
		switch {
		case dev.Address == "" && !d.bad[key+".address"]:
			d.addf(dev.Line, key, "", "has no address; add the sensor's 1-Wire id as /sys/bus/w1/devices lists it, like address: 28-00000a1b2c3d")
		case dev.Address != "" && !w1ID.MatchString(dev.Address):
			d.addf(line, key+".address", raw, "%s is not a DS18B20's 1-Wire id; write it as /sys/bus/w1/devices lists it: 28- and 12 hex digits, like 28-00000a1b2c3d", quote(raw))
		}
		if dev.Bus != "" && !busDigit.MatchString(dev.Bus) {
			line, raw := d.at(key+".bus", dev.Bus)
			d.addf(line, key+".bus", raw, "%s is not a 1-Wire bus; write the number of its w1_bus_masterN (1 for w1_bus_master1), or leave bus out for the first", quote(raw))
		}
	case KindBME280, KindAHT20:
		if !busDigit.MatchString(dev.Bus) {
			line, raw := d.at(key+".bus", dev.Bus)
			d.addf(line, key+".bus", raw, "%s is not an I2C bus; write its number, like 1 for /dev/i2c-1", quote(raw))
		}
		ok := slices.Contains(i2cAddresses[dev.Kind], dev.Address)
		if !ok {
			line, raw := d.at(key+".address", dev.Address)
			d.addf(line, key+".address", raw, "%s is not an address the %s answers at; write %s", quote(raw), strings.ToUpper(dev.Kind), orList(i2cAddresses[dev.Kind]))
		}
	}
}

// checkAutomation checks the interlocks, confirmation and schedules
// against the devices. The schedules' times and commands are the device
// package's to check (device.CheckConfig): this package does not know the
// command language.
func (c *Config) checkAutomation(d *decoder) {
	byName := map[string]Device{}
	alias := map[string]string{}
	var names []string
	for _, dev := range c.Devices {
		byName[dev.Name] = dev
		names = append(names, dev.Name)
		for _, a := range dev.Aliases {
			alias[a] = dev.Name
		}
	}
	if c.InterlockWait < 0 || c.InterlockWait > MaxInterlockWait {
		line, raw := d.at("interlock_wait", FormatDuration(c.InterlockWait))
		d.addf(line, "interlock_wait", raw, "%s is out of range; it is 0 (no wait) to %s, like 500ms", quote(raw), FormatDuration(MaxInterlockWait))
	}
	group := map[string]int{} // device -> the group it is in, 1-based
	for i, g := range c.Interlocks {
		gline, _ := d.at(fmt.Sprintf("interlocks[%d]", i), "")
		if len(g) < 2 {
			d.addf(gline, "interlocks", "", "group %d has only %d; a group holds two or more devices, like [heater, cooler]", i+1, len(g))
		}
		for j, name := range g {
			line, raw := d.at(fmt.Sprintf("interlocks[%d][%d]", i, j), name)
			dev, ok := byName[name]
			switch {
			case !ok && alias[name] != "":
				d.addf(line, "interlocks", raw, "%s is an alias of %s; write the device's name, %s", quote(raw), alias[name], alias[name])
				continue
			case !ok:
				msg := fmt.Sprintf("%s is not a device", quote(raw))
				if s := Nearest(name, names); s != "" {
					msg += "; did you mean " + s + "?"
				} else if len(names) > 0 {
					msg += "; the devices are " + orList(names)
				}
				d.add(line, "interlocks", raw, msg)
				continue
			case dev.Remote():
				d.addf(line, "interlocks", raw, "%s is a device of node %s; an interlock is kept by the tweetpi that drives the pins: put the group in %s's configuration", quote(raw), dev.Node, dev.Node)
				continue
			case dev.Kind != KindOutput && dev.Kind != KindPWM:
				d.addf(line, "interlocks", raw, "%s is %s; only outputs and pwm can be interlocked; remove it from the group", quote(raw), article(dev.Kind))
				continue
			}
			if first, dup := group[name]; dup {
				if first == i+1 {
					d.addf(line, "interlocks", raw, "%s is listed twice in group %d; keep one", quote(raw), i+1)
				} else {
					d.addf(line, "interlocks", raw, "%s is in group %d already; a device can be in one group only: merge the two groups", quote(raw), first)
				}
				continue
			}
			group[name] = i + 1
			if dev.Initial {
				d.addf(line, "interlocks", raw, "%s starts on (initial: on), but an interlocked device starts off; remove its initial: on", quote(raw))
			}
		}
	}
}
