package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
)

// Board is what a Node needs of the devices; *device.Board has it.
type Board interface {
	// Run runs a command text under the board's rules.
	Run(ctx context.Context, text string, c device.Caller) device.Result
	// Devices are the devices, in the configuration's order.
	Devices() []config.Device
	// States are every device's state.
	States() []device.State
	// Watch is a feed of state changes.
	Watch() *device.Feed
	// CPUTemperature is the CPU's temperature in °C, if the board has one.
	CPUTemperature() (float64, bool)
	// Sensors are the sensor devices and what they measure.
	Sensors() []device.Sensor
	// SensorFeed reads every sensor every interval until ctx ends or the
	// board closes.
	SensorFeed(ctx context.Context, every time.Duration) <-chan device.Reading
}

// Ledger records the ids of commands before they run, durably: Take
// reports whether id is new, and once it has said so, it never says so
// again for that id, across restarts. An error means it could not record
// the id, and the command must not run.
type Ledger interface {
	Take(id string) (fresh bool, err error)
}

// Options are what a Node needs besides the mqtt: section.
type Options struct {
	Board  Board        // the devices; required
	Ledger Ledger       // at-most-once for messages with correlation data; required when commands are on
	Logger *slog.Logger // nil: no logs

	Version  string // tweetpi's version, for Home Assistant
	Model    string // the board's model ("Raspberry Pi 4 Model B Rev 1.4"), for Home Assistant; "" for none
	StateDir string // where MemoryFile is kept; "": published components are not remembered

	// CPUInterval is how often the CPU temperature is read, SensorInterval
	// how often the sensors are; 0: every minute.
	CPUInterval    time.Duration
	SensorInterval time.Duration

	// Fleet, on a gateway, is its view of the other nodes (NewFleet, also
	// handed to the board): the node subscribes to what it follows and
	// carries its requests and answers.
	Fleet *Fleet
	// Progress is called each time Run's loop goes round (at least every
	// ProgressEvery; 0: every 10s), whether the broker is there or not:
	// the systemd watchdog of an agent, which has no bot to feed it.
	Progress      func()
	ProgressEvery time.Duration
	// RunDelay holds every command from the broker this long before it
	// runs: a test hook (cmd sets it from TWEETPI_TEST_RUN_DELAY) that
	// plays a node too slow for its gateway. Never set it otherwise.
	RunDelay time.Duration
}

// Tuning of the connection.
const (
	keepAlive      = 30               // seconds between pings when idle
	sessionExpiry  = 60               // seconds the broker keeps our session (and queues QoS 1 commands) over a network drop
	receiveMaximum = 16               // QoS 1 messages in flight to us at once
	connectTimeout = 10 * time.Second // one connection attempt
	publishTimeout = 10 * time.Second // one publish, until its PUBACK
	stopWait       = 2 * time.Second  // at a stop, how long the board may take to close before the last states go out
	replyExpiry    = 60               // seconds a reply waits at the broker for the requester
	defaultCPU     = time.Minute
	progressEvery  = 10 * time.Second // Run's loop wakes at least this often (Options.Progress)
)

// Node is this tweetpi on the broker. Its methods are safe for concurrent
// use.
type Node struct {
	cfg    config.MQTT
	opt    Options
	log    *slog.Logger
	broker *url.URL
	tls    *tls.Config

	boardChanged chan struct{} // SetBoard was called
	up           chan struct{} // the connection came up
	haOnline     chan struct{} // Home Assistant announced itself

	mu           sync.Mutex
	board        Board
	ctx          context.Context // Run's; commands run under it
	cm           *conn
	connected    bool
	since        time.Time
	lastErr      string
	cpu          string            // the CPU temperature last published
	readings     map[string]string // the sensors' last states, by device, published again at a reconnect
	disc         string            // the discovery payload last published
	ann          string            // the fleet's announcement last published
	shown        []string          // the devices whose states the node publishes (the board's, at the last announce or reload)
	gone         []string          // devices a reload removed whose retained states are still to be cleared
	shownSensors []string          // the sensors among shown

	pending sync.WaitGroup // answers on their way

	beforeRun func()                          // a test's hook between the checks and the run
	stopWait  time.Duration                   // how long a stop waits for the board to close; 0: the constant
	reconnect func(attempt int) time.Duration // a test's wait before reconnecting; nil: backoff
}

// Status is what a Node is doing, for `tweetpi status`.
type Status struct {
	Broker    string    `json:"broker"`
	Node      string    `json:"node"`
	Connected bool      `json:"connected"`
	Since     time.Time `json:"since"`                // when it connected or lost the connection
	LastError string    `json:"last_error,omitempty"` // the last connection error
}

// New checks the section and the options and makes a Node; Run connects.
// Its errors are the configuration's: they name the key and the fix.
func New(cfg config.MQTT, opt Options) (*Node, error) {
	if opt.Board == nil {
		return nil, errors.New("mqtt: no board")
	}
	if cfg.Commands && opt.Ledger == nil {
		return nil, errors.New("mqtt: commands are on but there is no ledger to keep their ids")
	}
	u, err := brokerURL(cfg.Broker)
	if err != nil {
		return nil, err
	}
	if !nodeOK(cfg.Node) {
		return nil, fmt.Errorf("mqtt.node: %q is not a node name; use a-z, 0-9, _ and -", cfg.Node)
	}
	n := &Node{
		cfg: cfg, opt: opt, log: opt.Logger, broker: u, board: opt.Board, readings: map[string]string{},
		boardChanged: make(chan struct{}, 1),
		up:           make(chan struct{}, 1),
		haOnline:     make(chan struct{}, 1),
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.log = n.log.With("broker", u.Redacted(), "node", cfg.Node)
	if u.Scheme == "mqtts" {
		n.tls = &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("mqtt.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("mqtt.ca_file: %s holds no PEM certificate; name the PEM file of the CA that signed the broker's certificate", cfg.CAFile)
			}
			n.tls.RootCAs = pool
		}
	}
	return n, nil
}

// brokerURL parses the broker's URL and fills in the port.
func brokerURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "mqtt" && u.Scheme != "mqtts") || u.Hostname() == "" {
		return nil, fmt.Errorf("mqtt.broker: %q is not a broker URL; write it like mqtt://192.168.1.10:1883 or mqtts://broker.example.com:8883", s)
	}
	if u.User != nil {
		return nil, errors.New("mqtt.broker: the URL holds a user or password; put them in username and password_file")
	}
	if u.Port() == "" {
		port := "1883"
		if u.Scheme == "mqtts" {
			port = "8883"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	u.Path = ""
	return u, nil
}

func nodeOK(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func (n *Node) version() string {
	if n.opt.Version == "" {
		return "dev"
	}
	return n.opt.Version
}

// SetBoard hands the node a new board, or tells it that the board's
// devices changed (the configuration was reloaded and the board applied
// it): commands go to it. A new board is announced whole, as at a
// connect. For the same board the node publishes only what changed: the
// discovery payload and the fleet's announcement if they are others, the states of the devices set up
// again (the board's feed brings them), and an empty retained state for
// each device removed, which clears it from the broker.
func (n *Node) SetBoard(b Board) {
	n.mu.Lock()
	n.board = b
	n.mu.Unlock()
	signal(n.boardChanged)
}

// Status says what the node is doing.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	return Status{Broker: n.broker.Redacted(), Node: n.cfg.Node, Connected: n.connected, Since: n.since, LastError: n.lastErr}
}

func (n *Node) currentBoard() Board {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.board
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// connConfig is the connection's configuration: the will, the session,
// the backoff, and the callbacks that hand events to Run's loop.
func (n *Node) connConfig() connConfig {
	wait := backoff
	if n.reconnect != nil {
		wait = n.reconnect
	}
	recvMax := uint16(receiveMaximum)
	expiry := uint32(sessionExpiry)
	return connConfig{
		url: n.broker,
		tls: n.tls,
		connect: func(first bool) *paho.Connect {
			cp := &paho.Connect{
				ClientID:   "tweetpi-" + n.cfg.Node,
				KeepAlive:  keepAlive,
				CleanStart: first, // a new process runs nothing queued for an old one
				Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry, ReceiveMaximum: &recvMax},
				WillMessage: &paho.WillMessage{
					Topic: AvailabilityTopic(n.cfg.Node), Payload: []byte(Offline), QoS: 1, Retain: true,
				},
				WillProperties: &paho.WillProperties{},
			}
			if n.cfg.Username != "" {
				cp.Username, cp.UsernameFlag = n.cfg.Username, true
			}
			if n.cfg.Password != "" {
				cp.Password, cp.PasswordFlag = []byte(n.cfg.Password.Reveal()), true
			}
			return cp
		},
		// A clean stop ends the session: nothing is queued for a stopped node.
		disconnect: func() *paho.Disconnect {
			zero := uint32(0)
			return &paho.Disconnect{ReasonCode: 0, Properties: &paho.DisconnectProperties{SessionExpiryInterval: &zero}}
		},
		up: func() {
			n.mu.Lock()
			n.connected, n.since, n.lastErr = true, time.Now(), ""
			n.mu.Unlock()
			if n.opt.Fleet != nil {
				n.opt.Fleet.connUp()
			}
			signal(n.up)
		},
		down: func() {
			n.mu.Lock()
			n.connected, n.since = false, time.Now()
			last := n.lastErr
			n.mu.Unlock()
			if n.opt.Fleet != nil {
				n.opt.Fleet.connDown()
			}
			n.log.Warn("mqtt connection lost; reconnecting", "err", last)
		},
		connectError: func(err error) {
			msg := connectProblem(err)
			n.mu.Lock()
			n.lastErr = msg
			n.mu.Unlock()
			n.log.Warn("mqtt cannot connect; trying again", "err", msg)
		},
		backoff:        wait,
		connectTimeout: connectTimeout,
		client: paho.ClientConfig{
			ClientID: "tweetpi-" + n.cfg.Node,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				n.received(pr.Packet, time.Now())
				return true, nil
			}},
			OnClientError: func(err error) {
				n.mu.Lock()
				n.lastErr = err.Error()
				n.mu.Unlock()
			},
			OnServerDisconnect: func(d *paho.Disconnect) {
				msg := "the broker closed the connection (reason " + strconv.Itoa(int(d.ReasonCode)) + ")"
				if d.ReasonCode == 0x8e {
					msg = "another client connected as tweetpi-" + n.cfg.Node + ": is a second tweetpi using the same mqtt.node? give each its own node name"
				}
				n.mu.Lock()
				n.lastErr = msg
				n.mu.Unlock()
			},
		},
	}
}

// connectProblem says what a failed connection attempt means and, for the
// broker's refusals, how to fix it.
func connectProblem(err error) string {
	var ce *refusedError
	if errors.As(err, &ce) {
		switch ce.code {
		case 0x86, 0x87, 0x04, 0x05: // bad user name or password, not authorized (MQTT 5, 3.1.1); mosquitto answers a bad password with not authorized
			return "the broker refused the user name or password; check mqtt.username and the password (TWEETPI_MQTT_PASSWORD, password_file or password) against the broker's password file"
		case 0x85:
			return "the broker refused the client id tweetpi-NODE; check mqtt.node"
		}
		return ce.Error()
	}
	return err.Error()
}

// Run connects to the broker and serves the devices until ctx ends; the
// broker going away only makes it reconnect. At the end it publishes the
// last states (once the board has closed, up to a short wait) and offline,
// and disconnects. It returns nil after a clean stop.
func (n *Node) Run(ctx context.Context) error {
	n.mu.Lock()
	n.ctx = ctx
	n.mu.Unlock()
	// The connection outlives ctx a little: the last states and offline go
	// out after it ends.
	connCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	cm := newConn(n.connConfig())
	n.mu.Lock()
	n.cm = cm // before anything can arrive: answers go out through it
	n.mu.Unlock()
	if n.opt.Fleet != nil {
		n.opt.Fleet.attach(cm)
	}
	cm.start(connCtx)
	n.log.Info("mqtt connecting", "commands", n.cfg.Commands, "discovery", n.cfg.Discovery)

	board := n.currentBoard()
	feed := board.Watch()
	readings, stopReadings := n.sensorFeed(ctx, board)
	defer func() {
		if feed != nil {
			feed.Stop()
		}
		stopReadings()
	}()
	cpu := time.NewTicker(n.cpuInterval())
	defer cpu.Stop()
	every := progressEvery
	if n.opt.ProgressEvery > 0 {
		every = n.opt.ProgressEvery
	}
	progress := time.NewTicker(every)
	defer progress.Stop()
	for {
		if n.opt.Progress != nil {
			n.opt.Progress()
		}
		var changes, closed <-chan struct{}
		if feed != nil {
			changes, closed = feed.C(), feed.Done()
		}
		select {
		case <-ctx.Done():
			stopReadings()
			n.stop(cm, feed)
			return nil
		case <-n.up:
			n.announce(ctx, cm, true)
		case <-n.haOnline:
			n.log.Info("mqtt: Home Assistant is online; sending discovery and states again")
			n.announce(ctx, cm, false)
		case <-n.boardChanged:
			if next := n.currentBoard(); next == board && feed != nil {
				if sensorsChanged := n.refresh(ctx, cm, board); sensorsChanged {
					stopReadings()
					readings, stopReadings = n.sensorFeed(ctx, board)
				}
				continue
			}
			if feed != nil {
				feed.Stop()
			}
			stopReadings()
			board = n.currentBoard()
			feed = board.Watch()
			n.mu.Lock()
			n.readings = map[string]string{}
			n.mu.Unlock()
			readings, stopReadings = n.sensorFeed(ctx, board)
			n.announce(ctx, cm, false)
		case r, ok := <-readings:
			if !ok {
				readings = nil // the board closed
				continue
			}
			n.publishReading(ctx, cm, board, r)
		case <-changes:
			n.publishStates(ctx, cm, feed.Take())
		case <-closed:
			n.publishStates(ctx, cm, feed.Take())
			feed.Stop()
			feed = nil // until SetBoard brings a new board
		case <-cpu.C:
			n.publishCPU(ctx, cm, board, false)
		case <-progress.C:
		}
	}
}

// announce (re)makes what a connection needs: with subscribe, the
// subscriptions; then the discovery payload, every state and online.
func (n *Node) announce(ctx context.Context, cm *conn, subscribe bool) {
	if !n.isConnected() {
		return
	}
	if subscribe {
		if err := n.subscribe(ctx, cm); err != nil {
			n.log.Error("mqtt subscribe", "err", err)
			return
		}
	}
	board := n.currentBoard()
	n.setShown(board)
	n.clearGone(ctx, cm)
	if n.cfg.Discovery != "" {
		n.publishDiscovery(ctx, cm, board)
	}
	n.publishAnnouncement(ctx, cm, board)
	n.publishStates(ctx, cm, board.States())
	n.publishReadings(ctx, cm)
	n.publishCPU(ctx, cm, board, true)
	if err := n.publish(ctx, cm, AvailabilityTopic(n.cfg.Node), Online, true); err != nil {
		n.log.Warn("mqtt: cannot publish online", "err", err)
		return
	}
	if subscribe {
		n.log.Info("mqtt connected", "devices", len(board.Devices()))
	}
}

func (n *Node) isConnected() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.connected
}

// subscribe subscribes to the set topics (commands on) and Home
// Assistant's status (discovery on).
func (n *Node) subscribe(ctx context.Context, cm *conn) error {
	var subs []paho.SubscribeOptions
	if n.cfg.Commands {
		// NoLocal: the node's own clearing of a retained command does not
		// come back to it.
		// RetainAsPublished: a retained command published while the node
		// is subscribed keeps its retain flag, so it is refused too.
		subs = append(subs, paho.SubscribeOptions{Topic: setFilter(n.cfg.Node), QoS: 1, NoLocal: true, RetainAsPublished: true})
	}
	if n.cfg.Discovery != "" {
		subs = append(subs, paho.SubscribeOptions{Topic: n.cfg.Discovery + "/status", QoS: 1})
	}
	if n.opt.Fleet != nil {
		subs = append(subs, n.opt.Fleet.subscriptions()...)
	}
	if len(subs) == 0 {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	ack, err := cm.Subscribe(sctx, &paho.Subscribe{Subscriptions: subs})
	if err != nil {
		return err
	}
	for i, r := range ack.Reasons {
		if r >= 0x80 && i < len(subs) {
			return fmt.Errorf("the broker refused the subscription to %s (reason %#x); the ACL must let user %q read it", subs[i].Topic, r, n.cfg.Username)
		}
	}
	if n.opt.Fleet != nil {
		n.opt.Fleet.subscribed()
	}
	return nil
}

// publish sends a QoS 1 message and waits for the broker to take it.
func (n *Node) publish(ctx context.Context, cm *conn, topic, payload string, retain bool) error {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	return n.publishPacket(pctx, cm, &paho.Publish{QoS: 1, Topic: topic, Payload: []byte(payload), Retain: retain})
}

func (n *Node) publishPacket(ctx context.Context, cm *conn, p *paho.Publish) error {
	r, err := cm.Publish(ctx, p)
	if err != nil && (r == nil || r.ReasonCode < 0x80) { // paho returns a refusal as an error too
		return err
	}
	if r != nil && r.ReasonCode >= 0x80 {
		if r.ReasonCode == 0x87 {
			return fmt.Errorf("the broker refused %s: not authorized; the ACL must let user %q write it", p.Topic, n.cfg.Username)
		}
		return fmt.Errorf("the broker refused %s (reason %#x)", p.Topic, r.ReasonCode)
	}
	return nil
}

// publishStates publishes states on their retained state topics.
func (n *Node) publishStates(ctx context.Context, cm *conn, states []device.State) {
	for _, s := range states {
		err := n.publish(ctx, cm, StateTopic(n.cfg.Node, s.Device), s.Value(), true)
		if errors.Is(err, errDown) {
			return // every state goes out again once the connection is back
		}
		if err != nil {
			n.log.Warn("mqtt: state not published", "device", s.Device, "state", s.Value(), "err", err)
		}
	}
}

// publishCPU publishes the CPU temperature, with force even unchanged.
func (n *Node) publishCPU(ctx context.Context, cm *conn, board Board, force bool) {
	c, ok := board.CPUTemperature()
	if !ok {
		return
	}
	v := strconv.FormatFloat(c, 'f', 1, 64)
	n.mu.Lock()
	same := v == n.cpu
	n.mu.Unlock()
	if same && !force {
		return
	}
	if err := n.publish(ctx, cm, CPUTopic(n.cfg.Node), v, true); err == nil {
		n.mu.Lock()
		n.cpu = v
		n.mu.Unlock()
	}
}

// publishDiscovery publishes the discovery payload, first removing from
// Home Assistant what was published before and is gone now.
func (n *Node) publishDiscovery(ctx context.Context, cm *conn, board Board) {
	_, hasCPU := board.CPUTemperature()
	p, clashes := n.discovery(board.Devices(), board.Sensors(), hasCPU)
	for _, c := range clashes {
		n.log.Error("mqtt discovery: two components would have the same id; rename the device", "left_out", c)
	}
	topic := DiscoveryTopic(n.cfg.Discovery, n.cfg.Node)
	mem, err := loadPublished(n.opt.StateDir)
	if err != nil {
		n.log.Warn("mqtt discovery: cannot read what was published before; devices removed from the config may stay in Home Assistant", "file", MemoryFile, "err", err)
	}
	if mem.Topic != "" && mem.Topic != topic {
		// The node or the prefix changed: the old device goes as a whole.
		if err := n.publish(ctx, cm, mem.Topic, "", true); err != nil {
			n.log.Warn("mqtt discovery: cannot remove the old device", "topic", mem.Topic, "err", err)
		} else {
			n.log.Info("mqtt discovery: removed the device published under another name", "topic", mem.Topic)
		}
		mem.Components = nil
	}
	if q, gone := p.withRemoved(mem.Components); len(gone) > 0 {
		data, err := q.encode()
		if err == nil {
			err = n.publish(ctx, cm, topic, string(data), true)
		}
		if err != nil {
			n.log.Warn("mqtt discovery: cannot remove components", "components", gone, "err", err)
			return
		}
		n.log.Info("mqtt discovery: removed what is no longer in the config", "components", gone)
	}
	data, err := p.encode()
	if err == nil {
		err = n.publish(ctx, cm, topic, string(data), true)
	}
	if err != nil {
		n.log.Warn("mqtt discovery not published", "topic", topic, "err", err)
		return
	}
	n.mu.Lock()
	n.disc = string(data)
	n.mu.Unlock()
	now := published{Topic: topic, Components: p.platforms()}
	if mem.Topic != now.Topic || !maps.Equal(mem.Components, now.Components) {
		if err := savePublished(n.opt.StateDir, now); err != nil {
			n.log.Warn("mqtt discovery: cannot remember what was published; a device removed from the config later may stay in Home Assistant", "err", err)
		}
	}
}

// stop publishes the last states once the board has closed (or stopWait
// passed), then offline, and disconnects.
func (n *Node) stop(cm *conn, feed *device.Feed) {
	ctx, cancel := context.WithTimeout(context.Background(), stopWait+2*publishTimeout)
	defer cancel()
	if feed != nil {
		wait := stopWait
		if n.stopWait > 0 {
			wait = n.stopWait
		}
		t := time.NewTimer(wait)
		select {
		case <-feed.Done():
		case <-t.C:
		}
		t.Stop()
		if n.isConnected() {
			n.publishStates(ctx, cm, feed.Take())
		}
	}
	if n.isConnected() {
		if err := n.publish(ctx, cm, AvailabilityTopic(n.cfg.Node), Offline, true); err != nil {
			n.log.Warn("mqtt: cannot publish offline; the broker's will says it once the connection closes", "err", err)
		}
	}
	n.pending.Wait() // answers already on their way go out before the disconnect
	dctx, dcancel := context.WithTimeout(context.Background(), publishTimeout)
	defer dcancel()
	if err := cm.Disconnect(dctx); err != nil {
		n.log.Warn("mqtt disconnect", "err", err)
	}
	n.mu.Lock()
	n.connected = false
	n.mu.Unlock()
	n.log.Info("mqtt stopped")
}

// refresh publishes what a reload changed on the board: see SetBoard. It
// reports whether the sensors changed, for Run to read them anew.
func (n *Node) refresh(ctx context.Context, cm *conn, board Board) (sensorsChanged bool) {
	devs := board.Devices()
	var names []string
	for _, d := range devs {
		if !d.Remote() {
			names = append(names, d.Name)
		}
	}
	n.mu.Lock()
	for _, old := range n.shown {
		if !slices.Contains(names, old) && !slices.Contains(n.gone, old) {
			n.gone = append(n.gone, old)
		}
	}
	n.gone = slices.DeleteFunc(n.gone, func(g string) bool { return slices.Contains(names, g) })
	for dev := range n.readings {
		if !slices.ContainsFunc(devs, func(d config.Device) bool { return d.Name == dev && config.IsSensor(d.Kind) }) {
			delete(n.readings, dev)
		}
	}
	before := slices.Clone(n.shownSensors)
	n.mu.Unlock()
	n.setShown(board)
	n.mu.Lock()
	sensorsChanged = !slices.Equal(before, n.shownSensors)
	n.mu.Unlock()
	if !n.isConnected() {
		return sensorsChanged // the next connection announces it all
	}
	n.clearGone(ctx, cm)
	if n.cfg.Discovery != "" {
		_, hasCPU := board.CPUTemperature()
		p, _ := n.discovery(devs, board.Sensors(), hasCPU)
		data, err := p.encode()
		n.mu.Lock()
		same := err == nil && string(data) == n.disc
		n.mu.Unlock()
		if !same {
			n.publishDiscovery(ctx, cm, board)
		}
	}
	n.mu.Lock()
	same := n.announcement(devs).encode() == n.ann
	n.mu.Unlock()
	if !same {
		n.publishAnnouncement(ctx, cm, board)
	}
	return sensorsChanged
}

// setShown notes the board's devices and sensors as the ones published.
func (n *Node) setShown(board Board) {
	var names, sensors []string
	for _, d := range board.Devices() {
		if !d.Remote() { // another node's states are its own
			names = append(names, d.Name)
		}
	}
	for _, s := range board.Sensors() {
		sensors = append(sensors, s.Device)
	}
	n.mu.Lock()
	n.shown, n.shownSensors = names, sensors
	n.mu.Unlock()
}

// clearGone clears the retained states of the devices a reload removed.
func (n *Node) clearGone(ctx context.Context, cm *conn) {
	n.mu.Lock()
	gone := slices.Clone(n.gone)
	n.mu.Unlock()
	for _, dev := range gone {
		if err := n.publish(ctx, cm, StateTopic(n.cfg.Node, dev), "", true); err != nil {
			if !errors.Is(err, errDown) {
				n.log.Warn("mqtt: the state of a removed device not cleared", "device", dev, "err", err)
			}
			return
		}
		n.mu.Lock()
		n.gone = slices.DeleteFunc(n.gone, func(g string) bool { return g == dev })
		n.mu.Unlock()
		n.log.Info("mqtt: cleared the state of a device the reload removed", "device", dev)
	}
}
