package mqtt

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"periph.io/x/conn/v3/gpio"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
)

// offlineNode is a node that never connects, for the command path alone.
func offlineNode(t *testing.T) (*Node, *device.Sim, *logBuffer, *fileLedger) {
	t.Helper()
	sim := device.NewSim()
	b, err := device.Open(testDevices(), sim.Pin, device.Options{ThermalPath: filepath.Join(t.TempDir(), "none"), I2C: sim.I2C, OneWire: sim.OneWire})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	log := &logBuffer{}
	l := &fileLedger{path: filepath.Join(t.TempDir(), "ledger")}
	n, err := New(config.MQTT{Broker: "mqtt://127.0.0.1:1", Node: "garden", Commands: true}, Options{
		Board: b, Ledger: l, Logger: slog.New(slog.NewJSONHandler(log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, sim, log, l
}

func expiring(payload string, seconds uint32, corr string) *paho.Publish {
	p := &paho.Publish{Topic: "tweetpi/garden/led/set", Payload: []byte(payload), QoS: 1, Properties: &paho.PublishProperties{MessageExpiry: &seconds}}
	if corr != "" {
		p.Properties.CorrelationData = []byte(corr)
	}
	return p
}

// TestMessageExpiry: a command whose MQTT 5 message expiry has passed is
// not run, whether it passed before it was looked at or while it waited to
// run.
func TestMessageExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, sim, log, _ := offlineNode(t)
		n.received(expiring("on", 1, ""), time.Now().Add(-2*time.Second))
		n.beforeRun = func() { time.Sleep(1500 * time.Millisecond) }
		n.received(expiring("on", 1, "c1"), time.Now())
		if l := sim.Get("GPIO17").Level(); l != gpio.Low {
			t.Fatalf("led %s: an expired command ran", l)
		}
		if got := len(log.lines("command", "result", "expired")); got != 2 {
			t.Errorf("%d expired commands logged, want 2:\n%s", got, log.String())
		}
		n.beforeRun = nil
		n.received(expiring("on", 1, "c2"), time.Now())
		if l := sim.Get("GPIO17").Level(); l != gpio.High {
			t.Errorf("led %s: a command inside its expiry did not run", l)
		}
	})
}

// TestCommandUnits: the command path without a broker: an id runs once, a
// refused ledger runs nothing, commands off runs nothing.
func TestCommandUnits(t *testing.T) {
	n, sim, log, l := offlineNode(t)
	toggle := func(corr string) {
		p := &paho.Publish{Topic: "tweetpi/garden/led/set", Payload: []byte("toggle"), Properties: &paho.PublishProperties{CorrelationData: []byte(corr)}}
		n.received(p, time.Now())
	}
	toggle("a")
	toggle("a")
	if lv := sim.Get("GPIO17").Level(); lv != gpio.High {
		t.Errorf("led %s after one id twice, want toggled once", lv)
	}
	l.fail = errors.New("read-only file system")
	toggle("b")
	if lv := sim.Get("GPIO17").Level(); lv != gpio.High {
		t.Errorf("led %s: ran without its id recorded", lv)
	}
	if got := log.lines("command", "result", "failed"); len(got) != 1 {
		t.Errorf("%d failed lines", len(got))
	}
	n.cfg.Commands = false
	l.fail = nil
	toggle("c")
	if lv := sim.Get("GPIO17").Level(); lv != gpio.High {
		t.Errorf("led %s: ran with commands off", lv)
	}
}

func TestNewRefuses(t *testing.T) {
	b := &device.Board{}
	for _, tc := range []struct {
		cfg  config.MQTT
		opt  Options
		want string
	}{
		{config.MQTT{Broker: "mqtt://b", Node: "n"}, Options{}, "no board"},
		{config.MQTT{Broker: "mqtt://b", Node: "n", Commands: true}, Options{Board: b}, "no ledger"},
		{config.MQTT{Broker: "http://b", Node: "n"}, Options{Board: b}, "mqtt.broker"},
		{config.MQTT{Broker: "mqtt://u:p@b", Node: "n"}, Options{Board: b}, "holds a user or password"},
		{config.MQTT{Broker: "mqtt://b", Node: "N N"}, Options{Board: b}, "mqtt.node"},
		{config.MQTT{Broker: "mqtts://b", Node: "n", CAFile: "/nonexistent/ca.pem"}, Options{Board: b}, "mqtt.ca_file"},
		{config.MQTT{Broker: "mqtts://b", Node: "n", CAFile: "unit_test.go"}, Options{Board: b}, "holds no PEM certificate"},
	} {
		_, err := New(tc.cfg, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.cfg, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "u:p") {
			t.Errorf("the URL's password is in %v", err)
		}
	}
}

func TestBrokerURL(t *testing.T) {
	for in, want := range map[string]string{
		"mqtt://b":           "mqtt://b:1883",
		"mqtts://b":          "mqtts://b:8883",
		"mqtt://10.0.2.2:99": "mqtt://10.0.2.2:99",
		"mqtt://[::1]":       "mqtt://[::1]:1883",
		"mqtt://b/":          "mqtt://b:1883",
	} {
		u, err := brokerURL(in)
		if err != nil || u.String() != want {
			t.Errorf("brokerURL(%q) = %v %v, want %s", in, u, err, want)
		}
	}
}

func TestTopics(t *testing.T) {
	for topic, want := range map[string]string{
		"tweetpi/garden/led/set":   "led",
		"tweetpi/garden/a/b/set":   "",
		"tweetpi/garden//set":      "",
		"tweetpi/desk/led/set":     "",
		"tweetpi/garden/led/state": "",
	} {
		got, ok := setDevice("garden", topic)
		if got != want || ok != (want != "") {
			t.Errorf("setDevice(%q) = %q %t, want %q", topic, got, ok, want)
		}
	}
	for _, bad := range []string{"", "a/+/b", "a/#", "a\x00"} {
		if validTopic(bad) {
			t.Errorf("validTopic(%q)", bad)
		}
	}
	if got := correlationText([]byte("1969300000000000001")); got != "1969300000000000001" {
		t.Errorf("correlationText = %q", got)
	}
	if got := correlationText([]byte{0, 0xff, ' '}); got != "hex:00ff20" {
		t.Errorf("correlationText binary = %q", got)
	}
}

func TestConnectProblem(t *testing.T) {
	auth := &refusedError{code: 0x87}
	if got := connectProblem(auth); !strings.Contains(got, "check mqtt.username and the password") {
		t.Errorf("%q", got)
	}
	if got := connectProblem(errors.New("dial tcp: connection refused")); got != "dial tcp: connection refused" {
		t.Errorf("%q", got)
	}
}

// TestBackoff: the reconnection waits: none at once after a drop, then
// random between half and all of a doubling step, never above a minute.
func TestBackoff(t *testing.T) {
	if d := backoff(0); d != 0 {
		t.Errorf("backoff(0) = %s, want 0", d)
	}
	for n, step := range map[int]time.Duration{1: 500 * time.Millisecond, 2: time.Second, 3: 2 * time.Second, 8: time.Minute, 40: time.Minute} {
		for range 50 {
			if d := backoff(n); d < step/2 || d > step {
				t.Errorf("backoff(%d) = %s, want %s to %s", n, d, step/2, step)
			}
		}
	}
}
