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
	"slices"
	"strings"
	"sync"
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
		for {
			select {
			case <-ctx.Done():
				// Outputs go safe at once, while the bot finishes a reply
				// already on its way.
				d.safe()
				return
			case <-hup:
				d.reload(cf, e)
			}
		}
	}()
	return d.run(ctx)
}

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
}

// newDaemon makes the client, loads the state (taking its lock) and opens
// the pins (outputs at their initial levels).
func newDaemon(cfg *config.Config, logger *slog.Logger, o daemonOptions) (*daemon, error) {
	if cfg.Agent() {
		return newAgent(cfg, logger, o)
	}
	d := &daemon{log: logger, cfg: cfg, notify: make(chan string, 16), sim: o.sim, runDelay: o.runDelay, runDir: o.runtimeDir}
	meter := bot.NewMeter(prices(cfg))
	copt := clientOptions(cfg)
	copt.Transport = o.transport
	copt.Meter = meter
	client, err := twitter.New(copt)
	if err != nil {
		return nil, configErr(err)
	}
	d.client = client
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
	// stops before it touches a pin. The list goes before the pins: if the
	// daemon dies once a pin is driven, the unit's ExecStopPost (tweetpi
	// safe -from-state) finds it. The daemon is the list's one writer: what
	// an interrupted write left goes first.
	if left, _ := config.RemoveTemp(filepath.Join(cfg.StateDir, config.DeviceListFile)); len(left) > 0 {
		logger.Info("removed temp files an interrupted device-list write left", "count", len(left))
	}
	if err := config.WriteDeviceList(cfg.StateDir, cfg.GPIO.Backend, cfg.Devices); err != nil {
		logger.Warn("cannot keep the device list for tweetpi safe", "err", err)
	}
	board, err := d.openBoard(cfg)
	if err != nil {
		b.Close()
		return nil, configErr(err)
	}
	d.board = board
	d.watch(board)
	if err := d.newMQTT(); err != nil {
		board.Close()
		b.Close()
		return nil, configErr(err)
	}
	return d, nil
}

func (d *daemon) openBoard(cfg *config.Config) (*device.Board, error) {
	pins := device.PinSource(nil)
	if d.sim != nil {
		pins = d.sim.Pin
	} else {
		p, sim, err := pinSource(cfg, d.log)
		if err != nil {
			return nil, err
		}
		pins, d.sim = p, sim
	}
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
	defer d.runMQTT(ctx)()
	d.startLine(d.runDir)
	stop, err := d.observe(ctx, d.runDir)
	if err != nil {
		return err
	}
	defer stop()
	// Outputs are at their initial levels and the state is loaded.
	sdNotify(d.log, sd.SdNotifyReady)
	if d.bot == nil {
		return d.runAgent(ctx)
	}
	err = d.bot.Start(ctx, twitter.KeyID(d.cfg.Twitter.AccessToken.Reveal()))
	if err == nil {
		d.log.Info("polling", "account", "@"+d.bot.Account().Username, "inboxes", strings.Join(d.cfg.Twitter.Listen, ","),
			"api", d.client.Version(), "poll_interval", d.cfg.Twitter.PollInterval.String(), "allow", allowed(d.cfg))
		err = d.bot.Run(ctx)
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

// reload reads the configuration again and swaps the devices and the allow
// list; a bad new configuration is refused and the old one kept.
func (d *daemon) reload(cf *configFlags, e *env) {
	cfg, err := cf.loadChecked(e)
	if err != nil {
		d.log.Error("reload refused: the new configuration has errors; keeping the old one", "err", err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// Until the new devices are open, either set may be driven.
	both := append(slices.Clone(d.cfg.Devices), cfg.Devices...)
	if err := config.WriteDeviceList(d.cfg.StateDir, d.cfg.GPIO.Backend, both); err != nil {
		d.log.Warn("cannot keep the device list for tweetpi safe", "err", err)
	}
	d.board.Close() // outputs safe before the pins are opened again
	board, err := d.openBoard(cfg)
	if err != nil {
		d.log.Error("reload: the new devices did not open; keeping the old ones", "err", err)
		if board, err = d.openBoard(d.cfg); err != nil {
			d.log.Error("reload: the old devices did not open again either", "err", err)
			return
		}
	} else {
		d.cfg.Devices = cfg.Devices
		d.cfg.Interlocks, d.cfg.InterlockWait, d.cfg.Schedules = cfg.Interlocks, cfg.InterlockWait, cfg.Schedules
		d.cfg.Twitter.Allow = cfg.Twitter.Allow
	}
	d.board = board
	d.watch(board)
	d.reloadMQTT(board, cfg)
	if err := config.WriteDeviceList(d.cfg.StateDir, d.cfg.GPIO.Backend, d.cfg.Devices); err != nil {
		d.log.Warn("cannot keep the device list for tweetpi safe", "err", err)
	}
	if d.bot != nil {
		d.bot.Reload(d.cfg.Twitter.Allow, deviceHandles(d.cfg.Devices), d)
	}
	d.log.Info("reloaded", "devices", len(d.cfg.Devices), "allow", len(d.cfg.Twitter.Allow))
}

// safe drives every output to its safe level and stops the watchers, once.
func (d *daemon) safe() {
	d.safeOnce.Do(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
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
