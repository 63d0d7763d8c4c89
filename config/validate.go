package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults and limits.
const (
	DefaultAPI          = APIv2
	DefaultPollInterval = 60 * time.Second
	DefaultMaxAge       = 10 * time.Minute
	DefaultStateDir     = "/var/lib/tweetpi"
	DefaultBackend      = BackendPeriph
	DefaultPull         = "none"
	DefaultHigh         = "high"
	DefaultLow          = "low"
	DefaultDebounce     = 50 * time.Millisecond
	DefaultFrequencyHz  = 1000.0

	// MinPollInterval is the fastest twitter.poll_interval allowed.
	MinPollInterval = time.Second
	// MaxFrequencyHz is the highest pwm frequency allowed: far above what a
	// fan (25kHz) or a dimmed LED needs, and within what the Pi's PWM
	// hardware drives cleanly.
	MaxFrequencyHz = 1e6
)

const frequencyRange = "%s is out of range; a pwm frequency is more than 0 and at most 1MHz, like 25kHz or 1kHz"

// Default returns the configuration an empty file gives: no devices, no
// keys, every default filled in.
func Default() *Config {
	return &Config{
		Twitter: Twitter{
			API:               DefaultAPI,
			Listen:            []string{InboxMentions},
			PollInterval:      DefaultPollInterval,
			MaxAge:            DefaultMaxAge,
			Reply:             true,
			Delivery:          DefaultDelivery,
			ReconcileInterval: DefaultReconcileInterval,
		},
		StateDir:      DefaultStateDir,
		GPIO:          GPIO{Backend: DefaultBackend},
		InterlockWait: DefaultInterlockWait,
	}
}

// setDefaults fills the unset keys that fit the device's kind.
func (dev *Device) setDefaults() {
	switch dev.Kind {
	case KindPWM:
		if dev.FrequencyHz == 0 {
			dev.FrequencyHz = DefaultFrequencyHz
		}
	case KindInput:
		if dev.Pull == "" {
			dev.Pull = DefaultPull
		}
		if dev.High == "" {
			dev.High = DefaultHigh
		}
		if dev.Low == "" {
			dev.Low = DefaultLow
		}
		if dev.Debounce == 0 {
			dev.Debounce = DefaultDebounce
		}
	default:
		dev.sensorDefaults()
	}
}

// Validate checks a configuration built in code the way Parse checks a
// file (without line numbers, and without touching secrets or files). It
// returns Errors or nil. Call it after filling defaults: Default and each
// device's zero values are not filled in for you.
func (c *Config) Validate() error {
	d := newDecoder(c.Path)
	c.validate(d)
	if len(d.errs) == 0 {
		return nil
	}
	return d.errs
}

var (
	deviceName = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	word       = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	handle     = regexp.MustCompile(`^@[A-Za-z0-9_]{1,15}$`)
	userID     = regexp.MustCompile(`^[0-9]{1,20}$`)
)

// validate checks the values; d knows where they were written.
func (c *Config) validate(d *decoder) {
	t := &c.Twitter
	if !slices.Contains([]string{APIv2, APIv11}, t.API) {
		line, raw := d.at("twitter.api", t.API)
		d.addf(line, "twitter.api", raw, "%s is not an API version; use v2 or v1.1", quote(raw))
	}
	if t.APIURL != "" {
		line, raw := d.at("twitter.api_url", t.APIURL)
		if msg := checkURL(t.APIURL); msg != "" {
			shown := raw
			if u, err := url.Parse(raw); err == nil && u.User != nil {
				shown = u.Redacted()
			}
			d.addf(line, "twitter.api_url", shown, "%s %s", quote(shown), msg)
		}
	}
	c.checkListen(d)
	if t.PollInterval < MinPollInterval {
		line, raw := d.at("twitter.poll_interval", FormatDuration(t.PollInterval))
		d.addf(line, "twitter.poll_interval", raw, "%s is too fast; it must be %s or more (it slows down by itself to stay inside the rate limits)", quote(raw), FormatDuration(MinPollInterval))
	}
	if t.MaxAge <= 0 {
		line, raw := d.at("twitter.max_age", FormatDuration(t.MaxAge))
		d.addf(line, "twitter.max_age", raw, "%s must be more than 0, like 10m", quote(raw))
	} else if t.PollInterval >= MinPollInterval && t.MaxAge < t.PollInterval {
		line, raw := d.at("twitter.max_age", FormatDuration(t.MaxAge))
		if line == 0 {
			line, _ = d.at("twitter.poll_interval", "")
		}
		d.addf(line, "twitter.max_age", raw, "%s is shorter than poll_interval (%s): commands would be too old before they are read; make max_age %s or more", quote(raw), FormatDuration(t.PollInterval), FormatDuration(t.PollInterval))
	}
	d.checkAllow("twitter.allow", t.Allow)
	c.checkDelivery(d)

	if c.StateDir == "" {
		line, _ := d.at("state_dir", "")
		d.addf(line, "state_dir", "", "is empty; name a directory the daemon may write, or leave it out for %s", DefaultStateDir)
	}
	if !slices.Contains([]string{BackendPeriph, BackendSim}, c.GPIO.Backend) {
		line, raw := d.at("gpio.backend", c.GPIO.Backend)
		d.addf(line, "gpio.backend", raw, "%s is not a backend; use periph (real pins) or sim (simulated pins)", quote(raw))
	}
	c.checkDevices(d)
	c.checkFleet(d)
	c.checkMQTT(d)
	c.checkMetrics(d)
	c.checkAutomation(d)
}

// checkURL says what is wrong with an api_url, or "".
func checkURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Opaque != "":
		return "is not a URL; write it like http://127.0.0.1:8080"
	case u.Scheme != "http" && u.Scheme != "https":
		return "is not an http or https URL; write it like https://api.example.com"
	case u.Host == "":
		return "has no host; write it like https://api.example.com"
	case u.User != nil:
		return "holds a user or password; remove it (the keys sign each request)"
	case u.RawQuery != "" || u.ForceQuery:
		return "has a query (?...); give only the base URL"
	case u.Fragment != "" || strings.Contains(s, "#"):
		return "has a fragment (#...); give only the base URL"
	}
	return ""
}

func (c *Config) checkListen(d *decoder) {
	t := &c.Twitter
	if len(t.Listen) == 0 {
		line, _ := d.at("twitter.listen", "")
		d.add(line, "twitter.listen", "", "is empty, so nothing would be read; write [mentions], [dms] or [mentions, dms]")
		return
	}
	inboxes := []string{InboxMentions, InboxDMs}
	seen := map[string]bool{}
	for i, s := range t.Listen {
		line, raw := d.at(fmt.Sprintf("twitter.listen[%d]", i), s)
		switch {
		case !slices.Contains(inboxes, s):
			d.addf(line, "twitter.listen", raw, "%s is not an inbox; use mentions or dms", quote(raw))
		case seen[s]:
			d.addf(line, "twitter.listen", raw, "%s is listed twice; keep one", quote(raw))
		}
		seen[s] = true
	}
}

// checkAllow checks a list of @handles and user ids.
func (d *decoder) checkAllow(key string, allow []string) {
	for i, s := range allow {
		line, raw := d.at(fmt.Sprintf("%s[%d]", key, i), s)
		if handle.MatchString(s) || userID.MatchString(s) {
			continue
		}
		fix := `write @handles like "@alice" (in quotes: a bare @ is not YAML) or numeric user ids like "12345"`
		switch {
		case strings.Contains(s, "YOUR_"):
			d.addf(line, key, raw, "%s is the example's placeholder; write your own @handle (in quotes) or numeric user id in its place", quote(raw))
			continue
		case strings.HasPrefix(s, "@") && len(s) > 16:
			fix = "handles are at most 15 letters, digits or _ after the @"
		case strings.HasPrefix(s, "@"):
			fix = "handles are 1 to 15 letters, digits or _ after the @"
		case len(s) >= 1 && len(s) <= 15 && handle.MatchString("@"+s):
			fix = "write it with an @, in quotes: \"@" + s + "\""
		}
		d.addf(line, key, raw, "%s is not an @handle or a user id; %s", quote(raw), fix)
	}
}

// use is where a name, pin or remote device was first used.
type use struct {
	dev  string
	line int
}

func (c *Config) checkDevices(d *decoder) {
	names := map[string]use{} // names and aliases
	pins := map[string]use{}
	remotes := map[string]use{} // NODE/DEV of the devices of other nodes
	for _, dev := range c.Devices {
		key := "devices." + dev.Name
		switch {
		case !deviceName.MatchString(dev.Name):
			d.addf(dev.Line, key, dev.Name, "%s is not a device name: names are lower-case words (a-z, 0-9, _ and -, starting with a letter)%s", quote(dev.Name), suggestName(dev.Name))
		case slices.Contains(ReservedWords, dev.Name):
			d.addf(dev.Line, key, dev.Name, "%s is a command word (%s); name the device something else", quote(dev.Name), strings.Join(ReservedWords, ", "))
		}
		if u, ok := names[dev.Name]; ok && deviceName.MatchString(dev.Name) {
			d.addf(dev.Line, key, dev.Name, "%s is already an alias of %s (line %d); rename one", quote(dev.Name), u.dev, u.line)
		} else {
			names[dev.Name] = use{dev.Name, dev.Line}
		}

		switch {
		case dev.Remote() || dev.NodeDevice != "":
			c.checkRemote(d, dev, remotes)
		case dev.Kind == "" && !d.bad[key+".kind"]:
			d.addf(dev.Line, key, "", "has no kind; add kind: output, kind: pwm, kind: input, or a sensor's (ds18b20, bme280, aht20)")
		case dev.Kind != "" && !slices.Contains(kinds, dev.Kind):
			line, raw := d.at(key+".kind", dev.Kind)
			d.addf(line, key+".kind", raw, "%s is not a kind; use output, pwm, input, ds18b20, bme280 or aht20", quote(raw))
		}
		switch {
		case dev.Remote():
		case IsSensor(dev.Kind):
			d.checkSensor(dev)
		case strings.TrimSpace(dev.Pin) == "" && !d.bad[key+".pin"]:
			d.addf(dev.Line, key, "", "has no pin; add pin: with a name periph knows, like GPIO17")
		case dev.Pin != "":
			if !d.bad[key+".pin"] {
				d.checkPin(key+".pin", dev.Pin, d.board)
			}
			p := strings.ToUpper(dev.Pin)
			if u, ok := pins[p]; ok {
				line, raw := d.at(key+".pin", dev.Pin)
				d.addf(line, key+".pin", raw, "%s is already the pin of %s (line %d); each device needs its own pin", quote(raw), u.dev, u.line)
			} else {
				pins[p] = use{dev.Name, dev.Line}
			}
		}

		for i, a := range dev.Aliases {
			line, raw := d.at(fmt.Sprintf("%s.aliases[%d]", key, i), a)
			ak := key + ".aliases"
			switch {
			case !deviceName.MatchString(a):
				d.addf(line, ak, raw, "%s is not a device name: aliases are lower-case words (a-z, 0-9, _ and -, starting with a letter)%s", quote(raw), suggestName(a))
				continue
			case slices.Contains(ReservedWords, a):
				d.addf(line, ak, raw, "%s is a command word (%s); pick another alias", quote(raw), strings.Join(ReservedWords, ", "))
				continue
			case a == dev.Name:
				d.addf(line, ak, raw, "%s is the device's own name; remove it", quote(raw))
				continue
			}
			if u, ok := names[a]; ok && u.dev == dev.Name {
				d.addf(line, ak, raw, "%s is listed twice; keep one", quote(raw))
				continue
			}
			if u, ok := names[a]; ok {
				what := "the name"
				if u.dev != a {
					what = "an alias"
				}
				d.addf(line, ak, raw, "%s is already %s of %s (line %d); pick another alias", quote(raw), what, u.dev, u.line)
				continue
			}
			names[a] = use{dev.Name, line}
		}
		d.checkAllow(key+".allow", dev.Allow)

		if dev.MaxOn < 0 {
			line, raw := d.at(key+".max_on", FormatDuration(dev.MaxOn))
			d.addf(line, key+".max_on", raw, "%s must be more than 0; leave max_on out for no limit", quote(raw))
		}
		switch dev.Kind {
		case KindPWM:
			if !(dev.FrequencyHz > 0 && dev.FrequencyHz <= MaxFrequencyHz) {
				line, raw := d.at(key+".frequency", formatFrequency(dev.FrequencyHz))
				d.addf(line, key+".frequency", raw, frequencyRange, quote(raw))
			}
		case KindInput:
			if !slices.Contains([]string{"up", "down", "none"}, dev.Pull) {
				line, raw := d.at(key+".pull", dev.Pull)
				d.addf(line, key+".pull", raw, "%s is not a pull; use up, down or none", quote(raw))
			}
			highOK := d.checkWord(key+".high", dev.High)
			lowOK := d.checkWord(key+".low", dev.Low)
			if highOK && lowOK && dev.High == dev.Low {
				line, raw := d.at(key+".low", dev.Low)
				d.addf(line, key+".low", raw, "%s is also the word for high; the two words must differ", quote(raw))
			}
			if dev.Debounce <= 0 {
				line, raw := d.at(key+".debounce", FormatDuration(dev.Debounce))
				d.addf(line, key+".debounce", raw, "%s must be more than 0, like 50ms", quote(raw))
			}
		}
	}
}

// checkRemote checks a device of another node: the node's name, the
// device's name there, and that no other local name stands for the same
// device (aliases do that).
func (c *Config) checkRemote(d *decoder, dev Device, seen map[string]use) {
	key := "devices." + dev.Name
	if dev.Node == "" {
		if !d.bad[key+".node"] {
			d.addf(dev.Line, key, "", "has device but no node; add node: with the mqtt.node of the tweetpi that drives it, like %s: {node: garden, device: %s}", dev.Name, dev.NodeDevice)
		}
		return
	}
	nodeOK, devOK := true, true
	if !d.bad[key+".node"] {
		line, raw := d.at(key+".node", dev.Node)
		switch {
		case !nodeName.MatchString(dev.Node):
			nodeOK = false
			fix := "a node name is a-z, 0-9, _ and - (the other tweetpi's mqtt.node)"
			if s := suggestNode(dev.Node); s != "" {
				fix += "; write " + s
			}
			d.addf(line, key+".node", raw, "%s is not a node name; %s", quote(raw), fix)
		case c.MQTT != nil && dev.Node == c.MQTT.Node:
			nodeOK = false
			d.addf(line, key+".node", raw, "%s is this tweetpi's own node (mqtt.node); give the device its pin and kind here instead", quote(raw))
		}
	}
	if dev.NodeDevice == "" {
		return // reported by the decoder
	}
	if !d.bad[key+".device"] {
		line, raw := d.at(key+".device", dev.NodeDevice)
		if !deviceName.MatchString(dev.NodeDevice) {
			devOK = false
			d.addf(line, key+".device", raw, "%s is not a device name: a device is named on its node by a lower-case word (a-z, 0-9, _ and -, starting with a letter)%s", quote(raw), suggestName(dev.NodeDevice))
		}
	}
	if !nodeOK || !devOK {
		return
	}
	id := dev.Node + "/" + dev.NodeDevice
	if u, ok := seen[id]; ok {
		d.addf(dev.Line, key, "", "is device %s of node %s, as %s is (line %d); one local name for it is enough: make %s an alias of %s", dev.NodeDevice, dev.Node, u.dev, u.line, dev.Name, u.dev)
		return
	}
	seen[id] = use{dev.Name, dev.Line}
}

// checkFleet checks what the fleet asks of the whole file: a device of
// another node goes through the broker (mqtt:) and is commanded by the
// gateway (the tweetpi with the X keys, twitter:); an agent (mqtt:, no
// twitter:) serves devices of its own.
func (c *Config) checkFleet(d *decoder) {
	for _, dev := range c.Devices {
		if !dev.Remote() {
			continue
		}
		key := "devices." + dev.Name
		switch {
		case c.MQTT == nil:
			d.addf(dev.Line, key, "", "is a device of node %s, reached through the MQTT broker the fleet shares; add an mqtt: section with the broker (see the README's fleet section)", dev.Node)
		case c.Twitter.absent:
			d.addf(dev.Line, key, "", "is a device of node %s, but this file has no twitter: section, so this tweetpi is a fleet agent: only the gateway (the tweetpi with the X keys) commands other nodes' devices; move %s to the gateway's configuration", dev.Node, dev.Name)
		}
	}
}

// checkWord checks a word an input's level is called by.
func (d *decoder) checkWord(key, w string) bool {
	if word.MatchString(w) {
		return true
	}
	line, raw := d.at(key, w)
	fix := "write a single lower-case word like open or closed"
	if s := strings.ToLower(strings.TrimSpace(w)); word.MatchString(s) {
		fix = "write " + s
	}
	d.addf(line, key, raw, "%s is not a single lower-case word; %s", quote(raw), fix)
	return false
}

// suggestName proposes a valid name for a nearly valid one.
func suggestName(s string) string {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.ReplaceAll(t, " ", "_")
	if t != s && deviceName.MatchString(t) && !slices.Contains(ReservedWords, t) {
		return "; write " + t
	}
	return ""
}
