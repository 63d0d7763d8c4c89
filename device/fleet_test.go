package device

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tweetpi/tweetpi/config"
)

// sent is one command a fakeFleet was asked to send.
type sent struct{ node, dev, command, id string }

// fakeFleet is a Fleet whose nodes and answers the test sets: the board's
// side of the fleet, without a broker (device/mqtt's tests run the real
// one on mosquitto).
type fakeFleet struct {
	mu      sync.Mutex
	remotes map[string]Remote // by NODE/DEV
	sent    []sent
	// answer is the node's answer to a command; nil: "DEV COMMAND", ran.
	answer func(s sent) (Answer, error)
	// block, when set, is waited on by Send before it answers.
	block chan struct{}
	// sending receives a value when Send is called.
	sending chan sent
}

func newFakeFleet() *fakeFleet { return &fakeFleet{remotes: map[string]Remote{}} }

func (f *fakeFleet) set(node, dev string, r Remote) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.remotes[node+"/"+dev] = r
}

func (f *fakeFleet) Remote(node, dev string) Remote {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.remotes[node+"/"+dev]
}

func (f *fakeFleet) Send(ctx context.Context, node, dev, command, id string) (Answer, error) {
	s := sent{node, dev, command, id}
	f.mu.Lock()
	f.sent = append(f.sent, s)
	answer, block, sending := f.answer, f.block, f.sending
	online := f.remotes[node+"/"+dev].Online
	f.mu.Unlock()
	if sending != nil {
		sending <- s
	}
	if block != nil {
		<-block
	}
	if !online {
		return Answer{}, errors.New(node + " is offline; not run")
	}
	if answer != nil {
		return answer(s)
	}
	return Answer{Reply: dev + " " + command, Ran: true}, nil
}

func (f *fakeFleet) sends() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.sent...)
}

// fleetSpecs are a gateway's devices: a local led, garden's pump (only
// alice may use it), garden's fan and garage's door.
func fleetSpecs() []config.Device {
	return []config.Device{
		{Name: "led", Pin: "GPIO17", Kind: config.KindOutput},
		{Name: "garden_pump", Node: "garden", NodeDevice: "pump", Aliases: []string{"water"}, Allow: []string{"@alice"}},
		{Name: "garden_fan", Node: "garden", NodeDevice: "fan"},
		{Name: "garage_door", Node: "garage", NodeDevice: "door"},
	}
}

func openFleet(t *testing.T, f *fakeFleet) (*Board, *Sim) {
	t.Helper()
	sim := NewSim()
	b, err := Open(fleetSpecs(), sim.Pin, Options{ThermalPath: filepath.Join(t.TempDir(), "none"), Fleet: f, UserID: handles})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b, sim
}

// onlineFleet has garden online with an output pump (max_on 5m) and a
// pwm fan, and garage online with an input door, all announced.
func onlineFleet() *fakeFleet {
	f := newFakeFleet()
	f.set("garden", "pump", Remote{Online: true, Known: true, Kind: config.KindOutput, MaxOn: 5 * time.Minute, State: "off"})
	f.set("garden", "fan", Remote{Online: true, Known: true, Kind: config.KindPWM, State: "40"})
	f.set("garage", "door", Remote{Online: true, Known: true, Kind: config.KindInput, State: "closed"})
	return f
}

var aliceCmd = Caller{ID: "111", Username: "alice", CommandID: "1969300000000000001"}

func TestRemoteCommand(t *testing.T) {
	f := onlineFleet()
	b, sim := openFleet(t, f)
	r := b.Run(t.Context(), "garden_pump on", aliceCmd)
	if r.Reply != "garden: pump on" || !r.Ran || r.Rejected {
		t.Errorf("reply %+v, want the node's answer", r)
	}
	want := []sent{{"garden", "pump", "on", "1969300000000000001"}}
	if got := f.sends(); len(got) != 1 || got[0] != want[0] {
		t.Errorf("sent %v, want %v", got, want)
	}
	// An alias, a pulse in the node's words, and a list: local first, then
	// the node's, each remote command with an id of its own.
	r = b.Run(t.Context(), "led on; water pulse 1m30s; garden_fan 40%", aliceCmd)
	if r.Reply != "led on; garden: pump pulse 1m30s; garden: fan 40%" {
		t.Errorf("list reply %q", r.Reply)
	}
	level(t, sim, "GPIO17", gpio.High)
	got := f.sends()[1:]
	if len(got) != 2 || got[0] != (sent{"garden", "pump", "pulse 1m30s", "1969300000000000001.2"}) || got[1] != (sent{"garden", "fan", "40%", "1969300000000000001.3"}) {
		t.Errorf("sent %v", got)
	}
}

// TestRemoteChecksFirst: every command of a list is checked before any
// runs, the remote ones too: the kind and max_on their node announced, the
// device's allow list, the node online. One bad entry runs nothing
// anywhere.
func TestRemoteChecksFirst(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		caller     Caller
		offline    string // a node to take offline first
		reply      string
	}{
		{"kind", "led on; garage_door on", aliceCmd, "", `nothing run: command 2: garage_door is an input: no "on"; say just its name`},
		{"max_on", "led on; garden_pump pulse 10m", aliceCmd, "", "nothing run: command 2: garden_pump pulse 10m refused: it must be 10ms to 5m (garden_pump's max_on)"},
		{"pwm", "led on; garden_pump 40%", aliceCmd, "", `nothing run: command 2: garden_pump "40%": garden_pump is an output, not pwm; say on, off, toggle, pulse 30s or blink 3`},
		{"allow", "led on; garden_pump on", Caller{ID: "222", Username: "bob", CommandID: "7"}, "", "nothing run: command 2: you may not use garden_pump"},
		{"offline", "led on; garden_fan off", aliceCmd, "garden", "nothing run: command 2: garden is offline"},
		{"offline alone", "garden_fan off", aliceCmd, "garden", "garden is offline; not run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := onlineFleet()
			if tc.offline != "" {
				f.set(tc.offline, "pump", Remote{})
				f.set(tc.offline, "fan", Remote{})
			}
			b, sim := openFleet(t, f)
			r := b.Run(t.Context(), tc.text, tc.caller)
			if r.Reply != tc.reply || !r.Rejected || r.Ran {
				t.Errorf("got %+v, want rejected %q", r, tc.reply)
			}
			level(t, sim, "GPIO17", gpio.Low)
			if s := f.sends(); len(s) > 0 {
				t.Errorf("sent %v", s)
			}
		})
	}
}

// TestRemoteUnknown: a device its node has not announced takes any verb
// some kind takes (its node checks it); a word no kind takes is refused.
func TestRemoteUnknown(t *testing.T) {
	f := newFakeFleet()
	f.set("garden", "pump", Remote{Online: true})
	b, _ := openFleet(t, f)
	if r := b.Run(t.Context(), "garden_pump 40%", aliceCmd); r.Reply != "garden: pump 40%" {
		t.Errorf("%q", r.Reply)
	}
	if r := b.Run(t.Context(), "garden_pump dance", aliceCmd); !r.Rejected || !strings.Contains(r.Reply, `no verb "dance"`) {
		t.Errorf("%+v", r)
	}
	if n := len(f.sends()); n != 1 {
		t.Errorf("%d sent, want 1", n)
	}
}

// TestRemoteRefusedOrLost: the node refusing a command, or not answering,
// ends the list there, said in the reply; what came before ran.
func TestRemoteRefusedOrLost(t *testing.T) {
	f := onlineFleet()
	b, sim := openFleet(t, f)
	f.answer = func(s sent) (Answer, error) {
		return Answer{Reply: "not run again: a command with this id was taken before"}, nil
	}
	r := b.Run(t.Context(), "garden_pump on; led on", aliceCmd)
	if r.Reply != "garden: not run again: a command with this id was taken before; the rest not run" || r.Ran {
		t.Errorf("%+v", r)
	}
	level(t, sim, "GPIO17", gpio.Low)
	f.answer = func(s sent) (Answer, error) { return Answer{}, errors.New("garden did not answer in 10s") }
	r = b.Run(t.Context(), "led on; garden_pump on; led off", aliceCmd)
	if r.Reply != "led on; garden did not answer in 10s; the rest not run" {
		t.Errorf("%+v", r)
	}
	level(t, sim, "GPIO17", gpio.High)
}

// TestRemoteStatus: status and help include the devices of other nodes,
// with their last states, and name the nodes that are offline; a remote
// device's name answers its last state without a command.
func TestRemoteStatus(t *testing.T) {
	f := onlineFleet()
	f.set("garden", "pump", Remote{Online: true, Known: true, Kind: config.KindOutput, State: "on"})
	f.set("garage", "door", Remote{State: "open"}) // offline, announced before: the retained state stays
	b, _ := openFleet(t, f)
	r := b.Run(t.Context(), "status", aliceCmd)
	if !strings.HasPrefix(r.Reply, "led off, garden_pump on, garden_fan 40%, garage_door open; up ") || !strings.HasSuffix(r.Reply, "; garage offline") {
		t.Errorf("status %q", r.Reply)
	}
	if r := b.Run(t.Context(), "help", aliceCmd); !strings.Contains(r.Reply, "devices: led, garden_pump (water), garden_fan") || !strings.HasSuffix(r.Reply, "; garage offline") {
		t.Errorf("help %q", r.Reply)
	}
	for text, want := range map[string]string{
		"water":       "garden_pump is on",
		"garden_fan":  "garden_fan is 40%",
		"garage_door": "garage_door was open (garage is offline)",
	} {
		if r := b.Run(t.Context(), text, aliceCmd); r.Reply != want {
			t.Errorf("%s: %q, want %q", text, r.Reply, want)
		}
	}
	f.set("garden", "fan", Remote{Online: true})
	if r := b.Run(t.Context(), "status", aliceCmd); !strings.Contains(r.Reply, "garden_fan ?") {
		t.Errorf("a device with no state yet: %q", r.Reply)
	}
	if n := len(f.sends()); n != 0 {
		t.Errorf("states sent %d commands", n)
	}
}

// TestRemoteUnlocked: the board is not locked while a node answers: status
// answers, and another device's command runs, meanwhile.
func TestRemoteUnlocked(t *testing.T) {
	f := onlineFleet()
	f.block, f.sending = make(chan struct{}), make(chan sent, 1)
	b, sim := openFleet(t, f)
	done := make(chan Result, 1)
	go func() { done <- b.Run(context.Background(), "garden_pump on", aliceCmd) }()
	<-f.sending
	if r := b.Run(t.Context(), "led on", aliceCmd); r.Reply != "led on" {
		t.Errorf("%q", r.Reply)
	}
	level(t, sim, "GPIO17", gpio.High)
	if s := b.Status(); !strings.HasPrefix(s, "led on, garden_pump off") {
		t.Errorf("status while garden answers: %q", s)
	}
	close(f.block)
	if r := <-done; r.Reply != "garden: pump on" {
		t.Errorf("%q", r.Reply)
	}
}

// TestRemoteAllOff: all off reaches the devices of other nodes that may be
// on, and says which nodes it could not reach.
func TestRemoteAllOff(t *testing.T) {
	f := onlineFleet()
	f.set("garden", "pump", Remote{Online: true, Known: true, Kind: config.KindOutput, State: "on"})
	f.set("garage", "door", Remote{Known: true, Kind: config.KindInput}) // offline; an input takes no off
	b, sim := openFleet(t, f)
	b.Run(t.Context(), "led on", aliceCmd)
	r := b.Run(t.Context(), "all off", aliceCmd)
	if r.Reply != "all off: led; garden: pump off; garden: fan off" {
		t.Errorf("%q", r.Reply)
	}
	level(t, sim, "GPIO17", gpio.Low)
	got := map[string]string{}
	for _, s := range f.sends() {
		got[s.node+"/"+s.dev] = s.command + " " + s.id
	}
	if len(got) != 2 || got["garden/pump"] != "off 1969300000000000001/garden_pump" || got["garden/fan"] != "off 1969300000000000001/garden_fan" {
		t.Errorf("sent %v", got)
	}
	// bob may not use garden_pump: it is left alone; garden offline now.
	f.set("garden", "fan", Remote{Known: true, Kind: config.KindPWM, State: "40"})
	r = b.Run(t.Context(), "all off", Caller{ID: "222", Username: "bob"})
	if r.Reply != "all off: nothing was on; garden offline: garden_fan not reached" {
		t.Errorf("%q", r.Reply)
	}
}

// TestRemoteConfirm: a device its node announced with confirm: true waits
// for the person's yes here, where the person is.
func TestRemoteConfirm(t *testing.T) {
	f := onlineFleet()
	f.set("garden", "pump", Remote{Online: true, Known: true, Kind: config.KindOutput, Confirm: true, State: "off"})
	b, _ := openFleet(t, f)
	if r := b.Run(t.Context(), "garden_pump on", aliceCmd); !strings.HasPrefix(r.Reply, "reply yes within 60s to run: garden_pump on") {
		t.Errorf("%q", r.Reply)
	}
	if n := len(f.sends()); n != 0 {
		t.Fatalf("sent before the yes")
	}
	yes := aliceCmd
	yes.CommandID = "1969300000000000009"
	if r := b.Run(t.Context(), "yes", yes); r.Reply != "garden: pump on" {
		t.Errorf("%q", r.Reply)
	}
	if s := f.sends(); len(s) != 1 || s[0].id != "1969300000000000009" {
		t.Errorf("sent %v", s)
	}
}

func TestRemoteNeedsFleet(t *testing.T) {
	_, err := Open(fleetSpecs(), NewSim().Pin, Options{})
	if err == nil || !strings.Contains(err.Error(), "device garden_pump: a device of node garden is reached through the fleet's MQTT broker") {
		t.Errorf("Open without a fleet: %v", err)
	}
}
