package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMQTTPasswordPrecedence(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "  fromFILE with space\n", 0o600)
	for _, tc := range []struct {
		name       string
		env        string
		file       bool
		inline     string
		want, from string
	}{
		{"env beats file and inline", "fromENV", true, "fromINLINE", "fromENV", "env TWEETPI_MQTT_PASSWORD"},
		{"file beats inline", "", true, "fromINLINE", "fromFILE with space", "file " + pw},
		{"inline alone", "", false, "fromINLINE", "fromINLINE", "inline"},
		{"blank env does not count", " \n", false, "fromINLINE", "fromINLINE", "inline"},
		{"none", "", false, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := "mqtt:\n  broker: mqtt://broker.lan\n  username: mypi\n  node: mypi\n"
			if tc.file {
				y += "  password_file: pw\n"
			}
			if tc.inline != "" {
				y += "  password: " + tc.inline + "\n"
			}
			path := writeFile(t, dir, "config.yaml", y, 0o600)
			c, err := Load(path, Options{Getenv: envMap(map[string]string{MQTTPasswordEnv: tc.env})})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.MQTT.Password.Reveal(); got != tc.want {
				t.Errorf("password %q, want %q", got, tc.want)
			}
			if got := c.MQTT.PasswordSource; got != tc.from {
				t.Errorf("source %q, want %q", got, tc.from)
			}
		})
	}
}

// TestMQTTPasswordPermissions: a file that holds the broker password is
// private to its owner, like one that holds the X keys.
func TestMQTTPasswordPermissions(t *testing.T) {
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "s3cr3tPW", 0o644)
	for _, tc := range []struct {
		name string
		yaml string
		mode os.FileMode
		want string
	}{
		{
			name: "inline, world readable", mode: 0o644,
			yaml: "mqtt:\n  broker: mqtt://b\n  node: n\n  username: u\n  password: s3cr3tPW\n",
			want: "$CONFIG:5: mqtt.password: this file holds a secret and can be read by group or others (mode 0644); run chmod 600 $CONFIG, or move the password out of it (TWEETPI_MQTT_PASSWORD or password_file)",
		},
		{
			name: "password file, world readable", mode: 0o600,
			yaml: "mqtt:\n  broker: mqtt://b\n  node: n\n  username: u\n  password_file: pw\n",
			want: `$CONFIG:5: mqtt.password_file: "pw" holds a secret and can be read by group or others (mode 0644); run chmod 600 $PW`,
		},
		{
			name: "the first inline secret is named", mode: 0o640,
			yaml: "mqtt:\n  broker: mqtt://b\n  node: n\n  username: u\n  password: s3cr3tPW\ntwitter:\n  consumer_key: k\n",
			want: "$CONFIG:5: mqtt.password: this file holds a secret and can be read by group or others (mode 0640); run chmod 600 $CONFIG, or move the password out of it (TWEETPI_MQTT_PASSWORD or password_file)",
		},
		{name: "no password, world readable", mode: 0o644, yaml: "mqtt:\n  broker: mqtt://b\n  node: n\n  username: u\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, "config.yaml", tc.yaml, tc.mode)
			_, err := Load(path, Options{})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			want := strings.NewReplacer("$CONFIG", path, "$PW", pw).Replace(tc.want)
			if err == nil {
				t.Fatalf("loaded; want %s", want)
			}
			if got := err.Error(); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
			if strings.Contains(err.Error(), "s3cr3tPW") {
				t.Errorf("the password is in the message")
			}
		})
	}
}

func TestMQTTPasswordFileProblems(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "empty", "\n", 0o600)
	writeFile(t, dir, "two", "s3cr3t\nmore\n", 0o600)
	for _, tc := range []struct{ file, want string }{
		{"empty", `"empty" is empty; put the broker password in it`},
		{"two", `"two": it has more than one line; it must hold only the broker password`},
		{".", `"." is not a regular file`},
	} {
		path := writeFile(t, dir, "config.yaml", "mqtt:\n  broker: mqtt://b\n  node: n\n  username: u\n  password_file: "+tc.file+"\n", 0o600)
		_, err := Load(path, Options{})
		if err == nil || !strings.Contains(err.Error(), path+":5: mqtt.password_file: "+tc.want) {
			t.Errorf("password_file %s: err %v, want %q", tc.file, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("the password is in the message: %v", err)
		}
	}
}

// TestMQTTNodeDefault: without node:, the node is the host name, lower-cased
// and cut at its first dot.
func TestMQTTNodeDefault(t *testing.T) {
	c, err := Parse("config.yaml", []byte("mqtt:\n  broker: mqtt://b\n"), Options{})
	h, herr := os.Hostname()
	if herr != nil {
		t.Skip("no host name here:", herr)
	}
	want, _, _ := strings.Cut(strings.ToLower(h), ".")
	if !nodeName.MatchString(want) {
		if err == nil || !strings.Contains(err.Error(), "is not a node name; set node:") {
			t.Errorf("host name %q: err %v, want a request to set node:", h, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.MQTT.Node != want {
		t.Errorf("node %q, want the host name %q", c.MQTT.Node, want)
	}
	if c.MQTT.Discovery != DefaultDiscovery || !c.MQTT.Commands {
		t.Errorf("defaults: %+v", c.MQTT)
	}
}

func TestMQTTDiscoveryOff(t *testing.T) {
	for _, v := range []string{`""`, "", "~"} {
		c, err := Parse("config.yaml", []byte("mqtt:\n  broker: mqtt://b\n  node: n\n  discovery: "+v+"\n"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if c.MQTT.Discovery != "" {
			t.Errorf("discovery: %s gives %q, want off", v, c.MQTT.Discovery)
		}
	}
}

// TestMQTTValidate: a configuration built in code is checked the same way.
func TestMQTTValidate(t *testing.T) {
	c := Default()
	c.MQTT = &MQTT{Broker: "tcp://b:1883", Node: "Bad Node", Password: "s3cr3t"}
	c.Devices = []Device{{Name: "led", Pin: "GPIO17", Kind: KindOutput, HAClass: "door"}}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`mqtt.broker: "tcp://b:1883" is not an mqtt:// or mqtts:// URL`,
		`mqtt.node: the host name "Bad Node" is not a node name`,
		"mqtt.password: is set but username is not",
		"devices.led.ha_class: ha_class is only for input devices",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("the password is in the message")
	}
	c.MQTT = &MQTT{Broker: "mqtts://b", Node: "n", CAFile: filepath.Join(t.TempDir(), "none.pem"), Discovery: "homeassistant"}
	c.Devices = nil
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "mqtt.ca_file") {
		t.Errorf("a missing ca_file: %v", err)
	}
}

func TestMQTTString(t *testing.T) {
	m := MQTT{Broker: "mqtt://b:1883", Node: "mypi", Username: "mypi", Password: "s3cr3t", PasswordSource: "env " + MQTTPasswordEnv}
	if got, want := m.String(), "mqtt://b:1883 as node mypi, user mypi, password from env TWEETPI_MQTT_PASSWORD"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestMQTTWarnings(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		warn bool
	}{
		{"mqtt:\n  broker: mqtt://b\n  node: n\n", true},
		{"mqtt:\n  broker: mqtt://b\n  node: n\n  commands: false\n", false},
		{"mqtt:\n  broker: mqtt://b\n  node: n\n  username: n\n", false},
		{"", false},
	} {
		c, err := Parse("config.yaml", []byte(tc.yaml), Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(strings.Join(c.Warnings(), "\n"), "there is no username")
		if got != tc.warn {
			t.Errorf("%q: warning %t, want %t", tc.yaml, got, tc.warn)
		}
	}
}
