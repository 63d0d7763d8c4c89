package mqtt

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eclipse/paho.golang/paho"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
)

// Limits of a command from the broker.
const (
	MaxCommand     = 200 // bytes of a set message
	MaxCorrelation = 64  // bytes of correlation data: a command's id
)

// received handles a message the broker delivered: a command on a set
// topic, or Home Assistant's status. It runs on the client's goroutine,
// one message at a time, in the order they came.
func (n *Node) received(p *paho.Publish, at time.Time) {
	if n.opt.Fleet != nil && n.opt.Fleet.received(p) {
		return
	}
	if n.cfg.Discovery != "" && p.Topic == n.cfg.Discovery+"/status" {
		if string(p.Payload) == Online {
			signal(n.haOnline)
		}
		return
	}
	if dev, ok := setDevice(n.cfg.Node, p.Topic); ok && n.cfg.Commands {
		n.command(dev, p, at)
	}
}

// command runs one command from the set topic of device dev, through the
// board's rules, and answers on the response topic if there is one. at is
// when it arrived, for its expiry.
func (n *Node) command(dev string, p *paho.Publish, at time.Time) {
	props := p.Properties
	if props == nil {
		props = &paho.PublishProperties{}
	}
	text := strings.TrimSpace(string(p.Payload))
	log := n.log.With("inbox", "mqtt", "topic", p.Topic)
	corr := props.CorrelationData
	if len(corr) == 0 {
		corr = nil
	}
	if corr != nil {
		log = log.With("correlation", correlationText(corr))
	}
	if p.Retain {
		if text == "" {
			return // a cleared retained message
		}
		// A retained command would run again at every reconnect: it never
		// runs, and it is cleared so that it stops coming back.
		log.Warn("command", "text", clip(text), "result", "retained",
			"reply", "not run: a retained message on a set topic is never run; publish commands without the retain flag")
		n.later(func(ctx context.Context, cm *conn) {
			if err := n.publishPacket(ctx, cm, &paho.Publish{QoS: 1, Topic: p.Topic, Retain: true}); err != nil {
				log.Warn("mqtt: cannot clear the retained command", "err", err)
			}
		})
		return
	}
	if text == "" {
		return
	}
	answer := func(result, reply string) {
		log.Info("command", "text", clip(text), "result", result, "reply", reply)
		if props.ResponseTopic != "" {
			n.respond(log, props.ResponseTopic, corr, result, reply)
		}
	}
	deadline := runDeadline(props, at)
	expired := func() bool { return !deadline.IsZero() && !time.Now().Before(deadline) }
	switch {
	case len(p.Payload) > MaxCommand:
		answer("rejected", fmt.Sprintf("not run: a command is at most %d characters", MaxCommand))
		return
	case !utf8.ValidString(text):
		answer("rejected", "not run: the command is not UTF-8 text")
		return
	case len(corr) > MaxCorrelation:
		answer("rejected", fmt.Sprintf("not run: the correlation data (the command's id) is longer than %d bytes", MaxCorrelation))
		return
	case expired():
		answer("expired", "not run: it expired before it could run")
		return
	}
	board := n.currentBoard()
	acts, err := device.Parse(dev+" "+text, board.Devices())
	switch {
	case err != nil:
		answer("rejected", err.Error())
		return
	case len(acts) == 1 && acts[0].Device != "" && acts[0].Device != dev:
		answer("rejected", fmt.Sprintf("not run: use the device's name in the topic: %s", SetTopic(n.cfg.Node, acts[0].Device)))
		return
	case len(acts) != 1 || acts[0].Device != dev:
		answer("rejected", fmt.Sprintf("not run: %s takes one command for %s, like on, off, toggle, pulse 30s, blink 3 or 40%%", p.Topic, dev))
		return
	}
	if s, ok := remoteDevice(board.Devices(), dev); ok {
		answer("rejected", fmt.Sprintf("not run: %s is device %s of node %s; publish to %s", dev, s.NodeDevice, s.Node, SetTopic(s.Node, s.NodeDevice)))
		return
	}
	if corr != nil {
		fresh, err := n.opt.Ledger.Take(correlationText(corr))
		if err != nil {
			log.Error("mqtt: cannot record the command's id; not run", "err", err)
			answer("failed", "not run: its id could not be recorded (see the log)")
			return
		}
		if !fresh {
			answer("duplicate", "not run again: a command with this id was taken before")
			return
		}
	}
	if n.beforeRun != nil {
		n.beforeRun()
	}
	if n.opt.RunDelay > 0 {
		log.Warn("mqtt: holding the command (the test hook TWEETPI_TEST_RUN_DELAY)", "delay", n.opt.RunDelay.String())
		t := time.NewTimer(n.opt.RunDelay)
		select {
		case <-t.C:
		case <-n.runContext().Done():
		}
		t.Stop()
	}
	if expired() {
		answer("expired", "not run: it expired before it could run")
		return
	}
	log.Info("run", "text", clip(text))
	// The broker's ACL decides who may publish here: per-device allow
	// lists name X users, so they do not apply (like `tweetpi do`).
	res := board.Run(n.runContext(), dev+" "+text, device.Caller{Local: true})
	result := "done"
	if res.Rejected {
		result = "rejected"
	}
	answer(result, res.Reply)
}

// runDeadline is when a command that arrived at at may run no more: its
// message expiry, or, when the requester says when it stops waiting (the
// user property give_up_at, the expiry left then), a margin before that;
// zero: no limit.
func runDeadline(props *paho.PublishProperties, at time.Time) time.Time {
	if props.MessageExpiry == nil {
		return time.Time{}
	}
	left := time.Duration(*props.MessageExpiry) * time.Second
	if g, err := strconv.Atoi(props.User.Get(propGiveUpAt)); err == nil && g >= 0 {
		return at.Add(left - time.Duration(g)*time.Second - giveUpMargin)
	}
	return at.Add(left)
}

// respond publishes reply on the requester's response topic, with its
// correlation data and the result as the user property result, in the
// background.
func (n *Node) respond(log interface {
	Warn(string, ...any)
}, topic string, corr []byte, result, reply string) {
	if !validTopic(topic) {
		log.Warn("mqtt: the response topic is not a topic one may publish to; no answer", "response_topic", topic)
		return
	}
	expiry := uint32(replyExpiry)
	n.later(func(ctx context.Context, cm *conn) {
		err := n.publishPacket(ctx, cm, &paho.Publish{
			QoS: 1, Topic: topic, Payload: []byte(reply),
			Properties: &paho.PublishProperties{CorrelationData: corr, MessageExpiry: &expiry,
				User: paho.UserProperties{{Key: propResult, Value: result}}},
		})
		if err != nil {
			log.Warn("mqtt: answer not sent", "response_topic", topic, "err", err)
		}
	})
}

// later runs a publish in the background: the client's goroutine must not
// wait for the broker's acknowledgement, which it reads itself. A stop
// waits for these.
func (n *Node) later(f func(ctx context.Context, cm *conn)) {
	n.mu.Lock()
	cm := n.cm
	n.mu.Unlock()
	if cm == nil {
		return
	}
	n.pending.Add(1)
	go func() {
		defer n.pending.Done()
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		defer cancel()
		f(ctx, cm)
	}()
}

func (n *Node) runContext() context.Context {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ctx == nil {
		return context.Background()
	}
	return n.ctx
}

// correlationText is correlation data as an id: the text itself when it
// is printable ASCII without spaces, else hex: and its hex digits.
func correlationText(b []byte) string {
	for _, c := range b {
		if c <= ' ' || c > '~' {
			return "hex:" + hex.EncodeToString(b)
		}
	}
	return string(b)
}

func clip(s string) string {
	if len(s) <= MaxCommand {
		return s
	}
	return s[:MaxCommand] + "…"
}

// remoteDevice is the device named name when it is another node's.
func remoteDevice(devs []config.Device, name string) (config.Device, bool) {
	for _, d := range devs {
		if d.Name == name && d.Remote() {
			return d, true
		}
	}
	return config.Device{}, false
}
