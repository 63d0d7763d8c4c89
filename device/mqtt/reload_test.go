package mqtt

import (
	"slices"
	"testing"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
	"github.com/tweetpi/tweetpi/device/mqtt/mqtttest"
)

// TestReloadAnnouncesWhatChanged: after the board applies a reload, the
// node publishes what changed and nothing else: a new discovery payload
// when the devices changed (none for a reload that changed nothing), the
// state of a device added or set up again, an empty retained state that
// clears a removed device from the broker; the states of the devices that
// stayed are not published again.
func TestReloadAnnouncesWhatChanged(t *testing.T) {
	r := newRig(t, rigOptions{})
	disc := "homeassistant/device/garden/config"
	r.watch.WaitFor(disc, 0, func(mqtttest.Message) bool { return true })
	r.watch.WaitPayload("tweetpi/garden/door/state", 0, "open")
	r.watch.Send("tweetpi/garden/fan/set", "40%")
	r.watch.WaitPayload("tweetpi/garden/fan/state", 0, "40")
	stay := []string{"led", "pump", "fan", "tank", "room"}
	before := map[string]int{}
	for _, d := range append(stay, "door") {
		before[d] = r.watch.Count(StateTopic("garden", d))
	}
	discs := r.watch.Count(disc)

	// A reload that changes nothing.
	if _, err := r.board.Apply(testDevices(), r.sim.Pin, sensorOpts(r)); err != nil {
		t.Fatal(err)
	}
	r.node.SetBoard(r.board)

	// A reload that removes door, sets led up again (a new pin) and adds bell.
	devs := slices.DeleteFunc(testDevices(), func(d config.Device) bool { return d.Name == "door" })
	devs[0].Pin = "GPIO5"
	devs = append(devs, config.Device{Name: "bell", Pin: "GPIO6", Kind: config.KindOutput})
	if _, err := r.board.Apply(devs, r.sim.Pin, sensorOpts(r)); err != nil {
		t.Fatal(err)
	}
	r.node.SetBoard(r.board)
	p := decode(t, r.watch.WaitFor(disc, discs, func(mqtttest.Message) bool { return true }).Payload)
	if _, ok := p.Components["bell"]; !ok {
		t.Errorf("the discovery after the reload has no bell: %v", p.Components)
	}
	r.watch.WaitPayload("tweetpi/garden/bell/state", 0, "off")
	r.watch.WaitFor("tweetpi/garden/door/state", before["door"], func(m mqtttest.Message) bool { return m.Payload == "" })
	r.watch.WaitPayload("tweetpi/garden/led/state", before["led"], "off") // set up again
	// Sync: a command after the reload, its state published.
	r.watch.Send("tweetpi/garden/bell/set", "on")
	r.watch.WaitPayload("tweetpi/garden/bell/state", 0, "on")

	for _, d := range stay[1:] { // all but led
		if got := r.watch.Count(StateTopic("garden", d)); got != before[d] {
			t.Errorf("%s: %d states published by the reloads, want none: it did not change", d, got-before[d])
		}
	}
	// The removed door's components go from Home Assistant: one payload
	// with door as only its platform, then the new one (or only the new
	// one when the memory had no door); never one per reload.
	if n := r.watch.Count(disc) - discs; n > 2 {
		t.Errorf("%d discovery payloads for one reload that changed devices and one that changed nothing", n)
	}
	last, _ := r.watch.Last(disc)
	if _, ok := decode(t, last.Payload).Components["door"]; ok {
		t.Errorf("the last discovery payload still has door")
	}
	// A late Home Assistant finds no state of the door.
	late := mqtttest.Dial(t, r.broker, "", "")
	late.Subscribe("tweetpi/garden/+/state")
	late.WaitPayload("tweetpi/garden/bell/state", 0, "on")
	if m, ok := late.Last("tweetpi/garden/door/state"); ok {
		t.Errorf("a retained door state %q after the reload removed it", m.Payload)
	}
}

func sensorOpts(r *rig) device.Options {
	return device.Options{I2C: r.sim.I2C, OneWire: r.sim.OneWire}
}
