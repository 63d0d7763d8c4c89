package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tweetpi/tweetpi/config"
)

// StatusFile is the name of the status file in the runtime directory.
const StatusFile = "status.json"

// DeviceStater gives the devices' states for the status: cmd's adapter
// of the device board.
type DeviceStater interface {
	DeviceStates() []DeviceState
}

// MQTTStater gives the broker connection's state for the status.
type MQTTStater interface {
	MQTTStatus() *MQTTStatus
}

// ReporterOptions configure a Reporter. Every source is optional: a fleet
// agent has no bot, a daemon without mqtt: no MQTT.
type ReporterOptions struct {
	Version string
	// Dir is the runtime directory the status file goes in ("" none):
	// $RUNTIME_DIRECTORY under systemd (a tmpfs), else state_dir/run.
	Dir string
	// MetricsFile is metrics.file: node_exporter's textfile collector
	// reads it ("" none).
	MetricsFile string

	Bot     *Bot    // the X side; nil for a fleet agent
	Ledger  *Ledger // the state file's write errors, when there is no bot
	Devices DeviceStater
	MQTT    MQTTStater
	Logger  *slog.Logger

	// Every is how often the status file is written on a tmpfs; 0 is
	// StatusEvery. Elsewhere (an SD card) it is written only when what it
	// says changes, at most every SlowStatusEvery.
	Every time.Duration
}

// How often the status file and the metrics file are written.
const (
	StatusEvery     = 10 * time.Second
	SlowStatusEvery = time.Minute
	MetricsEvery    = time.Minute
)

// Reporter keeps the status file under the runtime directory and the
// metrics file up to date, and serves /metrics (it is an http.Handler).
// Its methods are safe for concurrent use.
type Reporter struct {
	opt     ReporterOptions
	log     *slog.Logger
	started time.Time
	bootID  string
	tmpfs   bool // Dir is a tmpfs (or ramfs): writes cost no flash
}

// NewReporter returns a reporter; Run writes the files.
func NewReporter(opt ReporterOptions) *Reporter {
	if opt.Every <= 0 {
		opt.Every = StatusEvery
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Reporter{opt: opt, log: opt.Logger, started: time.Now(), bootID: BootID()}
	if opt.Dir != "" {
		r.tmpfs = inMemory(opt.Dir)
	}
	return r
}

// Status is the status now.
func (r *Reporter) Status() Status {
	var st Status
	if r.opt.Bot != nil {
		st = r.opt.Bot.Status()
	} else if r.opt.Ledger != nil {
		st.StateWriteErrors = r.opt.Ledger.WriteErrors()
	}
	now := time.Now()
	st.Version, st.PID, st.BootID = r.opt.Version, os.Getpid(), r.bootID
	st.Started, st.Updated = r.started.Round(time.Second).UTC(), now.Round(time.Second).UTC()
	st.UptimeSeconds = int64(now.Sub(r.started).Seconds())
	if r.opt.MQTT != nil {
		if st.MQTT = r.opt.MQTT.MQTTStatus(); st.MQTT != nil {
			st.MQTT.Since = utc(st.MQTT.Since)
		}
	}
	if r.opt.Devices != nil {
		st.Devices = r.opt.Devices.DeviceStates()
	}
	if st.Devices == nil {
		st.Devices = []DeviceState{}
	}
	return st
}

// ServeHTTP serves the metrics at /metrics, in Prometheus's text format.
func (r *Reporter) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/metrics" {
		http.Error(w, "tweetpi serves /metrics only", http.StatusNotFound)
		return
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	var b bytes.Buffer
	if err := WriteMetrics(&b, r.Status()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", MetricsContentType)
	w.Header().Set("Content-Length", fmt.Sprint(b.Len()))
	if req.Method == http.MethodGet {
		w.Write(b.Bytes())
	}
}

// Run writes the status file and the metrics file until ctx ends, then
// removes the status file: no file, no daemon.
func (r *Reporter) Run(ctx context.Context) {
	if r.opt.Dir == "" && r.opt.MetricsFile == "" {
		return
	}
	if r.opt.Dir != "" {
		if err := os.MkdirAll(r.opt.Dir, 0o755); err != nil {
			r.log.Warn("cannot make the runtime directory: tweetpi status will say no daemon runs", "dir", r.opt.Dir, "err", err)
			r.opt.Dir = ""
		} else if !r.tmpfs {
			r.log.Info("the runtime directory is not in memory: the status file is written only when it changes, at most once a minute",
				"dir", r.opt.Dir)
		}
	}
	path := filepath.Join(r.opt.Dir, StatusFile)
	defer func() {
		if r.opt.Dir != "" {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				r.log.Warn("cannot remove the status file", "file", path, "err", err)
			}
		}
	}()
	var lastStatus, lastKey, lastMetrics []byte
	var statusAt, metricsAt time.Time
	// A look every second: on a tmpfs the file follows at once what
	// matters (a command, a device), and is rewritten every Every anyway,
	// so that its age tells a daemon that hangs.
	t := time.NewTicker(time.Second)
	defer t.Stop()
	warned := map[string]bool{}
	for {
		st := r.Status()
		now := time.Now()
		if r.opt.Dir != "" {
			data, err := json.MarshalIndent(st, "", "  ")
			if err == nil {
				data = append(data, '\n')
				key := stableKey(st)
				changed := !bytes.Equal(key, lastKey)
				due := lastStatus == nil
				if r.tmpfs {
					due = due || changed || now.Sub(statusAt) >= r.opt.Every
				} else {
					due = due || (changed && now.Sub(statusAt) >= SlowStatusEvery)
				}
				if due {
					if err := config.WriteFile(path, data, 0o644); err != nil {
						if !warned[path] {
							warned[path] = true
							r.log.Warn("cannot write the status file", "err", err)
						}
					} else {
						lastStatus, lastKey, statusAt, warned[path] = data, key, now, false
					}
				}
			}
		}
		if f := r.opt.MetricsFile; f != "" && now.Sub(metricsAt) >= MetricsEvery {
			var b bytes.Buffer
			if WriteMetrics(&b, st) == nil && !bytes.Equal(b.Bytes(), lastMetrics) {
				if err := config.WriteFile(f, b.Bytes(), 0o644); err != nil {
					if !warned[f] {
						warned[f] = true
						r.log.Warn("cannot write metrics.file", "err", err, "fix", "the unit writes only its own directories: add a drop-in (systemctl edit tweetpi) with ReadWritePaths= the file's directory")
					}
				} else {
					lastMetrics, warned[f] = b.Bytes(), false
				}
			}
			metricsAt = now
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// stableKey is what of st, off a tmpfs, is worth a write of the card when
// it changes: not the times of polls, the rate limits, the request counts
// or the clock, which change at every poll, but the commands, the spend,
// the delivery, failures, MQTT and the devices.
func stableKey(st Status) []byte {
	st.Updated, st.UptimeSeconds, st.RateLimits, st.Requests = time.Time{}, 0, nil, nil
	in := make([]InboxStatus, len(st.Inboxes))
	for i, x := range st.Inboxes {
		x.LastPoll, x.NextPoll, x.LastNew = time.Time{}, time.Time{}, 0
		in[i] = x
	}
	st.Inboxes = in
	b, _ := json.Marshal(st)
	return b
}

// unix is t in seconds since the Unix epoch, 0 for the zero time.
func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1e3
}

// BootID is the kernel's id of this boot ("" where there is none): a status
// file from before a reboot names another.
func BootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ErrNoDaemon is LoadStatus's error when no daemon runs.
var ErrNoDaemon = errors.New("no tweetpi daemon is running")

// LoadStatus reads the status file in dir and checks that the daemon that
// wrote it still runs: a file that is missing, from before a reboot, of a
// process that is gone, or not written for a while on a tmpfs, is
// ErrNoDaemon (wrapped, saying which).
func LoadStatus(dir string) (*Status, error) {
	path := filepath.Join(dir, StatusFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (no %s)", ErrNoDaemon, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var st Status
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if id := BootID(); st.BootID != "" && id != "" && st.BootID != id {
		return &st, fmt.Errorf("%w (%s is from before the last reboot)", ErrNoDaemon, path)
	}
	if st.PID <= 0 || !processAlive(st.PID) {
		return &st, fmt.Errorf("%w (the one with pid %d, last seen %s, is gone)", ErrNoDaemon, st.PID, st.Updated.Local().Format(time.DateTime))
	}
	if inMemory(dir) && time.Since(st.Updated) > 3*StatusEvery+5*time.Second {
		return &st, fmt.Errorf("tweetpi (pid %d) runs but has not written %s for %s: it may hang; see journalctl -u tweetpi",
			st.PID, path, time.Since(st.Updated).Round(time.Second))
	}
	return &st, nil
}
