package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
	devmqtt "github.com/tweetpi/tweetpi/device/mqtt"
	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
)

// cmdRun is the daemon: tweetpi run.
func cmdRun(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	cf := addConfigFlags(fs)
	lf := addLogFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("run takes no arguments (the configuration is -config FILE)")
	}
	logger, err := lf.logger(e)
	if err != nil {
		return usageErr(err.Error())
	}
	// The log's reader may go away (journald restarted, a pipe closed):
	// the daemon goes on without its log rather than die of SIGPIPE with
	// the outputs as they are.
	signal.Ignore(syscall.SIGPIPE)
	tuneGC(e.getenv)
	cfg, err := cf.loadChecked(e)
	if err != nil {
		return configErr(err)
	}
	if !cfg.Agent() { // a fleet agent has no X side: it needs no keys
		if err := cfg.Twitter.CheckKeys(); err != nil {
			return configErr(err)
		}
	}
	delay, err := runDelay(e)
	if err != nil {
		return err
	}
	d, err := newDaemon(cfg, logger, daemonOptions{runDelay: delay, runtimeDir: runtimeDir(e.getenv, cfg)})
	if err != nil {
		return err
	}
	defer d.close()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		// A reload runs at once, and the next no sooner than reloadGap
		// after it: the signals of a storm in between make one more
		// reload at the gap's end, which reads the file as it is then.
		var last time.Time
		var later <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				// Outputs go safe at once, while the bot finishes a reply
				// already on its way.
				d.safe()
				return
			case <-hup:
				if wait := reloadGap - time.Since(last); wait > 0 {
					if later == nil {
						later = time.After(wait)
					}
					continue
				}
			case <-later:
			}
			later = nil // this reload reads the file as it is now
			d.reload(ctx, cf, e)
			last = time.Now()
		}
	}()
	return d.run(ctx)
}

// reloadGap is the least time between two reloads: a storm of SIGHUPs is
// one reload per gap (the last reads the file as the storm left it), not
// a config parse per signal.
const reloadGap = time.Second

// botApplyWait is how long a reload waits for the bot's loop to take its
// settings before it says what it did.
const botApplyWait = 5 * time.Second

// daemon is the running program: the board, the client and the bot.
type daemon struct {
	log    *slog.Logger
	cfg    *config.Config
	sim    *device.Sim // nil on real pins
	client twitter.Client
	bot    *bot.Bot
	notify chan string
	node   *devmqtt.Node  // the devices on the MQTT broker; nil without mqtt:
	ledger *bot.Ledger    // the state directory: the bot's, or an agent's own (fleet.go)
	fleet  *devmqtt.Fleet // the devices of other nodes, on a gateway; nil otherwise
	runDir string         // the runtime directory of the status file; "" none

	runDelay time.Duration // a test hook: the node holds each command this long (fleet.go)

	mu       sync.Mutex
	board    *device.Board
	pins     device.PinSource // the board's pins, for a reload
	poll     time.Duration    // daemonOptions.pollInterval: kept over reloads
	stopping bool             // safe ran: a reload changes nothing any more
	polling  atomic.Bool      // the bot's loop runs: it applies a reload's settings
	wg       sync.WaitGroup
	safeOnce sync.Once
}

// daemonOptions are the demo's and the tests' ways into the daemon.
type daemonOptions struct {
	sim          *device.Sim       // the pins, instead of the configured backend
	transport    http.RoundTripper // carries the API's requests
	pollInterval time.Duration     // overrides the config's (which is at least 1s)
	runDelay     time.Duration     // TWEETPI_TEST_RUN_DELAY (fleet.go)
	runtimeDir   string            // where the status file goes; "" none (the demo)
	pins         device.PinSource  // the pins, instead of sim's (its buses stay): a test's watch on them
}

// newDaemon makes the client, loads the state (taking its lock) and opens
// the pins (outputs at their initial levels).
func newDaemon(cfg *config.Config, logger *slog.Logger, o daemonOptions) (*daemon, error) {
	if cfg.Agent() {
		return newAgent(cfg, logger, o)
	}
	d := &daemon{log: logger, cfg: cfg, notify: make(chan string, 16), sim: o.sim, runDelay: o.runDelay, runDir: o.runtimeDir, poll: o.pollInterval, pins: o.pins}
	meter := bot.NewMeter(prices(cfg))
	copt := clientOptions(cfg)
	copt.Transport = o.transport
	copt.Meter = meter
	client, err := twitter.New(copt)
	if err != nil {
		return nil, configErr(err)
	}
	d.client = client
	act, err := activity(cfg, copt)
	if err != nil {
		return nil, configErr(err)
	}
	poll := cfg.Twitter.PollInterval
	if o.pollInterval > 0 {
		poll = o.pollInterval
	}
	b, err := bot.New(bot.Options{
		Client:       client,
		Handler:      d,
		StateDir:     cfg.StateDir,
		Logger:       logger,
		Listen:       cfg.Twitter.Listen,
		PollInterval: poll,
		Allow:        cfg.Twitter.Allow,
		Handles:      deviceHandles(cfg.Devices),
		MaxAge:       cfg.Twitter.MaxAge,
		Reply:        cfg.Twitter.Reply,
		Notify:       d.notify,
		Progress:     watchdog(logger),
		Meter:        meter,
		DailyBudget:  cfg.Budget.Daily,

		Activity:          act,
		Delivery:          cfg.Twitter.Delivery,
		ReconcileInterval: cfg.Twitter.ReconcileInterval,
	})
	if err != nil {
		return nil, configErr(err)
	}
	d.bot, d.ledger = b, b.Ledger()
	if err := d.newFleet(); err != nil {
		b.Close()
		return nil, configErr(err)
	}
	// The bot holds the state directory's lock now, so a second daemon
	// stops before it touches a pin.
	if err := d.openDevices(cfg); err != nil {
		b.Close()
		return nil, configErr(err)
	}
	return d, nil
}

// openDevices writes the device list, opens the pins and the MQTT node;
// the state directory's lock is held. The list goes before the pins: if
// the daemon dies once a pin is driven, the unit's ExecStopPost (tweetpi
// safe -from-state) finds it. The daemon is the list's one writer: what an
// interrupted write left goes first. On an error what it opened is closed.
func (d *daemon) openDevices(cfg *config.Config) error {
	if left, _ := config.RemoveTemp(filepath.Join(cfg.StateDir, config.DeviceListFile)); len(left) > 0 {
		d.log.Info("removed temp files an interrupted device-list write left", "count", len(left))
	}
	if err := config.WriteDeviceList(cfg.StateDir, cfg.GPIO.Backend, cfg.Devices); err != nil {
		d.log.Warn("cannot keep the device list for tweetpi safe", "err", err)
	}
	board, err := d.openBoard(cfg)
	if err != nil {
		return err
	}
	d.board = board
	d.watch(board)
	if err := d.newMQTT(); err != nil {
		board.Close()
		return err
	}
	return nil
}

func (d *daemon) openBoard(cfg *config.Config) (*device.Board, error) {
	pins := d.pins
	switch {
	case pins != nil:
	case d.sim != nil:
		pins = d.sim.Pin
	default:
		p, sim, err := pinSource(cfg, d.log)
		if err != nil {
			return nil, err
		}
		pins, d.sim = p, sim
	}
	d.pins = pins
	opt := deviceOptions(cfg, d.sim, d.log)
	opt.Start = time.Now()
	opt.WatchInputs = d.cfg.MQTT != nil
	if d.bot != nil {
		opt.UserID = d.bot.UserID
	}
	opt.Fleet = d.boardFleet(cfg)
	b, err := device.Open(cfg.Devices, pins, opt)
	if err == nil {
		d.automate(b)
	}
	return b, err
}

// deviceHandles are the @handles of the devices' allow lists: the bot
// resolves them to ids with twitter.allow's.
func deviceHandles(devs []config.Device) []string {
	var hs []string
	for _, dev := range devs {
		for _, a := range dev.Allow {
			if strings.HasPrefix(a, "@") {
				hs = append(hs, a)
			}
		}
	}
	return hs
}

// watch forwards a board's input changes to the bot as DMs.
func (d *daemon) watch(b *device.Board) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if d.bot == nil {
			drain(b) // an agent: the node publishes them
			return
		}
		for ev := range b.Events() {
			select {
			case d.notify <- ev.String():
			default:
				d.log.Warn("notify: queue full, change not sent", "device", ev.Device, "state", ev.Word)
			}
		}
	}()
}

// run starts the bot and polls until ctx is cancelled.
func (d *daemon) run(ctx context.Context) error {
	d.mu.Lock() // a reload may change d.cfg
	d.startLine(d.runDir)
	d.mu.Unlock()
	stop, err := d.observe(ctx, d.runDir)
	if err != nil {
		return err
	}
	defer stop()
	// Outputs are at their initial levels and the state is loaded. MQTT
	// starts after READY: its loop feeds the watchdog, and systemd wants
	// no WATCHDOG=1 before READY=1.
	sdNotify(d.log, sd.SdNotifyReady)
	defer d.runMQTT(ctx)()
	if d.bot == nil {
		return d.runAgent(ctx)
	}
	err = d.bot.Start(ctx, twitter.KeyID(d.cfg.Twitter.AccessToken.Reveal()))
	if err == nil {
		d.mu.Lock() // a reload may change them
		inboxes, poll, allow := strings.Join(d.cfg.Twitter.Listen, ","), d.cfg.Twitter.PollInterval.String(), allowed(d.cfg)
		d.mu.Unlock()
		d.log.Info("polling", "account", "@"+d.bot.Account().Username, "inboxes", inboxes,
			"api", d.client.Version(), "poll_interval", poll, "allow", allow,
			"delivery", d.cfg.Twitter.Delivery)
		d.polling.Store(true)
		err = d.bot.Run(ctx)
		d.polling.Store(false)
	}
	sdNotify(d.log, sd.SdNotifyStopping)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = nil
	}
	var f *bot.Fatal
	if errors.As(err, &f) {
		return configErr(err)
	}
	return err
}

// reload reads the configuration again and applies what changed, and
// only that, at once; a bad new configuration is refused and the old one
// kept. What takes a restart is not applied, and the log line says so.
func (d *daemon) reload(ctx context.Context, cf *configFlags, e *env) {
	cfg, err := cf.forReload(e).loadChecked(e)
	if err != nil {
		d.log.Error("reload refused: the new configuration has errors; keeping the old one", "err", err)
		return
	}
	d.mu.Lock()
	if d.stopping {
		d.mu.Unlock()
		return // the outputs are safe for the stop: nothing opens again
	}
	r := d.applyConfig(cfg)
	d.mu.Unlock()
	if r.bot != nil && d.polling.Load() {
		// The line says what runs: the bot takes its part between polls.
		t := time.NewTimer(botApplyWait)
		select {
		case <-r.bot:
		case <-t.C:
			r.applied = append(r.applied, "the bot takes its part after its current poll")
		case <-ctx.Done():
		}
		t.Stop()
	}
	r.log(d.log)
}

// safe drives every output to its safe level and stops the watchers, once.
func (d *daemon) safe() {
	d.safeOnce.Do(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.stopping = true
		if d.board != nil {
			if err := d.board.Close(); err != nil {
				d.log.Error("outputs to safe level", "err", err)
			} else {
				d.log.Info("outputs safe")
			}
		}
	})
}

// close drives every output safe (if that is not done yet) and waits for
// the watchers to end.
func (d *daemon) close() {
	d.safe()
	d.wg.Wait()
	d.closeAgent()
}

// logFlags choose the log's form.
type logFlags struct {
	format string
	level  string
}

func addLogFlags(fs *flag.FlagSet) *logFlags {
	lf := &logFlags{}
	fs.StringVar(&lf.format, "log-format", "text", "log `form`: text or json")
	fs.StringVar(&lf.level, "log-level", "info", "least `level` logged: debug, info, warn or error")
	return lf
}

func (lf *logFlags) logger(e *env) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(lf.level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: use debug, info, warn or error", lf.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	if e.getenv("JOURNAL_STREAM") != "" {
		// journald stamps each line itself.
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	switch lf.format {
	case "text":
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: use text or json", lf.format)
}

// sdNotify tells systemd about the daemon's state when it runs under it.
func sdNotify(log *slog.Logger, state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		log.Warn("sd_notify", "state", state, "err", err)
	}
}

// watchdog returns the loop's progress callback: it feeds the systemd
// watchdog at most twice per interval, and only while the loop goes round.
func watchdog(log *slog.Logger) func() {
	every, err := sd.SdWatchdogEnabled(false)
	if err != nil || every <= 0 {
		return nil
	}
	var last time.Time
	return func() {
		if time.Since(last) >= every/2 {
			last = time.Now()
			sdNotify(log, sd.SdNotifyWatchdog)
		}
	}
}
