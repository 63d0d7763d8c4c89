package mqtt

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tweetpi/tweetpi/config"
)

// Announcement is what a node says of its devices on DevicesTopic,
// retained: what a fleet's gateway checks a command against before it
// sends it (the kind's verbs, a pulse within max_on, a confirmation it
// must ask for), and whether the node takes commands at all. The node
// checks every command again under its own rules; this only lets the
// gateway refuse a list before any of it runs.
type Announcement struct {
	Commands bool                 `json:"commands"` // the node takes commands on its set topics (mqtt.commands)
	Devices  map[string]Announced `json:"devices"`  // by the device's name on the node
}

// Announced is one device of an Announcement.
type Announced struct {
	Kind    string `json:"kind"`              // config.KindOutput, KindPWM, KindInput or a sensor kind
	MaxOn   string `json:"max_on,omitempty"`  // a Go duration: "5m"
	Confirm bool   `json:"confirm,omitempty"` // a person's command waits for their yes (the gateway asks it)
}

// maxOn is the announced max_on, 0 when none or unreadable.
func (a Announced) maxOn() time.Duration {
	if a.MaxOn == "" {
		return 0
	}
	d, err := time.ParseDuration(a.MaxOn)
	if err != nil || d < 0 {
		return 0
	}
	return d
}

// announcement is the node's Announcement for its local devices.
func (n *Node) announcement(devs []config.Device) Announcement {
	a := Announcement{Commands: n.cfg.Commands, Devices: map[string]Announced{}}
	for _, d := range devs {
		if d.Remote() {
			continue // another node's: it announces its own
		}
		x := Announced{Kind: d.Kind, Confirm: d.Confirm}
		if d.MaxOn > 0 {
			x.MaxOn = config.FormatDuration(d.MaxOn)
		}
		a.Devices[d.Name] = x
	}
	return a
}

// encode is the announcement as JSON.
func (a Announcement) encode() string {
	// encoding/json sorts map keys: the same devices give the same payload.
	b, err := json.Marshal(a)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// publishAnnouncement publishes the devices for the fleet's gateway.
func (n *Node) publishAnnouncement(ctx context.Context, cm *conn, board Board) {
	a := n.announcement(board.Devices()).encode()
	if err := n.publish(ctx, cm, DevicesTopic(n.cfg.Node), a, true); err != nil {
		n.log.Warn("mqtt: devices not announced to the fleet", "topic", DevicesTopic(n.cfg.Node), "err", err)
		return
	}
	n.mu.Lock()
	n.ann = a
	n.mu.Unlock()
}
