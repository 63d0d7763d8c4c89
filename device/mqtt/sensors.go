package mqtt

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tweetpi/tweetpi/device"
)

// A sensor's state topic carries its reading: the number itself for a
// sensor that measures one quantity (a ds18b20: "21.4"), a JSON object of
// numbers by quantity for one that measures several (a bme280:
// {"temperature":21.4,"humidity":45,"pressure":1013.2}), each in the unit
// the discovery payload names. A failed read publishes nothing: Home
// Assistant shows the sensor unavailable once its readings are older than
// three intervals (expire_after).

func (n *Node) cpuInterval() time.Duration {
	if n.opt.CPUInterval > 0 {
		return n.opt.CPUInterval
	}
	return defaultCPU
}

func (n *Node) sensorInterval() time.Duration {
	if n.opt.SensorInterval > 0 {
		return n.opt.SensorInterval
	}
	return defaultCPU
}

// sensorFeed starts reading the board's sensors; stop ends it. A board
// without sensors gives a nil channel.
func (n *Node) sensorFeed(ctx context.Context, board Board) (<-chan device.Reading, func()) {
	if len(board.Sensors()) == 0 {
		return nil, func() {}
	}
	sctx, cancel := context.WithCancel(ctx)
	return board.SensorFeed(sctx, n.sensorInterval()), cancel
}

// readingState is a reading as its state topic's payload; ok is false for
// a failed read.
func readingState(r device.Reading) (string, bool) {
	if r.Err != nil || len(r.Values) == 0 {
		return "", false
	}
	if len(r.Values) == 1 {
		return r.Values[0].State(), true
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range r.Values {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + v.Key + `":` + v.State())
	}
	b.WriteByte('}')
	return b.String(), true
}

// publishReading publishes one sensor's reading on its state topic.
func (n *Node) publishReading(ctx context.Context, cm *conn, board Board, r device.Reading) {
	v, ok := readingState(r)
	if !ok {
		return // the board logged the failure
	}
	n.mu.Lock()
	n.readings[r.Device] = v
	n.mu.Unlock()
	err := n.publish(ctx, cm, StateTopic(n.cfg.Node, r.Device), v, true)
	if err != nil && !errors.Is(err, errDown) {
		n.log.Warn("mqtt: reading not published", "device", r.Device, "state", v, "err", err)
	}
}

// publishReadings publishes the last readings again (at a reconnect).
func (n *Node) publishReadings(ctx context.Context, cm *conn) {
	n.mu.Lock()
	last := maps.Clone(n.readings)
	n.mu.Unlock()
	for _, dev := range slices.Sorted(maps.Keys(last)) {
		if err := n.publish(ctx, cm, StateTopic(n.cfg.Node, dev), last[dev], true); err != nil {
			return
		}
	}
}
