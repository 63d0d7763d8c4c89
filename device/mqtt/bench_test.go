package mqtt

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
	"github.com/tweetpi/tweetpi/device/mqtt/mqtttest"
)

// timedPin tells when Out set it.
type timedPin struct {
	gpio.PinIO
	at chan time.Time
}

func (p *timedPin) Out(l gpio.Level) error {
	err := p.PinIO.Out(l)
	select {
	case p.at <- time.Now():
	default:
	}
	return err
}

// BenchmarkSetToPin is the time from publishing a command on a set topic
// (QoS 1, over loopback, through a real mosquitto) to the pin being set;
// it reports the median and the 99th percentile, with the broker set as
// deploy/mosquitto has it (set_tcp_nodelay true) and as mosquitto comes.
func BenchmarkSetToPin(b *testing.B) {
	b.Run("nodelay", func(b *testing.B) { benchSetToPin(b, mqtttest.Options{}, 0) })
	b.Run("mosquitto-default", func(b *testing.B) { benchSetToPin(b, mqtttest.Options{Nagle: true}, 0) })
	// Commands 50 ms apart, as a person or an automation sends them: the
	// broker's earlier small writes are acknowledged by then.
	b.Run("mosquitto-default-spaced", func(b *testing.B) { benchSetToPin(b, mqtttest.Options{Nagle: true}, 50*time.Millisecond) })
}

// benchSetToPin publishes b.N commands, gap apart (0: back to back).
func benchSetToPin(b *testing.B, opt mqtttest.Options, gap time.Duration) {
	broker := mqtttest.Start(b, opt)
	sim := device.NewSim()
	led := &timedPin{at: make(chan time.Time, 1)}
	pins := func(name string) (gpio.PinIO, error) {
		p, err := sim.Pin(name)
		if name == "GPIO17" {
			led.PinIO = p
			return led, err
		}
		return p, err
	}
	board, err := device.Open(testDevices(), pins, device.Options{ThermalPath: filepath.Join(b.TempDir(), "none"), I2C: sim.I2C, OneWire: sim.OneWire})
	if err != nil {
		b.Fatal(err)
	}
	defer board.Close()
	<-led.at // Open's initial level
	n, err := New(config.MQTT{Broker: broker.URL, Node: "garden", Commands: true},
		Options{Board: board, Ledger: &fileLedger{path: filepath.Join(b.TempDir(), "l")}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	c := mqtttest.Dial(b, broker, "", "")
	c.Subscribe("tweetpi/garden/availability")
	c.WaitFor("tweetpi/garden/availability", 0, func(m mqtttest.Message) bool { return m.Payload == Online && !m.Retained })

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		if gap > 0 {
			b.StopTimer()
			t := time.NewTimer(gap)
			<-t.C
			b.StartTimer()
		}
		t0 := time.Now()
		c.Send("tweetpi/garden/led/set", []string{"on", "off"}[i%2])
		select {
		case at := <-led.at:
			lat = append(lat, at.Sub(t0))
		case <-time.After(mqtttest.WaitTimeout):
			b.Fatal("the pin was not set")
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkFleetCommandToPin is a command on a gateway's board for a
// device of another node ("garden_pump on", then off) to that node's pin,
// and to the gateway's answer: the gateway records the id and publishes
// the request (QoS 1, through a real mosquitto over loopback), garden
// records it and sets the pin, and its answer comes back. Both ledgers
// write a file and sync it, as the state file does. It reports the median
// and the 99th percentile of each, commands 20 ms apart.
func BenchmarkFleetCommandToPin(b *testing.B) {
	broker := mqtttest.Start(b, mqtttest.Options{})
	sim := device.NewSim()
	pump := &timedPin{at: make(chan time.Time, 1)}
	pins := func(name string) (gpio.PinIO, error) {
		p, err := sim.Pin(name)
		if name == "GPIO27" {
			pump.PinIO = p
			return pump, err
		}
		return p, err
	}
	agentBoard, err := device.Open([]config.Device{{Name: "pump", Pin: "GPIO27", Kind: config.KindOutput}}, pins, device.Options{ThermalPath: filepath.Join(b.TempDir(), "none")})
	if err != nil {
		b.Fatal(err)
	}
	defer agentBoard.Close()
	<-pump.at
	run := func(cfg config.MQTT, opt Options) func() {
		n, err := New(cfg, opt)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { n.Run(ctx); close(done) }()
		return func() { cancel(); <-done }
	}
	stopAgent := run(config.MQTT{Broker: broker.URL, Node: "garden", Commands: true},
		Options{Board: agentBoard, Ledger: &fileLedger{path: filepath.Join(b.TempDir(), "agent")}, Logger: slog.New(slog.DiscardHandler)})
	defer stopAgent()

	fleet, err := NewFleet("gateway", &fileLedger{path: filepath.Join(b.TempDir(), "sent")}, nil)
	if err != nil {
		b.Fatal(err)
	}
	gwBoard, err := device.Open([]config.Device{{Name: "garden_pump", Node: "garden", NodeDevice: "pump"}}, device.NewSim().Pin,
		device.Options{ThermalPath: filepath.Join(b.TempDir(), "none"), Fleet: fleet})
	if err != nil {
		b.Fatal(err)
	}
	defer gwBoard.Close()
	stopGateway := run(config.MQTT{Broker: broker.URL, Node: "gateway", Commands: true},
		Options{Board: gwBoard, Ledger: &fileLedger{path: filepath.Join(b.TempDir(), "gw")}, Logger: slog.New(slog.DiscardHandler), Fleet: fleet})
	defer stopGateway()
	deadline := time.Now().Add(mqtttest.WaitTimeout)
	for r := fleet.Remote("garden", "pump"); !r.Online || !r.Known; r = fleet.Remote("garden", "pump") {
		if time.Now().After(deadline) {
			b.Fatal("garden is not online at the gateway")
		}
		time.Sleep(time.Millisecond)
	}

	toPin := make([]time.Duration, 0, b.N)
	toAnswer := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		t := time.NewTimer(20 * time.Millisecond)
		<-t.C
		b.StartTimer()
		t0 := time.Now()
		res := gwBoard.Run(context.Background(), "garden_pump "+[]string{"on", "off"}[i%2], device.Caller{Local: true, CommandID: "bench-" + strconv.Itoa(i)})
		toAnswer = append(toAnswer, time.Since(t0))
		if !res.Ran {
			b.Fatalf("command %d: %q", i, res.Reply)
		}
		select {
		case at := <-pump.at:
			toPin = append(toPin, at.Sub(t0))
		case <-time.After(mqtttest.WaitTimeout):
			b.Fatal("the pin was not set")
		}
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		lat  []time.Duration
	}{{"pin", toPin}, {"answer", toAnswer}} {
		slices.Sort(m.lat)
		if len(m.lat) > 0 {
			b.ReportMetric(float64(m.lat[len(m.lat)/2].Microseconds())/1000, m.name+"-p50-ms")
			b.ReportMetric(float64(m.lat[len(m.lat)*99/100].Microseconds())/1000, m.name+"-p99-ms")
		}
	}
}
