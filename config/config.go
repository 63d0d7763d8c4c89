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
)

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

	// MQTT is the mqtt: section; nil when the file has none (MQTT off).
	MQTT *MQTT `json:"mqtt,omitempty"`
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

	file string // the file it was read from, for CheckKeys' messages
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
	Kind    string   `json:"kind"`    // KindOutput, KindPWM or KindInput
	Aliases []string `json:"aliases"` // other names for it, unique across devices
	Allow   []string `json:"allow"`   // narrows twitter.allow for this device; empty: everyone allowed there

	// Outputs and pwm.
	Initial   bool          `json:"initial"`    // level when opened: true is on (default off)
	ActiveLow bool          `json:"active_low"` // on drives the pin low
	MaxOn     time.Duration `json:"max_on"`     // 0: no limit; else turns off by itself after this

	// PWM.
	FrequencyHz float64 `json:"frequency_hz"` // default 1kHz

	// Inputs.
	Pull     string        `json:"pull"`     // "up", "down" or "none" (default)
	Notify   bool          `json:"notify"`   // DM the allowed users on a change
	High     string        `json:"high"`     // word for a high level (default "high")
	Low      string        `json:"low"`      // word for a low level (default "low")
	Debounce time.Duration `json:"debounce"` // default 50ms

	// HAClass is Home Assistant's binary sensor device class for an input
	// (door, motion...), with mqtt: on; "" for none.
	HAClass string `json:"ha_class,omitempty"`

	// Line is the line of the file that defined the device, for messages.
	Line int `json:"-"`
}
