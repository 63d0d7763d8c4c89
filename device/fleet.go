package device

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tweetpi/tweetpi/config"
)

// Fleet reaches the devices of other tweetpi nodes: the configuration's
// devices with node and device (config.Device.Remote), which this board
// names and commands but another tweetpi drives, under its own rules
// (max_on, interlocks, its safe state, its own at-most-once ledger).
// device/mqtt implements it over the broker; this package never imports
// it. Its methods must be safe for concurrent use, and Remote must not
// block: status and help call it with the board's lock held.
type Fleet interface {
	// Remote is what is known now of device dev of node.
	Remote(node, dev string) Remote
	// Send sends one command for device dev of node, in the command
	// language without the device's name ("on", "pulse 30s", "40%"), with
	// id as its at-most-once id ("": the fleet makes one), and waits for
	// the node's answer. It never sends a command twice, nor one whose
	// node is offline. An error says, in words for a reply, why the
	// command did not run or may not have: "garden is offline; not run",
	// "garden did not answer in 10s".
	Send(ctx context.Context, node, dev, command, id string) (Answer, error)
}

// Remote is what a Fleet knows of a device of another node.
type Remote struct {
	Online bool // the node's availability is online; false: offline, or not known yet
	// NoCommands: the node said it takes no commands (its mqtt.commands is
	// false).
	NoCommands bool
	// Known: the node announced the device; Kind, MaxOn and Confirm are
	// what it announced. Unknown, any verb passes the board's checks and
	// the node checks it.
	Known   bool
	Kind    string // config.KindOutput, KindPWM, KindInput or a sensor kind
	MaxOn   time.Duration
	Confirm bool
	State   string // the last state the node published (retained): "on", "40", "open", "21.4"; "" none
}

// Answer is a node's answer to a command.
type Answer struct {
	Reply string // the node's own words
	Ran   bool   // the node ran it; false: it refused it, had taken its id before, or it expired
}

// remoteSpec is a device of another node as Parse sees it: with the kind
// and limits its node announced, or no kind (any verb) when it did not.
func remoteSpec(s config.Device, r Remote) config.Device {
	if r.Known {
		s.Kind, s.MaxOn, s.Confirm = r.Kind, r.MaxOn, r.Confirm
	}
	return s
}

// view is the board's devices for one command text: the specs Parse reads
// (the remote ones as their nodes announced them), and what the fleet
// knew of each remote device at that moment, in layout l.
type view struct {
	l      *layout
	specs  []config.Device
	remote map[string]Remote // by local name
}

// viewOf looks the remote devices of l up. b.mu need not be held.
func (b *Board) viewOf(l *layout) view {
	if len(l.remotes) == 0 {
		return view{l: l, specs: l.specs}
	}
	v := view{l: l, specs: slices.Clone(l.specs), remote: map[string]Remote{}}
	for i, s := range v.specs {
		if !s.Remote() {
			continue
		}
		r := b.fleet.Remote(s.Node, s.NodeDevice)
		v.remote[s.Name] = r
		v.specs[i] = remoteSpec(s, r)
	}
	return v
}

// spec is the device named name as this view sees it.
func (v view) spec(name string) (config.Device, bool) {
	for _, s := range v.specs {
		if s.Name == name {
			return s, true
		}
	}
	return config.Device{}, false
}

// commands reports whether a verb asks a device to act (not only to say
// its state).
func commands(verb string) bool {
	switch verb {
	case VerbState, VerbHelp, VerbStatus, VerbSchedules:
		return false
	}
	return true
}

// checkRemote says why the actions on devices of other nodes cannot run
// now (a node offline), or "". It runs with every other check, before
// anything runs.
func (b *Board) checkRemote(v view, acts []Action) string {
	for i, a := range acts {
		s, ok := v.l.remotes[a.Device]
		if !ok || !commands(a.Verb) {
			continue
		}
		r := v.remote[a.Device]
		switch {
		case !r.Online && len(acts) > 1:
			return fmt.Sprintf("nothing run: command %d: %s is offline", i+1, s.Node)
		case !r.Online:
			return s.Node + " is offline; not run"
		case r.NoCommands && len(acts) > 1:
			return fmt.Sprintf("nothing run: command %d: %s takes no commands (its mqtt.commands is false)", i+1, s.Node)
		case r.NoCommands:
			return s.Node + " takes no commands (its mqtt.commands is false); not run"
		}
	}
	return ""
}

// remoteCommand is an action on a device of another node in the words its
// node takes on the device's set topic: the action without the name.
func remoteCommand(a Action) string {
	switch a.Verb {
	case VerbPulse:
		return "pulse " + fmtDuration(a.Duration)
	case VerbBlink:
		return fmt.Sprintf("blink %d %s", a.Count, fmtDuration(a.Duration))
	case VerbDuty:
		return strconv.Itoa(a.Percent) + "%"
	}
	return a.Verb
}

// remoteID is the at-most-once id of the i-th of n actions of a command
// whose own id is id: the id itself when the text has one action, else
// the id and the action's place in the list ("1969...001.2"), so two
// actions on one node never share an id. "" stays "" (the fleet makes
// one).
func remoteID(id string, i, n int) string {
	if id == "" || n == 1 {
		return id
	}
	return id + "." + strconv.Itoa(i+1)
}

// sendRemote runs an action on a device of another node. b.mu is NOT
// held: the answer may take seconds, and max_on, status and the other
// devices must not wait for it.
func (b *Board) sendRemote(ctx context.Context, s config.Device, a Action, c Caller, i, n int) (string, error) {
	cmd := remoteCommand(a)
	id := remoteID(c.CommandID, i, n)
	log := b.log.With("device", a.Device, "fleet_node", s.Node, "node_device", s.NodeDevice, "command", cmd, "id", id)
	log.Info("remote command")
	ans, err := b.fleet.Send(ctx, s.Node, s.NodeDevice, cmd, id)
	if err != nil {
		log.Warn("remote command not answered", "err", err)
		return "", &stopErr{err.Error()}
	}
	log.Info("remote answer", "ran", ans.Ran, "reply", ans.Reply)
	if !ans.Ran {
		return "", &stopErr{s.Node + ": " + ans.Reply}
	}
	return s.Node + ": " + ans.Reply, nil
}

// remoteState is the reply to a remote device's name: its last state as
// its node published it.
func remoteState(name string, s config.Device, r Remote) string {
	if r.State == "" {
		if !r.Online {
			return fmt.Sprintf("%s: %s is offline and no state of it is known", name, s.Node)
		}
		return fmt.Sprintf("%s: no state from %s yet", name, s.Node)
	}
	st := remoteWords(s, r)
	if !r.Online {
		return fmt.Sprintf("%s was %s (%s is offline)", name, st, s.Node)
	}
	return name + " is " + st
}

// remoteWords is a remote device's state in the words of a local one:
// "on", "40%", "open", "21.4°C", "21.4°C, 45%, 1013.2hPa".
func remoteWords(s config.Device, r Remote) string {
	v := r.State
	switch {
	case !r.Known:
		return v
	case r.Kind == config.KindPWM:
		return v + "%"
	case config.IsSensor(r.Kind):
		qs := quantities(r.Kind)
		if len(qs) == 1 {
			return v + qs[0].Unit
		}
		var m map[string]json.Number
		if json.Unmarshal([]byte(v), &m) != nil {
			return v
		}
		var parts []string
		for _, q := range qs {
			if n, ok := m[q.Key]; ok {
				parts = append(parts, n.String()+q.Unit)
			}
		}
		return strings.Join(parts, ", ")
	}
	return v
}

// remoteStatus is a remote device's part of status: "garden_pump on",
// "garden_pump ?" before its node said anything.
func remoteStatus(name string, s config.Device, r Remote) string {
	if r.State == "" {
		return name + " ?"
	}
	return name + " " + remoteWords(s, r)
}

// offlineNodes are the nodes of the remote devices that are not online,
// in the order of the configuration, each once: the tail of status and
// help ("garden offline").
func (b *Board) offlineNodes(v view) []string {
	var out []string
	for _, s := range v.l.specs {
		if s.Remote() && !v.remote[s.Name].Online && !slices.Contains(out, s.Node) {
			out = append(out, s.Node)
		}
	}
	return out
}

// offlineTail is "; garden offline", "; garden, garage offline" or "".
func offlineTail(nodes []string) string {
	if len(nodes) == 0 {
		return ""
	}
	return "; " + strings.Join(nodes, ", ") + " offline"
}

// remoteAllOff sends off to every device of another node that c may use,
// that may take it (an output, a pwm, or one not announced yet) and that
// is not off by its last state, all at once; local is the local all off's
// reply, which it extends: "all off: led; garden: pump off; garage
// offline: garage_fan not reached". b.mu is held, and let go while the
// nodes answer. id is the all off's own id; each device's command gets
// id/NAME.
func (b *Board) remoteAllOff(ctx context.Context, l *layout, c Caller, id, local string) string {
	v := b.viewOf(l)
	type job struct {
		s     config.Device
		reply string
	}
	var jobs []*job
	offline := map[string][]string{}
	var nodes []string
	for _, s := range l.specs {
		r, ok := v.remote[s.Name]
		if !ok || !b.allowed(s, c) {
			continue
		}
		if r.Known && r.Kind != config.KindOutput && r.Kind != config.KindPWM {
			continue
		}
		if r.State == "off" || (r.Known && r.Kind == config.KindPWM && r.State == "0") {
			continue
		}
		if !r.Online {
			if len(offline[s.Node]) == 0 {
				nodes = append(nodes, s.Node)
			}
			offline[s.Node] = append(offline[s.Node], s.Name)
			continue
		}
		jobs = append(jobs, &job{s: l.remotes[s.Name]})
	}
	if len(jobs) == 0 && len(nodes) == 0 {
		return local
	}
	b.mu.Unlock()
	done := make(chan struct{}, len(jobs))
	for _, j := range jobs {
		go func() {
			defer func() { done <- struct{}{} }()
			sub := id
			if sub != "" {
				sub += "/" + j.s.Name
			}
			r, err := b.sendRemote(ctx, j.s, Action{Device: j.s.Name, Verb: VerbOff}, Caller{CommandID: sub}, 0, 1)
			if err != nil {
				j.reply = err.Error()
				return
			}
			j.reply = r
		}()
	}
	for range jobs {
		<-done
	}
	b.mu.Lock()
	parts := []string{local}
	for _, j := range jobs {
		parts = append(parts, j.reply)
	}
	for _, n := range nodes {
		parts = append(parts, fmt.Sprintf("%s offline: %s not reached", n, strings.Join(offline[n], ", ")))
	}
	return strings.Join(parts, "; ")
}
