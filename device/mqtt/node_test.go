package mqtt

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"periph.io/x/conn/v3/gpio"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device/mqtt/mqtttest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./device/mqtt -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got:\n%s\nwant (%s):\n%s", got, path, want)
	}
}

// TestDiscoveryPayload: the retained device-based discovery message, as
// Home Assistant reads it, from a broker.
func TestDiscoveryPayload(t *testing.T) {
	r := newRig(t, rigOptions{thermal: "45123\n"})
	m := r.watch.WaitFor("homeassistant/device/garden/config", 0, func(mqtttest.Message) bool { return true })
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(m.Payload), "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, m.Payload)
	}
	out.WriteByte('\n')
	golden(t, "testdata/discovery.golden", out.Bytes())

	// Retained, so Home Assistant finds it when it starts later.
	late := mqtttest.Dial(t, r.broker, "", "")
	late.Subscribe("homeassistant/device/garden/config", "tweetpi/garden/+/state", "tweetpi/garden/availability", "tweetpi/garden/cpu_temperature")
	if got := late.WaitFor("homeassistant/device/garden/config", 0, func(m mqtttest.Message) bool { return m.Retained }); got.Payload != m.Payload {
		t.Errorf("the retained payload differs from the one published")
	}
	for topic, want := range map[string]string{
		"tweetpi/garden/led/state":       "off",
		"tweetpi/garden/fan/state":       "0",
		"tweetpi/garden/door/state":      "open", // pulled up
		"tweetpi/garden/availability":    "online",
		"tweetpi/garden/cpu_temperature": "45.1",
	} {
		late.WaitFor(topic, 0, func(m mqtttest.Message) bool {
			if !m.Retained || m.Payload != want {
				t.Errorf("%s: %q (retained %t), want %q retained", topic, m.Payload, m.Retained, want)
			}
			return true
		})
	}
}

// TestSetDrivesPin: a set message drives the pin and the state topic
// follows; a pulse's end and a pwm duty too.
func TestSetDrivesPin(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.watch.Send("tweetpi/garden/led/set", "on")
	r.level("GPIO17", gpio.High)
	r.watch.WaitPayload("tweetpi/garden/led/state", 0, "on")

	r.watch.Send("tweetpi/garden/fan/set", "40%")
	r.watch.WaitPayload("tweetpi/garden/fan/state", 0, "40")
	if got, want := r.sim.Get("GPIO18").Duty(), gpio.DutyMax*40/100; got != want {
		t.Errorf("fan duty %s, want %s", got, want)
	}

	n := r.watch.Count("tweetpi/garden/led/state")
	r.watch.Send("tweetpi/garden/led/set", "pulse 300ms")
	r.watch.WaitPayload("tweetpi/garden/led/state", n, "off") // on already: the pulse's end turns it off
	r.level("GPIO17", gpio.Low)

	// What Home Assistant's switch and fan send (payload_on, the template).
	r.watch.Send("tweetpi/garden/led/set", "ON")
	r.level("GPIO17", gpio.High)
	r.watch.Send("tweetpi/garden/fan/set", "100%")
	r.watch.WaitPayload("tweetpi/garden/fan/state", 0, "100")
	if l := r.log.lines("command", "topic", "tweetpi/garden/led/set", "result", "done"); len(l) != 3 {
		t.Errorf("%d command log lines for led, want 3", len(l))
	}
}

// TestStateWhateverCaused: a command from elsewhere (a post: Board.Run),
// max_on and an input each show on the state topics.
func TestStateWhateverCaused(t *testing.T) {
	devs := testDevices()
	devs[1].MaxOn = 300 * time.Millisecond
	r := newRig(t, rigOptions{devices: devs})
	r.board.Run(t.Context(), "led on; pump on", aliceCaller)
	r.watch.WaitPayload("tweetpi/garden/led/state", 0, "on")
	n := r.watch.Count("tweetpi/garden/pump/state")
	r.watch.WaitPayload("tweetpi/garden/pump/state", 0, "on")
	r.watch.WaitPayload("tweetpi/garden/pump/state", n, "off") // max_on
	r.sim.SetInput("GPIO22", gpio.High)
	r.watch.WaitPayload("tweetpi/garden/door/state", 0, "open")
}

// TestRetainedSetNotRun: a retained command, there before the node came or
// published while it runs, is never run; it is logged and cleared.
func TestRetainedSetNotRun(t *testing.T) {
	r := newRig(t, rigOptions{noStart: true})
	if rc := r.watch.Publish(&paho.Publish{Topic: "tweetpi/garden/led/set", Payload: []byte("on"), Retain: true}); rc >= 0x80 {
		t.Fatalf("publish: reason %#x", rc)
	}
	r.start()
	r.log.waitLog(t, "command", "topic", "tweetpi/garden/led/set", "result", "retained")
	r.watch.Publish(&paho.Publish{Topic: "tweetpi/garden/fan/set", Payload: []byte("50%"), Retain: true})
	r.log.waitLog(t, "command", "topic", "tweetpi/garden/fan/set", "result", "retained")
	// A command after them runs: the node went on.
	r.watch.Send("tweetpi/garden/pump/set", "on")
	r.level("GPIO27", gpio.High)
	if l := r.sim.Get("GPIO17").Level(); l != gpio.Low {
		t.Errorf("led is %s: the retained command ran", l)
	}
	if d := r.sim.Get("GPIO18").Duty(); d != 0 {
		t.Errorf("fan duty %s: the retained command ran", d)
	}
	// Cleared: a new subscriber gets no retained command.
	deadline := time.Now().Add(mqtttest.WaitTimeout)
	for {
		c := mqtttest.Dial(t, r.broker, "", "")
		c.Subscribe("tweetpi/garden/+/set")
		c.Send("tweetpi/garden/probe/set", "") // a marker after any retained message
		m := c.WaitFor("tweetpi/garden/probe/set", 0, func(mqtttest.Message) bool { return true })
		_ = m
		if len(c.Messages("tweetpi/garden/led/set"))+len(c.Messages("tweetpi/garden/fan/set")) == 0 {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the retained commands were not cleared")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRequestResponse: MQTT 5 request/response: the answer goes to the
// response topic with the correlation data; an id runs at most once, also
// after the node restarts.
func TestRequestResponse(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.watch.Subscribe("gateway/replies")
	req := func(payload, corr string) mqtttest.Message {
		n := r.watch.Count("gateway/replies")
		r.watch.Publish(&paho.Publish{Topic: "tweetpi/garden/led/set", Payload: []byte(payload),
			Properties: &paho.PublishProperties{ResponseTopic: "gateway/replies", CorrelationData: []byte(corr)}})
		return r.watch.WaitFor("gateway/replies", n, func(mqtttest.Message) bool { return true })
	}
	m := req("toggle", "1969300000000000001")
	if m.Payload != "led on" || string(m.Correlation) != "1969300000000000001" {
		t.Errorf("answer %q correlation %q, want %q with the request's", m.Payload, m.Correlation, "led on")
	}
	m = req("toggle", "1969300000000000001")
	if !strings.HasPrefix(m.Payload, "not run again") {
		t.Errorf("a repeated id: %q, want not run again", m.Payload)
	}
	r.level("GPIO17", gpio.High) // toggled once
	if got := r.ledger.ids(); len(got) != 1 || got[0] != "1969300000000000001" {
		t.Errorf("ledger %q", got)
	}
	m = req("dance", "x2")
	if !strings.Contains(m.Payload, "dance") {
		t.Errorf("a bad command: %q", m.Payload)
	}
	// Binary correlation data is an id too.
	m = req("toggle", "\x00\x01")
	if m.Payload != "led off" || m.Correlation == nil || string(m.Correlation) != "\x00\x01" {
		t.Errorf("binary correlation: %q %q", m.Payload, m.Correlation)
	}
	r.stop()
	r.start()
	m = req("toggle", "1969300000000000001")
	if !strings.HasPrefix(m.Payload, "not run again") {
		t.Errorf("after a restart, a repeated id: %q", m.Payload)
	}
	r.level("GPIO17", gpio.Low)
	if l := r.log.lines("command", "result", "duplicate"); len(l) != 2 {
		t.Errorf("%d duplicate log lines, want 2", len(l))
	}
}

// TestLedgerFailure: an id that cannot be recorded does not run.
func TestLedgerFailure(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.ledger.mu.Lock()
	r.ledger.fail = errors.New("disk full")
	r.ledger.mu.Unlock()
	r.watch.Subscribe("gateway/replies")
	r.watch.Publish(&paho.Publish{Topic: "tweetpi/garden/led/set", Payload: []byte("on"),
		Properties: &paho.PublishProperties{ResponseTopic: "gateway/replies", CorrelationData: []byte("42")}})
	m := r.watch.WaitFor("gateway/replies", 0, func(mqtttest.Message) bool { return true })
	if !strings.Contains(m.Payload, "not run") {
		t.Errorf("answer %q", m.Payload)
	}
	if l := r.sim.Get("GPIO17").Level(); l != gpio.Low {
		t.Errorf("led %s: ran without its id recorded", l)
	}
}

// TestBadCommands: what a set topic refuses, and says why.
func TestBadCommands(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.watch.Subscribe("replies")
	for _, tc := range []struct{ topic, payload, want string }{
		{"tweetpi/garden/led/set", "on; pump on", "not run: tweetpi/garden/led/set takes one command for led"},
		{"tweetpi/garden/led/set", "led on", `no verb "led"`},
		{"tweetpi/garden/water/set", "on", "not run: use the device's name in the topic: tweetpi/garden/pump/set"},
		{"tweetpi/garden/lde/set", "on", "did you mean led?"},
		{"tweetpi/garden/door/set", "on", "door is an input"},
		{"tweetpi/garden/led/set", strings.Repeat("x", MaxCommand+1), "not run: a command is at most 200 characters"},
	} {
		n := r.watch.Count("replies")
		r.watch.Publish(&paho.Publish{Topic: tc.topic, Payload: []byte(tc.payload), Properties: &paho.PublishProperties{ResponseTopic: "replies"}})
		m := r.watch.WaitFor("replies", n, func(mqtttest.Message) bool { return true })
		if !strings.Contains(m.Payload, tc.want) {
			t.Errorf("%s %q: answer %q, want it to say %q", tc.topic, tc.payload, m.Payload, tc.want)
		}
	}
	for _, pin := range []string{"GPIO17", "GPIO27"} {
		if l := r.sim.Get(pin).Level(); l != gpio.Low {
			t.Errorf("%s is %s after refused commands", pin, l)
		}
	}
}

// TestCommandsOff: with commands: false the node does not subscribe to
// the set topics and Home Assistant's components have no command topic
// that works.
func TestCommandsOff(t *testing.T) {
	r := newRig(t, rigOptions{cfg: func(c *config.MQTT) { c.Commands = false }})
	r.watch.Send("tweetpi/garden/led/set", "on")
	r.watch.Send("tweetpi/garden/pump/set", "on")
	r.board.Run(t.Context(), "fan 10%", aliceCaller) // a marker that the node is busy with nothing else
	r.watch.WaitPayload("tweetpi/garden/fan/state", 0, "10")
	if l := r.sim.Get("GPIO17").Level(); l != gpio.Low {
		t.Errorf("led %s with commands off", l)
	}
}

// TestCleanStop: at a stop the last states (outputs safe once the board
// closes) go out, then offline, retained.
func TestCleanStop(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.watch.Send("tweetpi/garden/led/set", "on")
	r.watch.WaitPayload("tweetpi/garden/led/state", 0, "on")
	n := r.watch.Count("tweetpi/garden/led/state")
	r.cancel()
	r.board.Close() // what the daemon does as it stops
	r.stop()
	r.watch.WaitPayload("tweetpi/garden/led/state", n, "off")
	r.watch.WaitPayload("tweetpi/garden/availability", 0, "offline")
	late := mqtttest.Dial(t, r.broker, "", "")
	late.Subscribe("tweetpi/garden/availability", "tweetpi/garden/led/state")
	if m := late.WaitFor("tweetpi/garden/availability", 0, func(mqtttest.Message) bool { return true }); m.Payload != Offline || !m.Retained {
		t.Errorf("availability %q retained %t, want offline retained", m.Payload, m.Retained)
	}
	if m := late.WaitFor("tweetpi/garden/led/state", 0, func(mqtttest.Message) bool { return true }); m.Payload != "off" {
		t.Errorf("led state %q after the stop, want off", m.Payload)
	}
}

// TestConnectionLostWill: when the connection dies without a goodbye the
// broker publishes the will (offline); the node reconnects by itself and
// says online again. (The node's first reconnect is at once; a broker that
// has not yet seen the old connection end takes the session over and may
// publish no will, and rightly: the node is online. Here the first try
// waits a second, so the broker sees the drop.)
func TestConnectionLostWill(t *testing.T) {
	r := newRig(t, rigOptions{reconnect: func(attempt int) time.Duration {
		if attempt == 0 {
			return time.Second
		}
		return backoff(attempt)
	}})
	r.node.mu.Lock()
	cm := r.node.cm
	r.node.mu.Unlock()
	cm.terminate()
	r.watch.WaitPayload("tweetpi/garden/availability", 1, Offline)
	r.watch.WaitFor("tweetpi/garden/availability", 2, func(m mqtttest.Message) bool { return m.Payload == Online })
	r.watch.Send("tweetpi/garden/led/set", "on")
	r.level("GPIO17", gpio.High)
}

// TestHomeAssistantBirth: Home Assistant's online on its status topic
// brings the discovery payload and the states again.
func TestHomeAssistantBirth(t *testing.T) {
	r := newRig(t, rigOptions{})
	topic := "homeassistant/device/garden/config"
	r.watch.WaitFor(topic, 0, func(mqtttest.Message) bool { return true })
	n, s := r.watch.Count(topic), r.watch.Count("tweetpi/garden/led/state")
	r.watch.Send("homeassistant/status", "online")
	r.watch.WaitFor(topic, n, func(mqtttest.Message) bool { return true })
	r.watch.WaitFor("tweetpi/garden/led/state", s, func(mqtttest.Message) bool { return true })
	r.watch.Send("homeassistant/status", "offline")
	r.watch.Send("tweetpi/garden/led/set", "on") // the node went on
	r.watch.WaitPayload("tweetpi/garden/led/state", s, "on")
	if got := r.watch.Count(topic); got != n+1 {
		t.Errorf("%d discovery messages, want %d: offline brought one too", got, n+1)
	}
}

// TestDeviceRemovedFromConfig: a device taken out of the configuration
// leaves Home Assistant at the next start: its component is sent with only
// its platform (which removes it), then the payload without it.
func TestDeviceRemovedFromConfig(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, rigOptions{stateDir: dir})
	topic := "homeassistant/device/garden/config"
	r.watch.WaitFor(topic, 0, func(mqtttest.Message) bool { return true })
	r.stop()
	r.board.Close()

	devs := testDevices()[:2] // fan and door go
	r2 := newRig(t, rigOptions{devices: devs, stateDir: dir, noStart: true, on: r.broker})
	r2.watch = r.watch
	n := r.watch.Count(topic)
	r2.start()
	first := decode(t, r.watch.WaitFor(topic, n, func(mqtttest.Message) bool { return true }).Payload)
	second := decode(t, r.watch.WaitFor(topic, n+1, func(mqtttest.Message) bool { return true }).Payload)
	for _, id := range []string{"fan", "door"} {
		c, ok := first.Components[id]
		if !ok || len(c) != 1 || c["p"] == nil {
			t.Errorf("first payload: %s is %v, want only its platform", id, c)
		}
		if _, ok := second.Components[id]; ok {
			t.Errorf("second payload still has %s", id)
		}
	}
	if _, ok := second.Components["led"]; !ok {
		t.Errorf("second payload lost led")
	}
	// The next start has nothing to remove: one payload.
	r2.stop()
	n = r.watch.Count(topic)
	r2.start()
	r.watch.WaitFor(topic, n, func(mqtttest.Message) bool { return true })
	r2.stop()
	if got := r.watch.Count(topic); got != n+1 {
		t.Errorf("%d payloads at a start with nothing removed, want 1", got-n)
	}
}

func decode(t *testing.T, s string) discoveryPayload {
	t.Helper()
	var p discoveryPayload
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return p
}

// TestSensorReadings: sensors publish their readings on their state
// topics, retained: a number for a ds18b20, a JSON object for a bme280's
// three quantities, as the discovery's value templates read them.
func TestSensorReadings(t *testing.T) {
	r := newRig(t, rigOptions{sensorEvery: 100 * time.Millisecond})
	r.watch.WaitPayload("tweetpi/garden/tank/state", 0, "21.4")
	m := r.watch.WaitFor("tweetpi/garden/room/state", 0, func(mqtttest.Message) bool { return true })
	var room map[string]float64
	if err := json.Unmarshal([]byte(m.Payload), &room); err != nil {
		t.Fatalf("room state %q: %v", m.Payload, err)
	}
	if len(room) != 3 || room["temperature"] < 20 || room["temperature"] > 30 || room["humidity"] != 42 || room["pressure"] < 900 {
		t.Errorf("room state %q", m.Payload)
	}
	if err := r.sim.SetTemperature("28-00000a1b2c3d", 30.5); err != nil {
		t.Fatal(err)
	}
	r.watch.WaitPayload("tweetpi/garden/tank/state", 0, "30.5")
	late := mqtttest.Dial(t, r.broker, "", "")
	late.Subscribe("tweetpi/garden/tank/state")
	if got := late.WaitFor("tweetpi/garden/tank/state", 0, func(mqtttest.Message) bool { return true }); !got.Retained {
		t.Errorf("tank state %q not retained", got.Payload)
	}
	// A sensor takes no commands.
	r.watch.Subscribe("replies")
	r.watch.Publish(&paho.Publish{Topic: "tweetpi/garden/tank/set", Payload: []byte("on"), Properties: &paho.PublishProperties{ResponseTopic: "replies"}})
	if got := r.watch.WaitFor("replies", 0, func(mqtttest.Message) bool { return true }); !strings.Contains(got.Payload, "tank") {
		t.Errorf("a command on a sensor: %q", got.Payload)
	}
}
