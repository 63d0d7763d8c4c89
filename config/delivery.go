package config

import (
	"fmt"
	"slices"
	"time"
)

// How mentions and DMs reach the daemon (twitter.delivery).
const (
	// DeliveryAuto: the X Activity API stream where X allows it, with polls
	// to fill its gaps; polls alone where X refuses it (tried again hourly).
	DeliveryAuto = "auto"
	// DeliveryStream: the stream, or exit 78 when X refuses it.
	DeliveryStream = "stream"
	// DeliveryPoll: polls only, as before the stream.
	DeliveryPoll = "poll"
)

// Defaults of the delivery keys.
const (
	DefaultDelivery          = DeliveryAuto
	DefaultReconcileInterval = 5 * time.Minute
)

var deliveries = []string{DeliveryAuto, DeliveryStream, DeliveryPoll}

// delivery decodes twitter.delivery and twitter.reconcile_interval.
func (d *decoder) delivery(m map[string]entry, t *Twitter) {
	if e, ok := m["delivery"]; ok {
		if s, ok := d.nonEmpty(e.v, "twitter.delivery", "auto", DefaultDelivery); ok {
			t.Delivery = s
		}
	}
	if e, ok := m["reconcile_interval"]; ok {
		if v, ok := d.duration(e.v, "twitter.reconcile_interval", "5m"); ok {
			t.ReconcileInterval = v
		}
	} else if t.ReconcileInterval < t.PollInterval {
		// Not written, and the polls are slower than the default (the Free
		// tier's 15m): it reconciles at the poll's pace.
		t.ReconcileInterval = t.PollInterval
	}
}

// checkDelivery checks twitter.delivery and twitter.reconcile_interval.
func (c *Config) checkDelivery(d *decoder) {
	t := &c.Twitter
	if !slices.Contains(deliveries, t.Delivery) {
		line, raw := d.at("twitter.delivery", t.Delivery)
		fix := "use auto (the stream where X allows it, else polls), stream (the stream or stop) or poll (polls only)"
		if m := Nearest(raw, deliveries); m != "" {
			fix = fmt.Sprintf("did you mean %s? %s", m, fix)
		}
		d.addf(line, "twitter.delivery", raw, "%s is not a delivery; %s", quote(raw), fix)
	}
	if d.bad["twitter.reconcile_interval"] || d.bad["twitter.poll_interval"] {
		return
	}
	switch {
	case t.ReconcileInterval <= 0:
		line, raw := d.at("twitter.reconcile_interval", FormatDuration(t.ReconcileInterval))
		d.addf(line, "twitter.reconcile_interval", raw, "%s must be more than 0, like 5m", quote(raw))
	case t.ReconcileInterval < t.PollInterval:
		line, raw := d.at("twitter.reconcile_interval", FormatDuration(t.ReconcileInterval))
		if line == 0 {
			line, _ = d.at("twitter.poll_interval", "")
		}
		d.addf(line, "twitter.reconcile_interval", raw,
			"%s is shorter than poll_interval (%s): with the stream up the inboxes would be polled more often than without it; make it %s or more (default %s)",
			quote(raw), FormatDuration(t.PollInterval), FormatDuration(t.PollInterval), FormatDuration(DefaultReconcileInterval))
	}
}
