package config

import (
	"reflect"
	"strings"
	"testing"
)

const diffBase = `twitter:
  consumer_key: "ck-0123456789"
  consumer_secret: "cs-0123456789abcdef"
  access_token: "12345-at0123456789"
  access_token_secret: "ats-0123456789abcdef"
  listen: [mentions]
  allow: ["@alice"]
state_dir: /var/lib/tweetpi
gpio:
  backend: sim
devices:
  led:  {pin: GPIO17, kind: output}
  pump: {pin: GPIO27, kind: output, max_on: 5m}
  door: {pin: GPIO22, kind: input, pull: up}
interlocks: [[led, pump]]
schedules:
  - {at: "06:30", do: "pump pulse 30s"}
mqtt:
  broker: mqtt://127.0.0.1:1883
  node: mypi
`

func parseDiff(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse("config.yaml", []byte(text), Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return c
}

func TestDiff(t *testing.T) {
	base := parseDiff(t, diffBase)
	for _, tt := range []struct {
		name    string
		old     string // replaced in the base
		new     string
		changes []string
		devices []string
	}{
		{"nothing", "", "", nil, nil},
		{"comments and lines", "devices:\n", "# the devices\ndevices:\n\n", nil, nil},
		{"poll interval", "  listen: [mentions]\n", "  listen: [mentions]\n  poll_interval: 30s\n", []string{"twitter.poll_interval 1m -> 30s"}, nil},
		{"listen", "listen: [mentions]", "listen: [mentions, dms]", []string{"twitter.listen [mentions] -> [mentions, dms]"}, nil},
		{"a key", `consumer_secret: "cs-0123456789abcdef"`, `consumer_secret: "cs-fedcba9876543210"`, []string{"twitter.consumer_secret changed"}, nil},
		{"state_dir", "/var/lib/tweetpi", "/srv/tweetpi", []string{"state_dir /var/lib/tweetpi -> /srv/tweetpi"}, nil},
		{"backend", "backend: sim", "backend: periph", []string{"gpio.backend sim -> periph"}, nil},
		{"mqtt gone", "mqtt:\n  broker: mqtt://127.0.0.1:1883\n  node: mypi\n", "", []string{"mqtt changed"}, nil},
		{"mqtt node", "node: mypi", "node: garden", []string{"mqtt.node mypi -> garden"}, nil},
		{"schedule", `"06:30"`, `"07:30"`, []string{"schedules [{at: 06:30, do: pump pulse 30s}] -> [{at: 07:30, do: pump pulse 30s}]"}, nil},
		{"interlocks", "interlocks: [[led, pump]]\n", "", []string{"interlocks [[led, pump]] -> []"}, nil},
		{"devices", "  led:  {pin: GPIO17, kind: output}\n  pump: {pin: GPIO27, kind: output, max_on: 5m}\n  door: {pin: GPIO22, kind: input, pull: up}\n",
			"  pump: {pin: GPIO4, kind: output, max_on: 1m}\n  led:  {pin: GPIO17, kind: output, allow: [\"@alice\"]}\n  fan: {pin: GPIO18, kind: pwm}\n",
			nil, []string{"pump changed (pin, max_on)", "led changed (allow)", "fan added", "door removed"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := diffBase
			if tt.old != "" {
				if !strings.Contains(text, tt.old) {
					t.Fatalf("%q not in the base", tt.old)
				}
				text = strings.Replace(text, tt.old, tt.new, 1)
			}
			if tt.name == "devices" {
				text = strings.Replace(text, "interlocks: [[led, pump]]\n", "", 1)
			}
			next := parseDiff(t, text)
			var got []string
			for _, c := range Diff(base, next) {
				got = append(got, c.String())
			}
			if tt.name == "devices" {
				got = got[1:] // the interlocks went with door
			}
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tt.changes) {
				t.Errorf("Diff = %q, want %q", got, tt.changes)
			}
			var devs []string
			for _, c := range DiffDevices(base.Devices, next.Devices) {
				devs = append(devs, c.String())
			}
			if !reflect.DeepEqual(devs, tt.devices) {
				t.Errorf("DiffDevices = %q, want %q", devs, tt.devices)
			}
		})
	}
}

// A secret's values never show, whatever changed.
func TestDiffSecret(t *testing.T) {
	base := parseDiff(t, diffBase)
	next := parseDiff(t, strings.Replace(diffBase, "ck-0123456789", "ck-9876543210", 1))
	d := Diff(base, next)
	if len(d) != 1 || !d[0].Secret || d[0].Old != "" || d[0].New != "" {
		t.Fatalf("Diff = %+v", d)
	}
	if s := d[0].String(); strings.Contains(s, "ck-") {
		t.Errorf("%q shows the key", s)
	}
}

// Every field of Config is compared, those added later too: a key the
// reload does not know is a change it must report.
func TestDiffEveryField(t *testing.T) {
	var walk func(prefix string, t reflect.Type) []string
	walk = func(prefix string, typ reflect.Type) []string {
		var keys []string
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := keyName(f)
			if name == "" {
				continue
			}
			key := strings.TrimPrefix(prefix+"."+name, ".")
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft.PkgPath() == typ.PkgPath() {
				keys = append(keys, walk(key, ft)...)
				continue
			}
			keys = append(keys, key)
		}
		return keys
	}
	keys := walk("", reflect.TypeFor[Config]())
	for _, k := range []string{"twitter.consumer_key", "twitter.poll_interval", "state_dir", "gpio.backend", "devices", "interlock_wait", "mqtt.broker", "mqtt.commands"} {
		found := false
		for _, got := range keys {
			found = found || got == k
		}
		if !found {
			t.Errorf("key %s not compared (compared: %v)", k, keys)
		}
	}
}
