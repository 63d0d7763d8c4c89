package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
	devmqtt "github.com/tweetpi/tweetpi/device/mqtt"
	"github.com/tweetpi/tweetpi/twitter/bot"
)

// runDirName is the runtime directory under state_dir when systemd gives
// none ($RUNTIME_DIRECTORY, from the unit's RuntimeDirectory=).
const runDirName = "run"

// systemRunDir is where the unit's RuntimeDirectory=tweetpi lives.
const systemRunDir = "/run/tweetpi"

// runtimeDir is the daemon's runtime directory: the first of
// $RUNTIME_DIRECTORY under systemd (a tmpfs), else state_dir/run.
func runtimeDir(getenv func(string) string, cfg *config.Config) string {
	if d, _, _ := strings.Cut(getenv("RUNTIME_DIRECTORY"), ":"); d != "" {
		return d
	}
	return filepath.Join(cfg.StateDir, runDirName)
}

// prices is the price table with budget.prices over it.
func prices(cfg *config.Config) bot.Prices {
	p := bot.DefaultPrices()
	for k, v := range cfg.Budget.Prices {
		p[k] = v
	}
	return p
}

// HandleResult runs a command on the board and says what came of it, for
// the command's log line: not understood, refused (not allowed, or
// nothing run), or ran.
func (d *daemon) HandleResult(ctx context.Context, c bot.Command) bot.Outcome {
	d.mu.Lock()
	b := d.board
	d.mu.Unlock()
	r := b.Run(ctx, c.Text, device.Caller{ID: c.AuthorID, Username: c.AuthorUsername, CommandID: c.ID})
	return bot.Outcome{Reply: r.Reply, Result: result(r)}
}

// Handle is HandleResult's reply alone (bot.Handler).
func (d *daemon) Handle(ctx context.Context, c bot.Command) string {
	return d.HandleResult(ctx, c).Reply
}

// result is the log's word for a device result.
func result(r device.Result) string {
	switch {
	case r.NotUnderstood:
		return bot.ResultNotUnderstood
	case r.Rejected:
		return bot.ResultRefused
	}
	return bot.ResultRan
}

// boardStates is the board as the status shows it. The sensors are read
// at most once a minute (a read can take a second): the status shows the
// last reading.
type boardStates struct {
	d *daemon

	mu       sync.Mutex
	read     time.Time
	readings []device.Reading
}

// sensorEvery is how often the status reads the sensors.
const sensorEvery = time.Minute

func (s *boardStates) DeviceStates() []bot.DeviceState {
	s.d.mu.Lock()
	b := s.d.board
	s.d.mu.Unlock()
	if b == nil {
		return nil
	}
	out := deviceStates(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.read) >= sensorEvery && len(b.Sensors()) > 0 {
		s.read, s.readings = time.Now(), b.ReadSensors(context.Background())
	}
	byName := map[string]bot.DeviceState{}
	for _, ds := range out {
		byName[ds.Name] = ds
	}
	kinds := map[string]string{}
	for _, sn := range b.Sensors() {
		kinds[sn.Device] = sn.Kind
	}
	for _, r := range s.readings {
		ds := bot.DeviceState{Name: r.Device, Kind: kinds[r.Device], State: strings.TrimPrefix(strings.TrimPrefix(r.String(), r.Device), " ")}
		if len(r.Values) == 1 {
			v := r.Values[0].Value
			ds.Value = &v
		}
		byName[r.Device] = ds
	}
	out = out[:0]
	for _, spec := range b.Devices() { // in the configuration's order
		if spec.Remote() && s.d.fleet != nil {
			byName[spec.Name] = remoteState(spec, s.d.fleet.Remote(spec.Node, spec.NodeDevice))
		}
		if ds, ok := byName[spec.Name]; ok {
			out = append(out, ds)
		}
	}
	return out
}

// observe starts the reporter (the status file, metrics.file) and the
// metrics.listen server; stop ends them and removes the status file.
func (d *daemon) observe(ctx context.Context, dir string) (stop func(), err error) {
	ro := bot.ReporterOptions{
		Version: appVersion(), Dir: dir, MetricsFile: d.cfg.Metrics.File,
		Bot: d.bot, Ledger: d.ledger, Devices: &boardStates{d: d}, Logger: d.log,
	}
	if d.node != nil {
		ro.MQTT = nodeState{d.node, d.fleet}
	}
	rep := bot.NewReporter(ro)
	var srv *http.Server
	if a := d.cfg.Metrics.Listen; a != "" {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return nil, configErr(errors.New("metrics.listen " + a + ": " + err.Error() + "; choose a free port, like 127.0.0.1:9464"))
		}
		srv = &http.Server{Handler: rep, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second}
		go srv.Serve(ln)
		d.log.Info("metrics", "listen", "http://"+ln.Addr().String()+"/metrics")
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		rep.Run(rctx)
	}()
	return func() {
		cancel()
		<-done
		if srv != nil {
			sctx, c := context.WithTimeout(context.Background(), time.Second)
			defer c()
			srv.Shutdown(sctx)
		}
	}, nil
}

// startLine logs what the daemon is about to do: one line a person reads
// first.
func (d *daemon) startLine(dir string) {
	names := make([]string, 0, len(d.cfg.Devices))
	for _, dev := range d.cfg.Devices {
		names = append(names, dev.Name)
	}
	attrs := []any{"version", appVersion(), "config", d.cfg.Path, "devices", strings.Join(names, ","),
		"backend", d.cfg.GPIO.Backend, "status_dir", dir}
	if d.client != nil {
		attrs = append(attrs, "delivery", d.cfg.Twitter.Delivery, "inboxes", strings.Join(d.cfg.Twitter.Listen, ","), "api", d.client.Version())
	} else {
		attrs = append(attrs, "delivery", "none (a fleet agent: the devices on MQTT only)")
	}
	if b := d.cfg.Budget.Daily; b > 0 {
		attrs = append(attrs, "budget_daily_usd", b)
	}
	d.log.Info("tweetpi starting", attrs...)
}

// deviceStates are the board's devices as the status shows them, in the
// order of the configuration.
func deviceStates(b *device.Board) []bot.DeviceState {
	var out []bot.DeviceState
	for _, s := range b.States() {
		ds := bot.DeviceState{Name: s.Device, Kind: s.Kind, State: s.Value()}
		v := 0.0
		if s.On {
			v = 1
		}
		if s.Kind == config.KindPWM {
			v = float64(s.Percent) / 100
			ds.State = s.Value() + "%"
		}
		ds.Value = &v
		out = append(out, ds)
	}
	return out
}

// nodeState is the MQTT node as the status shows it, with the fleet's
// nodes that are not online (a gateway's).
type nodeState struct {
	n *devmqtt.Node
	f *devmqtt.Fleet // nil but on a gateway
}

func (s nodeState) MQTTStatus() *bot.MQTTStatus {
	st := s.n.Status()
	m := &bot.MQTTStatus{Broker: st.Broker, Node: st.Node, Connected: st.Connected, Since: st.Since, LastError: st.LastError}
	if s.f != nil {
		for _, ns := range s.f.Status() {
			if ns.Availability != devmqtt.Online {
				m.Offline = append(m.Offline, ns.Node)
			}
		}
	}
	return m
}

// remoteState is a device of another node as the status shows it: the
// last state that node published ("?" before any), and whether the node
// is offline.
func remoteState(spec config.Device, r device.Remote) bot.DeviceState {
	st := r.State
	if st == "" {
		st = "?"
	}
	if !r.Online {
		st += " (offline)"
	}
	kind := r.Kind
	if kind == "" {
		kind = "remote"
	}
	return bot.DeviceState{Name: spec.Name, Kind: kind, State: st, Node: spec.Node}
}
