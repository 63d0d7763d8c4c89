package mqtt

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	"periph.io/x/conn/v3/gpio"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device/mqtt/mqtttest"
)

// TestBrokerRestart: the broker restarts mid-run. The node reconnects by
// itself; every command the broker accepts once it is back runs, once;
// commands sent again with the ids of earlier ones run nothing.
func TestBrokerRestart(t *testing.T) {
	for _, persist := range []bool{true, false} {
		t.Run(fmt.Sprintf("persistence %t", persist), func(t *testing.T) {
			r := newRig(t, rigOptions{broker: mqtttest.Options{Persist: persist}})
			send := func(c *mqtttest.Client, id string) {
				if rc := c.Publish(&paho.Publish{Topic: "tweetpi/garden/led/set", Payload: []byte("toggle"),
					Properties: &paho.PublishProperties{CorrelationData: []byte(id), ResponseTopic: "gw/replies"}}); rc >= 0x80 {
					t.Fatalf("publish %s: reason %#x", id, rc)
				}
			}
			r.watch.Subscribe("gw/replies")
			for i := range 5 {
				send(r.watch, fmt.Sprintf("before-%d", i))
			}
			r.watch.WaitFor("gw/replies", 4, func(mqtttest.Message) bool { return true })

			r.broker.Restart()
			w := mqtttest.Dial(t, r.broker, "", "")
			w.Subscribe("tweetpi/garden/availability", "gw/replies")
			w.WaitFor("tweetpi/garden/availability", 0, func(m mqtttest.Message) bool { return m.Payload == Online && !m.Retained })
			for i := range 5 {
				send(w, fmt.Sprintf("after-%d", i))
				send(w, fmt.Sprintf("before-%d", i)) // again: must not run
			}
			w.WaitFor("gw/replies", 9, func(mqtttest.Message) bool { return true })

			runs := map[string]int{}
			for _, l := range r.log.lines("run") {
				id, _ := l["correlation"].(string)
				runs[id]++
			}
			for i := range 5 {
				for _, id := range []string{fmt.Sprintf("before-%d", i), fmt.Sprintf("after-%d", i)} {
					if runs[id] != 1 {
						t.Errorf("%s ran %d times, want once", id, runs[id])
					}
				}
			}
			if len(runs) != 10 {
				t.Errorf("runs %v", runs)
			}
			// Ten toggles: off again, and the state topic says so.
			r.level("GPIO17", gpio.Low)
			if dups := len(r.log.lines("command", "result", "duplicate")); dups != 5 {
				t.Errorf("%d duplicates logged, want 5", dups)
			}
			if len(r.log.lines("mqtt connection lost; reconnecting")) == 0 {
				t.Errorf("the lost connection was not logged")
			}
		})
	}
}

// TestPasswordAuth: the node logs in with its user and password; a wrong
// password is refused, said in the log with the fix, and never shown.
func TestPasswordAuth(t *testing.T) {
	const pw = "s3cr3t-garden-PW"
	b := mqtttest.Start(t, mqtttest.Options{Users: map[string]string{"garden": pw, "watcher": "w"}})
	r := newRig(t, rigOptions{on: b, noStart: true, cfg: func(c *config.MQTT) {
		c.Username, c.Password = "garden", config.Secret(pw)
	}})
	r.watch = mqtttest.Dial(t, b, "watcher", "w")
	r.watch.Subscribe("tweetpi/#")
	r.start()
	r.watch.Send("tweetpi/garden/led/set", "on")
	r.level("GPIO17", gpio.High)
	r.stop()

	r.cfg.Password = "wrong-" + pw
	r.startNoWait()
	r.log.waitLog(t, "mqtt cannot connect; trying again")
	r.stop()
	l := r.log.lines("mqtt cannot connect; trying again")[0]
	if err, _ := l["err"].(string); !strings.Contains(err, "refused the user name or password; check mqtt.username and the password") {
		t.Errorf("the refusal says %q", err)
	}
	if strings.Contains(r.log.String(), pw) {
		t.Errorf("the password is in the log:\n%s", r.log.String())
	}
	if st := r.node.Status(); st.Connected || !strings.Contains(st.LastError, "refused the user name or password") {
		t.Errorf("status %+v", st)
	}
}

// TestTLS: mqtts:// with ca_file; without it the system's CAs do not know
// the broker's and the connection is refused, saying why.
func TestTLS(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{TLS: true})
	r := newRig(t, rigOptions{on: b, noStart: true, cfg: func(c *config.MQTT) { c.CAFile = b.CAFile }})
	r.watch = mqtttest.Dial(t, b, "", "")
	r.watch.Subscribe("tweetpi/#")
	if !strings.HasPrefix(r.cfg.Broker, "mqtts://") {
		t.Fatalf("broker %s", r.cfg.Broker)
	}
	r.start()
	r.watch.Send("tweetpi/garden/led/set", "on")
	r.level("GPIO17", gpio.High)
	r.stop()

	r.cfg.CAFile = ""
	r.startNoWait()
	line := r.log.waitLog(t, "mqtt cannot connect; trying again")
	r.stop()
	if err, _ := line["err"].(string); !strings.Contains(err, "certificate") {
		t.Errorf("without the CA: %q, want a certificate error", err)
	}
}

// TestACLExample runs a node, a gateway and Home Assistant against the
// mosquitto ACL of deploy/mosquitto: the node works in full, may not
// command another node, and the gateway and Home Assistant may.
func TestACLExample(t *testing.T) {
	acl, err := os.ReadFile("../../deploy/mosquitto/acl")
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]string{"garden": "g", "desk": "d", "gateway": "gw", "homeassistant": "ha"}
	b := mqtttest.Start(t, mqtttest.Options{Users: users, ACL: string(acl)})
	r := newRig(t, rigOptions{on: b, noStart: true, cfg: func(c *config.MQTT) { c.Username, c.Password = "garden", "g" }})
	ha := mqtttest.Dial(t, b, "homeassistant", "ha")
	ha.Subscribe("homeassistant/#", "tweetpi/#")
	r.watch = ha
	r.start()
	ha.WaitFor("homeassistant/device/garden/config", 0, func(mqtttest.Message) bool { return true })
	ha.Send("tweetpi/garden/led/set", "on")
	r.level("GPIO17", gpio.High)
	ha.WaitPayload("tweetpi/garden/led/state", 0, "on")
	ha.Send("homeassistant/status", "online")

	gw := mqtttest.Dial(t, b, "gateway", "gw")
	gw.Subscribe("tweetpi/+/+/state", "tweetpi/+/availability", "tweetpi/garden/replies/gateway")
	gw.WaitPayload("tweetpi/garden/led/state", 0, "on")
	gw.Publish(&paho.Publish{Topic: "tweetpi/garden/led/set", Payload: []byte("off"),
		Properties: &paho.PublishProperties{ResponseTopic: "tweetpi/garden/replies/gateway", CorrelationData: []byte("1")}})
	if m := gw.WaitFor("tweetpi/garden/replies/gateway", 0, func(mqtttest.Message) bool { return true }); m.Payload != "led off" {
		t.Errorf("the gateway's answer: %q", m.Payload)
	}
	r.level("GPIO17", gpio.Low)

	desk := mqtttest.Dial(t, b, "desk", "d")
	if rc := desk.Publish(&paho.Publish{Topic: "tweetpi/garden/led/set", Payload: []byte("on")}); rc != 0x87 {
		t.Errorf("another node commanding garden: reason %#x, want 0x87 not authorized", rc)
	}
	if rc := desk.Publish(&paho.Publish{Topic: "tweetpi/garden/led/state", Payload: []byte("on"), Retain: true}); rc != 0x87 {
		t.Errorf("another node writing garden's state: reason %#x, want 0x87 not authorized", rc)
	}
	if rc := desk.Publish(&paho.Publish{Topic: "tweetpi/desk/led/state", Payload: []byte("off")}); rc >= 0x80 {
		t.Errorf("a node writing its own state: reason %#x", rc)
	}
	if rc := desk.Publish(&paho.Publish{Topic: "homeassistant/device/garden/config", Payload: []byte("{}")}); rc != 0x87 {
		t.Errorf("another node writing garden's discovery: reason %#x, want 0x87", rc)
	}
	if l := r.log.lines("mqtt: state not published"); len(l) > 0 {
		t.Errorf("the ACL refused the node's own state: %v", l)
	}
	if l := r.log.lines("mqtt subscribe"); len(l) > 0 {
		t.Errorf("the ACL refused the node's subscriptions: %v", l)
	}
	if got := r.sim.Get("GPIO17").Level(); got != gpio.Low {
		t.Errorf("led %s: desk drove it", got)
	}
}
