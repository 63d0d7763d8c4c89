package main

import (
	"bytes"
	"context"
	"os"

	devmqtt "github.com/tweetpi/tweetpi/device/mqtt"
	"github.com/tweetpi/tweetpi/twitter/bot"
)

// newMQTT makes the daemon's MQTT node when the configuration has mqtt:.
func (d *daemon) newMQTT() error {
	if d.cfg.MQTT == nil {
		return nil
	}
	opt := devmqtt.Options{
		Board:    d.board,
		Ledger:   ledgerNS{d.ledger, mqttNamespace},
		Logger:   d.log,
		Version:  version,
		Model:    boardModel(),
		StateDir: d.cfg.StateDir,
		Fleet:    d.fleet,
		RunDelay: d.runDelay,
	}
	if d.bot == nil {
		opt.Progress, opt.ProgressEvery = agentWatchdog(d.log) // an agent: no bot feeds it
	}
	n, err := devmqtt.New(*d.cfg.MQTT, opt)
	if err != nil {
		return err
	}
	d.node = n
	if w := d.cfg.MQTT.Warning(); w != "" {
		d.log.Warn(w)
	}
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

// reloadMQTT tells the node that a reload changed the board's devices: it
// announces what changed. The mqtt: section itself takes a restart (the
// reload's line says so).
func (d *daemon) reloadMQTT() {
	if d.node != nil {
		d.node.SetBoard(d.board)
	}
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

// mqttNamespace is the ledger's namespace of the MQTT commands' ids.
const mqttNamespace = "mqtt"

// ledgerNS is the state file's ledger under one namespace: what device/mqtt
// calls to record a command's id (its correlation data) before it runs.
type ledgerNS struct {
	l  *bot.Ledger
	ns string
}

// Take implements devmqtt.Ledger.
func (l ledgerNS) Take(id string) (bool, error) { return l.l.Take(l.ns, id) }
