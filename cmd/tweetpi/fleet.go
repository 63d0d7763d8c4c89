package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
	devmqtt "github.com/tweetpi/tweetpi/device/mqtt"
	"github.com/tweetpi/tweetpi/twitter/bot"
)

// The fleet's wiring: an agent (mqtt: and devices, no twitter: section)
// runs the daemon without a bot, and a gateway's board reaches the
// devices of other nodes through device/mqtt's Fleet.

// fleetNamespace is the ledger's namespace of the ids a gateway sent to
// other nodes.
const fleetNamespace = "fleet"

// runDelayEnv is the test hook that makes an agent hold each command from
// the broker before it runs (a node too slow for its gateway). Only tests
// set it; the daemon logs a warning for each command it holds.
const runDelayEnv = "TWEETPI_TEST_RUN_DELAY"

// runDelay reads the test hook.
func runDelay(e *env) (time.Duration, error) {
	s := e.getenv(runDelayEnv)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, usageErr(fmt.Sprintf("%s=%q is not a duration; unset it (it is a test hook)", runDelayEnv, s))
	}
	return d, nil
}

// newAgent is newDaemon for an agent: no X client and no bot, only the
// state directory's ledger (its lock, and the ids of the commands the
// broker brings), the pins and the node.
func newAgent(cfg *config.Config, logger *slog.Logger, o daemonOptions) (*daemon, error) {
	d := &daemon{log: logger, cfg: cfg, notify: make(chan string, 16), sim: o.sim, runDelay: o.runDelay, runDir: o.runtimeDir, pins: o.pins}
	l, err := bot.OpenLedger(cfg.StateDir, logger)
	if err != nil {
		return nil, configErr(err)
	}
	d.ledger = l
	// As newDaemon: the lock first, then the device list, then the pins.
	if err := d.openDevices(cfg); err != nil {
		l.Close()
		return nil, configErr(err)
	}
	return d, nil
}

// runAgent is run for an agent: the node (started by run) serves the
// devices until ctx ends; the node's loop feeds the watchdog.
func (d *daemon) runAgent(ctx context.Context) error {
	d.log.Info("fleet agent: serving the devices on the broker; no X keys needed (the gateway holds them)",
		"node", d.cfg.MQTT.Node, "broker", d.cfg.MQTT.Broker, "devices", len(d.cfg.Devices))
	<-ctx.Done()
	sdNotify(d.log, sd.SdNotifyStopping)
	return nil
}

// agentWatchdog is an agent's watchdog: the node's loop feeds it, and
// wakes often enough to (a third of systemd's interval, at most 10s).
func agentWatchdog(log *slog.Logger) (func(), time.Duration) {
	every, err := sd.SdWatchdogEnabled(false)
	if err != nil || every <= 0 {
		return nil, 0
	}
	return watchdog(log), min(10*time.Second, every/3)
}

// closeAgent lets another tweetpi use an agent's state directory.
func (d *daemon) closeAgent() {
	if d.bot == nil && d.ledger != nil {
		d.ledger.Close()
	}
}

// drain reads an agent's input changes: the node publishes them on their
// state topics, and an agent sends no DMs (the gateway has the X keys).
func drain(b *device.Board) {
	for range b.Events() {
	}
}

// newFleet makes a gateway's Fleet when the configuration names devices
// of other nodes: the board sends their commands through it and the node
// carries them.
func (d *daemon) newFleet() error {
	if d.cfg.MQTT == nil || !hasRemote(d.cfg.Devices) {
		return nil
	}
	f, err := devmqtt.NewFleet(d.cfg.MQTT.Node, ledgerNS{d.ledger, fleetNamespace}, d.log)
	if err != nil {
		return err
	}
	d.fleet = f
	return nil
}

// boardFleet is the Fleet a board of cfg gets, or nil. A reload that adds
// the first device of another node needs a restart (the node subscribes
// to the other nodes' topics when it connects).
func (d *daemon) boardFleet(cfg *config.Config) device.Fleet {
	if d.fleet == nil {
		if hasRemote(cfg.Devices) && d.board != nil {
			d.log.Error("reload: devices of other nodes were added; restart tweetpi to reach them")
		}
		return nil
	}
	return d.fleet
}

func hasRemote(devs []config.Device) bool {
	return slices.ContainsFunc(devs, config.Device.Remote)
}

// FleetStatus is what the gateway knows of the other nodes, for `tweetpi
// status`; nil when it names none.
func (d *daemon) FleetStatus() []devmqtt.NodeStatus {
	if d.fleet == nil {
		return nil
	}
	return d.fleet.Status()
}

// fleetSummary is what check says of the fleet: "; fleet agent: serves
// its devices on the broker as node garden, needs no X keys (...)", or
// "; gateway of node garden" (of the nodes its devices name), or "".
func fleetSummary(c *config.Config) string {
	if c.Agent() {
		return fmt.Sprintf("; fleet agent: serves its devices on the broker as node %s, needs no X keys (the gateway holds them)", c.MQTT.Node)
	}
	var nodes []string
	for _, d := range c.Devices {
		if d.Remote() && !slices.Contains(nodes, d.Node) {
			nodes = append(nodes, d.Node)
		}
	}
	switch len(nodes) {
	case 0:
		return ""
	case 1:
		return "; gateway of node " + nodes[0]
	}
	return "; gateway of nodes " + strings.Join(nodes, ", ")
}

// notLocal refuses, for tweetpi do, a command on a device of another
// node: do drives this board's pins and nothing else.
func notLocal(acts []device.Action, cfg *config.Config) error {
	for _, a := range acts {
		for _, d := range cfg.Devices {
			if d.Name == a.Device && d.Remote() {
				return fmt.Errorf("%s is device %s of node %s; tweetpi do drives this board's pins only: run tweetpi do there", d.Name, d.NodeDevice, d.Node)
			}
		}
	}
	return nil
}
