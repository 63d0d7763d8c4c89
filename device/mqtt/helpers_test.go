package mqtt

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
	"github.com/tweetpi/tweetpi/device/mqtt/mqtttest"
)

// fileLedger is a Ledger on a file of ids, one a line, written (and
// synced) before Take says an id is new: what the state file does for the
// daemon.
type fileLedger struct {
	mu   sync.Mutex
	path string
	fail error // Take returns it, when set
}

func (l *fileLedger) Take(id string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return false, l.fail
	}
	data, err := os.ReadFile(l.path)
	if err != nil && !os.IsNotExist(err) {
		return false, err
	}
	if slices.Contains(strings.Split(string(data), "\n"), id) {
		return false, nil
	}
	return true, config.WriteFile(l.path, append(data, []byte(id+"\n")...), 0o600)
}

// ids are the ids the ledger holds.
func (l *fileLedger) ids() []string {
	data, _ := os.ReadFile(l.path)
	return strings.Fields(string(data))
}

// logBuffer collects a JSON log safely across goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines are the log's lines whose msg is msg and that have every key/value
// pair of kv.
func (l *logBuffer) lines(msg string, kv ...string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(l.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != msg {
			continue
		}
		ok := true
		for i := 0; i+1 < len(kv); i += 2 {
			if s, _ := m[kv[i]].(string); s != kv[i+1] {
				ok = false
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// waitLog waits for a log line with msg and kv.
func (l *logBuffer) waitLog(t *testing.T, msg string, kv ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(mqtttest.WaitTimeout)
	for {
		if ls := l.lines(msg, kv...); len(ls) > 0 {
			return ls[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line %q %q within %s:\n%s", msg, kv, mqtttest.WaitTimeout, l.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testDevices are the devices of most tests.
func testDevices() []config.Device {
	return []config.Device{
		{Name: "led", Pin: "GPIO17", Kind: config.KindOutput},
		{Name: "pump", Pin: "GPIO27", Kind: config.KindOutput, MaxOn: 5 * time.Minute, Aliases: []string{"water"}, Allow: []string{"@alice"}},
		{Name: "fan", Pin: "GPIO18", Kind: config.KindPWM, FrequencyHz: 25000},
		{Name: "door", Pin: "GPIO22", Kind: config.KindInput, Pull: "up", High: "open", Low: "closed", Debounce: 10 * time.Millisecond, HAClass: "door"},
		{Name: "tank", Kind: config.KindDS18B20, Address: "28-00000a1b2c3d"},
		{Name: "room", Kind: config.KindBME280, Bus: "1", Address: "0x76"},
	}
}

// rig is a node on sim pins against a real broker, with a watching client.
type rig struct {
	t         *testing.T
	broker    *mqtttest.Broker
	sim       *device.Sim
	board     *device.Board
	ledger    *fileLedger
	log       *logBuffer
	node      *Node
	cfg       config.MQTT
	opt       Options
	reconnect func(attempt int) time.Duration // rigOptions.reconnect
	watch     *mqtttest.Client

	cancel context.CancelFunc
	done   chan error
}

// aliceCaller is an allowed X user, as the bot passes one.
var aliceCaller = device.Caller{ID: "111", Username: "alice"}

// aliceID resolves @alice to aliceCaller's id, as the bot resolves the
// devices' allow handles.
func aliceID(h string) (string, bool) {
	if strings.EqualFold(h, "alice") {
		return aliceCaller.ID, true
	}
	return "", false
}

type rigOptions struct {
	broker      mqtttest.Options
	on          *mqtttest.Broker // a broker already running, instead of a new one
	cfg         func(*config.MQTT)
	devices     []config.Device
	thermal     string // contents of the thermal zone file; "": none
	noStart     bool
	sensorEvery time.Duration // Options.SensorInterval
	stateDir    string
	reconnect   func(attempt int) time.Duration // the wait before reconnecting; nil: the node's
}

// newRig starts a broker and a node (and subscribes a watcher to tweetpi/#
// and homeassistant/# before the node starts).
func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real mosquitto; skipped with -short")
	}
	r := &rig{t: t, broker: o.on, sim: device.NewSim(), log: &logBuffer{}}
	if r.broker == nil {
		r.broker = mqtttest.Start(t, o.broker)
	}
	r.ledger = &fileLedger{path: filepath.Join(t.TempDir(), "ledger")}
	if o.devices == nil {
		o.devices = testDevices()
	}
	thermal := filepath.Join(t.TempDir(), "temp")
	if o.thermal != "" {
		if err := os.WriteFile(thermal, []byte(o.thermal), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, err := device.Open(o.devices, r.sim.Pin, device.Options{ThermalPath: thermal, WatchInputs: true, I2C: r.sim.I2C, OneWire: r.sim.OneWire, UserID: aliceID})
	if err != nil {
		t.Fatal(err)
	}
	r.board = b
	t.Cleanup(func() { b.Close() })
	r.cfg = config.MQTT{Broker: r.broker.URL, Node: "garden", Discovery: "homeassistant", Commands: true}
	if o.cfg != nil {
		o.cfg(&r.cfg)
	}
	if o.stateDir == "" {
		o.stateDir = t.TempDir()
	}
	r.opt = Options{Board: b, Ledger: r.ledger, Logger: slog.New(slog.NewJSONHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Version: "1.2.3", Model: "Raspberry Pi 4 Model B Rev 1.4", StateDir: o.stateDir, SensorInterval: o.sensorEvery}
	if o.on == nil && len(o.broker.Users) == 0 { // else the test dials its own
		r.watch = mqtttest.Dial(t, r.broker, "", "")
		r.watch.Subscribe("tweetpi/#", "homeassistant/#")
	}
	r.reconnect = o.reconnect
	if !o.noStart {
		r.start()
	}
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("node log:\n%s", r.log.String())
		}
	})
	return r
}

// start makes a node (of r.cfg and r.opt) and runs it until stop; it waits
// for online.
func (r *rig) start() {
	r.t.Helper()
	n := 0
	if r.watch != nil {
		n = r.watch.Count(AvailabilityTopic(r.cfg.Node))
	}
	r.startNoWait()
	if r.watch != nil {
		r.watch.WaitFor(AvailabilityTopic(r.cfg.Node), n, func(m mqtttest.Message) bool {
			return m.Payload == Online && !m.Retained
		})
	}
}

func (r *rig) startNoWait() {
	r.t.Helper()
	n, err := New(r.cfg, r.opt)
	if err != nil {
		r.t.Fatal(err)
	}
	n.stopWait = 10 * time.Millisecond // most tests leave the board open
	n.reconnect = r.reconnect
	r.node = n
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- n.Run(ctx) }()
}

// stop ends Run and waits for it.
func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("Run: %v", err)
		}
	case <-time.After(mqtttest.WaitTimeout):
		r.t.Errorf("Run did not return within %s", mqtttest.WaitTimeout)
	}
	r.cancel = nil
}

// level waits until the sim pin has level l.
func (r *rig) level(pin string, l gpio.Level) {
	r.t.Helper()
	deadline := time.Now().Add(mqtttest.WaitTimeout)
	for r.sim.Get(pin).Level() != l {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s is %s, want %s", pin, r.sim.Get(pin).Level(), l)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
