package mqtt

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"periph.io/x/conn/v3/gpio"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
	"github.com/tweetpi/tweetpi/device/mqtt/mqtttest"
)

// fleetBroker is a mosquitto with the deploy/ ACL and a user per node
// (gateway, garden) and homeassistant (the test's watcher).
func fleetBroker(t *testing.T) *mqtttest.Broker {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real mosquitto; skipped with -short")
	}
	acl, err := os.ReadFile("../../deploy/mosquitto/acl")
	if err != nil {
		t.Fatal(err)
	}
	return mqtttest.Start(t, mqtttest.Options{
		Users: map[string]string{"gateway": "gw-pw", "garden": "garden-pw", "garage": "garage-pw", "homeassistant": "ha"},
		ACL:   string(acl),
	})
}

// gatewayRig is a gateway node: a local led, garden's pump and fan as
// garden_pump and garden_fan, on its own board with a Fleet.
type gatewayRig struct {
	*rig
	fleet *Fleet
	led   *fileLedger // the fleet's record of what it sent
}

func newGateway(t *testing.T, b *mqtttest.Broker, wait time.Duration) *gatewayRig {
	t.Helper()
	g := &gatewayRig{led: &fileLedger{path: filepath.Join(t.TempDir(), "sent")}}
	log := &logBuffer{}
	f, err := NewFleet("gateway", g.led, slog.New(slog.NewJSONHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	if wait > 0 {
		f.wait = wait
	}
	g.fleet = f
	r := &rig{t: t, broker: b, sim: device.NewSim(), log: log}
	r.ledger = &fileLedger{path: filepath.Join(t.TempDir(), "ledger")}
	specs := []config.Device{
		{Name: "led", Pin: "GPIO17", Kind: config.KindOutput},
		{Name: "garden_pump", Node: "garden", NodeDevice: "pump", Aliases: []string{"water"}},
		{Name: "garden_fan", Node: "garden", NodeDevice: "fan"},
	}
	board, err := device.Open(specs, r.sim.Pin, device.Options{ThermalPath: filepath.Join(t.TempDir(), "none"), Fleet: f})
	if err != nil {
		t.Fatal(err)
	}
	r.board = board
	t.Cleanup(func() { board.Close() })
	r.cfg = config.MQTT{Broker: b.URL, Node: "gateway", Username: "gateway", Password: "gw-pw", Discovery: "homeassistant", Commands: true}
	r.opt = Options{Board: board, Ledger: r.ledger, Logger: slog.New(slog.NewJSONHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})), Fleet: f, StateDir: t.TempDir()}
	r.watch = mqtttest.Dial(t, b, "homeassistant", "ha")
	r.watch.Subscribe("tweetpi/#")
	r.start()
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("gateway log:\n%s", log.String())
		}
	})
	g.rig = r
	return g
}

// newAgent is garden: a pump (max_on 5m) and a fan on sim pins.
func newAgent(t *testing.T, b *mqtttest.Broker, delay time.Duration) *rig {
	t.Helper()
	r := newRig(t, rigOptions{on: b, noStart: true, devices: []config.Device{
		{Name: "pump", Pin: "GPIO27", Kind: config.KindOutput, MaxOn: 5 * time.Minute},
		{Name: "fan", Pin: "GPIO18", Kind: config.KindPWM, FrequencyHz: 25000},
	}, cfg: func(c *config.MQTT) { c.Username, c.Password = "garden", "garden-pw" }})
	r.opt.RunDelay = delay
	r.watch = mqtttest.Dial(t, b, "homeassistant", "ha")
	r.watch.Subscribe("tweetpi/garden/#")
	r.start()
	return r
}

// waitRemote waits until the gateway's fleet sees ok in garden's dev.
func (g *gatewayRig) waitRemote(dev string, ok func(device.Remote) bool) device.Remote {
	g.t.Helper()
	deadline := time.Now().Add(mqtttest.WaitTimeout)
	for {
		r := g.fleet.Remote("garden", dev)
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("garden %s: %+v after %s", dev, r, mqtttest.WaitTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func bob(id string) device.Caller { return device.Caller{ID: "222", Username: "bob", CommandID: id} }

// TestFleetCommand: a command on a device of another node goes out as an
// MQTT 5 request (QoS 1, not retained, the reply topic in the node's own
// tree, the command's id as correlation data, 30s expiry, give_up_at); the
// node runs it under its own rules and the gateway's reply is the node's
// answer. The gateway records the id before it publishes.
func TestFleetCommand(t *testing.T) {
	b := fleetBroker(t)
	agent := newAgent(t, b, 0)
	g := newGateway(t, b, 0)
	r := g.waitRemote("pump", func(r device.Remote) bool { return r.Online && r.Known && r.State == "off" })
	if r.Kind != config.KindOutput || r.MaxOn != 5*time.Minute {
		t.Errorf("announced %+v, want an output with max_on 5m", r)
	}

	res := g.board.Run(t.Context(), "garden_pump on", bob("1969300000000000001"))
	if res.Reply != "garden: pump on (off by itself in 5m)" || !res.Ran {
		t.Errorf("reply %+v", res)
	}
	agent.level("GPIO27", gpio.High)
	m := g.watch.WaitFor("tweetpi/garden/pump/set", 0, func(mqtttest.Message) bool { return true })
	if m.Payload != "on" || m.Retained || m.QoS != 1 || m.ResponseTopic != "tweetpi/garden/replies/gateway" ||
		string(m.Correlation) != "1969300000000000001" || m.Expiry == nil || *m.Expiry < 29 || *m.Expiry > 30 {
		t.Errorf("request %+v (expiry %v)", m, m.Expiry)
	}
	if got := g.led.ids(); len(got) != 1 || got[0] != "1969300000000000001" {
		t.Errorf("gateway's record %q", got)
	}
	if got := agent.ledger.ids(); len(got) != 1 || got[0] != "1969300000000000001" {
		t.Errorf("agent's ledger %q", got)
	}
	g.waitRemote("pump", func(r device.Remote) bool { return r.State == "on" })

	// The agent's rules: its max_on bounds a pulse the gateway already
	// refuses from the announcement; a list runs in order, each with an id.
	res = g.board.Run(t.Context(), "led on; garden_pump pulse 10m", bob("1969300000000000002"))
	if !res.Rejected || !strings.Contains(res.Reply, "garden_pump's max_on") {
		t.Errorf("%+v", res)
	}
	res = g.board.Run(t.Context(), "led on; water off; garden_fan 40%", bob("1969300000000000003"))
	if res.Reply != "led on; garden: pump off; garden: fan 40%" {
		t.Errorf("%q", res.Reply)
	}
	agent.level("GPIO27", gpio.Low)
	if d := agent.sim.Get("GPIO18").Duty(); d != gpio.DutyMax*40/100 {
		t.Errorf("fan duty %s", d)
	}
	for _, id := range []string{"1969300000000000003.2", "1969300000000000003.3"} {
		if n := len(agent.log.lines("run", "correlation", id)); n != 1 {
			t.Errorf("%s ran %d times", id, n)
		}
	}
	// The same id again: the gateway does not send it twice.
	n := g.watch.Count("tweetpi/garden/pump/set")
	res = g.board.Run(t.Context(), "garden_pump on", bob("1969300000000000001"))
	if !strings.Contains(res.Reply, "not sent to garden again") || res.Ran {
		t.Errorf("%+v", res)
	}
	// status and a device's name: the last retained states.
	g.waitRemote("fan", func(r device.Remote) bool { return r.State == "40" })
	if s := g.board.Status(); !strings.HasPrefix(s, "led on, garden_pump off, garden_fan 40%; up ") {
		t.Errorf("status %q", s)
	}
	if st := g.fleet.Status(); len(st) != 1 || st[0].Node != "garden" || st[0].Availability != "online" || st[0].Devices != 2 {
		t.Errorf("fleet status %+v", st)
	}
	if l := g.log.lines("fleet: request sent", "id", "1969300000000000001"); len(l) != 1 {
		t.Errorf("id 1969300000000000001 published %d times", len(l))
	}
	if c := g.watch.Count("tweetpi/garden/pump/set"); c != n {
		t.Errorf("%d requests published again", c-n)
	}
}

// TestFleetOffline: a node that stopped (offline, retained) is answered
// "offline" without a publish; one killed (its will) too; once back,
// nothing queued runs.
func TestFleetOffline(t *testing.T) {
	b := fleetBroker(t)
	agent := newAgent(t, b, 0)
	g := newGateway(t, b, 0)
	g.waitRemote("pump", func(r device.Remote) bool { return r.Online })
	agent.stop()
	g.waitRemote("pump", func(r device.Remote) bool { return !r.Online })
	res := g.board.Run(t.Context(), "garden_pump on", bob("1"))
	if res.Reply != "garden is offline; not run" || !res.Rejected {
		t.Errorf("%+v", res)
	}
	res = g.board.Run(t.Context(), "led on; garden_pump on", bob("2"))
	if res.Reply != "nothing run: command 2: garden is offline" {
		t.Errorf("%+v", res)
	}
	g.level("GPIO17", gpio.Low)
	if s := g.board.Status(); !strings.HasSuffix(s, "; garden offline") || !strings.Contains(s, "garden_pump off") {
		t.Errorf("status %q", s)
	}
	agent.start()
	g.waitRemote("pump", func(r device.Remote) bool { return r.Online })
	if l := g.log.lines("fleet: request sent"); len(l) != 0 {
		t.Errorf("%d requests sent to an offline node", len(l))
	}
	if n := g.watch.Count("tweetpi/garden/pump/set"); n != 0 {
		t.Errorf("%d requests published to an offline node", n)
	}
	if l := agent.log.lines("run"); len(l) != 0 {
		t.Errorf("the agent ran %d commands", len(l))
	}
	if len(g.led.ids()) != 0 {
		t.Errorf("ids recorded for commands not sent: %q", g.led.ids())
	}
}

// TestFleetSlowNode: a node that holds a command past the gateway's wait
// is answered "did not answer", and the node does not run it afterwards:
// give_up_at told it when the gateway would stop waiting.
func TestFleetSlowNode(t *testing.T) {
	b := fleetBroker(t)
	wait := 2 * time.Second
	agent := newAgent(t, b, wait) // holds each command for the gateway's whole wait
	g := newGateway(t, b, wait)
	g.waitRemote("pump", func(r device.Remote) bool { return r.Online })
	res := g.board.Run(t.Context(), "garden_pump on", bob("1969300000000000007"))
	if res.Reply != "garden did not answer in 2s" || res.Ran {
		t.Errorf("%+v", res)
	}
	l := agent.log.waitLog(t, "command", "correlation", "1969300000000000007")
	if l["result"] != "expired" {
		t.Errorf("the late command: %v, want expired", l)
	}
	if agent.sim.Get("GPIO27").Level() != gpio.Low || len(agent.log.lines("run")) != 0 {
		t.Errorf("the late command ran")
	}
	g.log.waitLog(t, "fleet: an answer no command waits for (it came after the wait, or after a restart); the post was answered without it", "result", "expired")
}

// TestRunDeadline: when a node may still start a command: the message
// expiry as delivered, less what the requester's give_up_at and a margin
// take off.
func TestRunDeadline(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	exp := func(s uint32) *uint32 { return &s }
	for _, tc := range []struct {
		expiry *uint32
		give   string
		want   time.Duration // after at; -1: none
	}{
		{nil, "", -1},
		{nil, "20", -1},
		{exp(30), "", 30 * time.Second},
		{exp(30), "20", 9 * time.Second},
		{exp(12), "20", -9 * time.Second}, // held at the broker past the wait: expired on arrival
		{exp(30), "x", 30 * time.Second},
	} {
		props := &paho.PublishProperties{MessageExpiry: tc.expiry}
		if tc.give != "" {
			props.User = paho.UserProperties{{Key: propGiveUpAt, Value: tc.give}}
		}
		got := runDeadline(props, at)
		if tc.want == -1 {
			if !got.IsZero() {
				t.Errorf("%v %q: %v, want none", tc.expiry, tc.give, got)
			}
			continue
		}
		if got.Sub(at) != tc.want {
			t.Errorf("expiry %d give_up_at %q: %v, want %v", *tc.expiry, tc.give, got.Sub(at), tc.want)
		}
	}
}

// TestFleetAnswerFromAnotherNode: an answer carries the correlation data of
// a request to garden, but comes on garage's reply topic: it is not
// garden's answer (each node can write only its own tree).
func TestFleetAnswerFromAnotherNode(t *testing.T) {
	f, err := NewFleet("gateway", &fileLedger{path: filepath.Join(t.TempDir(), "l")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := &request{node: "garden", answer: make(chan answer, 1)}
	f.pending["42"] = req
	p := func(topic string) *paho.Publish {
		return &paho.Publish{Topic: topic, Payload: []byte("pump on"),
			Properties: &paho.PublishProperties{CorrelationData: []byte("42"), User: paho.UserProperties{{Key: propResult, Value: "done"}}}}
	}
	if !f.received(p("tweetpi/garage/replies/gateway")) {
		t.Fatal("a reply was not taken as the fleet's")
	}
	select {
	case a := <-req.answer:
		t.Fatalf("garage answered for garden: %+v", a)
	default:
	}
	f.received(p("tweetpi/garden/replies/gateway"))
	if a := <-req.answer; a.reply != "pump on" || a.result != "done" {
		t.Errorf("%+v", a)
	}
	if f.received(p("tweetpi/garden/replies/other")) || f.received(p("tweetpi/gateway/availability")) {
		t.Errorf("another gateway's reply, or this node's own availability, taken as the fleet's")
	}
}

// TestFleetNotConnected: with no connection to the broker, a command is
// refused at once, saying so.
func TestFleetNotConnected(t *testing.T) {
	f, err := NewFleet("gateway", &fileLedger{path: filepath.Join(t.TempDir(), "l")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err = f.Send(ctx, "garden", "pump", "on", "1")
	if err == nil || err.Error() != "garden cannot be reached: tweetpi is not connected to the broker; not run" {
		t.Errorf("%v", err)
	}
}

// TestAnnouncement: the devices a node announces to the fleet, retained,
// and what a gateway makes of them.
func TestAnnouncement(t *testing.T) {
	devs := testDevices()
	devs[0].Confirm = true
	r := newRig(t, rigOptions{devices: devs, cfg: func(c *config.MQTT) { c.Commands = false }})
	m := r.watch.WaitFor(DevicesTopic("garden"), 0, func(mqtttest.Message) bool { return true })
	var a Announcement
	if err := json.Unmarshal([]byte(m.Payload), &a); err != nil {
		t.Fatalf("%v: %s", err, m.Payload)
	}
	want := map[string]Announced{
		"led": {Kind: "output", Confirm: true}, "pump": {Kind: "output", MaxOn: "5m"}, "fan": {Kind: "pwm"},
		"door": {Kind: "input"}, "tank": {Kind: "ds18b20"}, "room": {Kind: "bme280"},
	}
	if a.Commands || len(a.Devices) != len(want) {
		t.Errorf("announcement %s", m.Payload)
	}
	for k, w := range want {
		if a.Devices[k] != w {
			t.Errorf("%s: %+v, want %+v", k, a.Devices[k], w)
		}
	}
	late := mqtttest.Dial(t, r.broker, "", "")
	late.Subscribe(DevicesTopic("garden"))
	if l := late.WaitFor(DevicesTopic("garden"), 0, func(mqtttest.Message) bool { return true }); !l.Retained || l.Payload != m.Payload {
		t.Errorf("not retained: %+v", l)
	}
	// A gateway reads it: kinds and limits, and that garden takes no commands.
	f, err := NewFleet("gateway", &fileLedger{path: filepath.Join(t.TempDir(), "l")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.connUp()
	f.received(&paho.Publish{Topic: "tweetpi/garden/availability", Payload: []byte("online")})
	f.received(&paho.Publish{Topic: DevicesTopic("garden"), Payload: []byte(m.Payload)})
	f.received(&paho.Publish{Topic: "tweetpi/garden/pump/state", Payload: []byte("on")})
	got := f.Remote("garden", "pump")
	if w := (device.Remote{Online: true, NoCommands: true, Known: true, Kind: "output", MaxOn: 5 * time.Minute, State: "on"}); got != w {
		t.Errorf("Remote = %+v, want %+v", got, w)
	}
	if got := f.Remote("garden", "nothing"); got.Known || !got.Online {
		t.Errorf("an unannounced device: %+v", got)
	}
}

// TestFleetNodeGoneWhileWaiting: the node's will (offline) comes while the
// gateway waits for its answer: the wait ends at once, saying the command
// may have run (a node that comes back with its session still runs it, at
// most once, within give_up_at).
func TestFleetNodeGoneWhileWaiting(t *testing.T) {
	b := fleetBroker(t)
	agent := newAgent(t, b, 3*time.Second) // room for the will to arrive first, on a slow machine too
	g := newGateway(t, b, 0)
	g.waitRemote("pump", func(r device.Remote) bool { return r.Online })
	done := make(chan device.Result, 1)
	go func() { done <- g.board.Run(context.Background(), "garden_pump on", bob("1969300000000000011")) }()
	agent.log.waitLog(t, "mqtt: holding the command (the test hook TWEETPI_TEST_RUN_DELAY)")
	agent.node.mu.Lock()
	cm := agent.node.cm
	agent.node.mu.Unlock()
	cm.terminate() // as a crash or a cut cable: the broker sends the will
	res := <-done
	if res.Reply != "garden went offline before it answered; it may have run" || res.Ran {
		t.Errorf("%+v", res)
	}
	// Back with its session: the held command runs once, the redelivery not.
	agent.log.waitLog(t, "command", "correlation", "1969300000000000011", "result", "done")
	agent.log.waitLog(t, "command", "correlation", "1969300000000000011", "result", "duplicate")
	if n := len(agent.log.lines("run", "correlation", "1969300000000000011")); n != 1 {
		t.Errorf("ran %d times", n)
	}
}

// TestFleetNotAuthorized: a gateway whose broker user may not write the
// other nodes' set topics is told so, with the topic its ACL must allow;
// nothing runs.
func TestFleetNotAuthorized(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real mosquitto; skipped with -short")
	}
	// deploy/mosquitto/acl without its gateway section.
	acl := "pattern readwrite tweetpi/%u/#\npattern write homeassistant/device/%u/config\n" +
		"user gateway\ntopic read tweetpi/#\nuser homeassistant\ntopic read tweetpi/#\n"
	b := mqtttest.Start(t, mqtttest.Options{
		Users: map[string]string{"gateway": "gw-pw", "garden": "garden-pw", "homeassistant": "ha"},
		ACL:   acl,
	})
	agent := newAgent(t, b, 0)
	g := newGateway(t, b, 0)
	g.waitRemote("pump", func(r device.Remote) bool { return r.Online })
	res := g.board.Run(t.Context(), "garden_pump on", bob("5"))
	if res.Reply != "not run: the broker does not let this tweetpi command garden (its ACL must let it write tweetpi/garden/pump/set)" || res.Ran {
		t.Errorf("%+v", res)
	}
	if n := len(agent.log.lines("run")); n != 0 {
		t.Errorf("garden ran %d commands", n)
	}
}

// TestPublishRefusedSaysACL: a publish the broker's ACL refuses is logged
// with the user and the topic the ACL must let it write (here: a node
// named otherwise than its broker user, so its own topics are not its).
func TestPublishRefusedSaysACL(t *testing.T) {
	b := fleetBroker(t)
	r := newRig(t, rigOptions{on: b, cfg: func(c *config.MQTT) { c.Username, c.Password, c.Node = "garden", "garden-pw", "shed" }, noStart: true})
	r.startNoWait()
	r.log.waitLog(t, "mqtt: devices not announced to the fleet", "err", `the broker refused tweetpi/shed/devices: not authorized; the ACL must let user "garden" write it`)
}
