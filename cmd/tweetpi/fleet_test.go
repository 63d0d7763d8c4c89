package main

// A fleet end to end: two real tweetpi processes on one real mosquitto
// (the deploy/ ACL, a broker user per node): the gateway against
// twittertest, the agent (garden) on sim pins, no X keys.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/config"
	devmqtt "github.com/tweetpi/tweetpi/device/mqtt"
	"github.com/tweetpi/tweetpi/device/mqtt/mqtttest"
	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
)

// fleetRig is a broker, the fake X, and the two nodes' configurations.
type fleetRig struct {
	t       *testing.T
	broker  *mqtttest.Broker
	fake    *fake
	gateway daemonFiles
	agent   daemonFiles
	watch   *mqtttest.Client // homeassistant: reads tweetpi/#
}

const (
	gatewayPW = "s3cr3t-gateway-pw-41"
	gardenPW  = "s3cr3t-garden-pw-77"
)

// fleetDevices are the gateway's: its led and garden's pump and light.
const fleetDevices = `  led:  {pin: GPIO17, kind: output, initial: off}
  garden_pump: {node: garden, device: pump, aliases: [water]}
  garden_light: {node: garden, device: light}
`

// agentConfig is garden's file: a pump with max_on and a light, on sim
// pins, no twitter: section.
func agentConfig(t testing.TB, b *mqtttest.Broker) daemonFiles {
	t.Helper()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	body := fmt.Sprintf(`mqtt:
  broker: %s
  username: garden
  node: garden
state_dir: %s
gpio: {backend: sim}
devices:
  pump:  {pin: GPIO27, kind: output, max_on: 5m}
  light: {pin: GPIO17, kind: output}
`, b.URL, state)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return daemonFiles{Path: path, StateDir: state, Env: []string{config.MQTTPasswordEnv + "=" + gardenPW}}
}

func newFleetRig(t *testing.T) *fleetRig {
	t.Helper()
	if testing.Short() {
		t.Skip("runs two tweetpi and a mosquitto; skipped with -short")
	}
	acl, err := os.ReadFile("../../deploy/mosquitto/acl")
	if err != nil {
		t.Fatal(err)
	}
	b := mqtttest.Start(t, mqtttest.Options{
		Users: map[string]string{"gateway": gatewayPW, "garden": gardenPW, "homeassistant": "ha"},
		ACL:   string(acl), Persist: true,
	})
	f := newFake(t, "v2")
	gw := writeDaemonConfig(t, f, daemonConfig{
		Listen:  []string{bot.InboxMentions},
		MaxAge:  time.Hour,
		Devices: fleetDevices,
		Extra:   fmt.Sprintf("mqtt:\n  broker: %s\n  username: gateway\n  node: gateway\n", b.URL),
	})
	gw.Env = append(gw.Env, config.MQTTPasswordEnv+"="+gatewayPW)
	w := mqtttest.Dial(t, b, "homeassistant", "ha")
	w.Subscribe("tweetpi/#")
	return &fleetRig{t: t, broker: b, fake: f, gateway: gw, agent: agentConfig(t, b), watch: w}
}

// startAgent starts garden and waits until it is online; env adds to its
// environment.
func (r *fleetRig) startAgent(env ...string) *daemonProc {
	r.t.Helper()
	n := r.watch.Count("tweetpi/garden/availability")
	p := startDaemon(r.t, r.agent.Path, append(append([]string{}, r.agent.Env...), env...))
	r.watch.WaitFor("tweetpi/garden/availability", n, func(m mqtttest.Message) bool { return m.Payload == devmqtt.Online && !m.Retained })
	return p
}

// startGateway starts the gateway and waits until it polls and follows
// garden (its fleet has seen garden's announcement).
func (r *fleetRig) startGateway(fresh bool) *daemonProc {
	r.t.Helper()
	p := startDaemon(r.t, r.gateway.Path, r.gateway.Env)
	if fresh {
		p.waitFresh(bot.InboxMentions)
	} else {
		p.waitLog("polling")
	}
	p.waitLog("mqtt connected")
	return p
}

// command posts text as alice and returns the gateway's reply to it.
func (r *fleetRig) command(gw *daemonProc, text string) (twitter.Post, string) {
	r.t.Helper()
	post := r.fake.Post(r.fake.Alice, "@mypi "+text, 0)
	gw.waitLog("command", "post_id", post.ID)
	var reply string
	waitFake(r.t, "the reply to "+post.ID, func() bool {
		for _, rp := range r.fake.Replies() {
			if rp.InReplyTo == post.ID {
				reply = rp.Text
				return true
			}
		}
		return false
	})
	return post, reply
}

// pinSets counts the agent's pin changes of dev made by commands.
func pinSets(procs []*daemonProc, dev string) int {
	n := 0
	for _, p := range procs {
		n += p.countLog("pin set", "device", dev, "by", "command")
	}
	return n
}

// TestFleet: a remote command is answered with the agent's words; a list
// mixes local and remote devices; a list across nodes with one bad entry
// runs nothing anywhere; help and status show garden's devices; an agent
// takes no X keys and no allow list of its own.
func TestFleet(t *testing.T) {
	t.Parallel()
	r := newFleetRig(t)
	agent := r.startAgent()
	gw := r.startGateway(true)

	post, reply := r.command(gw, "garden_pump on")
	if !strings.HasPrefix(reply, "garden: pump on (off by itself in 5m)") {
		t.Errorf("reply %q, want the agent's answer", reply)
	}
	agent.waitLog("pin set", "device", "pump", "state", "on", "by", "command")
	if l := agent.waitLog("run", "correlation", post.ID); l.str("topic") != "tweetpi/garden/pump/set" {
		t.Errorf("agent ran %v", l.Raw)
	}
	r.watch.WaitPayload("tweetpi/garden/pump/state", 0, "on")

	// A list: the gateway's led, then garden's light, in order.
	post, reply = r.command(gw, "led on; garden_light on")
	if !strings.HasPrefix(reply, "led on; garden: light on") {
		t.Errorf("list reply %q", reply)
	}
	agent.waitLog("run", "correlation", post.ID+".2")
	gw.waitLog("pin set", "device", "led", "state", "on")

	// One bad entry anywhere: nothing runs anywhere.
	before := []int{gw.countLog("pin set"), agent.countLog("run")}
	for _, tc := range []struct{ text, want string }{
		{"led off; garden_light off; garden_pump dance", `nothing run: command 3: garden_pump: no verb "dance"`},
		{"led off; water pulse 10m", "nothing run: command 2: garden_pump pulse 10m refused: it must be 10ms to 5m (garden_pump's max_on)"},
		{"garden_light off; garden_fan off", "nothing run: command 2: no device"},
	} {
		if _, reply := r.command(gw, tc.text); !strings.HasPrefix(reply, tc.want) {
			t.Errorf("%q: %q, want %q", tc.text, reply, tc.want)
		}
	}
	if now := []int{gw.countLog("pin set"), agent.countLog("run")}; now[0] != before[0] || now[1] != before[1] {
		t.Errorf("a refused list drove something: pin sets %d -> %d, agent runs %d -> %d", before[0], now[0], before[1], now[1])
	}

	// status and help: garden's devices with their last states.
	if _, reply := r.command(gw, "status"); !strings.HasPrefix(reply, "led on, garden_pump on, garden_light on; up ") {
		t.Errorf("status %q", reply)
	}
	if _, reply := r.command(gw, "help"); !strings.Contains(reply, "garden_pump (water), garden_light") {
		t.Errorf("help %q", reply)
	}
	// The gateway's latency from taking a post to garden's pin, as both
	// logs stamp it (one clock: the same machine).
	run, pin := gw.waitLog("run", "post_id", post.ID), agent.waitLog("pin set", "device", "light", "state", "on", "by", "command")
	t.Logf("post taken on the gateway to garden's pin set: %s", pin.Time.Sub(run.Time))

	// A reload renames and adds devices of other nodes, with no restart.
	data, err := os.ReadFile(r.gateway.Path)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), "aliases: [water]", "aliases: [water, sprinkler]", 1))
	if err := os.WriteFile(r.gateway.Path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if l := gw.hup(); l.Msg != "reloaded: devices garden_pump changed (aliases)" {
		t.Errorf("reload line %q", l.Msg)
	}
	if _, reply := r.command(gw, "sprinkler off"); !strings.HasPrefix(reply, "garden: pump off") {
		t.Errorf("after the reload: %q", reply)
	}
	if _, reply := r.command(gw, "sprinkler on"); !strings.HasPrefix(reply, "garden: pump on") {
		t.Errorf("after the reload: %q", reply)
	}

	// The agent's stop: its outputs safe, their states and offline
	// published; the gateway says garden is offline.
	if code, _ := agent.term(); code != 0 {
		t.Errorf("agent exit %d", code)
	}
	r.watch.WaitPayload("tweetpi/garden/pump/state", 0, "off")
	if _, reply := r.command(gw, "status"); !strings.Contains(reply, "garden_pump off") || !strings.Contains(reply, "; garden offline") {
		t.Errorf("status with garden stopped: %q", reply)
	}
	if n := agent.countLog("polling"); n != 0 {
		t.Errorf("the agent polled X")
	}
	gw.term()
	checkNoSecret(t, append(r.fake.secrets(), gatewayPW, gardenPW), []*daemonProc{gw, agent}, r.gateway.StateDir, r.agent.StateDir)
}

// TestFleetAgentKilled: garden killed with SIGKILL before a command: the
// broker says offline (its will), the gateway answers "offline" without
// publishing, and nothing is driven when garden comes back.
func TestFleetAgentKilled(t *testing.T) {
	t.Parallel()
	r := newFleetRig(t)
	agent := r.startAgent()
	gw := r.startGateway(true)
	n := r.watch.Count("tweetpi/garden/availability")
	agent.kill9()
	r.watch.WaitFor("tweetpi/garden/availability", n, func(m mqtttest.Message) bool { return m.Payload == devmqtt.Offline })
	gw.waitLog("fleet: node availability", "fleet_node", "garden", "availability", "offline")

	if _, reply := r.command(gw, "garden_pump on"); !strings.HasPrefix(reply, "garden is offline; not run") {
		t.Errorf("reply %q", reply)
	}
	if _, reply := r.command(gw, "led on; garden_light on"); !strings.HasPrefix(reply, "nothing run: command 2: garden is offline") {
		t.Errorf("list reply %q", reply)
	}
	agent2 := r.startAgent()
	gw.waitLog("fleet: node availability", "fleet_node", "garden", "availability", "online")
	_, reply := r.command(gw, "garden_light")
	if !strings.HasPrefix(reply, "garden_light is off") {
		t.Errorf("garden_light after the restart: %q", reply)
	}
	if n := gw.countLog("fleet: request sent"); n != 0 {
		t.Errorf("the gateway sent %d requests to an offline node", n)
	}
	if n := pinSets([]*daemonProc{agent, agent2}, "pump") + pinSets([]*daemonProc{agent, agent2}, "light"); n != 0 {
		t.Errorf("garden drove %d pins by command", n)
	}
	if n := gw.countLog("pin set", "device", "led", "by", "command"); n != 0 {
		t.Errorf("the led ran in a refused list")
	}
	agent2.term()
	gw.term()
}

// TestFleetAgentSlow: garden holds each command past the gateway's 10s
// (the test hook TWEETPI_TEST_RUN_DELAY): the gateway answers "did not
// answer in 10s", and garden does not run the command afterwards: it has
// expired for it.
func TestFleetAgentSlow(t *testing.T) {
	t.Parallel()
	r := newFleetRig(t)
	agent := r.startAgent(runDelayEnv + "=11s")
	gw := r.startGateway(true)
	post, reply := r.command(gw, "garden_pump on")
	if !strings.HasPrefix(reply, "garden did not answer in 10s") {
		t.Errorf("reply %q", reply)
	}
	l := agent.waitLog("command", "correlation", post.ID)
	if l.str("result") != "expired" {
		t.Errorf("garden's late command: %s, want expired", l.Raw)
	}
	if n := agent.countLog("run"); n != 0 || pinSets([]*daemonProc{agent}, "pump") != 0 {
		t.Errorf("the late command ran")
	}
	gw.waitLog("fleet: an answer no command waits for (it came after the wait, or after a restart); the post was answered without it", "result", "expired")
	agent.term()
	gw.term()
}

// TestFleetGatewayKilled: the gateway killed between its publish and the
// answer: garden runs the command once; after the restart the gateway
// neither publishes it again nor does garden run it again. The post's
// reply is lost with the gateway (counted, not repeated).
func TestFleetGatewayKilled(t *testing.T) {
	t.Parallel()
	r := newFleetRig(t)
	agent := r.startAgent(runDelayEnv + "=4s") // a window between the publish and the answer (garden runs it up to 9s after)
	gw := r.startGateway(true)
	post := r.fake.Post(r.fake.Alice, "@mypi garden_pump on", 0)
	gw.waitLog("fleet: request sent", "id", post.ID)
	gw.kill9()
	agent.waitLog("run", "correlation", post.ID)
	agent.waitLog("pin set", "device", "pump", "state", "on", "by", "command")

	gw2 := r.startGateway(false)
	// Two polls after the restart: the post was seen again, and taken before.
	polls := r.fake.Requests(twitter.EndpointMentions)
	r.fake.waitRequests(t, twitter.EndpointMentions, polls+2)
	if n := gw2.countLog("fleet: request sent"); n != 0 {
		t.Errorf("the restarted gateway published %d requests", n)
	}
	if n := gw2.countLog("run", "post_id", post.ID); n != 0 {
		t.Errorf("the restarted gateway ran the post again")
	}
	if n := agent.countLog("run", "correlation", post.ID); n != 1 {
		t.Errorf("garden ran the command %d times", n)
	}
	if n := pinSets([]*daemonProc{agent}, "pump"); n != 1 {
		t.Errorf("garden set the pump %d times", n)
	}
	for _, rp := range r.fake.Replies() {
		if rp.InReplyTo == post.ID {
			t.Errorf("a reply after the gateway died before the answer: %q", rp.Text)
		}
	}
	// The next command goes out and is answered: nothing is stuck.
	if _, reply := r.command(gw2, "garden_pump off"); !strings.HasPrefix(reply, "garden: pump off") {
		t.Errorf("after the restart: %q", reply)
	}
	agent.term()
	gw2.term()
}

// TestFleetAgentSystemd: an agent under systemd: READY=1 once its pins
// are set, WATCHDOG=1 from its MQTT loop (no bot), STOPPING=1 and its
// outputs safe on SIGTERM.
func TestFleetAgentSystemd(t *testing.T) {
	t.Parallel()
	r := newFleetRig(t)
	sock := listenNotify(t)
	agent := r.startAgent("NOTIFY_SOCKET="+sock.path, "WATCHDOG_USEC=1000000")
	waitFake(t, "READY=1 and two WATCHDOG=1", func() bool {
		return sock.count("READY=1") == 1 && sock.count("WATCHDOG=1") >= 2
	})
	if code, _ := agent.term(); code != 0 {
		t.Errorf("exit %d", code)
	}
	msgs := sock.all()
	if msgs[0] != "READY=1" || msgs[len(msgs)-1] != "STOPPING=1" {
		t.Errorf("notifications %q", msgs)
	}
	if agent.countLog("outputs safe") != 1 || agent.countLog("pin set", "device", "pump", "state", "off", "by", "close") != 1 {
		t.Errorf("the outputs did not go safe at the stop")
	}
	r.watch.WaitPayload("tweetpi/garden/availability", 0, devmqtt.Offline)
}
