package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// MQTT is the mqtt: section: the devices on an MQTT broker, with Home
// Assistant discovery. Config.MQTT is nil when the file has no such
// section, and then nothing talks to a broker.
type MQTT struct {
	// Broker is the broker's URL: mqtt://host[:1883] or mqtts://host[:8883].
	Broker string `json:"broker"`
	// Username and Password log in to the broker; both optional. The
	// password comes from TWEETPI_MQTT_PASSWORD, password_file or the file,
	// in that order.
	Username string `json:"username,omitempty"`
	Password Secret `json:"password"`
	// PasswordSource says where Password came from ("env
	// TWEETPI_MQTT_PASSWORD", "file /path", "inline"), "" when not set.
	// Never the value.
	PasswordSource string `json:"password_source,omitempty"`
	// CAFile names a PEM bundle of the CAs that sign an mqtts:// broker's
	// certificate; "" trusts the system's CAs.
	CAFile string `json:"ca_file,omitempty"`
	// Node is this tweetpi's name on the broker (tweetpi/NODE/...): a-z,
	// 0-9, _ and -. Default: the host name, lower-cased.
	Node string `json:"node"`
	// Discovery is Home Assistant's discovery prefix; "" turns discovery
	// off. Default "homeassistant".
	Discovery string `json:"discovery"`
	// Commands takes commands from the broker's set topics. Default true.
	Commands bool `json:"commands"`
}

// MQTT defaults and the password's environment variable.
const (
	DefaultDiscovery = "homeassistant"
	MQTTPasswordEnv  = "TWEETPI_MQTT_PASSWORD"
)

var mqttKeys = []string{"broker", "username", "password", "password_file", "ca_file", "node", "discovery", "commands"}

// HAClasses are Home Assistant's binary sensor device classes, the values
// an input's ha_class may take (home-assistant.io, integrations/binary_sensor,
// "Device class").
var HAClasses = []string{
	"battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
	"garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving",
	"occupancy", "opening", "plug", "power", "presence", "problem", "running", "safety",
	"smoke", "sound", "tamper", "update", "vibration", "window",
}

var (
	nodeName    = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	topicPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$`)
)

// mqttFile is what the decoder keeps of the mqtt section for the steps
// after decoding: where the password was written inline and which file
// was named for it.
type mqttFile struct {
	inline int   // line of an inline password; 0: none
	file   place // password_file as written; line 0: none
}

// mqtt decodes the mqtt: section into c.MQTT, with its defaults.
func (d *decoder) mqtt(n *yaml.Node, c *Config) {
	m := &MQTT{Discovery: DefaultDiscovery, Commands: true, Node: defaultNode()}
	c.MQTT = m
	if isNull(n) {
		d.addf(n.Line, "mqtt", "", "is empty; give at least the broker, like broker: mqtt://192.168.1.10:1883, or remove mqtt: to leave MQTT off")
		d.bad["mqtt.broker"] = true
		return
	}
	e, ok := d.mapping(n, "mqtt", mqttKeys, "mqtt", "broker: mqtt://192.168.1.10:1883")
	if !ok {
		d.bad["mqtt.broker"] = true
		return
	}
	if v, ok := e["broker"]; ok {
		if s, ok := d.str(v.v, "mqtt.broker", "mqtt://192.168.1.10:1883"); ok {
			m.Broker = strings.TrimSpace(s)
		}
	}
	if v, ok := e["username"]; ok {
		if s, ok := d.str(v.v, "mqtt.username", "mypi"); ok {
			m.Username = s
		}
	}
	if v, ok := e["password"]; ok {
		if s, ok := d.scalar(v.v, "mqtt.password", "", true); ok && s != "" {
			m.Password = Secret(s)
			d.mqttFile.inline = v.line
		}
	}
	if v, ok := e["password_file"]; ok {
		if s, ok := d.str(v.v, "mqtt.password_file", "/etc/tweetpi/mqtt-password"); ok {
			if s == "" {
				d.addf(v.v.Line, "mqtt.password_file", s, "is empty; name the file that holds the broker password, or leave password_file out")
			} else {
				d.mqttFile.file = place{line: v.v.Line, raw: s}
			}
		}
	}
	if v, ok := e["ca_file"]; ok {
		if s, ok := d.str(v.v, "mqtt.ca_file", "/etc/tweetpi/broker-ca.pem"); ok {
			m.CAFile = s
		}
	}
	if v, ok := e["node"]; ok {
		if s, ok := d.nonEmpty(v.v, "mqtt.node", "mypi", "the host name"); ok {
			m.Node = s
		}
	}
	if v, ok := e["discovery"]; ok {
		if s, ok := d.str(v.v, "mqtt.discovery", DefaultDiscovery); ok {
			m.Discovery = s
		} else if isNull(v.v) {
			m.Discovery = ""
		}
	}
	if v, ok := e["commands"]; ok {
		if b, ok := d.boolean(v.v, "mqtt.commands"); ok {
			m.Commands = b
		}
	}
}

// defaultNode is the host name, lower-cased, up to its first dot; "" when
// there is none.
func defaultNode() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	h, _, _ = strings.Cut(strings.ToLower(strings.TrimSpace(h)), ".")
	return h
}

// haClass decodes a device's ha_class.
func (d *decoder) haClass(e entry, key string, dev *Device) {
	if s, ok := d.nonEmpty(e.v, key+".ha_class", "door", "no device class"); ok {
		dev.HAClass = s
	}
}

// mqttFiles sets the broker password from the environment, the
// password_file or the file itself, in that order, and makes a relative
// ca_file absolute. dir is where relative paths start.
func (d *decoder) mqttFiles(m *MQTT, dir string, opt Options) {
	if m == nil {
		return
	}
	if m.CAFile != "" && !filepath.IsAbs(m.CAFile) {
		m.CAFile = filepath.Join(dir, m.CAFile)
	}
	getenv := opt.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if v := strings.TrimSpace(getenv(MQTTPasswordEnv)); v != "" {
		if badPassword(v) {
			d.addf(0, "mqtt.password", "", "%s has control characters inside; set it to the broker password alone", MQTTPasswordEnv)
		}
		m.Password, m.PasswordSource = Secret(v), "env "+MQTTPasswordEnv
		return
	}
	if f := d.mqttFile.file; f.line > 0 {
		m.Password = ""
		if v, path, ok := d.passwordFile(f, dir, opt); ok {
			m.Password, m.PasswordSource = Secret(v), "file "+path
		}
		return
	}
	if line := d.mqttFile.inline; line > 0 {
		if badPassword(string(m.Password)) {
			d.addf(line, "mqtt.password", "", "has control characters inside; write the broker password alone, in quotes")
		}
		m.PasswordSource = "inline"
	}
}

// badPassword reports control characters (a pasted line break) in a
// password. Spaces may be part of one.
func badPassword(s string) bool { return strings.IndexFunc(s, unicode.IsControl) >= 0 }

// passwordFile reads the file password_file names, as keyFile reads a
// key's.
func (d *decoder) passwordFile(f place, dir string, opt Options) (string, string, bool) {
	return d.secretFile(f, dir, opt, secretFileSpec{
		key: "mqtt.password_file", what: "broker password", inline: "password", example: "/etc/tweetpi/mqtt-password",
		problem: func(v string) string {
			if badPassword(v) {
				return "it has more than one line"
			}
			return ""
		},
	})
}

// firstInline is the first line of the file that holds a secret inline,
// with its key and where else the secret could live; line 0: none.
func (d *decoder) firstInline() (line int, key, elsewhere string) {
	for _, k := range keyNames {
		if l, ok := d.inline[k]; ok && (line == 0 || l < line) {
			line, key, elsewhere = l, "twitter."+k, "keys out of it ("+KeyEnv(k)+", "+k+"_file)"
		}
	}
	if l := d.mqttFile.inline; l > 0 && (line == 0 || l < line) {
		line, key, elsewhere = l, "mqtt.password", "password out of it ("+MQTTPasswordEnv+" or password_file)"
	}
	return line, key, elsewhere
}

// checkMQTT checks the mqtt section and the devices' ha_class.
func (c *Config) checkMQTT(d *decoder) {
	for _, dev := range c.Devices {
		if dev.HAClass == "" {
			continue
		}
		key := "devices." + dev.Name + ".ha_class"
		line, raw := d.at(key, dev.HAClass)
		switch {
		case dev.Kind != KindInput && dev.Kind != "" && slices.Contains(kinds, dev.Kind):
			if !d.bad[key] {
				d.addf(line, key, raw, "ha_class is only for input devices and %s is %s; remove it", dev.Name, article(dev.Kind))
			}
		case !slices.Contains(HAClasses, dev.HAClass):
			fix := "use one of Home Assistant's binary sensor classes, like door, window, motion or moisture"
			if m := Nearest(dev.HAClass, HAClasses); m != "" {
				fix = "did you mean " + m + "?"
			}
			d.addf(line, key, raw, "%s is not a Home Assistant binary sensor class; %s", quote(raw), fix)
		}
	}
	m := c.MQTT
	if m == nil {
		return
	}
	if !d.bad["mqtt.broker"] {
		line, raw := d.at("mqtt.broker", m.Broker)
		if m.Broker == "" {
			if line == 0 {
				line, _ = d.at("mqtt", "")
			}
			d.add(line, "mqtt.broker", "", "is not set; write the broker's URL, like broker: mqtt://192.168.1.10:1883 (or mqtts:// for TLS)")
		} else if msg := checkBroker(m.Broker); msg != "" {
			shown := raw
			if u, err := url.Parse(raw); err == nil && u.User != nil {
				shown = u.Redacted()
			}
			d.addf(line, "mqtt.broker", shown, "%s %s", quote(shown), msg)
		}
	}
	if m.Password != "" && m.Username == "" {
		line, _ := d.at("mqtt.password", "")
		if line == 0 {
			line = d.mqttFile.file.line
		}
		d.add(line, "mqtt.password", "", "is set but username is not; the broker checks a password against a user: add username:")
	}
	if m.CAFile != "" {
		line, raw := d.at("mqtt.ca_file", m.CAFile)
		if u, err := url.Parse(m.Broker); err == nil && u.Scheme == "mqtt" {
			d.addf(line, "mqtt.ca_file", raw, "%s: a CA file is only for an mqtts:// broker and the broker is mqtt://; use mqtts:// or remove ca_file", quote(raw))
		} else {
			if fi, err := os.Stat(m.CAFile); err != nil {
				d.addf(line, "mqtt.ca_file", raw, "%s cannot be read: %s; name the PEM file of the CA that signed the broker's certificate, or leave ca_file out to trust the system's CAs", quote(raw), reason(err))
			} else if !fi.Mode().IsRegular() {
				d.addf(line, "mqtt.ca_file", raw, "%s is not a regular file; name a PEM file of CA certificates", quote(raw))
			}
		}
	}
	if !d.bad["mqtt.node"] {
		line, raw := d.at("mqtt.node", m.Node)
		switch {
		case m.Node == "" && line == 0:
			d.add(line, "mqtt", "", "the host name gives no node name; set node: to this tweetpi's name on the broker, like node: mypi")
		case !nodeName.MatchString(m.Node):
			fix := "use a-z, 0-9, _ and - only (it is a part of every topic), at most 64"
			if line == 0 {
				d.addf(d.lineOf("mqtt"), "mqtt.node", raw, "the host name %s is not a node name; set node: to this tweetpi's name on the broker; %s", quote(raw), fix)
			} else {
				if s := suggestNode(m.Node); s != "" {
					fix += "; write " + s
				}
				d.addf(line, "mqtt.node", raw, "%s is not a node name; %s", quote(raw), fix)
			}
		}
	}
	if m.Discovery != "" && !topicPrefix.MatchString(m.Discovery) {
		line, raw := d.at("mqtt.discovery", m.Discovery)
		d.addf(line, "mqtt.discovery", raw, "%s is not a topic prefix; write Home Assistant's discovery prefix (default homeassistant: leave discovery out), or \"\" to turn discovery off", quote(raw))
	}
}

// lineOf is the line key was written at, 0 when unknown.
func (d *decoder) lineOf(key string) int {
	l, _ := d.at(key, "")
	return l
}

// checkBroker says what is wrong with a broker URL, or "".
func checkBroker(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Opaque != "" || (u.Scheme == "" && !strings.Contains(s, "://")):
		return "is not a broker URL; write it like mqtt://192.168.1.10:1883 or mqtts://broker.example.com:8883"
	case u.Scheme != "mqtt" && u.Scheme != "mqtts":
		return "is not an mqtt:// or mqtts:// URL; write it like mqtt://192.168.1.10:1883 (mqtts:// for TLS)"
	case u.Hostname() == "":
		return "has no host; write it like mqtt://192.168.1.10:1883"
	case u.User != nil:
		return "holds a user or password; put them in username: and password_file: instead"
	case u.Path != "" && u.Path != "/":
		return "has a path; give only the scheme, host and port, like mqtt://192.168.1.10:1883"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "has a query or fragment; give only the scheme, host and port"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "has a bad port; a port is 1 to 65535 (1883 for mqtt://, 8883 for mqtts://)"
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "has an empty port; write the port after the colon or leave it out"
	}
	if strings.ContainsAny(u.Hostname(), " ") || (strings.Contains(u.Host, "[") && net.ParseIP(u.Hostname()) == nil) {
		return "has a bad host; write it like mqtt://192.168.1.10:1883"
	}
	return ""
}

// suggestNode proposes a valid node name for a nearly valid one.
func suggestNode(s string) string {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.NewReplacer(" ", "_", ".", "_").Replace(t)
	if t != s && nodeName.MatchString(t) {
		return t
	}
	return ""
}

// String is the section as a person reads it, never the password:
// "mqtt://192.168.1.10:1883 as node mypi, user mypi, password from file
// /etc/tweetpi/mqtt-password".
func (m MQTT) String() string {
	s := fmt.Sprintf("%s as node %s", m.Broker, m.Node)
	if m.Username != "" {
		s += ", user " + m.Username
	}
	switch m.PasswordSource {
	case "":
	case "inline":
		s += ", password in the file"
	default:
		s += ", password from " + m.PasswordSource
	}
	return s
}

// mqttWarnings are the mqtt section's warnings.
func (c *Config) mqttWarnings() []string {
	if c.MQTT == nil {
		return nil
	}
	if w := c.MQTT.Warning(); w != "" {
		return []string{w}
	}
	return nil
}

// Warning is what the section does that is likely not meant, or "":
// commands taken from a broker without a user (most likely one that lets
// anyone in) can be sent by anyone who reaches it.
func (m MQTT) Warning() string {
	if !m.Commands || m.Username != "" {
		return ""
	}
	return "mqtt: commands are on and there is no username: whoever can reach the broker may drive the pins; give this node its own user and an ACL (deploy/mosquitto), or set commands: false"
}
