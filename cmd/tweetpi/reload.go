package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/twitter/bot"
)

// What a reload (SIGHUP, systemctl reload) applies, and how it says so.
//
// The board and the bot take what changed at once: the devices, the
// interlocks and the schedules (device.Board.Apply), and who may command,
// which inboxes, how often, max_age and reply (bot.Bot.Reload). What the
// daemon set up once at its start (the keys and the client, the state
// directory and its lock, the pin backend, the MQTT connection) takes a
// restart: a change to it is not applied, the rest of the file is, and the
// one log line of the reload names it with the command to run. Applying
// the rest is the choice: a reload that takes someone out of allow or
// turns a device off must not wait on an unrelated edit.

// reloadFile is the file a reload reads in the runtime directory, under
// systemd: the unit's ExecReload= copies /etc/tweetpi/config.yaml there
// before it sends SIGHUP, since systemd keeps the credential the daemon
// started with ($CREDENTIALS_DIRECTORY/config.yaml) as it was then.
const reloadFile = "config.yaml"

// forReload are the flags a reload loads the configuration with: the
// file the start read, but for a start from systemd's credential, the
// copy of the edited file in $RUNTIME_DIRECTORY when there is one.
func (cf *configFlags) forReload(e *env) *configFlags {
	if cf.path != "" || e.getenv("TWEETPI_CONFIG") != "" || e.getenv("CREDENTIALS_DIRECTORY") == "" {
		return cf
	}
	dir, _, _ := strings.Cut(e.getenv("RUNTIME_DIRECTORY"), ":")
	if dir == "" {
		return cf
	}
	p := filepath.Join(dir, reloadFile)
	if _, err := os.Stat(p); err != nil {
		return cf
	}
	rc := *cf
	rc.path = p
	return &rc
}

// restartFix is what to do about a change that takes a restart.
const restartFix = "sudo systemctl restart tweetpi"

// botKeys are the twitter keys the bot takes at a reload.
var botKeys = []string{"twitter.listen", "twitter.poll_interval", "twitter.allow", "twitter.max_age", "twitter.reply"}

// boardKeys are the keys besides devices that the board takes.
var boardKeys = []string{"interlocks", "interlock_wait", "schedules"}

// reloadReport is what one reload did, for its log line.
type reloadReport struct {
	applied []string        // "devices pump changed (pin), fan added", "poll_interval 1m -> 30s"
	restart []string        // changes not applied: they take a restart
	failed  []string        // what could not be applied, and why
	bot     <-chan struct{} // closes once the bot applied its part; nil: none
}

// applyConfig applies what changed from d.cfg to cfg and makes d.cfg what
// runs now. d.mu is held.
func (d *daemon) applyConfig(cfg *config.Config) reloadReport {
	var r reloadReport
	devs := config.DiffDevices(d.cfg.Devices, cfg.Devices)
	var boardChanges, botChanges []config.Change
	for _, c := range config.Diff(d.cfg, cfg) {
		switch {
		case slices.Contains(boardKeys, c.Key):
			boardChanges = append(boardChanges, c)
		case slices.Contains(botKeys, c.Key):
			botChanges = append(botChanges, c)
		default:
			r.restart = append(r.restart, c.String())
		}
	}
	handles := deviceHandles(d.cfg.Devices)
	d.applyBoard(cfg, devs, boardChanges, &r)
	// The bot resolves the handles of the devices' allow lists too.
	newHandles := !slices.Equal(handles, deviceHandles(d.cfg.Devices))
	if (len(botChanges) > 0 || newHandles) && d.bot != nil { // an agent has none: no twitter: section either
		t := &d.cfg.Twitter
		t.Listen, t.PollInterval, t.Allow, t.MaxAge, t.Reply = cfg.Twitter.Listen, cfg.Twitter.PollInterval, cfg.Twitter.Allow, cfg.Twitter.MaxAge, cfg.Twitter.Reply
		r.bot = d.bot.Reload(d.botSettings())
		for _, c := range botChanges {
			r.applied = append(r.applied, strings.TrimPrefix(c.String(), "twitter."))
		}
	}
	return r
}

// applyBoard hands the board the devices, interlocks and schedules of
// cfg. Every reload goes through it, one that changes nothing too: the
// questions waiting for a yes lapse at a reload. d.mu is held.
func (d *daemon) applyBoard(cfg *config.Config, devs []config.DeviceChange, changes []config.Change, r *reloadReport) {
	if d.fleet == nil && hasRemote(cfg.Devices) {
		// The node follows the other nodes' topics from its connection on.
		var names []string
		for _, dev := range cfg.Devices {
			if dev.Remote() {
				names = append(names, dev.Name)
			}
		}
		r.restart = append(r.restart, "devices of other nodes ("+strings.Join(names, ", ")+"), and with them the rest of devices, interlocks and schedules")
		// The questions waiting for a yes lapse all the same.
		if _, err := d.board.Apply(d.cfg.Devices, d.pins, deviceOptions(d.cfg, d.sim, d.log)); err != nil {
			r.failed = append(r.failed, "devices: "+err.Error())
		}
		return
	}
	if len(devs) > 0 {
		// Until the board has its new devices, the old ones and the new
		// may be driven: tweetpi safe must find both.
		if err := config.WriteDeviceList(d.cfg.StateDir, d.cfg.GPIO.Backend, deviceUnion(d.cfg.Devices, cfg.Devices)); err != nil {
			d.log.Warn("cannot keep the device list for tweetpi safe", "err", err)
		}
	}
	var what []string
	if len(devs) > 0 {
		parts := make([]string, len(devs))
		for i, c := range devs {
			parts[i] = c.String()
		}
		what = append(what, "devices "+strings.Join(parts, ", "))
	}
	for _, c := range changes {
		what = append(what, c.String())
	}
	ch, err := d.board.Apply(cfg.Devices, d.pins, deviceOptions(cfg, d.sim, d.log))
	switch {
	case err != nil:
		if len(what) == 0 {
			what = []string{"devices"}
		}
		r.failed = append(r.failed, strings.Join(what, "; ")+": not applied, the devices are as before the reload: "+err.Error())
	default:
		r.applied = append(r.applied, what...)
		if len(ch.Off) > 0 {
			r.applied = append(r.applied, "turned off, the new interlocks found them on together: "+strings.Join(ch.Off, ", "))
		}
		if ch.Dropped > 0 {
			r.applied = append(r.applied, plural(ch.Dropped, "question", "questions")+" waiting for a yes dropped")
		}
		d.cfg.Devices, d.cfg.Interlocks, d.cfg.InterlockWait, d.cfg.Schedules = cfg.Devices, cfg.Interlocks, cfg.InterlockWait, cfg.Schedules
	}
	if len(devs) > 0 {
		if err := config.WriteDeviceList(d.cfg.StateDir, d.cfg.GPIO.Backend, d.board.Devices()); err != nil {
			d.log.Warn("cannot keep the device list for tweetpi safe", "err", err)
		}
		d.reloadMQTT()
	}
}

// deviceUnion is old's devices and those of next that drive a pin
// otherwise (another pin, kind or level for off): what may be driven while
// a reload goes from old to next. For a pin in both, next's comes last:
// tweetpi safe leaves it at next's safe level.
func deviceUnion(old, next []config.Device) []config.Device {
	out := slices.Clone(old)
	for _, n := range next {
		if !slices.ContainsFunc(old, func(o config.Device) bool {
			return o.Name == n.Name && o.Pin == n.Pin && o.Kind == n.Kind && o.ActiveLow == n.ActiveLow
		}) {
			out = append(out, n)
		}
	}
	return out
}

// botSettings are the bot's settings of d.cfg.
func (d *daemon) botSettings() bot.Settings {
	t := d.cfg.Twitter
	s := bot.Settings{Listen: t.Listen, PollInterval: t.PollInterval, Allow: t.Allow, Handles: deviceHandles(d.cfg.Devices), MaxAge: t.MaxAge, Reply: t.Reply}
	if d.poll > 0 {
		s.PollInterval = d.poll
	}
	return s
}

// line is the reload's log line: "reloaded: devices pump changed (pin),
// fan added; poll_interval 1m -> 30s", or "reloaded: nothing changed".
func (r reloadReport) line() string {
	var b strings.Builder
	b.WriteString("reloaded: ")
	switch {
	case len(r.applied) > 0:
		b.WriteString(strings.Join(r.applied, "; "))
	case len(r.restart) == 0 && len(r.failed) == 0:
		b.WriteString("nothing changed")
	default:
		b.WriteString("nothing applied")
	}
	for _, f := range r.failed {
		b.WriteString("; " + f)
	}
	if len(r.restart) > 0 {
		b.WriteString("; not applied, they take a restart (" + restartFix + "): " + strings.Join(r.restart, ", "))
	}
	return b.String()
}

// log writes the reload's one line: a warning when something was not
// applied, an error when something failed.
func (r reloadReport) log(l *slog.Logger) {
	level := slog.LevelInfo
	var attrs []any
	if len(r.restart) > 0 {
		level = slog.LevelWarn
		attrs = append(attrs, "fix", restartFix)
	}
	if len(r.failed) > 0 {
		level = slog.LevelError
	}
	l.Log(context.Background(), level, r.line(), attrs...)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
