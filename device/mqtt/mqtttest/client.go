package mqtttest

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// WaitTimeout bounds every wait of a Client: generous, for a slow machine
// with the race detector on.
const WaitTimeout = 30 * time.Second

// Message is one message a Client received.
type Message struct {
	Topic         string
	Payload       string
	Retained      bool // sent because it was retained (at subscribe), not live
	QoS           byte
	ResponseTopic string
	Correlation   []byte
	Expiry        *uint32 // message expiry in seconds, when set
}

// Client is an MQTT 5 client for tests: what it receives is recorded, in
// order, and can be waited for.
type Client struct {
	t testing.TB
	c *paho.Client

	mu      sync.Mutex
	msgs    []Message
	changed chan struct{} // closed and replaced when a message arrives
	closed  bool
}

// Dial connects to b as user (none when "") with password; it is
// disconnected when the test ends.
func Dial(t testing.TB, b *Broker, user, password string) *Client {
	t.Helper()
	c, err := DialErr(t, b, user, password)
	if err != nil {
		t.Fatalf("mqtttest: connect to %s as %q: %v", b.URL, user, err)
	}
	return c
}

// DialAddr connects to a plain MQTT broker at addr (host:port) that the
// test did not start, such as the host's from inside a VM.
func DialAddr(t testing.TB, addr, user, password string) *Client {
	t.Helper()
	c, err := dial(t, addr, "", user, password)
	if err != nil {
		t.Fatalf("mqtttest: connect to %s as %q: %v", addr, user, err)
	}
	return c
}

// DialErr is Dial that returns the error of a refused connection.
func DialErr(t testing.TB, b *Broker, user, password string) (*Client, error) {
	t.Helper()
	return dial(t, fmt.Sprintf("127.0.0.1:%d", b.Port), b.CAFile, user, password)
}

func dial(t testing.TB, addr, caFile, user, password string) (*Client, error) {
	t.Helper()
	var conn net.Conn
	var err error
	if caFile != "" {
		pem, rerr := os.ReadFile(caFile)
		if rerr != nil {
			t.Fatal(rerr)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		var tc *tls.Conn
		tc, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
		if err == nil {
			conn = packets.NewThreadSafeConn(tc)
		}
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	cl := &Client{t: t, changed: make(chan struct{})}
	cl.c = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			cl.record(pr.Packet)
			return true, nil
		}},
	})
	id := make([]byte, 6)
	rand.Read(id)
	cp := &paho.Connect{ClientID: "test-" + hex.EncodeToString(id), CleanStart: true, KeepAlive: 30}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
	}
	if password != "" {
		cp.Password, cp.PasswordFlag = []byte(password), true
	}
	ctx, cancel := ctxFor(t, WaitTimeout)
	defer cancel()
	if _, err := cl.c.Connect(ctx, cp); err != nil {
		return nil, err
	}
	t.Cleanup(cl.Close)
	return cl, nil
}

func (c *Client) record(p *paho.Publish) {
	m := Message{Topic: p.Topic, Payload: string(p.Payload), Retained: p.Retain, QoS: p.QoS}
	if p.Properties != nil {
		m.ResponseTopic, m.Correlation, m.Expiry = p.Properties.ResponseTopic, p.Properties.CorrelationData, p.Properties.MessageExpiry
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// Close disconnects.
func (c *Client) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
}

// Subscribe subscribes to the topic filters at QoS 1 and waits for the
// broker's answer (retained messages follow it).
func (c *Client) Subscribe(filters ...string) {
	c.t.Helper()
	s := &paho.Subscribe{}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	ctx, cancel := ctxFor(c.t, WaitTimeout)
	defer cancel()
	sa, err := c.c.Subscribe(ctx, s)
	if err != nil {
		c.t.Fatalf("mqtttest: subscribe %q: %v", filters, err)
	}
	for i, r := range sa.Reasons {
		if r >= 0x80 {
			c.t.Fatalf("mqtttest: subscribe %q refused (reason %#x)", filters[i], r)
		}
	}
}

// Publish publishes p (QoS 1 unless p says otherwise) and waits for the
// broker to take it. It returns the broker's reason code (0: accepted;
// 0x10 no subscribers is fine too; 0x87 not authorized).
func (c *Client) Publish(p *paho.Publish) byte {
	c.t.Helper()
	if p.QoS == 0 {
		p.QoS = 1
	}
	ctx, cancel := ctxFor(c.t, WaitTimeout)
	defer cancel()
	r, err := c.c.Publish(ctx, p)
	if err != nil {
		if r != nil {
			return r.ReasonCode
		}
		c.t.Fatalf("mqtttest: publish %s: %v", p.Topic, err)
	}
	return r.ReasonCode
}

// Send publishes payload on topic at QoS 1, not retained.
func (c *Client) Send(topic, payload string) {
	c.t.Helper()
	if rc := c.Publish(&paho.Publish{Topic: topic, Payload: []byte(payload)}); rc >= 0x80 {
		c.t.Fatalf("mqtttest: publish %s refused (reason %#x)", topic, rc)
	}
}

// Messages are the messages received so far on topic ("" for all).
func (c *Client) Messages(topic string) []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Message
	for _, m := range c.msgs {
		if topic == "" || m.Topic == topic {
			out = append(out, m)
		}
	}
	return out
}

// Last is the newest message on topic.
func (c *Client) Last(topic string) (Message, bool) {
	ms := c.Messages(topic)
	if len(ms) == 0 {
		return Message{}, false
	}
	return ms[len(ms)-1], true
}

// WaitFor waits until a message on topic satisfies ok, among those that
// arrive after the first skip messages on it, and returns it. It fails the
// test after WaitTimeout.
func (c *Client) WaitFor(topic string, skip int, ok func(Message) bool) Message {
	c.t.Helper()
	deadline := time.After(WaitTimeout)
	for {
		c.mu.Lock()
		n := 0
		for _, m := range c.msgs {
			if m.Topic != topic {
				continue
			}
			n++
			if n > skip && ok(m) {
				c.mu.Unlock()
				return m
			}
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			var seen []string
			for _, m := range c.Messages(topic) {
				seen = append(seen, fmt.Sprintf("%q (retained %t)", m.Payload, m.Retained))
			}
			c.t.Fatalf("mqtttest: no matching message on %s within %s; got %s", topic, WaitTimeout, strings.Join(seen, ", "))
			return Message{}
		}
	}
}

// WaitPayload waits for payload on topic, after the first skip messages
// on it.
func (c *Client) WaitPayload(topic string, skip int, payload string) Message {
	c.t.Helper()
	return c.WaitFor(topic, skip, func(m Message) bool { return m.Payload == payload })
}

// Count is how many messages arrived on topic.
func (c *Client) Count(topic string) int { return len(c.Messages(topic)) }
