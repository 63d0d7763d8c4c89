package config

import (
	"testing"
	"time"
)

// TestDeliveryDefaults: the stream where X allows it, reconciled every 5m;
// a reconcile_interval left out follows a poll_interval slower than that.
func TestDeliveryDefaults(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		delivery   string
		reconcile  time.Duration
	}{
		{"none", "twitter:\n  api: v2\n", DeliveryAuto, 5 * time.Minute},
		{"poll", "twitter:\n  delivery: poll\n", DeliveryPoll, 5 * time.Minute},
		{"stream", "twitter:\n  delivery: stream\n  reconcile_interval: 90s\n", DeliveryStream, 90 * time.Second},
		{"slow polls", "twitter:\n  poll_interval: 15m\n  max_age: 30m\n", DeliveryAuto, 15 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("config.yaml", []byte(tc.yaml), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if c.Twitter.Delivery != tc.delivery || c.Twitter.ReconcileInterval != tc.reconcile {
				t.Errorf("delivery %q reconcile_interval %s, want %q %s", c.Twitter.Delivery, c.Twitter.ReconcileInterval, tc.delivery, tc.reconcile)
			}
		})
	}
}
