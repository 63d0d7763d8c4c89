package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with the file want, or rewrites it under -update.
func golden(t *testing.T, want, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(want, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(want)
	if err != nil {
		t.Fatalf("%v (run go test ./config -update to write it)", err)
	}
	if got != string(data) {
		t.Errorf("got:\n%s\nwant (%s):\n%s", got, want, data)
	}
}

// TestBadFiles loads each testdata/bad/NAME.yaml and compares every
// problem reported with testdata/bad/NAME.golden.
func TestBadFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatal("no testdata/bad/*.yaml", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			c, err := Load(f, Options{InsecurePerms: true})
			if err == nil {
				t.Fatalf("loaded with no error: %+v", c)
			}
			if c != nil {
				t.Errorf("a config came back with the error")
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T is not Errors: %v", err, err)
			}
			for _, e := range es {
				if e.File != f || e.Msg == "" || e.Line < 0 {
					t.Errorf("malformed %#v", e)
				}
				if e.Value != "" && e.Line > 0 && e.Key != "" && !strings.Contains(e.Msg, quote(e.Value)) && !strings.Contains(e.Msg, "@") {
					t.Errorf("message does not show the value %q: %s", e.Value, e)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("a secret reached the message:\n%v", err)
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden", err.Error()+"\n")
		})
	}
}

// dump renders a loaded config for golden files: its JSON (secrets
// redacted by Secret itself) and what JSON leaves out.
func dump(t *testing.T, c *Config) string {
	t.Helper()
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, d := range c.Devices {
		lines = append(lines, fmt.Sprintf("%s=%d", d.Name, d.Line))
	}
	return fmt.Sprintf("%s\ndevice lines: %s\n", b, strings.Join(lines, " "))
}

func TestGoodFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatal("no testdata/good/*.yaml", err)
	}
	abs, err := filepath.Abs("testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			c, err := Load(f, Options{InsecurePerms: true})
			if err != nil {
				t.Fatal(err)
			}
			if c.Path != f {
				t.Errorf("Path %q, want %q", c.Path, f)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate after Load: %v", err)
			}
			got := strings.ReplaceAll(dump(t, c), abs, "$TESTDATA")
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden", got)
		})
	}
}

func TestFullValues(t *testing.T) {
	c, err := Load("testdata/good/full.yaml", Options{InsecurePerms: true})
	if err != nil {
		t.Fatal(err)
	}
	tw := c.Twitter
	if got := tw.ConsumerKey.Reveal(); got != "testINLINEconsumerKEY" {
		t.Errorf("consumer key %q", got)
	}
	if got := tw.ConsumerSecret.Reveal(); got != "testFILEconsumerSECRET" {
		t.Errorf("consumer secret %q (white space around it is trimmed)", got)
	}
	if got, want := tw.MissingKeys(), []string{"access_token_secret"}; !reflect.DeepEqual(got, want) {
		t.Errorf("MissingKeys() = %q, want %q", got, want)
	}
	if tw.APIURL != "http://127.0.0.1:8080/prefix" {
		t.Errorf("api_url %q: the trailing / is dropped", tw.APIURL)
	}
	if tw.PollInterval != 90*time.Second || tw.MaxAge != 90*time.Minute || tw.Reply {
		t.Errorf("twitter %+v", tw)
	}
	var names []string
	for _, d := range c.Devices {
		names = append(names, d.Name)
	}
	if want := []string{"led", "pump", "fan", "dimmer", "door", "button", "bell"}; !reflect.DeepEqual(names, want) {
		t.Errorf("devices %q, want the file's order %q", names, want)
	}
	pump := c.Devices[1]
	if pump.Initial || !pump.ActiveLow || pump.MaxOn != 5*time.Minute || pump.Line != 19 {
		t.Errorf("pump %+v", pump)
	}
	if !c.Devices[0].Initial || !c.Devices[2].Initial {
		t.Errorf("initial: on and true are on")
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("config.yaml", []byte("devices:\n  o: {pin: A, kind: output}\n  p: {pin: B, kind: pwm}\n  i: {pin: C, kind: input}\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Path = "config.yaml"
	want.Twitter.file = "config.yaml"
	want.Twitter.absent = true // the file has no twitter: section
	want.Devices = []Device{
		{Name: "o", Pin: "A", Kind: KindOutput, Line: 2},
		{Name: "p", Pin: "B", Kind: KindPWM, FrequencyHz: 1000, Line: 3},
		{Name: "i", Pin: "C", Kind: KindInput, Pull: "none", High: "high", Low: "low", Debounce: 50 * time.Millisecond, Line: 4},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	tw := c.Twitter
	if tw.API != "v2" || !reflect.DeepEqual(tw.Listen, []string{"mentions"}) || tw.PollInterval != time.Minute ||
		tw.MaxAge != 10*time.Minute || !tw.Reply || c.StateDir != "/var/lib/tweetpi" || c.GPIO.Backend != "periph" {
		t.Errorf("defaults: %+v", c)
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

// writeFile writes a file with mode perm (past the umask) and returns its path.
func writeFile(t *testing.T, dir, name, data string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	// A file written before may be read-only now (0400, 0440): replace it.
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestKeyPrecedence(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "ck", "fromFILE\n", 0o600)
	for _, tc := range []struct {
		name       string
		env        string // TWEETPI_CONSUMER_KEY
		file       bool   // consumer_key_file: ck
		inline     string // consumer_key:
		want, from string
	}{
		{"env beats file and inline", "fromENV", true, "fromINLINE", "fromENV", "env TWEETPI_CONSUMER_KEY"},
		{"env beats inline", "fromENV", false, "fromINLINE", "fromENV", "env TWEETPI_CONSUMER_KEY"},
		{"env alone", "fromENV", false, "", "fromENV", "env TWEETPI_CONSUMER_KEY"},
		{"env is trimmed", " fromENV\n", false, "", "fromENV", "env TWEETPI_CONSUMER_KEY"},
		{"blank env does not count", "  ", true, "fromINLINE", "fromFILE", "file " + filepath.Join(dir, "ck")},
		{"file beats inline", "", true, "fromINLINE", "fromFILE", "file " + filepath.Join(dir, "ck")},
		{"file alone", "", true, "", "fromFILE", "file " + filepath.Join(dir, "ck")},
		{"inline alone", "", false, "fromINLINE", "fromINLINE", "inline"},
		{"none", "", false, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := "twitter:\n"
			if tc.file {
				y += "  consumer_key_file: ck\n" // relative to the config's directory
			}
			if tc.inline != "" {
				y += "  consumer_key: " + tc.inline + "\n"
			}
			path := writeFile(t, dir, "config.yaml", y, 0o600)
			c, err := Load(path, Options{Getenv: envMap(map[string]string{"TWEETPI_CONSUMER_KEY": tc.env})})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Twitter.ConsumerKey.Reveal(); got != tc.want {
				t.Errorf("key %q, want %q", got, tc.want)
			}
			if got := c.Twitter.KeySources["consumer_key"]; got != tc.from {
				t.Errorf("source %q, want %q", got, tc.from)
			}
			if len(c.Twitter.KeySources) > 1 {
				t.Errorf("sources of keys never given: %q", c.Twitter.KeySources)
			}
		})
	}
}

func TestKeyFileNotReadWhenEnvSet(t *testing.T) {
	path := writeFile(t, t.TempDir(), "config.yaml", "twitter:\n  access_token_file: /nonexistent/tweetpi/access_token\n", 0o600)
	c, err := Load(path, Options{Getenv: envMap(map[string]string{"TWEETPI_ACCESS_TOKEN": "1-fromENV"})})
	if err != nil {
		t.Fatal(err)
	}
	if c.Twitter.AccessToken.Reveal() != "1-fromENV" {
		t.Errorf("access token %q", c.Twitter.AccessToken.Reveal())
	}
	if _, err := Load(path, Options{}); err == nil {
		t.Errorf("without the env, the missing file is not reported")
	}
}

func TestPermissions(t *testing.T) {
	dir := t.TempDir()
	keyPath := writeFile(t, dir, "key", "fromFILE", 0o600)
	for _, tc := range []struct {
		name     string
		yaml     string
		mode     os.FileMode // of the config file
		keyMode  os.FileMode // of the key file
		env      map[string]string
		insecure bool
		want     string // the error, with $CONFIG and $KEY for the paths; "" for none
	}{
		{name: "inline, private", yaml: "twitter:\n  consumer_key: k\n", mode: 0o600},
		{name: "inline, owner read only", yaml: "twitter:\n  consumer_key: k\n", mode: 0o400},
		{
			name: "inline, world readable", yaml: "twitter:\n  api: v2\n  access_token: 1-k\n  consumer_key: k\n", mode: 0o644,
			want: "$CONFIG:3: twitter.access_token: this file holds a secret and can be read by group or others (mode 0644); run chmod 600 $CONFIG, or move the keys out of it (TWEETPI_ACCESS_TOKEN, access_token_file)",
		},
		{
			name: "inline, group readable", yaml: "twitter:\n  consumer_key: k\n", mode: 0o640,
			want: "$CONFIG:2: twitter.consumer_key: this file holds a secret and can be read by group or others (mode 0640); run chmod 600 $CONFIG, or move the keys out of it (TWEETPI_CONSUMER_KEY, consumer_key_file)",
		},
		{
			name: "inline, others readable", yaml: "twitter:\n  consumer_key: k\n", mode: 0o604,
			want: "$CONFIG:2: twitter.consumer_key: this file holds a secret and can be read by group or others (mode 0604); run chmod 600 $CONFIG, or move the keys out of it (TWEETPI_CONSUMER_KEY, consumer_key_file)",
		},
		{
			name: "inline overridden by env still counts", yaml: "twitter:\n  consumer_key: k\n", mode: 0o644,
			env:  map[string]string{"TWEETPI_CONSUMER_KEY": "e"},
			want: "$CONFIG:2: twitter.consumer_key: this file holds a secret and can be read by group or others (mode 0644); run chmod 600 $CONFIG, or move the keys out of it (TWEETPI_CONSUMER_KEY, consumer_key_file)",
		},
		{name: "inline, world readable, overridden", yaml: "twitter:\n  consumer_key: k\n", mode: 0o644, insecure: true},
		{name: "no secrets, world readable", yaml: "twitter:\n  consumer_key: \"\"\n  api: v2\n", mode: 0o644},
		{name: "key from env, world readable", yaml: "twitter:\n  api: v2\n", mode: 0o644, env: map[string]string{"TWEETPI_CONSUMER_KEY": "e"}},
		{name: "key file, private", yaml: "twitter:\n  consumer_key_file: key\n", mode: 0o644, keyMode: 0o600},
		{name: "key file, owner read only", yaml: "twitter:\n  consumer_key_file: key\n", mode: 0o644, keyMode: 0o400},
		{
			name: "key file, world readable", yaml: "twitter:\n  consumer_key_file: key\n", mode: 0o600, keyMode: 0o644,
			want: `$CONFIG:2: twitter.consumer_key_file: "key" holds a secret and can be read by group or others (mode 0644); run chmod 600 $KEY`,
		},
		{
			name: "key file, group readable, both reported", yaml: "twitter:\n  consumer_secret: s\n  consumer_key_file: key\n", mode: 0o640, keyMode: 0o640,
			want: "$CONFIG:2: twitter.consumer_secret: this file holds a secret and can be read by group or others (mode 0640); run chmod 600 $CONFIG, or move the keys out of it (TWEETPI_CONSUMER_SECRET, consumer_secret_file)\n" +
				`$CONFIG:3: twitter.consumer_key_file: "key" holds a secret and can be read by group or others (mode 0640); run chmod 600 $KEY`,
		},
		{name: "key file, world readable, overridden", yaml: "twitter:\n  consumer_key_file: key\n", mode: 0o644, keyMode: 0o644, insecure: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, "config.yaml", tc.yaml, tc.mode)
			if tc.keyMode != 0 {
				if err := os.Chmod(keyPath, tc.keyMode); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Load(path, Options{Getenv: envMap(tc.env), InsecurePerms: tc.insecure})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Twitter.ConsumerKey == "" {
					if _, ok := c.Twitter.KeySources["consumer_key"]; ok {
						t.Errorf("a source for a missing key")
					}
				}
				return
			}
			want := strings.NewReplacer("$CONFIG", path, "$KEY", keyPath).Replace(tc.want)
			if err == nil {
				t.Fatalf("loaded; want %s", want)
			}
			if got := err.Error(); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
			if !errors.As(err, new(Errors)) {
				t.Errorf("%T is not Errors", err)
			}
		})
	}
}

func TestKeyFileContents(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "spaces", "two words\n", 0o600)
	writeFile(t, dir, "big", strings.Repeat("k", 5000), 0o600)
	writeFile(t, dir, "blank", " \n\t\n", 0o600)
	writeFile(t, dir, "good", "\n  s3cr3tGOOD  \r\n", 0o600)
	path := writeFile(t, dir, "config.yaml", `twitter:
  consumer_key_file: spaces
  consumer_secret_file: big
  access_token_file: blank
  access_token_secret_file: good
  access_token_secret: "s3cr3t inline  with spaces"
`, 0o600)
	_, err := Load(path, Options{})
	want := strings.ReplaceAll(`$C:2: twitter.consumer_key_file: "spaces": the key in it has spaces or control characters inside; it must hold only the consumer key
$C:3: twitter.consumer_secret_file: "big" is larger than 4096 bytes; it must hold only the consumer secret
$C:4: twitter.access_token_file: "blank" is empty; put the access token in it`, "$C", path)
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}

	// The inline value with spaces is overridden by the file, so only the
	// env's spaces are a problem.
	path = writeFile(t, dir, "config.yaml", "twitter:\n  access_token_secret_file: good\n  access_token_secret: \"s3cr3t inline  with spaces\"\n", 0o600)
	c, err := Load(path, Options{Getenv: envMap(map[string]string{"TWEETPI_CONSUMER_KEY": "s3cr3t env\twith tab"})})
	want = path + ": twitter.consumer_key: TWEETPI_CONSUMER_KEY has spaces or control characters inside; set it to the consumer key alone"
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s (config %+v)", err, want, c)
	}
	if err != nil && strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("a secret reached the message")
	}
	c, err = Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Twitter.AccessTokenSecret.Reveal(); got != "s3cr3tGOOD" {
		t.Errorf("key from file %q", got)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.yaml")
	for _, tc := range []struct{ path, want string }{
		{missing, missing + ": no such file; copy config.example.yaml there and edit it, or name another file with -config or TWEETPI_CONFIG"},
		{dir, dir + ": is a directory; name the config.yaml file in it"},
	} {
		c, err := Load(tc.path, Options{})
		if c != nil || err == nil || err.Error() != tc.want {
			t.Errorf("Load(%q) = %v, %v; want %s", tc.path, c, err, tc.want)
		}
		if !errors.As(err, new(Errors)) {
			t.Errorf("Load(%q): %T is not Errors", tc.path, err)
		}
	}
}

func TestCheckKeys(t *testing.T) {
	c, err := Parse("/etc/tweetpi/config.yaml", []byte("twitter:\n  consumer_key: a\n  consumer_secret: b\n"), Options{
		Getenv: envMap(map[string]string{"TWEETPI_ACCESS_TOKEN": "1-c"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Twitter.MissingKeys(), []string{"access_token_secret"}; !reflect.DeepEqual(got, want) {
		t.Errorf("MissingKeys() = %q, want %q", got, want)
	}
	err = c.Twitter.CheckKeys()
	want := "/etc/tweetpi/config.yaml: twitter.access_token_secret: the access token secret is not set; set TWEETPI_ACCESS_TOKEN_SECRET in the environment, or name a file holding it with access_token_secret_file:, or write it in the file as access_token_secret: (then chmod 600 the file)"
	if err == nil || err.Error() != want {
		t.Errorf("CheckKeys() = %v\nwant %s", err, want)
	}
	if !errors.As(err, new(Errors)) {
		t.Errorf("CheckKeys() returned %T, not Errors", err)
	}
	if got := len(Twitter{}.MissingKeys()); got != 4 {
		t.Errorf("empty Twitter misses %d keys", got)
	}
	if es, _ := (Twitter{}).CheckKeys().(Errors); len(es) != 4 {
		t.Errorf("empty Twitter: %d problems", len(es))
	}
	full := Twitter{ConsumerKey: "a", ConsumerSecret: "b", AccessToken: "c", AccessTokenSecret: "d"}
	if err := full.CheckKeys(); err != nil || full.MissingKeys() != nil || !full.HasKeys() {
		t.Errorf("all keys set: %v %q", err, full.MissingKeys())
	}
}

func TestPathFrom(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "/etc/tweetpi/config.yaml"},
		{map[string]string{"CREDENTIALS_DIRECTORY": "/run/credentials/tweetpi.service"}, "/run/credentials/tweetpi.service/config.yaml"},
		{map[string]string{"CREDENTIALS_DIRECTORY": "/run/c", "TWEETPI_CONFIG": "/home/pi/t.yaml"}, "/home/pi/t.yaml"},
	} {
		if got := PathFrom(envMap(tc.env)); got != tc.want {
			t.Errorf("PathFrom(%v) = %q, want %q", tc.env, got, tc.want)
		}
	}
}

func TestParseFrequency(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64 // -1: not a frequency
	}{
		{"25kHz", 25000}, {"1kHz", 1000}, {"50Hz", 50}, {"1.5MHz", 1.5e6}, {"440", 440}, {"0.5", 0.5},
		{"25 kHz", 25000}, {"25khz", 25000}, {"2KHZ", 2000}, {"100hz", 100}, {"1e3", 1000},
		{"", -1}, {"Hz", -1}, {"fast", -1}, {"NaN", -1}, {"Inf", -1}, {"infHz", -1}, {"0x10", -1}, {"1_000", -1}, {"25 k Hz", -1},
	} {
		got, err := parseFrequency(tc.in)
		if tc.want < 0 {
			if err == nil {
				t.Errorf("parseFrequency(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseFrequency(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for hz, want := range map[float64]string{25000: "25kHz", 1.5e6: "1.5MHz", 50: "50Hz", 1250: "1.25kHz", 0.5: "0.5Hz"} {
		if got := formatFrequency(hz); got != want {
			t.Errorf("formatFrequency(%v) = %q, want %q", hz, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	c := Default()
	c.Path = "code"
	c.Twitter.Listen = nil
	c.Twitter.Allow = []string{"alice"}
	c.Devices = []Device{
		{Name: "Led", Pin: "GPIO17", Kind: KindOutput, MaxOn: -time.Second},
		{Name: "fan", Pin: "GPIO18", Kind: KindPWM},
		{Name: "door", Pin: "GPIO22", Kind: KindInput, Pull: "none", High: "open", Low: "open", Debounce: time.Millisecond},
	}
	want := `code: twitter.listen: is empty, so nothing would be read; write [mentions], [dms] or [mentions, dms]
code: twitter.allow: "alice" is not an @handle or a user id; write it with an @, in quotes: "@alice"
code: devices.Led: "Led" is not a device name: names are lower-case words (a-z, 0-9, _ and -, starting with a letter); write led
code: devices.Led.max_on: "-1s" must be more than 0; leave max_on out for no limit
code: devices.fan.frequency: "0Hz" is out of range; a pwm frequency is more than 0 and at most 1MHz, like 25kHz or 1kHz
code: devices.door.low: "open" is also the word for high; the two words must differ`
	err := c.Validate()
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "config.yaml", Line: 14, Key: "devices.pump.max_on", Value: "5 minutes", Msg: `"5 minutes" is not a duration; write it like 5m or 90s`},
			`config.yaml:14: devices.pump.max_on: "5 minutes" is not a duration; write it like 5m or 90s`},
		{Error{File: "config.yaml", Key: "twitter.consumer_key", Msg: "m"}, "config.yaml: twitter.consumer_key: m"},
		{Error{File: "config.yaml", Line: 3, Msg: "m"}, "config.yaml:3: m"},
		{Error{Key: "k", Msg: "m"}, "k: m"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
	es := Errors{{File: "a", Line: 1, Msg: "x"}, {File: "a", Line: 2, Msg: "y"}}
	if got := es.Error(); got != "a:1: x\na:2: y" {
		t.Errorf("Errors: %q", got)
	}
}

func TestDidYouMean(t *testing.T) {
	keys := append(append([]string{}, deviceKeys...), twitterKeys...)
	for in, want := range map[string]string{
		"pins": "pin", "knid": "kind", "frequncy": "frequency", "debounse": "debounce",
		"pol_interval": "poll_interval", "max-on": "max_on", "Pin": "pin", "colour": "", "x": "",
		"acess_token": "access_token", "consumer_secret_fil": "consumer_secret_file",
	} {
		if got := Nearest(in, keys); got != want {
			t.Errorf("Nearest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestExample loads deploy/config.example.yaml, the file users start from:
// it must load as it is, hold no keys, and show the design's devices.
func TestExample(t *testing.T) {
	data, err := os.ReadFile("../deploy/config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, t.TempDir(), "config.yaml", string(data), 0o600)
	c, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.Twitter.MissingKeys()); got != 4 {
		t.Errorf("the example sets %d keys", 4-got)
	}
	var got []string
	for _, d := range c.Devices {
		got = append(got, d.Name+" "+d.Kind+" "+d.Pin)
	}
	want := []string{"led output GPIO17", "pump output GPIO27", "door input GPIO22"} // the pwm fan is commented out: the unit forbids /dev/mem
	if !reflect.DeepEqual(got, want) || c.GPIO.Backend != BackendPeriph {
		t.Errorf("devices %q backend %s, want %q periph", got, c.GPIO.Backend, want)
	}
	// Every key of the schema appears in it, set or commented out.
	for _, k := range slices.Concat(topKeys, twitterKeys, deviceKeys, mqttKeys) {
		if !strings.Contains(string(data), k+":") {
			t.Errorf("the example does not mention %s", k)
		}
	}
}

func TestStateDirRelative(t *testing.T) {
	for _, tc := range []struct{ name, dir, want string }{
		{"/etc/tweetpi/config.yaml", "state", "/etc/tweetpi/state"},
		{"/etc/tweetpi/config.yaml", "/var/lib/x", "/var/lib/x"},
		{"config.yaml", "./state", "state"},
	} {
		c, err := Parse(tc.name, []byte("state_dir: "+tc.dir+"\n"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if c.StateDir != tc.want {
			t.Errorf("Parse(%s) state_dir %s = %q, want %q", tc.name, tc.dir, c.StateDir, tc.want)
		}
	}
}

// TestCredentialsDirectory: systemd 257 (Debian 13, today's Raspberry Pi
// OS) passes the unit's LoadCredential= file as mode 0440 for the service's
// group, in a directory only the unit can enter. There group read is
// accepted; others read is not, and a group-readable file elsewhere is
// still refused. (The daemon refused to start on Debian 13 before this.)
func TestCredentialsDirectory(t *testing.T) {
	creds := t.TempDir()
	other := t.TempDir()
	key := writeFile(t, creds, "key", "fromFILE", 0o440)
	for _, tc := range []struct {
		name  string
		dir   string
		yaml  string
		mode  os.FileMode
		creds string // $CREDENTIALS_DIRECTORY
		ok    bool
	}{
		{"credential 0440", creds, "twitter:\n  consumer_key: k\n", 0o440, creds, true},
		{"credential 0444", creds, "twitter:\n  consumer_key: k\n", 0o444, creds, false},
		{"0440 elsewhere", other, "twitter:\n  consumer_key: k\n", 0o440, creds, false},
		{"0440 without systemd", creds, "twitter:\n  consumer_key: k\n", 0o440, "", false},
		{"key file credential 0440", other, "twitter:\n  consumer_key_file: " + key + "\n", 0o600, creds, true},
		{"key file 0440 without systemd", other, "twitter:\n  consumer_key_file: " + key + "\n", 0o600, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.dir, "config.yaml", tc.yaml, tc.mode)
			env := map[string]string{}
			if tc.creds != "" {
				env["CREDENTIALS_DIRECTORY"] = tc.creds
			}
			c, err := Load(path, Options{Getenv: envMap(env)})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if c.Twitter.ConsumerKey.Reveal() == "" {
					t.Errorf("no consumer key loaded")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "can be read by group or others") {
				t.Errorf("err %v, want the file refused as readable by group or others", err)
			}
		})
	}
}
