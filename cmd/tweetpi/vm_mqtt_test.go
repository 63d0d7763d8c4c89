//go:build vmtest

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/device/mqtt/mqtttest"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// TestVMMQTT: tweetpi run on periph's gpio-cdev lines, with its devices on
// a real mosquitto that runs on the host (run.sh starts it; QEMU's user
// network shows the host's loopback as 10.0.2.2): a line set through MQTT
// is seen on the kernel's side, and the state topic follows a post, a set
// message and an input.
func TestVMMQTT(t *testing.T) {
	s := vmGPIOSim(t)
	addr := os.Getenv("TWEETPI_VMTEST_MQTT")
	if addr == "" {
		t.Skip("no broker on the host: run.sh starts one when /usr/sbin/mosquitto is there (apt-get install mosquitto)")
	}
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	alice := srv.AddUser("alice")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := vmDaemonConfig(srv, filepath.Join(dir, "state"), "MQTT_LED", "MQTT_PUMP") +
		"  door: {pin: MQTT_DOOR, kind: input, pull: down, high: open, low: closed, ha_class: door, debounce: 20ms}\n" +
		fmt.Sprintf("mqtt:\n  broker: mqtt://%s\n  node: vm\n", addr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ha := mqtttest.DialAddr(t, addr, "", "")
	ha.Subscribe("tweetpi/vm/#", "homeassistant/device/vm/config")

	c := vmTweetpi(t, "run", "-config", cfgPath, "-log-format", "json")
	var logs strings.Builder
	c.Stdout, c.Stderr = &logs, &logs
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	defer func() {
		select {
		case <-exited:
		default:
			c.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("tweetpi run log:\n%s", logs.String())
		}
	}()
	ha.WaitFor("tweetpi/vm/availability", 0, func(m mqtttest.Message) bool { return m.Payload == "online" && !m.Retained })
	ha.WaitFor("homeassistant/device/vm/config", 0, func(mqtttest.Message) bool { return true })
	s.wantLevel(t, "MQTT_LED", 0, "tweetpi run started")

	// A set message drives the line, and the state topic follows.
	t0 := time.Now()
	ha.Send("tweetpi/vm/led/set", "on")
	s.awaitLevel(t, "MQTT_LED", 1, 20*time.Second, "MQTT: led on")
	t.Logf("set message to line high: %s (TCG)", time.Since(t0).Round(time.Millisecond))
	ha.WaitPayload("tweetpi/vm/led/state", 0, "on")
	n := ha.Count("tweetpi/vm/pump/state")
	ha.Send("tweetpi/vm/pump/set", "pulse 500ms")
	s.awaitLevel(t, "MQTT_PUMP", 0, 20*time.Second, "MQTT: pump pulse (active_low)")
	ha.WaitPayload("tweetpi/vm/pump/state", n, "on")
	ha.WaitPayload("tweetpi/vm/pump/state", n, "off") // the pulse ended by itself: the only off after the on
	s.awaitLevel(t, "MQTT_PUMP", 1, 20*time.Second, "pump pulse over (active_low)")

	// A post's command is on the state topic too.
	srv.Post(alice, "@mypi led off", 0)
	s.awaitLevel(t, "MQTT_LED", 0, 30*time.Second, "@alice: led off")
	ha.WaitPayload("tweetpi/vm/led/state", 0, "off")

	// An input's change, seen by the kernel's pull.
	s.setPull(t, "MQTT_DOOR", true)
	ha.WaitPayload("tweetpi/vm/door/state", 0, "open")

	// A clean stop: safe, and offline.
	ha.Send("tweetpi/vm/led/set", "on")
	s.awaitLevel(t, "MQTT_LED", 1, 20*time.Second, "MQTT: led on again")
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("tweetpi run after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("tweetpi run did not exit within 20s of SIGTERM")
	}
	ha.WaitPayload("tweetpi/vm/led/state", 0, "off")
	ha.WaitPayload("tweetpi/vm/availability", 0, "offline")
}
