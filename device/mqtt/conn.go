package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session/state"
)

// conn owns the connection to the broker, the way paho's autopaho does
// (its auto.go and net.go are the model): it dials (TCP, or TLS for
// mqtts://), sends CONNECT (the will, the user, the session; a clean start
// the first time only), calls up once the broker has accepted it, and when
// the connection drops calls down and dials again after a capped,
// jittered backoff, until its context ends. One session state lives across
// the connections, so QoS 1 messages in flight survive a reconnect.
//
// It is autopaho cut to what a node uses: autopaho also dials websockets
// and SOCKS proxies and keeps a publish queue, and those (gorilla/websocket,
// compress/flate, x/net/proxy) cost a quarter of a MiB of the armv6 binary,
// which has a 9 MiB budget.
type conn struct {
	cfg connConfig

	mu     sync.Mutex
	cli    *paho.Client // nil while down
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns
}

// connConfig is what a conn needs.
type connConfig struct {
	url     *url.URL
	tls     *tls.Config                    // for mqtts://
	connect func(first bool) *paho.Connect // the CONNECT packet of an attempt
	client  paho.ClientConfig              // OnPublishReceived and friends; Conn and Session are the conn's

	up           func()          // the broker accepted the connection; must not block
	down         func()          // the connection that was up dropped; must not block
	connectError func(err error) // an attempt failed
	disconnect   func() *paho.Disconnect

	backoff        func(attempt int) time.Duration // wait before attempt n (0: the first after a drop)
	connectTimeout time.Duration
}

// errDown is returned by a publish or subscribe while no connection is up.
var errDown = errors.New("not connected to the broker")

// refusedError is the broker's refusal of a connection (CONNACK).
type refusedError struct {
	code   byte
	reason string
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("the broker refused the connection (reason %#x %s)", e.code, e.reason)
}

// newConn makes a conn; start connects.
func newConn(cfg connConfig) *conn {
	if cfg.client.Session == nil {
		cfg.client.Session = state.NewInMemory()
	}
	return &conn{cfg: cfg, cancel: func() {}, done: make(chan struct{})}
}

// start connects in the background until ctx ends or Disconnect is
// called.
func (c *conn) start(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	c.cancel = cancel
	c.mu.Unlock()
	go func() {
		defer close(c.done)
		c.run(ctx)
	}()
}

func (c *conn) run(ctx context.Context) {
	first := true
	for attempt := 0; ; attempt++ {
		if !sleep(ctx, c.cfg.backoff(attempt)) {
			return
		}
		cli, err := c.attempt(ctx, first)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.cfg.connectError(err)
			continue
		}
		first, attempt = false, -1 // after a drop, the first attempt waits nothing
		c.mu.Lock()
		c.cli = cli
		c.mu.Unlock()
		c.cfg.up()
		select {
		case <-cli.Done():
			c.mu.Lock()
			c.cli = nil
			c.mu.Unlock()
			c.cfg.down()
		case <-ctx.Done():
			if d := c.cfg.disconnect(); d != nil {
				_ = cli.Disconnect(d)
			}
			<-cli.Done()
			c.mu.Lock()
			c.cli = nil
			c.mu.Unlock()
			return
		}
	}
}

// attempt dials once and connects.
func (c *conn) attempt(ctx context.Context, first bool) (*paho.Client, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.connectTimeout)
	defer cancel()
	var nc net.Conn
	var err error
	if c.cfg.url.Scheme == "mqtts" {
		d := tls.Dialer{Config: c.cfg.tls}
		nc, err = d.DialContext(actx, "tcp", c.cfg.url.Host)
		if err == nil {
			nc = packets.NewThreadSafeConn(nc) // paho writes from several goroutines
		}
	} else {
		var d net.Dialer
		nc, err = d.DialContext(actx, "tcp", c.cfg.url.Host)
	}
	if err != nil {
		return nil, err
	}
	cfg := c.cfg.client
	cfg.Conn = nc
	cli := paho.NewClient(cfg)
	ack, err := cli.Connect(actx, c.cfg.connect(first))
	if err != nil {
		if ack != nil && ack.ReasonCode >= 0x80 {
			reason := ""
			if ack.Properties != nil {
				reason = ack.Properties.ReasonString
			}
			return nil, &refusedError{code: ack.ReasonCode, reason: reason}
		}
		return nil, err
	}
	return cli, nil
}

func (c *conn) client() *paho.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cli
}

// Publish sends p on the connection that is up and waits for the broker's
// acknowledgement (QoS 1), or returns errDown.
func (c *conn) Publish(ctx context.Context, p *paho.Publish) (*paho.PublishResponse, error) {
	cli := c.client()
	if cli == nil {
		return nil, errDown
	}
	return cli.Publish(ctx, p)
}

// Subscribe subscribes on the connection that is up, or returns errDown.
func (c *conn) Subscribe(ctx context.Context, s *paho.Subscribe) (*paho.Suback, error) {
	cli := c.client()
	if cli == nil {
		return nil, errDown
	}
	return cli.Subscribe(ctx, s)
}

// Disconnect ends the connection (with the disconnect packet) and stops
// connecting; it waits until that is done or ctx ends.
func (c *conn) Disconnect(ctx context.Context) error {
	c.mu.Lock()
	cancel := c.cancel
	c.mu.Unlock()
	cancel()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// terminate closes the network connection without a goodbye, as a
// crash or a lost network does: for tests.
func (c *conn) terminate() {
	if cli := c.client(); cli != nil {
		cli.TerminateConnectionForTest()
	}
}

// backoff is the wait before reconnection attempt n: none for the first
// (n 0), then random between half and all of 500ms doubled n-1 times, at
// most a minute.
func backoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := 500 * time.Millisecond
	for i := 1; i < n && d < time.Minute; i++ {
		d *= 2
	}
	d = min(d, time.Minute)
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx ends; it reports whether ctx is still on.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
