package bot

import (
	"io"
	"runtime"
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

// families are the metrics, in the order they are written: name, type and
// help. A family without samples is left out.
var families = [...][3]string{
	{"tweetpi_build_info", "gauge", "The version of tweetpi and the Go release it was built with; always 1."},
	{"tweetpi_start_time_seconds", "gauge", "When the daemon started, in seconds since the Unix epoch."},
	{"tweetpi_delivery", "gauge", "How posts and DMs reach the bot: 1 for the mode in use (stream: the X Activity API stream; poll: polls only)."},
	{"tweetpi_last_poll_timestamp_seconds", "gauge", "When each inbox was last polled, in seconds since the Unix epoch (0: not yet)."},
	{"tweetpi_commands_total", "counter", "Commands (posts and DMs to the account) since the start, by inbox and result (ran, refused, not_understood, too_old, stranger, withheld)."},
	{"tweetpi_api_requests_total", "counter", "Requests to the X API since the start, by endpoint and HTTP status of the answer (none: no answer came)."},
	{"tweetpi_rate_limit_remaining", "gauge", "Requests left in each endpoint's rate-limit window, as its last answer said."},
	{"tweetpi_estimated_spend_usd", "gauge", "What X bills, as estimated from the price table, in US dollars: this UTC day and this UTC month."},
	{"tweetpi_billed_items_total", "counter", "What X bills since the start, by charge: reads (each resource once per UTC day) and writes."},
	{"tweetpi_budget_daily_usd", "gauge", "budget.daily in US dollars (0: no cap)."},
	{"tweetpi_budget_capped", "gauge", "1 while budget.daily withholds replies and notify DMs (until 00:00 UTC)."},
	{"tweetpi_mqtt_connected", "gauge", "1 while the MQTT broker connection is up."},
	{"tweetpi_output_on", "gauge", "1 while an output is on."},
	{"tweetpi_pwm_duty_ratio", "gauge", "A pwm device's duty, 0 to 1."},
	{"tweetpi_input_high", "gauge", "1 while an input reads high."},
	{"tweetpi_state_write_errors_total", "counter", "Writes of the state file that failed since the start."},
}

// The families' indexes.
const (
	mBuild = iota
	mStart
	mDelivery
	mLastPoll
	mCommands
	mRequests
	mRemaining
	mSpend
	mBilled
	mBudget
	mCapped
	mMQTT
	mOutput
	mPWM
	mInput
	mWriteErrors
)

// WriteMetrics writes st in Prometheus's text exposition format: the names
// start with tweetpi_, are in base units (seconds, ratios; spend in US
// dollars), counters end in _total, and no label holds a user's or a
// post's id. A metric that st has nothing for is left out.
func WriteMetrics(w io.Writer, st Status) error {
	var s [len(families)][]string // each family's sample lines
	add := func(f int, v float64, labels ...string) {
		var b strings.Builder
		b.WriteString(families[f][0])
		for i := 0; i+1 < len(labels); i += 2 {
			if i == 0 {
				b.WriteByte('{')
			} else {
				b.WriteByte(',')
			}
			b.WriteString(labels[i] + `="` + labelEscaper.Replace(labels[i+1]) + `"`)
			if i+2 >= len(labels) {
				b.WriteByte('}')
			}
		}
		s[f] = append(s[f], b.String()+" "+strconv.FormatFloat(v, 'g', -1, 64)+"\n")
	}
	add(mBuild, 1, "version", st.Version, "goversion", runtime.Version())
	add(mStart, unix(st.Started))
	if d := st.Delivery; d != nil {
		add(mDelivery, b2f(d.Mode == DeliveryStream), "mode", DeliveryStream)
		add(mDelivery, b2f(d.Mode == DeliveryPoll), "mode", DeliveryPoll)
	}
	counts := map[[2]string]uint64{}
	var inboxes []string
	for _, in := range st.Inboxes {
		add(mLastPoll, unix(in.LastPoll), "inbox", in.Inbox)
		inboxes = append(inboxes, in.Inbox)
	}
	if st.Commands != nil {
		for _, c := range st.Commands.SinceStart {
			counts[[2]string{c.Inbox, c.Result}] = c.Count
		}
		for _, in := range inboxes {
			for _, r := range Results {
				add(mCommands, float64(counts[[2]string{in, r}]), "inbox", in, "result", r)
			}
		}
	}
	for _, r := range st.Requests {
		code := "none"
		if r.Status != 0 {
			code = strconv.Itoa(r.Status)
		}
		add(mRequests, float64(r.Count), "endpoint", r.Endpoint, "code", code)
	}
	for _, l := range st.RateLimits {
		add(mRemaining, float64(l.Remaining), "endpoint", l.Endpoint)
	}
	if sp := st.Spend; sp != nil {
		add(mSpend, sp.TodayUSD, "period", "day")
		add(mSpend, sp.MonthUSD, "period", "month")
		for _, c := range twitter.Charges {
			add(mBilled, float64(sp.SinceStart[c]), "charge", c)
		}
		add(mBudget, sp.DailyBudgetUSD)
		add(mCapped, b2f(sp.Capped))
	}
	if m := st.MQTT; m != nil {
		add(mMQTT, b2f(m.Connected), "node", m.Node)
	}
	for _, d := range st.Devices {
		f := map[string]int{"output": mOutput, "pwm": mPWM, "input": mInput}[d.Kind]
		if d.Value != nil && d.Node == "" && f != 0 {
			add(f, *d.Value, "device", d.Name)
		}
	}
	add(mWriteErrors, float64(st.StateWriteErrors))
	var b strings.Builder
	for i, f := range families {
		if len(s[i]) > 0 {
			b.WriteString("# HELP " + f[0] + " " + f[2] + "\n# TYPE " + f[0] + " " + f[1] + "\n")
			for _, l := range s[i] {
				b.WriteString(l)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// labelEscaper escapes a label value (help texts here need none).
var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
