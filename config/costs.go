package config

import (
	"math"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Budget is the budget: section: what the daemon may spend on X's
// pay-per-use API.
type Budget struct {
	// Daily is the most, in USD, the replies and notify DMs may take the
	// estimated spend of a UTC day to; 0 is no cap. At 80 % the daemon
	// warns, past it it withholds them until 00:00 UTC; commands still run.
	Daily float64 `json:"daily"`
	// Prices override the built-in price table, by name (PriceNames), in
	// USD per item.
	Prices map[string]float64 `json:"prices,omitempty"`
}

// PriceNames are the names of the price table's entries, as budget.prices
// writes them: a post read of the account's own mentions (the app owner's
// own data), any other post read, a user read, a DM event read, a reply to
// a post that mentioned the account, a post, a DM sent.
var PriceNames = []string{"owned_read", "post_read", "user_read", "dm_read", "reply", "post", "dm_send"}

// Metrics is the metrics: section: the Prometheus exposition.
type Metrics struct {
	// File is a file node_exporter's textfile collector reads
	// (…/node-exporter/tweetpi.prom), written atomically; "" none.
	File string `json:"file,omitempty"`
	// Listen is a loopback address (127.0.0.1:9464) that serves /metrics;
	// "" none.
	Listen string `json:"listen,omitempty"`
}

var (
	budgetKeys  = []string{"daily", "prices"}
	metricsKeys = []string{"file", "listen"}
)

// maxDaily bounds the daily budget and maxPrice a price: more is a typo
// (cents for dollars; X's dearest write, a post with a link, is $0.20).
const (
	maxDaily = 1000.0
	maxPrice = 1.0
)

// costs decodes the top-level budget and metrics sections.
func (d *decoder) costs(m map[string]entry, c *Config) {
	if e, ok := m["budget"]; ok && !isNull(e.v) {
		if b, ok := d.mapping(e.v, "budget", budgetKeys, "budget", "daily: 0.50"); ok {
			if e, ok := b["daily"]; ok {
				if v, ok := d.usd(e.v, "budget.daily", "0.50", maxDaily); ok {
					c.Budget.Daily = v
				}
			}
			if e, ok := b["prices"]; ok && !isNull(e.v) {
				c.Budget.Prices = d.prices(e.v)
			}
		}
	}
	if e, ok := m["metrics"]; ok && !isNull(e.v) {
		if mm, ok := d.mapping(e.v, "metrics", metricsKeys, "metrics", "listen: 127.0.0.1:9464"); ok {
			if e, ok := mm["file"]; ok {
				if s, ok := d.str(e.v, "metrics.file", "/var/lib/prometheus/node-exporter/tweetpi.prom"); ok {
					c.Metrics.File = s
				}
			}
			if e, ok := mm["listen"]; ok {
				if s, ok := d.str(e.v, "metrics.listen", "127.0.0.1:9464"); ok {
					c.Metrics.Listen = s
				}
			}
		}
	}
}

// usd reads an amount of US dollars: a number from 0 to most.
func (d *decoder) usd(n *yaml.Node, key, example string, most float64) (float64, bool) {
	s, ok := d.str(n, key, example)
	if !ok {
		return 0, false
	}
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "$") {
		d.addf(n.Line, key, s, "%s: write the amount without the $ sign, like %s (US dollars)", quote(s), strings.TrimPrefix(t, "$"))
		return 0, false
	}
	v, err := strconv.ParseFloat(t, 64)
	switch {
	case err != nil || math.IsNaN(v) || math.IsInf(v, 0) || strings.ContainsAny(t, "xXpP_"):
		d.addf(n.Line, key, s, "%s is not an amount; write US dollars like %s", quote(s), example)
	case v < 0:
		d.addf(n.Line, key, s, "%s is below 0; write 0 or more, like %s", quote(s), example)
	case v > most:
		d.addf(n.Line, key, s, "%s is more than $%g; write US dollars, not cents, like %s", quote(s), most, example)
	default:
		return v, true
	}
	return 0, false
}

// prices reads budget.prices: a mapping of price names to amounts.
func (d *decoder) prices(n *yaml.Node) map[string]float64 {
	m, ok := d.mapping(n, "budget.prices", PriceNames, "budget.prices", "owned_read: 0.005")
	if !ok {
		return nil
	}
	out := map[string]float64{}
	for k, e := range m {
		if v, ok := d.usd(e.v, "budget.prices."+k, "0.005", maxPrice); ok {
			out[k] = v
		}
	}
	return out
}

// checkMetrics checks the metrics section's file and address.
func (c *Config) checkMetrics(d *decoder) {
	if f := c.Metrics.File; f != "" {
		line, raw := d.at("metrics.file", f)
		switch {
		case !filepath.IsAbs(f):
			d.addf(line, "metrics.file", raw, "%s is not an absolute path; name the file in node_exporter's textfile directory, like /var/lib/prometheus/node-exporter/tweetpi.prom", quote(raw))
		case filepath.Ext(f) != ".prom":
			d.addf(line, "metrics.file", raw, "%s does not end in .prom, and node_exporter's textfile collector reads only *.prom files; name it like %s", quote(raw), strings.TrimSuffix(f, filepath.Ext(f))+".prom")
		}
	}
	if a := c.Metrics.Listen; a != "" {
		line, raw := d.at("metrics.listen", a)
		if msg := checkLoopback(a); msg != "" {
			d.addf(line, "metrics.listen", raw, "%s %s", quote(raw), msg)
		}
	}
}

// checkLoopback says what is wrong with a listen address that must be on
// the loopback interface, or "".
func checkLoopback(a string) string {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return "is not an address; write host:port, like 127.0.0.1:9464"
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "has no port from 1 to 65535; write it like 127.0.0.1:9464"
	}
	ip := net.ParseIP(host)
	if host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return ""
	}
	return "is not a loopback address: /metrics has no password, so it listens on 127.0.0.1 or [::1] only; " +
		"write 127.0.0.1:" + port + ", and let Prometheus on another machine reach it through node_exporter's textfile collector (metrics.file), an SSH tunnel or a reverse proxy"
}
