package mqtt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
)

// The fleet, on the gateway's side: the devices of other tweetpi nodes
// that this node's board names ({node: garden, device: pump}). A command
// for one is an MQTT 5 request on that node's set topic: QoS 1, not
// retained, the response topic tweetpi/NODE/replies/GATEWAY, the
// command's own id as correlation data, a message expiry of RequestExpiry,
// and the user property give_up_at, the expiry left at which the gateway
// stops waiting (RequestExpiry - AnswerWait, 20): the node runs nothing after
// that, so a command the gateway answered "did not answer" never runs
// late. The node runs it under its own rules and answers with its reply
// text and the user property result (done, rejected, duplicate, expired,
// failed). Nothing is sent twice: the id goes into the gateway's ledger
// before the request goes out, and the node's own ledger runs an id once.
//
// The gateway follows every node's retained availability, announcement
// (DevicesTopic) and states, so a reload that names other devices needs
// no new subscription.

// Timing of a request.
const (
	AnswerWait    = 10 * time.Second // how long a command waits for its node's answer
	RequestExpiry = 30               // seconds a request may wait at the broker (MQTT 5 message expiry)
	// giveUpMargin is how much before the gateway gives up a node stops
	// starting commands: the broker counts expiry in whole seconds, and
	// the answer takes time to come back.
	giveUpMargin = time.Second
	// readyWait bounds how long a command waits, after the connection
	// came up, for the nodes' retained availability to arrive.
	readyWait = 3 * time.Second
	// readySettle is how long after the broker took the subscriptions
	// their retained messages are counted as arrived.
	readySettle = 250 * time.Millisecond
)

// User properties of requests and answers.
const (
	propGiveUpAt = "give_up_at" // request: the expiry left (seconds) when the requester stops waiting
	propResult   = "result"     // answer: done, rejected, duplicate, expired, failed
)

// Bounds of what the gateway keeps of other nodes.
const (
	maxNodes       = 256
	maxNodeDevices = 256
)

// Fleet is the gateway's view of the other nodes, and the way its board
// sends them commands (device.Fleet). Make it with NewFleet, hand it to
// the board (device.Options.Fleet) and to the node (Options.Fleet), which
// connects it. Its methods are safe for concurrent use.
type Fleet struct {
	self   string // this node's name
	ledger Ledger
	log    *slog.Logger
	wait   time.Duration // AnswerWait; tests shorten it

	mu      sync.Mutex
	cm      *conn
	up      bool
	ready   chan struct{} // closed once the subscriptions' retained messages are in
	nodes   map[string]*nodeView
	pending map[string]*request // by correlation id
	full    bool                // maxNodes reached (logged once)
}

// nodeView is what the gateway knows of one node.
type nodeView struct {
	avail    string    // Online, Offline, or "" (not known)
	since    time.Time // when avail last changed
	ann      *Announcement
	states   map[string]string
	lastSeen time.Time
}

// request is a command waiting for its answer.
type request struct {
	node   string
	answer chan answer
}

type answer struct {
	reply, result string
	gone          bool // the node went offline before it answered
}

// NodeStatus is what the gateway knows of one node, for `tweetpi status`.
type NodeStatus struct {
	Node         string    `json:"node"`
	Availability string    `json:"availability"` // online, offline or unknown
	Since        time.Time `json:"since,omitzero"`
	Devices      int       `json:"devices"` // the devices it announced
}

// NewFleet makes the fleet of node self (mqtt.node). ledger records each
// request's id before it is published; log may be nil.
func NewFleet(self string, ledger Ledger, log *slog.Logger) (*Fleet, error) {
	if !nodeOK(self) {
		return nil, fmt.Errorf("mqtt.node: %q is not a node name; use a-z, 0-9, _ and -", self)
	}
	if ledger == nil {
		return nil, errors.New("mqtt fleet: no ledger to record the commands it sends")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Fleet{
		self: self, ledger: ledger, log: log.With("node", self), wait: AnswerWait,
		ready: make(chan struct{}), nodes: map[string]*nodeView{}, pending: map[string]*request{},
	}, nil
}

// Status lists the nodes the gateway has heard of, by name.
func (f *Fleet) Status() []NodeStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]NodeStatus, 0, len(f.nodes))
	for _, name := range slices.Sorted(maps.Keys(f.nodes)) {
		v := f.nodes[name]
		s := NodeStatus{Node: name, Availability: v.avail, Since: v.since}
		if s.Availability == "" || !f.up {
			s.Availability = "unknown"
		}
		if v.ann != nil {
			s.Devices = len(v.ann.Devices)
		}
		out = append(out, s)
	}
	return out
}

// Remote implements device.Fleet.
func (f *Fleet) Remote(node, dev string) device.Remote {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.nodes[node]
	if v == nil {
		return device.Remote{}
	}
	r := device.Remote{Online: f.up && v.avail == Online, State: v.states[dev]}
	if v.ann != nil {
		r.NoCommands = !v.ann.Commands
		if a, ok := v.ann.Devices[dev]; ok {
			r.Known, r.Kind, r.MaxOn, r.Confirm = true, a.Kind, a.maxOn(), a.Confirm
		}
	}
	return r
}

// attach is called by the node's Run with its connection.
func (f *Fleet) attach(cm *conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cm = cm
}

// connUp and connDown follow the node's connection. Down, nothing is
// known of the other nodes until the subscriptions bring their retained
// availability again.
func (f *Fleet) connUp() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.up = true
}

func (f *Fleet) connDown() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.up = false
	for _, v := range f.nodes {
		v.avail = ""
	}
	select {
	case <-f.ready:
		f.ready = make(chan struct{})
	default:
	}
}

// subscribed is called once the broker took the fleet's subscriptions:
// their retained messages follow at once.
func (f *Fleet) subscribed() {
	f.mu.Lock()
	ready := f.ready
	f.mu.Unlock()
	time.AfterFunc(readySettle, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.ready == ready && f.up {
			select {
			case <-ready:
			default:
				close(ready)
			}
		}
	})
}

// subscriptions are the fleet's topic filters.
func (f *Fleet) subscriptions() []paho.SubscribeOptions {
	// NoLocal: this node's own availability, announcement and states are
	// not another node's.
	return []paho.SubscribeOptions{
		{Topic: availabilityFilter, QoS: 1, NoLocal: true},
		{Topic: devicesFilter, QoS: 1, NoLocal: true},
		{Topic: stateFilter, QoS: 1, NoLocal: true},
		{Topic: replyFilter(f.self), QoS: 1, NoLocal: true},
	}
}

// received takes what the broker delivered on the fleet's topics; it
// reports whether the message was the fleet's. It never blocks (it runs on
// the client's goroutine).
func (f *Fleet) received(p *paho.Publish) bool {
	node, rest, ok := topicNode(p.Topic)
	if !ok || node == f.self {
		return false
	}
	switch {
	case len(rest) == 2 && rest[0] == "replies" && rest[1] == f.self:
		f.answered(node, p)
	case len(rest) == 1 && rest[0] == "availability":
		f.withNode(node, func(v *nodeView) {
			a := string(p.Payload)
			if a != Online && a != Offline {
				a = ""
			}
			if a != v.avail {
				f.log.Info("fleet: node availability", "fleet_node", node, "availability", orUnknown(a))
				v.avail, v.since = a, time.Now()
			}
		})
		if string(p.Payload) == Offline {
			f.gone(node)
		}
	case len(rest) == 1 && rest[0] == "devices":
		var a Announcement
		if len(p.Payload) > 0 && json.Unmarshal(p.Payload, &a) != nil {
			f.log.Warn("fleet: a node's announcement is not JSON; its devices are checked by it alone", "fleet_node", node)
		}
		f.withNode(node, func(v *nodeView) {
			if len(p.Payload) == 0 || a.Devices == nil {
				v.ann = nil
				return
			}
			v.ann = &a
		})
	case len(rest) == 2 && rest[1] == "state":
		f.withNode(node, func(v *nodeView) {
			if _, ok := v.states[rest[0]]; !ok && len(v.states) >= maxNodeDevices {
				return
			}
			if len(p.Payload) == 0 {
				delete(v.states, rest[0])
				return
			}
			v.states[rest[0]] = string(p.Payload)
		})
	default:
		return false
	}
	return true
}

// withNode runs fn on node's view, made when it is new (up to maxNodes).
func (f *Fleet) withNode(node string, fn func(*nodeView)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.nodes[node]
	if v == nil {
		if len(f.nodes) >= maxNodes {
			if !f.full {
				f.full = true
				f.log.Warn("fleet: too many nodes on the broker; the others are not followed", "max", maxNodes, "fleet_node", node)
			}
			return
		}
		v = &nodeView{states: map[string]string{}}
		f.nodes[node] = v
	}
	v.lastSeen = time.Now()
	fn(v)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// answered hands a node's answer to the request waiting for it. An answer
// from another node than the one asked, or to no waiting request, is
// logged and dropped.
func (f *Fleet) answered(node string, p *paho.Publish) {
	var corr []byte
	result := ""
	if p.Properties != nil {
		corr = p.Properties.CorrelationData
		result = p.Properties.User.Get(propResult)
	}
	id := correlationText(corr)
	f.mu.Lock()
	req := f.pending[id]
	if req != nil && req.node == node {
		delete(f.pending, id)
	}
	f.mu.Unlock()
	switch {
	case req == nil:
		f.log.Warn("fleet: an answer no command waits for (it came after the wait, or after a restart); the post was answered without it",
			"fleet_node", node, "id", id, "result", result, "reply", clip(string(p.Payload)))
	case req.node != node:
		f.log.Warn("fleet: an answer from another node than the one asked; ignored", "fleet_node", node, "asked", req.node, "id", id)
	default:
		req.answer <- answer{reply: string(p.Payload), result: result} // buffered: never blocks
	}
}

// gone ends the waits for node's answers: it went offline (its will: it
// died, or lost its network), so no answer comes from this life of it.
// What it was sent may have run, or may still run if it comes back with
// its session in time (never after give_up_at).
func (f *Fleet) gone(node string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, req := range f.pending {
		if req.node == node {
			delete(f.pending, id)
			req.answer <- answer{gone: true} // buffered: never blocks
		}
	}
}

// Send implements device.Fleet: one request, never sent twice, and its
// answer, or why there is none.
func (f *Fleet) Send(ctx context.Context, node, dev, command, id string) (device.Answer, error) {
	if id == "" {
		id = newID()
	}
	log := f.log.With("fleet_node", node, "node_device", dev, "command", command, "id", id)
	if len(id) > MaxCorrelation {
		return device.Answer{}, fmt.Errorf("not sent to %s: the command's id is longer than %d bytes", node, MaxCorrelation)
	}
	cm, err := f.reachable(ctx, node)
	if err != nil {
		return device.Answer{}, err
	}
	fresh, err := f.ledger.Take(id)
	if err != nil {
		log.Error("fleet: cannot record the command's id; not sent", "err", err)
		return device.Answer{}, fmt.Errorf("not sent to %s: its id could not be recorded (see the log)", node)
	}
	if !fresh {
		log.Warn("fleet: this id was sent before; not sent again")
		return device.Answer{}, fmt.Errorf("not sent to %s again: a command with this id was sent before", node)
	}
	req := &request{node: node, answer: make(chan answer, 1)}
	f.mu.Lock()
	f.pending[id] = req
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		if f.pending[id] == req {
			delete(f.pending, id)
		}
		f.mu.Unlock()
	}()
	timer := time.NewTimer(f.wait)
	defer timer.Stop()
	expiry := uint32(RequestExpiry)
	p := &paho.Publish{
		QoS: 1, Topic: SetTopic(node, dev), Payload: []byte(command),
		Properties: &paho.PublishProperties{
			ResponseTopic:   ReplyTopic(node, f.self),
			CorrelationData: []byte(id),
			MessageExpiry:   &expiry,
			User:            paho.UserProperties{{Key: propGiveUpAt, Value: strconv.Itoa(f.giveUpAt())}},
		},
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.wait)
	r, err := cm.Publish(pctx, p)
	cancel()
	// paho returns the broker's refusal as an error with its reason code.
	switch {
	case errors.Is(err, errDown):
		log.Warn("fleet: not connected to the broker; not sent")
		return device.Answer{}, fmt.Errorf("%s cannot be reached: tweetpi is not connected to the broker; not run", node)
	case err != nil && (r == nil || r.ReasonCode < 0x80):
		log.Warn("fleet: the broker did not take the command", "err", err)
		return device.Answer{}, fmt.Errorf("%s may not have it: the broker did not confirm the command (%v)", node, err)
	case r != nil && r.ReasonCode == 0x10:
		log.Warn("fleet: nothing takes the node's commands; not run")
		return device.Answer{}, fmt.Errorf("%s takes no commands now (nothing is subscribed to its set topics); not run", node)
	case r != nil && r.ReasonCode == 0x87:
		log.Error("fleet: the broker refused the command: not authorized")
		return device.Answer{}, fmt.Errorf("not run: the broker does not let this tweetpi command %s (its ACL must let it write %s)", node, p.Topic)
	case r != nil && r.ReasonCode >= 0x80:
		log.Error("fleet: the broker refused the command", "reason", fmt.Sprintf("%#x", r.ReasonCode))
		return device.Answer{}, fmt.Errorf("not run: the broker refused the command for %s (reason %#x)", node, r.ReasonCode)
	}
	log.Info("fleet: request sent")
	select {
	case a := <-req.answer:
		if a.gone {
			log.Warn("fleet: the node went offline before it answered; the command may have run")
			return device.Answer{}, fmt.Errorf("%s went offline before it answered; it may have run", node)
		}
		ran := a.result == "" || a.result == "done"
		log.Info("fleet: answer", "result", a.result, "reply", clip(a.reply))
		return device.Answer{Reply: a.reply, Ran: ran}, nil
	case <-timer.C:
		log.Warn("fleet: no answer in time; the node runs nothing after it", "wait", f.wait.String())
		return device.Answer{}, fmt.Errorf("%s did not answer in %s", node, config.FormatDuration(f.wait))
	case <-ctx.Done():
		log.Warn("fleet: stopped waiting for the answer (shutting down)")
		return device.Answer{}, fmt.Errorf("%s: no answer (shutting down)", node)
	}
}

// giveUpAt is the message expiry left, in seconds, when the gateway stops
// waiting for an answer: RequestExpiry less the wait (rounded up).
func (f *Fleet) giveUpAt() int {
	return max(0, RequestExpiry-int((f.wait+time.Second-1)/time.Second))
}

// reachable waits, while the connection comes up (at a start, after a
// drop), up to readyWait for it and the nodes' retained availability, and
// says whether node can take a command: the connection up and the node
// online.
func (f *Fleet) reachable(ctx context.Context, node string) (*conn, error) {
	f.mu.Lock()
	ready, cm := f.ready, f.cm
	f.mu.Unlock()
	if cm != nil {
		t := time.NewTimer(readyWait)
		select {
		case <-ready:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.up || f.cm == nil {
		return nil, fmt.Errorf("%s cannot be reached: tweetpi is not connected to the broker; not run", node)
	}
	if v := f.nodes[node]; v == nil || v.avail != Online {
		return nil, fmt.Errorf("%s is offline; not run", node)
	}
	return f.cm, nil
}

// newID is an id for a command that has none of its own (a schedule's).
func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "tp-" + hex.EncodeToString(b)
}
