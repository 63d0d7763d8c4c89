package main

// The daemon on an MQTT broker: the real tweetpi binary against
// twittertest and a real mosquitto, both over loopback.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eclipse/paho.golang/paho"

	"github.com/tweetpi/tweetpi/config"
	devmqtt "github.com/tweetpi/tweetpi/device/mqtt"
	"github.com/tweetpi/tweetpi/device/mqtt/mqtttest"
	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

const mqttPassword = "s3cr3t-MQTT-garden-9f2"

// mqttDaemon is a broker with users garden (the daemon) and homeassistant
// (the test), and a daemon configuration that uses it.
func mqttDaemon(t *testing.T, pwInEnv bool) (*mqtttest.Broker, *fake, daemonFiles, *mqtttest.Client) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs tweetpi and mosquitto; skipped with -short")
	}
	acl, err := os.ReadFile("../../deploy/mosquitto/acl")
	if err != nil {
		t.Fatal(err)
	}
	b := mqtttest.Start(t, mqtttest.Options{Users: map[string]string{"garden": mqttPassword, "homeassistant": "ha"}, ACL: string(acl), Persist: true})
	f := newFake(t, "v2")
	dir := t.TempDir()
	section := fmt.Sprintf("mqtt:\n  broker: %s\n  username: garden\n  node: garden\n", b.URL)
	var env []string
	if pwInEnv {
		env = append(env, config.MQTTPasswordEnv+"="+mqttPassword)
	} else {
		pw := filepath.Join(dir, "mqtt-password")
		if err := os.WriteFile(pw, []byte(mqttPassword+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		section += "  password_file: " + pw + "\n"
	}
	files := writeDaemonConfig(t, f, daemonConfig{
		Listen:  []string{bot.InboxMentions},
		Devices: e2eDevices + "  door: {pin: GPIO22, kind: input, high: open, low: closed, ha_class: door}\n",
		Extra:   section,
	})
	files.Env = append(files.Env, env...)
	ha := mqtttest.Dial(t, b, "homeassistant", "ha")
	ha.Subscribe("tweetpi/#", "homeassistant/#")
	return b, f, files, ha
}

// online waits for the daemon's next live online.
func online(ha *mqtttest.Client) {
	n := ha.Count("tweetpi/garden/availability")
	ha.WaitFor("tweetpi/garden/availability", n, func(m mqtttest.Message) bool { return m.Payload == devmqtt.Online && !m.Retained })
}

// TestMQTTDaemon: tweetpi run with mqtt: serves its devices on the broker:
// discovery, a post's command on the state topic, set topics that drive
// the pins, a retained command refused, request/response, the broker
// restarting, offline at a clean stop, the password nowhere.
func TestMQTTDaemon(t *testing.T) {
	t.Parallel()
	b, f, files, ha := mqttDaemon(t, false)
	n := ha.Count("tweetpi/garden/availability")
	p := startDaemon(t, files.Path, files.Env)
	ha.WaitFor("tweetpi/garden/availability", n, func(m mqtttest.Message) bool { return m.Payload == devmqtt.Online && !m.Retained })
	p.waitFresh(bot.InboxMentions)

	disc := ha.WaitFor("homeassistant/device/garden/config", 0, func(mqtttest.Message) bool { return true })
	for _, want := range []string{`"led":{`, `"p":"switch"`, `"fan":{`, `"p":"fan"`, `"door":{`, `"device_class":"door"`, `"avty_t":"tweetpi/garden/availability"`} {
		if !strings.Contains(disc.Payload, want) {
			t.Errorf("discovery lacks %s:\n%s", want, disc.Payload)
		}
	}
	ha.WaitPayload("tweetpi/garden/led/state", 0, "off")

	// A post's command shows on the state topic.
	post := f.Post(f.Alice, "@mypi led on", 0)
	p.waitLog("command", "post_id", post.ID, "result", "ran")
	ha.WaitPayload("tweetpi/garden/led/state", 0, "on")

	// A set message drives the pin.
	s := ha.Count("tweetpi/garden/fan/state")
	ha.Send("tweetpi/garden/fan/set", "40%")
	p.waitLog("pin set", "device", "fan", "duty", "40%", "by", "command")
	ha.WaitPayload("tweetpi/garden/fan/state", s, "40")

	// A retained one is not run.
	ha.Publish(&paho.Publish{Topic: "tweetpi/garden/pump/set", Payload: []byte("on"), Retain: true})
	p.waitLog("command", "topic", "tweetpi/garden/pump/set", "result", "retained")

	// Request/response, as a gateway asks.
	ha.Subscribe("tweetpi/garden/replies/test")
	ha.Publish(&paho.Publish{Topic: "tweetpi/garden/led/set", Payload: []byte("off"),
		Properties: &paho.PublishProperties{ResponseTopic: "tweetpi/garden/replies/test", CorrelationData: []byte("req-1")}})
	if m := ha.WaitFor("tweetpi/garden/replies/test", 0, func(mqtttest.Message) bool { return true }); m.Payload != "led off" || string(m.Correlation) != "req-1" {
		t.Errorf("answer %q correlation %q", m.Payload, m.Correlation)
	}

	// The broker restarts: the daemon reconnects and takes commands again;
	// the X side went on meanwhile.
	b.Restart()
	ha = mqtttest.Dial(t, b, "homeassistant", "ha")
	ha.Subscribe("tweetpi/garden/availability", "tweetpi/garden/led/state", "tweetpi/garden/pump/state")
	ha.WaitFor("tweetpi/garden/availability", 0, func(m mqtttest.Message) bool { return m.Payload == devmqtt.Online && !m.Retained })
	ha.Send("tweetpi/garden/led/set", "on")
	p.waitLog("pin set", "device", "led", "state", "on", "by", "command")
	post2 := f.Post(f.Alice, "@mypi pump on", 0)
	p.waitLog("command", "post_id", post2.ID, "result", "ran")
	ha.WaitPayload("tweetpi/garden/pump/state", 0, "on")
	if n := p.countLog("pin set", "device", "pump", "state", "on"); n != 1 {
		t.Errorf("pump set on %d times: the retained command ran", n)
	}

	// A clean stop: outputs safe, their states and offline published.
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d", code)
	}
	checkSafeAtExit(t, p)
	ha.WaitPayload("tweetpi/garden/led/state", 0, "off")
	ha.WaitPayload("tweetpi/garden/availability", 0, devmqtt.Offline)
	checkNoSecret(t, []string{mqttPassword}, []*daemonProc{p}, files.StateDir)
	if strings.Contains(b.Log(), mqttPassword) {
		t.Errorf("the password is in the broker's log")
	}
}

// TestMQTTKill9Will: a daemon killed with SIGKILL cannot say goodbye: the
// broker publishes its will, offline, retained; the next start is online
// again.
func TestMQTTKill9Will(t *testing.T) {
	t.Parallel()
	b, _, files, ha := mqttDaemon(t, true)
	p := startDaemon(t, files.Path, files.Env)
	online(ha)
	n := ha.Count("tweetpi/garden/availability")
	p.kill9()
	m := ha.WaitFor("tweetpi/garden/availability", n, func(mqtttest.Message) bool { return true })
	if m.Payload != devmqtt.Offline {
		t.Errorf("after kill -9: %q, want offline", m.Payload)
	}
	late := mqtttest.Dial(t, b, "homeassistant", "ha")
	late.Subscribe("tweetpi/garden/availability")
	if m := late.WaitFor("tweetpi/garden/availability", 0, func(mqtttest.Message) bool { return true }); m.Payload != devmqtt.Offline || !m.Retained {
		t.Errorf("retained availability %q (retained %t), want offline", m.Payload, m.Retained)
	}
	p2 := startDaemon(t, files.Path, files.Env)
	online(ha)
	p2.term()
	checkNoSecret(t, []string{mqttPassword}, []*daemonProc{p, p2}, files.StateDir)
}

// TestMQTTBadConfig: mistakes in mqtt: stop tweetpi run and check with
// their lines, before anything connects; the password never shows.
func TestMQTTBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	body := "twitter:\n  api: v2\nmqtt:\n  broker: tcp://broker.lan:1883\n  password: \"" + mqttPassword + "\"\n  nod: garden\ndevices:\n  door: {pin: GPIO22, kind: input, ha_class: windoww}\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	err := run(t.Context(), []string{"check", "-config", path}, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	if err == nil {
		t.Fatal("check passed")
	}
	got := err.Error()
	for _, want := range []string{
		path + ":4: mqtt.broker: \"tcp://broker.lan:1883\" is not an mqtt:// or mqtts:// URL",
		path + ":5: mqtt.password: this file holds a secret and can be read by group or others (mode 0644); run chmod 600 " + path,
		path + ":5: mqtt.password: is set but username is not",
		path + ":6: mqtt.nod: unknown key; did you mean node?",
		path + ":8: devices.door.ha_class: \"windoww\" is not a Home Assistant binary sensor class; did you mean window?",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if code := exitCode(err, &errOut); code != exitFail {
		t.Errorf("check: exit %d, want %d", code, exitFail)
	}
	err = run(t.Context(), []string{"run", "-config", path}, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	if code := exitCode(err, &errOut); code != exitConfig {
		t.Errorf("run: exit %d, want %d", code, exitConfig)
	}
	if s := out.String() + errOut.String() + got; strings.Contains(s, mqttPassword) {
		t.Errorf("the password is in the output:\n%s", s)
	}
}

// TestMQTTLedger: the daemon's MQTT command ids go into the state file's
// ledger, under their own namespace, and survive a restart.
func TestMQTTLedger(t *testing.T) {
	dir := t.TempDir()
	l, err := bot.OpenLedger(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	led := ledgerNS{l, mqttNamespace}
	if fresh, err := led.Take("req-1"); !fresh || err != nil {
		t.Fatalf("Take = %t, %v", fresh, err)
	}
	if fresh, _ := led.Take("req-1"); fresh {
		t.Error("a repeated id is fresh")
	}
	l.Close()
	l, err = bot.OpenLedger(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if fresh, _ := (ledgerNS{l, mqttNamespace}).Take("req-1"); fresh {
		t.Error("after a restart, a repeated id is fresh")
	}
	data, err := os.ReadFile(filepath.Join(dir, bot.StateFile))
	if err != nil || !strings.Contains(string(data), "req-1") {
		t.Errorf("state file %s, %v: want the id in it", data, err)
	}
}

// TestMQTTWhileXIsDown: the X API failing (at start, and later) never
// stops MQTT: Home Assistant's commands run and the states follow, and the
// posts run once X is back.
func TestMQTTWhileXIsDown(t *testing.T) {
	t.Parallel()
	_, f, files, ha := mqttDaemon(t, true)
	f.Fail(twitter.EndpointMe, twittertest.Fault{Status: 503, Count: -1})
	p := startDaemon(t, files.Path, files.Env)
	online(ha)
	ha.Send("tweetpi/garden/led/set", "on")
	p.waitLog("pin set", "device", "led", "state", "on", "by", "command")
	ha.WaitPayload("tweetpi/garden/led/state", 0, "on")
	if n := p.countLog("polling"); n != 0 {
		t.Fatalf("polling with users/me failing")
	}
	f.ClearFaults()
	p.waitFresh(bot.InboxMentions)
	f.Fail(twitter.EndpointMentions, twittertest.Fault{Status: 503, Count: -1})
	ha.Send("tweetpi/garden/led/set", "off")
	ha.WaitPayload("tweetpi/garden/led/state", 0, "off")
	f.ClearFaults()
	post := f.Post(f.Alice, "@mypi fan 30%", 0)
	p.waitLog("command", "post_id", post.ID, "result", "ran")
	ha.WaitPayload("tweetpi/garden/fan/state", 0, "30")
	p.term()
}
