package mqtt

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
)

// Home Assistant's device-based discovery (home-assistant.io,
// integrations/mqtt, "Device discovery payload"): one retained message on
// PREFIX/device/NODE/config whose dev and o mappings and shared options
// (avty_t, qos) hold for every component under cmps. A component needs its
// platform (p) and a unique_id; keys are spelled as the platform pages
// (switch.mqtt, fan.mqtt, binary_sensor.mqtt, sensor.mqtt) document them.

// component is one Home Assistant entity of a node: its discovery options.
type component map[string]any

// discoveryPayload is the whole discovery message.
type discoveryPayload struct {
	Device       map[string]any       `json:"dev"`
	Origin       map[string]any       `json:"o"`
	Availability string               `json:"avty_t"`
	QoS          int                  `json:"qos"`
	Components   map[string]component `json:"cmps"`
}

// cpuComponent is the id of the CPU temperature's component.
const cpuComponent = "cpu_temperature"

// deviceComponents are the components that show device d in Home
// Assistant, by component id: one per device, named like it, for the
// kinds that have one state; a sensor has one per quantity it measures
// (qs). A kind Home Assistant cannot show yet has none. Add a kind here.
// expire is how long a sensor's reading holds, in seconds.
func deviceComponents(node string, d config.Device, qs []device.Quantity, expire int) map[string]component {
	base := func(platform string) component {
		return component{
			"p":           platform,
			"name":        d.Name,
			"unique_id":   uniqueID(node, d.Name),
			"state_topic": StateTopic(node, d.Name),
		}
	}
	switch d.Kind {
	case config.KindOutput:
		c := base("switch")
		c["command_topic"] = SetTopic(node, d.Name)
		c["payload_on"], c["payload_off"] = "on", "off"
		return map[string]component{d.Name: c}
	case config.KindPWM:
		// The state topic carries the duty (0-100): on/off comes from it
		// through a template, the percentage as it is. A percentage is
		// commanded as "40%", the post language. Fans retain their
		// commands unless told not to, and a retained command is never run.
		c := base("fan")
		c["command_topic"] = SetTopic(node, d.Name)
		c["payload_on"], c["payload_off"] = "on", "off"
		c["state_value_template"] = "{{ 'on' if value | int(0) > 0 else 'off' }}"
		c["percentage_state_topic"] = StateTopic(node, d.Name)
		c["percentage_command_topic"] = SetTopic(node, d.Name)
		c["percentage_command_template"] = "{{ value }}%"
		c["retain"] = false
		return map[string]component{d.Name: c}
	case config.KindInput:
		// Home Assistant's on is the high level.
		c := base("binary_sensor")
		c["payload_on"], c["payload_off"] = d.High, d.Low
		if d.HAClass != "" {
			c["device_class"] = d.HAClass
		}
		return map[string]component{d.Name: c}
	}
	if config.IsSensor(d.Kind) {
		out := map[string]component{}
		for _, q := range qs {
			c := base("sensor")
			c["device_class"] = q.DeviceClass
			c["unit_of_measurement"] = q.Unit
			c["state_class"] = "measurement"
			c["suggested_display_precision"] = q.Decimals
			c["expire_after"] = expire
			id := d.Name
			if len(qs) > 1 {
				// One state topic, a JSON object: each quantity its own entity.
				id = d.Name + "_" + q.Key
				c["name"] = d.Name + " " + q.Key
				c["unique_id"] = uniqueID(node, id)
				c["value_template"] = "{{ value_json." + q.Key + " }}"
			}
			out[id] = c
		}
		return out
	}
	return nil
}

// cpuSensor is the component of the CPU temperature.
func cpuSensor(node string) component {
	return component{
		"p":                   "sensor",
		"name":                "CPU temperature",
		"unique_id":           uniqueID(node, cpuComponent),
		"state_topic":         CPUTopic(node),
		"device_class":        "temperature",
		"unit_of_measurement": "°C",
		"state_class":         "measurement",
		"entity_category":     "diagnostic",
	}
}

func uniqueID(node, id string) string { return "tweetpi_" + node + "_" + id }

// discovery builds the discovery payload for the devices; withCPU adds the
// CPU temperature. clashes are the components left out because another
// had their id first.
func (n *Node) discovery(devs []config.Device, sensors []device.Sensor, withCPU bool) (p discoveryPayload, clashes []string) {
	node := n.cfg.Node
	p = discoveryPayload{
		Device:       map[string]any{"ids": []string{"tweetpi_" + node}, "name": node, "sw": n.version()},
		Origin:       map[string]any{"name": "tweetpi", "sw": n.version()},
		Availability: AvailabilityTopic(node),
		QoS:          1,
		Components:   map[string]component{},
	}
	if n.opt.Model != "" {
		p.Device["mdl"] = n.opt.Model
	}
	qs := map[string][]device.Quantity{}
	for _, sn := range sensors {
		qs[sn.Device] = sn.Quantities
	}
	expire := int(3 * n.sensorInterval() / time.Second)
	for _, d := range devs {
		cs := deviceComponents(node, d, qs[d.Name], expire)
		for _, id := range slices.Sorted(maps.Keys(cs)) {
			if _, dup := p.Components[id]; dup {
				clashes = append(clashes, d.Name+" ("+id+")")
				continue
			}
			p.Components[id] = cs[id]
		}
	}
	if withCPU {
		if _, dup := p.Components[cpuComponent]; dup {
			clashes = append(clashes, "the CPU temperature ("+cpuComponent+")")
		} else {
			p.Components[cpuComponent] = cpuSensor(node)
		}
	}
	return p, clashes
}

// platforms are a payload's components by id, with their platforms: what
// is remembered to remove them later.
func (p discoveryPayload) platforms() map[string]string {
	out := map[string]string{}
	for id, c := range p.Components {
		out[id], _ = c["p"].(string)
	}
	return out
}

// withRemoved is p plus an empty component (only its platform) for each
// remembered component p no longer has: Home Assistant removes those.
func (p discoveryPayload) withRemoved(old map[string]string) (discoveryPayload, []string) {
	var gone []string
	for id := range old {
		if _, ok := p.Components[id]; !ok {
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return p, nil
	}
	slices.Sort(gone)
	q := p
	q.Components = maps.Clone(p.Components)
	for _, id := range gone {
		q.Components[id] = component{"p": old[id]}
	}
	return q, gone
}

// encode renders a payload as compact JSON, templates unescaped.
func (p discoveryPayload) encode() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b.Bytes()), nil
}
