// Package config loads, checks and holds tweetpi's configuration: the X
// account's keys, what to poll, who may command the device, and the GPIO
// devices.
//
// It never lets a secret out: the four keys are Secret values whose every
// printed form is redacted, and a file that holds a secret must be private to
// its owner. It imports neither the twitter nor the device package.
//
// Being the one package both sides import, it also holds what they share:
// the one atomic file writer (WriteFile: state.json, the configuration,
// devices.json), the command words (ReservedWords), the duration format
// (FormatDuration), the length of a text as X counts it (Weight, Truncate)
// and the "did you mean" (Nearest).
package config

import (
	"time"
)

// Kinds of device.
const (
	KindOutput = "output"
	KindPWM    = "pwm"
	KindInput  = "input"

	// Sensors: read through periph.io's device drivers, on a bus instead of
	// a pin.
	KindDS18B20 = "ds18b20" // 1-Wire temperature, through the kernel's w1 netlink
	KindBME280  = "bme280"  // I2C temperature, humidity and pressure
	KindAHT20   = "aht20"   // I2C temperature and humidity
)

// IsSensor reports whether kind is one of the sensor kinds.
func IsSensor(kind string) bool {
	return kind == KindDS18B20 || kind == KindBME280 || kind == KindAHT20
}

// API versions.
const (
	APIv2  = "v2"
	APIv11 = "v1.1"
)

// Inboxes that can be listened to.
const (
	InboxMentions = "mentions"
	InboxDMs      = "dms"
)

// Backends for the pins.
const (
	BackendPeriph = "periph"
	BackendSim    = "sim"
)

// DefaultPath is where the daemon looks for its configuration when neither
// -config, TWEETPI_CONFIG nor $CREDENTIALS_DIRECTORY names one.
const DefaultPath = "/etc/tweetpi/config.yaml"

// Config is the whole configuration. Load and Parse return it with defaults
// filled in and validated.
type Config struct {
	// Path is the file it was read from ("" when parsed from a reader).
	Path string `json:"-"`

	Twitter  Twitter  `json:"twitter"`
	StateDir string   `json:"state_dir"`
	GPIO     GPIO     `json:"gpio"`
	Devices  []Device `json:"devices"` // in the order of the file

	// Interlocks are groups of device names of which at most one is on at
	// a time; InterlockWait is how long the others must have been off
	// before one goes on (default 500ms; 0: no wait).
	Interlocks    [][]string    `json:"interlocks,omitempty"`
	InterlockWait time.Duration `json:"interlock_wait"`
	// Schedules run a command at set times, in the order of the file.
	Schedules []Schedule `json:"schedules,omitempty"`

	// MQTT is the mqtt: section; nil when the file has none (MQTT off).
	MQTT *MQTT `json:"mqtt,omitempty"`
	// Budget and Metrics are the budget: and metrics: sections (costs.go).
	Budget  Budget  `json:"budget,omitzero"`
	Metrics Metrics `json:"metrics,omitzero"`
}

// Twitter is the account, the API and the polling policy.
type Twitter struct {
	ConsumerKey       Secret `json:"consumer_key"`
	ConsumerSecret    Secret `json:"consumer_secret"`
	AccessToken       Secret `json:"access_token"`
	AccessTokenSecret Secret `json:"access_token_secret"`

	// Where each key came from: "env TWEETPI_CONSUMER_KEY", "file /run/...",
	// "inline", or "" when missing. Never the value.
	KeySources map[string]string `json:"key_sources,omitempty"`

	API          string        `json:"api"`           // APIv2 (default) or APIv11
	APIURL       string        `json:"api_url"`       // base URL override; "" for X itself
	Listen       []string      `json:"listen"`        // InboxMentions, InboxDMs
	PollInterval time.Duration `json:"poll_interval"` // the fastest poll; >= 1s; default 60s
	Allow        []string      `json:"allow"`         // "@handle" or numeric user id
	MaxAge       time.Duration `json:"max_age"`       // default 10m
	Reply        bool          `json:"reply"`         // default true

	// Delivery is how mentions and DMs reach the daemon: DeliveryAuto
	// (default: the Activity API stream where X allows it, polls
	// otherwise), DeliveryStream (the stream or exit 78) or DeliveryPoll.
	Delivery string `json:"delivery"`
	// ReconcileInterval: with the stream up, each listened inbox is also
	// polled this often (default 5m), to fill the stream's gaps.
	ReconcileInterval time.Duration `json:"reconcile_interval"`

	file string // the file it was read from, for CheckKeys' messages
	// absent: the file has no twitter: section (with mqtt:, a fleet agent;
	// see Config.Agent). A Twitter built in code has one.
	absent bool
}

// Remote reports whether the device is another node's (Node is set).
func (dev Device) Remote() bool { return dev.Node != "" }

// Agent reports whether this tweetpi is a fleet agent: its file has
// mqtt: and devices and no twitter: section, so it serves its devices on
// the broker and needs no X keys. A file with a twitter: section, even one
// without keys, is not an agent: its missing keys stay an error for
// tweetpi run; so are they for a file with neither twitter: nor devices.
func (c *Config) Agent() bool {
	return c.MQTT != nil && c.Twitter.absent && len(c.Devices) > 0
}

// HasKeys reports whether all four keys are set.
func (t Twitter) HasKeys() bool {
	return t.ConsumerKey != "" && t.ConsumerSecret != "" && t.AccessToken != "" && t.AccessTokenSecret != ""
}

// GPIO chooses the pin backend.
type GPIO struct {
	Backend string `json:"backend"` // BackendPeriph (default) or BackendSim
}

// Device is one named thing on a pin.
type Device struct {
	Name    string   `json:"name"`    // lower-case word, unique
	Pin     string   `json:"pin"`     // a name periph's gpioreg knows: GPIO17 or a line name
	Kind    string   `json:"kind"`    // KindOutput, KindPWM, KindInput or a sensor kind
	Aliases []string `json:"aliases"` // other names for it, unique across devices
	Allow   []string `json:"allow"`   // narrows twitter.allow for this device; empty: everyone allowed there

	// Outputs and pwm.
	Initial   bool          `json:"initial"`           // level when opened: true is on (default off)
	ActiveLow bool          `json:"active_low"`        // on drives the pin low
	MaxOn     time.Duration `json:"max_on"`            // 0: no limit; else turns off by itself after this
	Confirm   bool          `json:"confirm,omitempty"` // a person's command that can turn it on waits for their "yes"

	// PWM.
	FrequencyHz float64 `json:"frequency_hz"` // default 1kHz

	// Inputs.
	Pull     string        `json:"pull"`     // "up", "down" or "none" (default)
	Notify   bool          `json:"notify"`   // DM the allowed users on a change
	High     string        `json:"high"`     // word for a high level (default "high")
	Low      string        `json:"low"`      // word for a low level (default "low")
	Debounce time.Duration `json:"debounce"` // default 50ms

	// Sensors.
	Bus     string `json:"bus,omitempty"`     // I2C: the bus number (default "1"); ds18b20: the w1 master number ("" the first)
	Address string `json:"address,omitempty"` // I2C: "0x76"; ds18b20: the kernel's id, "28-00000a1b2c3d"

	// HAClass is Home Assistant's binary sensor device class for an input
	// (door, motion...), with mqtt: on; "" for none.
	HAClass string `json:"ha_class,omitempty"`

	// A device of another tweetpi node (the fleet): Node is that node's
	// mqtt.node and NodeDevice the device's name there. Such a device has
	// no pin and no kind here (the node drives it, under its own rules);
	// only its aliases and allow are this configuration's.
	Node       string `json:"node,omitempty"`
	NodeDevice string `json:"device,omitempty"`

	// Line is the line of the file that defined the device, for messages.
	Line int `json:"-"`
}

// Schedule is one entry of schedules: a command run at set times.
type Schedule struct {
	At   string `json:"at,omitempty"`   // "06:30": every day at that local time
	Cron string `json:"cron,omitempty"` // five fields: "0 */2 * * 1-5"
	Do   string `json:"do"`             // a command, as a post would say it

	// Where it was written, for messages: the item, its at or cron, its do.
	Line     int `json:"-"`
	WhenLine int `json:"-"`
	DoLine   int `json:"-"`
}

// When is the schedule's time as written: "at 06:30" or "cron 0 */2 * * 1-5".
func (s Schedule) When() string {
	if s.Cron != "" {
		return "cron " + s.Cron
	}
	return "at " + s.At
}
