package config

import (
	"strings"
	"testing"
)

// TestAgent: a file with mqtt: and devices and no twitter: section is a
// fleet agent (no X keys needed); a twitter: section, even an empty one or
// one without keys, makes a gateway whose missing keys stay an error.
func TestAgent(t *testing.T) {
	const mqtt = "mqtt:\n  broker: mqtt://broker.lan\n  username: garden\n  node: garden\n"
	const devs = "devices:\n  pump: {pin: GPIO27, kind: output}\n"
	for _, tc := range []struct {
		name, yaml string
		agent      bool
	}{
		{"mqtt and devices", mqtt + devs, true},
		{"an empty twitter section", "twitter:\n" + mqtt + devs, false},
		{"twitter without keys", "twitter:\n  allow: [\"@alice\"]\n" + mqtt + devs, false},
		{"no mqtt", devs, false},
		{"no devices", mqtt, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("config.yaml", []byte(tc.yaml), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Agent(); got != tc.agent {
				t.Errorf("Agent() = %t, want %t", got, tc.agent)
			}
			if err := c.Twitter.CheckKeys(); err == nil || !strings.Contains(err.Error(), "twitter.consumer_key: the consumer key is not set") {
				t.Errorf("CheckKeys: %v; want the missing keys, agent or not (run decides whether it needs them)", err)
			}
		})
	}
	// A configuration built in code has its twitter section.
	c := Default()
	c.MQTT = &MQTT{Broker: "mqtt://broker.lan", Node: "garden", Commands: true}
	c.Devices = []Device{{Name: "pump", Pin: "GPIO27", Kind: KindOutput}}
	if c.Agent() {
		t.Error("a Config built in code is an agent")
	}
}

// TestRemoteDeviceValidate: Validate (a Config built in code) checks a
// device of another node the way Parse does.
func TestRemoteDeviceValidate(t *testing.T) {
	c := Default()
	c.MQTT = &MQTT{Broker: "mqtt://broker.lan", Node: "gateway", Commands: true, Discovery: DefaultDiscovery}
	c.Devices = []Device{
		{Name: "garden_pump", Node: "garden", NodeDevice: "pump"},
		{Name: "water", Node: "garden", NodeDevice: "pump"},
		{Name: "orphan", NodeDevice: "door"},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	got := err.Error()
	for _, want := range []string{
		"devices.water: is device pump of node garden, as garden_pump is",
		"devices.orphan: has device but no node",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "garden_pump: has no") {
		t.Errorf("a device of another node needs no pin or kind here:\n%s", got)
	}
	c.Devices = c.Devices[:1]
	if err := c.Validate(); err != nil {
		t.Errorf("one device of another node: %v", err)
	}
}
