package config

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks the YAML node tree into a Config, strictly: unknown keys,
// duplicate keys and values of the wrong type are problems, each with its
// line. It remembers where every key was written so that validation can
// name the line too.
type decoder struct {
	file string
	errs Errors
	pos  map[string]place // dotted key (list items as key[i]) -> where it was written
	bad  map[string]bool  // keys already reported: one problem a key is enough

	files  map[string]place // twitter.<key>_file paths, by key name
	inline map[string]int   // inline secrets: key name -> line

	mqttFile mqttFile // the mqtt section's inline password and password_file

	data  []byte   // the file, to scrub what it wrote as secrets from messages
	board []string // the board's pin names (Options.Pins), or nil
}

// place is where a value was written.
type place struct {
	line int
	raw  string // the value as written; never a secret's
}

func newDecoder(file string) *decoder {
	return &decoder{
		file:   file,
		pos:    map[string]place{},
		bad:    map[string]bool{},
		files:  map[string]place{},
		inline: map[string]int{},
	}
}

func (d *decoder) add(line int, key, value, msg string) {
	d.bad[key] = true
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Key: key, Value: value, Msg: msg})
}

func (d *decoder) addf(line int, key, value, format string, args ...any) {
	d.add(line, key, value, fmt.Sprintf(format, args...))
}

// at returns where key was written, and the value as written there or else
// fallback.
func (d *decoder) at(key, fallback string) (int, string) {
	p, ok := d.pos[key]
	if !ok {
		return 0, fallback
	}
	if p.raw == "" {
		return p.line, fallback
	}
	return p.line, p.raw
}

// Keys of each part of the file.
var (
	topKeys = []string{"twitter", "state_dir", "gpio", "devices", "interlocks", "interlock_wait", "schedules", "mqtt", "budget", "metrics"}

	twitterKeys = []string{
		"consumer_key", "consumer_secret", "access_token", "access_token_secret",
		"consumer_key_file", "consumer_secret_file", "access_token_file", "access_token_secret_file",
		"api", "api_url", "listen", "poll_interval", "allow", "max_age", "reply",
		"delivery", "reconcile_interval",
	}

	gpioKeys = []string{"backend"}

	deviceKeys = []string{
		"pin", "kind", "aliases", "allow",
		"initial", "active_low", "max_on", "confirm",
		"frequency",
		"pull", "notify", "high", "low", "debounce",
		"bus", "address",
		"ha_class",
		"node", "device",
	}

	// deviceKeyKinds are the kinds a device key fits; keys not here fit all.
	deviceKeyKinds = map[string][]string{
		"pin":        {KindOutput, KindPWM, KindInput},
		"confirm":    {KindOutput, KindPWM},
		"bus":        sensorKinds,
		"address":    sensorKinds,
		"initial":    {KindOutput, KindPWM},
		"active_low": {KindOutput, KindPWM},
		"max_on":     {KindOutput, KindPWM},
		"frequency":  {KindPWM},
		"pull":       {KindInput},
		"notify":     {KindInput},
		"high":       {KindInput},
		"low":        {KindInput},
		"debounce":   {KindInput},
		"ha_class":   {KindInput},
	}

	// synonyms are words people write for a key, and the key they meant.
	synonyms = map[string]string{
		"type": "kind", "gpio": "pin", "line": "pin", "freq": "frequency", "hz": "frequency",
		"frequency_hz": "frequency", "alias": "aliases", "invert": "active_low",
		"inverted": "active_low", "state": "initial", "default": "initial",
		"max_duration": "max_on", "timeout": "max_on", "pullup": "pull", "pull_up": "pull",
		"users": "allow", "allowed": "allow", "allow_list": "allow", "allowlist": "allow",
		"interval": "poll_interval", "poll": "poll_interval", "url": "api_url",
		"base_url": "api_url", "api_version": "api", "version": "api", "inboxes": "listen",
		"api_key": "consumer_key", "api_secret": "consumer_secret", "api_key_secret": "consumer_secret",
		"access_secret": "access_token_secret",
		"stream":        "delivery", "mode": "delivery", "reconcile": "reconcile_interval",
		"host": "broker", "server": "broker", "user": "username", "prefix": "discovery",
		"discovery_prefix": "discovery", "device_class": "ha_class", "class": "ha_class",
		"cap": "daily", "limit": "daily", "per_day": "daily", "price": "prices",
		"address": "listen", "addr": "listen", "port": "listen", "path": "file", "textfile": "file",
	}
)

// home says where a key that is unknown here belongs, if it belongs
// somewhere else.
func home(k, here string) string {
	switch {
	case here != "twitter" && slices.Contains(twitterKeys, k) && !(here == "device" && k == "allow"):
		return "twitter"
	case here != "gpio" && k == "backend":
		return "gpio"
	case here != "top" && slices.Contains(topKeys, k):
		return "the top level"
	case here != "mqtt" && slices.Contains(mqttKeys, k):
		return "mqtt"
	case here != "device" && slices.Contains(deviceKeys, k):
		return "a device under devices"
	}
	return ""
}

// resolve follows aliases (*name) to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// what names the kind of a node for messages.
func what(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	}
	return "something else"
}

func child(parent, k string) string {
	if parent == "" {
		return k
	}
	return parent + "." + k
}

// entry is one key of a mapping.
type entry struct {
	k    *yaml.Node // the key
	v    *yaml.Node // its value, aliases resolved
	line int
}

// mapping checks that n is a mapping and returns its known keys. Unknown,
// duplicate and malformed keys are reported; so is a merge key (<<), which
// the schema does not use. here names the part of the file for hints
// ("top", "twitter", "gpio", "device").
func (d *decoder) mapping(n *yaml.Node, key string, known []string, here, example string) (map[string]entry, bool) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, key, "", "must be a mapping of keys like %s on lines indented below it, not %s", example, what(n))
		return nil, false
	}
	out := map[string]entry{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := resolve(n.Content[i]), resolve(n.Content[i+1])
		if kn.Kind != yaml.ScalarNode {
			d.addf(kn.Line, key, "", "a key is %s; keys are plain words like %s", what(kn), known[0])
			continue
		}
		k := kn.Value
		if k == "<<" {
			d.add(kn.Line, key, "", "merge keys (<<) are not supported here; write the keys out")
			continue
		}
		full := child(key, k)
		if first, dup := out[k]; dup {
			d.addf(kn.Line, full, "", "is set twice (first at line %d); keep one", first.line)
			continue
		}
		if !slices.Contains(known, k) {
			d.unknown(kn.Line, key, k, known, here)
			continue
		}
		out[k] = entry{k: kn, v: vn, line: kn.Line}
		d.pos[full] = place{line: kn.Line}
	}
	return out, true
}

func unknownKey(k string, known []string, here string) string {
	msg := "unknown key"
	if here == "device" && k == "name" {
		return msg + "; a device's name is its key under devices"
	}
	if m := Nearest(k, known); m != "" {
		return msg + "; did you mean " + m + "?"
	}
	if s, ok := synonyms[strings.ToLower(k)]; ok && slices.Contains(known, s) {
		return msg + "; did you mean " + s + "?"
	}
	if h := home(k, here); h != "" {
		return msg + " here; " + k + " belongs under " + h
	}
	return msg + "; the keys here are " + orList(known)
}

// scalar returns n's text. A null (an empty value, ~) is unset: ok is false
// and nothing is reported. secret keeps the value out of messages.
func (d *decoder) scalar(n *yaml.Node, key, example string, secret bool) (string, bool) {
	if !d.plain(n, key) {
		return "", false
	}
	if isNull(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		if secret {
			d.addf(n.Line, key, "", "must be the key itself, one value in quotes, not %s", what(n))
		} else {
			d.addf(n.Line, key, "", "must be a single value like %s, not %s", example, what(n))
		}
		return "", false
	}
	p := place{line: n.Line}
	if !secret {
		p.raw = n.Value
	}
	d.pos[key] = p
	return n.Value, true
}

// plain reports a value that is only an anchor (&name) or carries a tag
// (!name) other than !!str: the file has no use for either, and each is
// what a value starting with & or ! becomes unquoted. The name is not
// shown (it may be a key).
func (d *decoder) plain(n *yaml.Node, key string) bool {
	switch {
	case n == nil:
		return true
	case n.Anchor != "" && isNull(n):
		d.add(n.Line, key, "", "has only an anchor (&...) and no value; a value that starts with & must be in quotes")
		return false
	case n.Style&yaml.TaggedStyle != 0 && n.Tag != "!!str":
		d.add(n.Line, key, "", "has a YAML tag (!...); remove it, or put a value that starts with ! in quotes")
		return false
	}
	return true
}

// str is scalar for keys whose value may be shown.
func (d *decoder) str(n *yaml.Node, key, example string) (string, bool) {
	return d.scalar(n, key, example, false)
}

// nonEmpty is str for a key whose explicit "" would silently become its
// default: that is reported instead.
func (d *decoder) nonEmpty(n *yaml.Node, key, example, def string) (string, bool) {
	s, ok := d.str(n, key, example)
	if ok && s == "" {
		d.addf(n.Line, key, "", "is empty; write a value like %s, or leave %s out for %s", example, key[strings.LastIndex(key, ".")+1:], def)
		return "", false
	}
	return s, ok
}

// list returns the items of a list of single values.
func (d *decoder) list(n *yaml.Node, key, example string) ([]string, bool) {
	if isNull(n) {
		return nil, false
	}
	switch n.Kind {
	case yaml.SequenceNode:
	case yaml.ScalarNode:
		d.addf(n.Line, key, n.Value, "%s is not a list; write it in brackets, like %s", quote(n.Value), flowList(n.Value))
		return nil, false
	default:
		d.addf(n.Line, key, "", "must be a list like %s, not %s", example, what(n))
		return nil, false
	}
	d.pos[key] = place{line: n.Line}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, it := range n.Content {
		it = resolve(it)
		if it.Kind != yaml.ScalarNode || isNull(it) {
			d.addf(it.Line, key, "", "item %d is %s; the list must hold single values, like %s", i+1, whatItem(it), example)
			ok = false
			continue
		}
		d.pos[fmt.Sprintf("%s[%d]", key, len(out))] = place{line: it.Line, raw: it.Value}
		out = append(out, it.Value)
	}
	return out, ok
}

func whatItem(n *yaml.Node) string {
	if isNull(n) {
		return "empty"
	}
	return what(n)
}

// boolean reads true or false (yes/no and on/off too).
func (d *decoder) boolean(n *yaml.Node, key string) (bool, bool) {
	s, ok := d.str(n, key, "true")
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	d.addf(n.Line, key, s, "%s is not true or false; write true or false", quote(s))
	return false, false
}

var bareNumber = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// duration reads a Go duration (90s, 5m, 1h30m) that is more than 0.
func (d *decoder) duration(n *yaml.Node, key, example string) (time.Duration, bool) {
	s, ok := d.str(n, key, example)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case bareNumber.MatchString(s) && s != "0":
		d.addf(n.Line, key, s, "%s has no unit; write it like %ss or %sms", quote(s), s, s)
	case err != nil:
		d.addf(n.Line, key, s, "%s is not a duration; write it like 5m or 90s", quote(s))
	case v <= 0:
		d.addf(n.Line, key, s, "%s must be more than 0, like %s", quote(s), example)
	default:
		return v, true
	}
	return 0, false
}

// parseFrequency reads "25kHz", "1kHz", "50Hz", "1.5MHz" or a bare number
// of Hz. Case and a space before the unit do not matter.
func parseFrequency(s string) (float64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	switch {
	case strings.HasSuffix(t, "khz"):
		mult, t = 1e3, t[:len(t)-3]
	case strings.HasSuffix(t, "mhz"):
		mult, t = 1e6, t[:len(t)-3]
	case strings.HasSuffix(t, "hz"):
		t = t[:len(t)-2]
	}
	t = strings.TrimSpace(t)
	if t == "" || strings.ContainsAny(t, "xp_in") { // no hex floats, digit separators, Inf or NaN
		return 0, errors.New("not a frequency")
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, errors.New("not a frequency")
	}
	return v * mult, nil
}

// formatFrequency renders Hz the way the file writes them.
func formatFrequency(hz float64) string {
	switch {
	case hz >= 1e6:
		return strconv.FormatFloat(hz/1e6, 'f', -1, 64) + "MHz"
	case hz >= 1e3:
		return strconv.FormatFloat(hz/1e3, 'f', -1, 64) + "kHz"
	}
	return strconv.FormatFloat(hz, 'f', -1, 64) + "Hz"
}

// root decodes the document into c, which holds the defaults.
func (d *decoder) root(doc *yaml.Node, c *Config) {
	if doc == nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return // an empty file: all defaults
	}
	n := resolve(doc.Content[0])
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, "", "", "the file must be a mapping of keys (twitter:, state_dir:, gpio:, devices:), not %s", what(n))
		return
	}
	m, _ := d.mapping(n, "", topKeys, "top", "twitter:")
	e, ok := m["twitter"]
	c.Twitter.absent = !ok
	if ok && !isNull(e.v) {
		d.twitter(e.v, &c.Twitter)
	}
	if e, ok := m["state_dir"]; ok {
		if s, ok := d.str(e.v, "state_dir", DefaultStateDir); ok {
			c.StateDir = s
		}
	}
	if e, ok := m["gpio"]; ok && !isNull(e.v) {
		if g, ok := d.mapping(e.v, "gpio", gpioKeys, "gpio", "backend: periph"); ok {
			if e, ok := g["backend"]; ok {
				if s, ok := d.str(e.v, "gpio.backend", BackendPeriph); ok {
					c.GPIO.Backend = s
				}
			}
		}
	}
	if e, ok := m["devices"]; ok && !isNull(e.v) {
		c.Devices = d.devices(e.v)
	}
	d.automation(m, c)
	if e, ok := m["mqtt"]; ok {
		d.mqtt(e.v, c)
	}
	d.costs(m, c)
}

func (d *decoder) twitter(n *yaml.Node, t *Twitter) {
	m, ok := d.mapping(n, "twitter", twitterKeys, "twitter", "api: v2")
	if !ok {
		return
	}
	for _, k := range keyNames {
		if e, ok := m[k]; ok {
			key := "twitter." + k
			if s, ok := d.scalar(e.v, key, "", true); ok && s != "" {
				*t.secret(k) = Secret(s)
				d.inline[k] = e.line
			}
		}
		if e, ok := m[k+"_file"]; ok {
			key := "twitter." + k + "_file"
			if s, ok := d.str(e.v, key, "/run/credentials/tweetpi.service/"+k); ok {
				if s == "" {
					d.addf(e.v.Line, key, s, "is empty; name the file that holds the %s, or leave %s_file out", human(k), k)
				} else {
					d.files[k] = place{line: e.v.Line, raw: s}
				}
			}
		}
	}
	if e, ok := m["api"]; ok {
		if s, ok := d.str(e.v, "twitter.api", APIv2); ok {
			t.API = s
		}
	}
	if e, ok := m["api_url"]; ok {
		if s, ok := d.str(e.v, "twitter.api_url", "http://127.0.0.1:8080"); ok {
			t.APIURL = strings.TrimRight(s, "/")
			if t.APIURL == "" && s != "" {
				t.APIURL = s // "/" alone: let validation name it
			}
		}
	}
	if e, ok := m["listen"]; ok {
		if l, ok := d.list(e.v, "twitter.listen", "[mentions, dms]"); ok {
			t.Listen = l
		}
	}
	if e, ok := m["poll_interval"]; ok {
		if v, ok := d.duration(e.v, "twitter.poll_interval", "60s"); ok {
			t.PollInterval = v
		}
	}
	if e, ok := m["allow"]; ok {
		if l, ok := d.list(e.v, "twitter.allow", `["@alice", "12345"]`); ok {
			t.Allow = l
		}
	}
	if e, ok := m["max_age"]; ok {
		if v, ok := d.duration(e.v, "twitter.max_age", "10m"); ok {
			t.MaxAge = v
		}
	}
	if e, ok := m["reply"]; ok {
		if v, ok := d.boolean(e.v, "twitter.reply"); ok {
			t.Reply = v
		}
	}
	d.delivery(m, t)
}

func (d *decoder) devices(n *yaml.Node) []Device {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, "devices", "", "must be a mapping of device names to their settings, like led: {pin: GPIO17, kind: output}, not %s", what(n))
		return nil
	}
	var out []Device
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := resolve(n.Content[i]), resolve(n.Content[i+1])
		if kn.Kind != yaml.ScalarNode {
			d.addf(kn.Line, "devices", "", "a device name is %s; names are lower-case words like led", what(kn))
			continue
		}
		name := kn.Value
		key := "devices." + name
		if first, dup := seen[name]; dup {
			d.addf(kn.Line, key, "", "is defined twice (first at line %d); rename or remove one", first)
			continue
		}
		seen[name] = kn.Line
		d.pos[key] = place{line: kn.Line, raw: name}
		dev := Device{Name: name, Line: kn.Line}
		d.device(vn, key, &dev)
		out = append(out, dev)
	}
	return out
}

func (d *decoder) device(n *yaml.Node, key string, dev *Device) {
	if isNull(n) {
		d.addf(dev.Line, key, "", "has no settings; give it at least pin and kind, like %s: {pin: GPIO17, kind: output}", dev.Name)
		d.bad[key+".pin"], d.bad[key+".kind"] = true, true
		return
	}
	m, ok := d.mapping(n, key, deviceKeys, "device", "pin: GPIO17")
	if !ok {
		d.bad[key+".pin"], d.bad[key+".kind"] = true, true
		return
	}
	if _, ok := m["node"]; ok {
		d.remoteDevice(m, key, dev)
		return
	}
	if e, ok := m["device"]; ok {
		name := "pump"
		if s, ok := d.str(e.v, key+".device", "pump"); ok && deviceName.MatchString(s) {
			name = s
		}
		d.addf(e.line, key+".device", "", "device names a device of another tweetpi, and goes with node: add node: with that tweetpi's mqtt.node, like %s: {node: garden, device: %s}, or remove device", dev.Name, name)
		d.bad[key+".pin"], d.bad[key+".kind"] = true, true
		return
	}
	if e, ok := m["kind"]; ok {
		if s, ok := d.str(e.v, key+".kind", KindOutput); ok {
			dev.Kind = s
		}
	}
	kindOK := slices.Contains(kinds, dev.Kind)
	present := slices.Collect(maps.Keys(m))
	slices.SortFunc(present, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[a].k.Line, m[b].k.Line), cmp.Compare(m[a].k.Column, m[b].k.Column))
	})
	for _, k := range present {
		e := m[k]
		fits := deviceKeyKinds[k]
		if !kindOK || fits == nil || slices.Contains(fits, dev.Kind) {
			continue
		}
		fix := "remove it"
		if len(fits) == 1 {
			fix += " or change kind to " + fits[0]
		}
		d.addf(e.line, key+"."+k, "", "%s is only for %s devices and %s is %s; %s", k, orList(fits), dev.Name, article(dev.Kind), fix)
		delete(m, k)
	}
	if e, ok := m["pin"]; ok {
		if s, ok := d.str(e.v, key+".pin", "GPIO17"); ok {
			dev.Pin = s
		}
	}
	d.namesAndAllow(m, key, dev)
	if e, ok := m["initial"]; ok {
		if s, ok := d.str(e.v, key+".initial", "off"); ok {
			switch strings.ToLower(s) {
			case "on", "true", "high", "yes":
				dev.Initial = true
			case "off", "false", "low", "no":
				dev.Initial = false
			default:
				d.addf(e.v.Line, key+".initial", s, "%s is not on or off; write on or off", quote(s))
			}
		}
	}
	if e, ok := m["active_low"]; ok {
		if v, ok := d.boolean(e.v, key+".active_low"); ok {
			dev.ActiveLow = v
		}
	}
	if e, ok := m["max_on"]; ok {
		if v, ok := d.duration(e.v, key+".max_on", "5m"); ok {
			dev.MaxOn = v
		}
	}
	if e, ok := m["frequency"]; ok {
		if s, ok := d.str(e.v, key+".frequency", "25kHz"); ok {
			if v, err := parseFrequency(s); err != nil {
				d.addf(e.v.Line, key+".frequency", s, "%s is not a frequency; write it like 25kHz, 1kHz or 50Hz", quote(s))
			} else if !(v > 0 && v <= MaxFrequencyHz) {
				d.addf(e.v.Line, key+".frequency", s, frequencyRange, quote(s))
			} else {
				dev.FrequencyHz = v
			}
		}
	}
	if e, ok := m["pull"]; ok {
		if s, ok := d.nonEmpty(e.v, key+".pull", "up", DefaultPull); ok {
			dev.Pull = s
		}
	}
	if e, ok := m["notify"]; ok {
		if v, ok := d.boolean(e.v, key+".notify"); ok {
			dev.Notify = v
		}
	}
	if e, ok := m["high"]; ok {
		if s, ok := d.nonEmpty(e.v, key+".high", "open", DefaultHigh); ok {
			dev.High = s
		}
	}
	if e, ok := m["low"]; ok {
		if s, ok := d.nonEmpty(e.v, key+".low", "closed", DefaultLow); ok {
			dev.Low = s
		}
	}
	if e, ok := m["debounce"]; ok {
		if v, ok := d.duration(e.v, key+".debounce", "50ms"); ok {
			dev.Debounce = v
		}
	}
	d.deviceMore(m, key, dev)
	if e, ok := m["ha_class"]; ok {
		d.haClass(e, key, dev)
	}
	dev.setDefaults()
}

// namesAndAllow decodes the keys every device takes, one of this node or
// of another: aliases and allow.
func (d *decoder) namesAndAllow(m map[string]entry, key string, dev *Device) {
	if e, ok := m["aliases"]; ok {
		if l, ok := d.list(e.v, key+".aliases", "[water]"); ok {
			dev.Aliases = l
		}
	}
	if e, ok := m["allow"]; ok {
		if l, ok := d.list(e.v, key+".allow", `["@alice"]`); ok {
			dev.Allow = l
		}
	}
}

// remoteKeys are the keys a device of another node takes here.
var remoteKeys = []string{"node", "device", "aliases", "allow"}

// remoteDevice decodes a device of another node: {node: garden, device:
// pump}, with aliases and allow. Every other key is that node's to set.
func (d *decoder) remoteDevice(m map[string]entry, key string, dev *Device) {
	d.bad[key+".pin"], d.bad[key+".kind"] = true, true // not this file's to set
	if e, ok := m["node"]; ok {
		if s, ok := d.str(e.v, key+".node", "garden"); ok && s != "" {
			dev.Node = s
		} else if !d.bad[key+".node"] {
			d.addf(e.v.Line, key+".node", "", "is empty; write the mqtt.node of the tweetpi that drives %s, like node: garden", dev.Name)
		}
	}
	if e, ok := m["device"]; ok {
		if s, ok := d.str(e.v, key+".device", "pump"); ok && s != "" {
			dev.NodeDevice = s
		} else if !d.bad[key+".device"] {
			d.addf(e.v.Line, key+".device", "", "is empty; write the device's name on %s, like device: pump", nodeOr(dev.Node))
		}
	} else {
		d.bad[key+".device"] = true
		d.addf(m["node"].line, key, "", "has node but no device; add the device's name on %s, like %s: {node: %s, device: pump}", nodeOr(dev.Node), dev.Name, nodeOr(dev.Node))
	}
	present := slices.Collect(maps.Keys(m))
	slices.SortFunc(present, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[a].k.Line, m[b].k.Line), cmp.Compare(m[a].k.Column, m[b].k.Column))
	})
	for _, k := range present {
		if slices.Contains(remoteKeys, k) {
			continue
		}
		d.addf(m[k].line, key+"."+k, "", "%s is a device of node %s, which sets its %s in its own configuration; here a device of another node takes only node, device, aliases and allow: remove %s", dev.Name, nodeOr(dev.Node), k, k)
	}
	d.namesAndAllow(m, key, dev)
}

func nodeOr(node string) string {
	if node == "" {
		return "that node"
	}
	return node
}

var (
	kinds       = []string{KindOutput, KindPWM, KindInput, KindDS18B20, KindBME280, KindAHT20}
	sensorKinds = []string{KindDS18B20, KindBME280, KindAHT20}
)

func article(kind string) string {
	if kind == KindInput || kind == KindOutput || kind == KindAHT20 {
		return "an " + kind
	}
	return "a " + kind
}
