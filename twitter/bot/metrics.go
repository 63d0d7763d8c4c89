package bot

import (
	"bufio"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/tweetpi/tweetpi/twitter"
)

// MetricsContentType is the Content-Type of the exposition: Prometheus's
// text format 0.0.4. Prometheus 3 refuses a scrape whose Content-Type is
// missing or not one it knows (unless told a fallback_scrape_protocol);
// every name here is in the legacy character set, which escaping=underscores
// says.
const MetricsContentType = "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"

// WriteMetrics writes st in Prometheus's text exposition format: the names
// start with tweetpi_, are in base units (seconds, ratios; spend in US
// dollars), counters end in _total, and no label holds a user's or a
// post's id. A metric that st has nothing for is left out.
func WriteMetrics(w io.Writer, st Status) error {
	e := &expo{w: bufio.NewWriter(w)}
	e.family("tweetpi_build_info", "gauge", "The version of tweetpi and the Go release it was built with; always 1.")
	e.sample("tweetpi_build_info", 1, "version", st.Version, "goversion", runtime.Version())
	e.family("tweetpi_start_time_seconds", "gauge", "When the daemon started, in seconds since the Unix epoch.")
	e.sample("tweetpi_start_time_seconds", unix(st.Started))

	if st.Delivery != nil {
		e.family("tweetpi_delivery", "gauge", "How posts and DMs reach the bot: 1 for the mode in use (stream: the X Activity API stream; poll: polls only).")
		for _, m := range []string{DeliveryStream, DeliveryPoll} {
			e.sample("tweetpi_delivery", b2f(st.Delivery.Mode == m), "mode", m)
		}
		e.family("tweetpi_delivery_since_seconds", "gauge", "When the delivery mode last changed, in seconds since the Unix epoch.")
		e.sample("tweetpi_delivery_since_seconds", unix(st.Delivery.Since))
	}
	if len(st.Inboxes) > 0 {
		e.family("tweetpi_last_poll_timestamp_seconds", "gauge", "When each inbox was last polled, in seconds since the Unix epoch (0: not yet).")
		for _, in := range st.Inboxes {
			e.sample("tweetpi_last_poll_timestamp_seconds", unix(in.LastPoll), "inbox", in.Inbox)
		}
		e.family("tweetpi_poll_failures", "gauge", "How many polls of each inbox failed in a row (0 when the last one went well).")
		for _, in := range st.Inboxes {
			e.sample("tweetpi_poll_failures", float64(in.Failures), "inbox", in.Inbox)
		}
	}
	if st.Commands != nil {
		e.family("tweetpi_commands_total", "counter", "Commands (posts and DMs to the account) since the start, by inbox and result (ran, refused, not_understood, too_old, stranger, withheld).")
		counts := map[[2]string]uint64{}
		inboxes := []string{}
		for _, in := range st.Inboxes {
			inboxes = append(inboxes, in.Inbox)
		}
		for _, c := range st.Commands.SinceStart {
			counts[[2]string{c.Inbox, c.Result}] = c.Count
			if !slices.Contains(inboxes, c.Inbox) {
				inboxes = append(inboxes, c.Inbox)
			}
		}
		for _, in := range inboxes {
			for _, r := range Results {
				e.sample("tweetpi_commands_total", float64(counts[[2]string{in, r}]), "inbox", in, "result", r)
			}
		}
	}
	if len(st.Requests) > 0 {
		e.family("tweetpi_api_requests_total", "counter", "Requests to the X API since the start, by endpoint and HTTP status of the answer (none: no answer came).")
		for _, r := range st.Requests {
			code := strconv.Itoa(r.Status)
			if r.Status == 0 {
				code = "none"
			}
			e.sample("tweetpi_api_requests_total", float64(r.Count), "endpoint", r.Endpoint, "code", code)
		}
	}
	if len(st.RateLimits) > 0 {
		e.family("tweetpi_rate_limit_remaining", "gauge", "Requests left in each endpoint's rate-limit window, as its last answer said.")
		for _, l := range st.RateLimits {
			e.sample("tweetpi_rate_limit_remaining", float64(l.Remaining), "endpoint", l.Endpoint)
		}
		e.family("tweetpi_rate_limit_limit", "gauge", "Requests each endpoint's rate-limit window allows.")
		for _, l := range st.RateLimits {
			e.sample("tweetpi_rate_limit_limit", float64(l.Limit), "endpoint", l.Endpoint)
		}
		e.family("tweetpi_rate_limit_reset_timestamp_seconds", "gauge", "When each endpoint's rate-limit window resets, in seconds since the Unix epoch.")
		for _, l := range st.RateLimits {
			e.sample("tweetpi_rate_limit_reset_timestamp_seconds", unix(l.Reset), "endpoint", l.Endpoint)
		}
	}
	if s := st.Spend; s != nil {
		e.family("tweetpi_estimated_spend_usd", "gauge", "What X bills, as estimated from the price table, in US dollars: this UTC day and this UTC month.")
		e.sample("tweetpi_estimated_spend_usd", s.TodayUSD, "period", "day")
		e.sample("tweetpi_estimated_spend_usd", s.MonthUSD, "period", "month")
		e.family("tweetpi_estimated_spend_usd_total", "counter", "What X bills since the start, as estimated, in US dollars.")
		e.sample("tweetpi_estimated_spend_usd_total", s.SinceStartUSD)
		e.family("tweetpi_billed_items_total", "counter", "What X bills since the start, by charge: reads (each resource once per UTC day) and writes.")
		for _, c := range twitter.Charges {
			e.sample("tweetpi_billed_items_total", float64(s.SinceStart[c]), "charge", c)
		}
		e.family("tweetpi_budget_daily_usd", "gauge", "budget.daily in US dollars (0: no cap).")
		e.sample("tweetpi_budget_daily_usd", s.DailyBudgetUSD)
		e.family("tweetpi_budget_capped", "gauge", "1 while budget.daily withholds replies and notify DMs (until 00:00 UTC).")
		e.sample("tweetpi_budget_capped", b2f(s.Capped))
	}
	if m := st.MQTT; m != nil {
		e.family("tweetpi_mqtt_connected", "gauge", "1 while the MQTT broker connection is up.")
		e.sample("tweetpi_mqtt_connected", b2f(m.Connected), "node", m.Node)
	}
	var outs, pwms, ins []DeviceState
	for _, d := range st.Devices {
		if d.Value == nil || d.Node != "" {
			continue
		}
		switch d.Kind {
		case "output":
			outs = append(outs, d)
		case "pwm":
			pwms = append(pwms, d)
		case "input":
			ins = append(ins, d)
		}
	}
	if len(outs) > 0 {
		e.family("tweetpi_output_on", "gauge", "1 while an output is on.")
		for _, d := range outs {
			e.sample("tweetpi_output_on", *d.Value, "device", d.Name)
		}
	}
	if len(pwms) > 0 {
		e.family("tweetpi_pwm_duty_ratio", "gauge", "A pwm device's duty, 0 to 1.")
		for _, d := range pwms {
			e.sample("tweetpi_pwm_duty_ratio", *d.Value, "device", d.Name)
		}
	}
	if len(ins) > 0 {
		e.family("tweetpi_input_high", "gauge", "1 while an input reads high.")
		for _, d := range ins {
			e.sample("tweetpi_input_high", *d.Value, "device", d.Name)
		}
	}
	e.family("tweetpi_state_write_errors_total", "counter", "Writes of the state file that failed since the start.")
	e.sample("tweetpi_state_write_errors_total", float64(st.StateWriteErrors))
	if e.err != nil {
		return e.err
	}
	return e.w.Flush()
}

// expo writes the text format.
type expo struct {
	w   *bufio.Writer
	err error
}

func (e *expo) family(name, typ, help string) {
	e.put("# HELP " + name + " " + escapeHelp(help) + "\n# TYPE " + name + " " + typ + "\n")
}

// sample writes one sample; labels are name, value pairs.
func (e *expo) sample(name string, v float64, labels ...string) {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	b.WriteByte('\n')
	e.put(b.String())
}

func (e *expo) put(s string) {
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
