package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tweetpi/tweetpi/twitter/bot"
)

// fixedDevices stands for cmd's adapter of the board.
type fixedDevices []bot.DeviceState

func (d fixedDevices) DeviceStates() []bot.DeviceState { return d }

func num(v float64) *float64 { return &v }

var testDevices = fixedDevices{
	{Name: "led", Kind: "output", State: "on", Value: num(1)},
	{Name: "pump", Kind: "output", State: "off", Value: num(0)},
	{Name: "fan", Kind: "pwm", State: "40%", Value: num(0.4)},
	{Name: "door", Kind: "input", State: "closed", Value: num(0)},
	{Name: "tank", Kind: "ds18b20", State: "21.4°C", Value: num(21.4)},
}

type fixedMQTT struct{ st bot.MQTTStatus }

func (m fixedMQTT) MQTTStatus() *bot.MQTTStatus { s := m.st; return &s }

// reporterRun runs a bot with a meter on the fake for a few commands and
// returns its reporter, in a synctest bubble.
func reporterRun(t *testing.T, dir string) (*bot.Reporter, *spendBot) {
	toDate(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	sb := startSpendBot(t, spendOptions{api: "v2", daily: 0.5})
	sb.srv.Post(sb.alice, "@mypi led on", 0)
	sb.srv.Post(sb.bob, "@mypi hi", 0)
	time.Sleep(2 * time.Minute)
	sb.srv.SendDM(sb.alice, "pump on", 0)
	time.Sleep(2 * time.Minute)
	r := bot.NewReporter(bot.ReporterOptions{
		Version: "1.2.3", Dir: dir, Bot: sb.bot, Devices: testDevices,
		MQTT: fixedMQTT{bot.MQTTStatus{Broker: "mqtt://192.168.1.10:1883", Node: "mypi", Connected: true, Since: time.Now().Add(-time.Minute)}},
	})
	return r, sb
}

// TestMetricsExposition: the exposition parses with Prometheus's own text
// parser, names and types follow Prometheus's rules, and the values are
// the bot's.
func TestMetricsExposition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, sb := reporterRun(t, "")
		defer sb.stop()
		var b bytes.Buffer
		if err := bot.WriteMetrics(&b, r.Status()); err != nil {
			t.Fatal(err)
		}
		p := expfmt.NewTextParser(model.LegacyValidation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatalf("the exposition does not parse: %v\n%s", err, b.String())
		}
		for name, f := range fams {
			if !strings.HasPrefix(name, "tweetpi_") {
				t.Errorf("%s: no tweetpi_ prefix", name)
			}
			if (f.GetType().String() == "COUNTER") != strings.HasSuffix(name, "_total") {
				t.Errorf("%s is a %s: counters and only counters end in _total", name, f.GetType())
			}
			if f.GetHelp() == "" {
				t.Errorf("%s has no help", name)
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if strings.Contains(l.GetName(), "id") || strings.Contains(l.GetName(), "user") || len(l.GetValue()) > 18 && isDigits(l.GetValue()) {
						t.Errorf("%s has a label %s=%q: no user or post ids as labels", name, l.GetName(), l.GetValue())
					}
				}
			}
		}
		value := func(name string, labels ...string) float64 {
			t.Helper()
			f, ok := fams[name]
			if !ok {
				t.Fatalf("no %s in\n%s", name, b.String())
			}
		metrics:
			for _, m := range f.GetMetric() {
				got := map[string]string{}
				for _, l := range m.GetLabel() {
					got[l.GetName()] = l.GetValue()
				}
				for i := 0; i+1 < len(labels); i += 2 {
					if got[labels[i]] != labels[i+1] {
						continue metrics
					}
				}
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue()
				case m.Gauge != nil:
					return m.Gauge.GetValue()
				}
			}
			t.Fatalf("no %s%v", name, labels)
			return 0
		}
		checks := []struct {
			name   string
			labels []string
			want   float64
		}{
			{"tweetpi_commands_total", []string{"inbox", "mentions", "result", "ran"}, 1},
			{"tweetpi_commands_total", []string{"inbox", "mentions", "result", "stranger"}, 1},
			{"tweetpi_commands_total", []string{"inbox", "dms", "result", "refused"}, 1},
			{"tweetpi_commands_total", []string{"inbox", "dms", "result", "withheld"}, 0},
			{"tweetpi_delivery", []string{"mode", "poll"}, 1},
			{"tweetpi_delivery", []string{"mode", "stream"}, 0},
			{"tweetpi_output_on", []string{"device", "led"}, 1},
			{"tweetpi_output_on", []string{"device", "pump"}, 0},
			{"tweetpi_pwm_duty_ratio", []string{"device", "fan"}, 0.4},
			{"tweetpi_input_high", []string{"device", "door"}, 0},
			{"tweetpi_mqtt_connected", nil, 1},
			{"tweetpi_budget_daily_usd", nil, 0.5},
			{"tweetpi_state_write_errors_total", nil, 0},
			{"tweetpi_build_info", []string{"version", "1.2.3"}, 1},
			{"tweetpi_api_requests_total", []string{"endpoint", "post", "code", "201"}, 1},
			{"tweetpi_api_requests_total", []string{"endpoint", "send_dm", "code", "201"}, 1},
			{"tweetpi_billed_items_total", []string{"charge", "reply"}, 1},
			{"tweetpi_billed_items_total", []string{"charge", "dm_send"}, 1},
		}
		for _, c := range checks {
			if got := value(c.name, c.labels...); got != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		}
		spend := r.Status().Spend
		if got := value("tweetpi_estimated_spend_usd", "period", "day"); got != spend.TodayUSD || got == 0 {
			t.Errorf("spend today %v, status %v", got, spend.TodayUSD)
		}
		if got := value("tweetpi_rate_limit_remaining", "endpoint", "mentions"); got <= 0 {
			t.Errorf("mentions rate limit remaining %v", got)
		}
	})
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// TestMetricsHTTP: /metrics answers with the Content-Type Prometheus 3
// needs, a format expfmt recognizes as text 0.0.4, whatever the Accept.
func TestMetricsHTTP(t *testing.T) {
	r := bot.NewReporter(bot.ReporterOptions{Version: "1.2.3", Devices: testDevices})
	srv := httptest.NewServer(r)
	defer srv.Close()
	for _, accept := range []string{
		"", // curl
		// Prometheus 3's default scrape_protocols.
		"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ct := resp.Header.Get("Content-Type")
		if resp.StatusCode != 200 || ct != bot.MetricsContentType {
			t.Errorf("Accept %q: %d, Content-Type %q", accept, resp.StatusCode, ct)
		}
		if f := expfmt.ResponseFormat(resp.Header); f.FormatType() != expfmt.TypeTextPlain {
			t.Errorf("Content-Type %q is format %v to Prometheus, want text", ct, f)
		}
	}
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/ answered %d, want 404", resp.StatusCode)
	}
}

// TestStatusGolden: the status file's JSON (the schema `tweetpi status
// -json` prints), made stable, is testdata/status.golden.
func TestStatusGolden(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		r, sb := reporterRun(t, dir)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { r.Run(ctx); close(done) }()
		time.Sleep(time.Second)
		st, err := bot.LoadStatus(dir)
		if err != nil {
			t.Fatalf("LoadStatus while it runs: %v", err)
		}
		st.PID, st.BootID = 0, ""
		data, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "status.golden", string(data)+"\n")
		var text bytes.Buffer
		if err := st.WriteText(&text, time.Now()); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"account @mypi (api v2)", "delivery: polls", "commands today (UTC 2026-03-01): 1 ran, 1 refused", "1 stranger",
			"spend (estimated): today $0.", "of budget.daily $0.50", "mqtt: connected to mqtt://192.168.1.10:1883 as node mypi", "devices: led on, pump off, fan 40%, door closed, tank 21.4°C"} {
			if !strings.Contains(text.String(), want) {
				t.Errorf("the text lacks %q:\n%s", want, text.String())
			}
		}
		cancel()
		<-done
		sb.stop()
		if _, err := bot.LoadStatus(dir); !errors.Is(err, bot.ErrNoDaemon) {
			t.Errorf("LoadStatus after the stop: %v, want ErrNoDaemon", err)
		}
	})
}

// TestLoadStatusStale: a status file whose process is gone says no daemon
// runs, with the pid.
func TestLoadStatusStale(t *testing.T) {
	dir := t.TempDir()
	st := bot.Status{Version: "1", PID: 1 << 22, BootID: bot.BootID(), Updated: time.Now()} // above any pid_max
	data, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(dir, bot.StatusFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := bot.LoadStatus(dir)
	if !errors.Is(err, bot.ErrNoDaemon) || !strings.Contains(err.Error(), "pid 4194304") {
		t.Errorf("err %v, want ErrNoDaemon naming the pid", err)
	}
	st.PID, st.BootID = os.Getpid(), "not-this-boot"
	data, _ = json.Marshal(st)
	os.WriteFile(filepath.Join(dir, bot.StatusFile), data, 0o644)
	if _, err := bot.LoadStatus(dir); bot.BootID() != "" && !errors.Is(err, bot.ErrNoDaemon) {
		t.Errorf("a file from another boot: %v, want ErrNoDaemon", err)
	}
}
