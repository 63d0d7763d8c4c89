package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
	devmqtt "github.com/tweetpi/tweetpi/device/mqtt"
)

// newMQTT makes the daemon's MQTT node when the configuration has mqtt:.
func (d *daemon) newMQTT() error {
	if d.cfg.MQTT == nil {
		return nil
	}
	n, err := devmqtt.New(*d.cfg.MQTT, devmqtt.Options{
		Board:    d.board,
		Ledger:   &idLedger{path: filepath.Join(d.cfg.StateDir, mqttLedgerFile)},
		Logger:   d.log,
		Version:  version,
		Model:    boardModel(),
		StateDir: d.cfg.StateDir,
	})
	if err != nil {
		return err
	}
	d.node = n
	return nil
}

// runMQTT runs the node beside the bot until ctx ends; the returned
// function waits for it to stop (last states, offline, disconnect). The
// broker going away never stops the bot, nor the reverse.
func (d *daemon) runMQTT(ctx context.Context) (wait func()) {
	if d.node == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.node.Run(ctx); err != nil {
			d.log.Error("mqtt stopped", "err", err)
		}
	}()
	return func() { <-done }
}

// reloadMQTT hands the node the board a reload opened. Changes to the
// mqtt: section itself take a restart.
func (d *daemon) reloadMQTT(b *device.Board, cfg *config.Config) {
	if d.node == nil {
		if cfg.MQTT != nil {
			d.log.Warn("reload: mqtt: was added; restart tweetpi to connect to the broker")
		}
		return
	}
	if cfg.MQTT == nil || *cfg.MQTT != *d.cfg.MQTT {
		d.log.Warn("reload: the mqtt: section changed; restart tweetpi for it to apply")
	}
	d.node.SetBoard(b)
}

// boardModel is the board's model as the device tree names it ("Raspberry
// Pi 4 Model B Rev 1.4"), or "".
func boardModel() string {
	b, err := os.ReadFile("/proc/device-tree/model")
	if err != nil {
		return ""
	}
	return string(bytes.TrimRight(bytes.TrimSpace(b), "\x00"))
}

// mqttLedgerFile keeps the ids of the MQTT commands taken, in the state
// directory: a command with correlation data is recorded there before it
// runs, so that a redelivery, even after a restart, runs nothing.
const mqttLedgerFile = "mqtt-ids.json"

// maxMQTTIDs bounds the ids kept. A broker redelivers within the session's
// expiry (a minute), a gateway retries never: the newest ids are enough.
const maxMQTTIDs = 1000

// idLedger is the at-most-once ledger of MQTT commands: a JSON list of
// ids, written atomically (and synced) before Take says an id is new.
type idLedger struct {
	path string

	mu     sync.Mutex
	ids    []string // oldest first
	loaded bool
}

// Take implements devmqtt.Ledger.
func (l *idLedger) Take(id string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.loaded {
		data, err := os.ReadFile(l.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return false, err
		default:
			if err := json.Unmarshal(data, &l.ids); err != nil {
				return false, errors.New(l.path + " is corrupt (" + err.Error() + "); tweetpi will not guess which MQTT commands ran: move it away to start afresh")
			}
		}
		l.loaded = true
	}
	if slices.Contains(l.ids, id) {
		return false, nil
	}
	ids := append(slices.Clone(l.ids), id)
	if len(ids) > maxMQTTIDs {
		ids = ids[len(ids)-maxMQTTIDs:]
	}
	data, err := json.Marshal(ids)
	if err != nil {
		return false, err
	}
	if err := config.WriteFile(l.path, append(data, '\n'), 0o600); err != nil {
		return false, err
	}
	l.ids = ids
	return true, nil
}
