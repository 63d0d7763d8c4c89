package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestRedaction formats a config holding four distinctive keys (from the
// environment, a file and the file itself) every way a program might, and
// looks for any of them in the output.
func TestRedaction(t *testing.T) {
	secrets := []string{"ENVconsumerKEYxq7", "FILEconsumerSECRETzp4", "9876-INLINEaccessTOKENwv9", "INLINEtokenSECRETkj2"}
	dir := t.TempDir()
	writeFile(t, dir, "cs", secrets[1], 0o600)
	path := writeFile(t, dir, "config.yaml", `twitter:
  consumer_key: overriddenINLINEkey
  consumer_secret_file: cs
  access_token: `+secrets[2]+`
  access_token_secret: "`+secrets[3]+`"
devices:
  led: {pin: GPIO17, kind: output}
`, 0o600)
	c, err := Load(path, Options{Getenv: envMap(map[string]string{"TWEETPI_CONSUMER_KEY": secrets[0]})})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []Secret{c.Twitter.ConsumerKey, c.Twitter.ConsumerSecret, c.Twitter.AccessToken, c.Twitter.AccessTokenSecret} {
		if s.Reveal() != secrets[i] {
			t.Fatalf("key %d is %q, want %q", i, s.Reveal(), secrets[i])
		}
	}

	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		outputs["Sprintf "+verb+" *Config"] = fmt.Sprintf(verb, c)
		outputs["Sprintf "+verb+" Config"] = fmt.Sprintf(verb, *c)
		outputs["Sprintf "+verb+" Twitter"] = fmt.Sprintf(verb, c.Twitter)
		outputs["Sprintf "+verb+" Secret"] = fmt.Sprintf(verb, c.Twitter.AccessToken)
	}
	outputs["Sprint"] = fmt.Sprint(c, c.Twitter, c.Twitter.ConsumerKey)
	outputs["Sprintln"] = fmt.Sprintln(c, c.Twitter, c.Twitter.ConsumerKey)
	outputs["String"] = c.Twitter.ConsumerSecret.String()
	outputs["GoString"] = c.Twitter.ConsumerSecret.GoString()
	outputs["error"] = fmt.Errorf("wrapped: %v %w", c.Twitter.AccessToken, fmt.Errorf("%s", c.Twitter.AccessTokenSecret)).Error()

	for name, v := range map[string]any{"*Config": c, "Config": *c, "Twitter": c.Twitter, "Secret": c.Twitter.ConsumerKey} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outputs["json "+name] = string(b)
		y, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outputs["yaml "+name] = string(y)
	}

	var text, js bytes.Buffer
	for _, l := range []*slog.Logger{slog.New(slog.NewTextHandler(&text, nil)), slog.New(slog.NewJSONHandler(&js, nil))} {
		l.Info("loaded", "config", c, "twitter", c.Twitter, "key", c.Twitter.ConsumerKey)
		l.Info("loaded", slog.Any("config", *c), slog.Group("g", "secret", c.Twitter.AccessTokenSecret))
		l.With("config", c).Error("x", "err", fmt.Errorf("%v", c))
	}
	outputs["slog text"] = text.String()
	outputs["slog json"] = js.String()

	for name, out := range outputs {
		for _, s := range append(secrets, "overriddenINLINEkey") {
			if strings.Contains(out, s) || strings.Contains(strings.ToLower(out), strings.ToLower(fmt.Sprintf("%x", s))) {
				t.Errorf("%s shows a secret:\n%s", name, out)
			}
		}
	}
	if !strings.Contains(outputs["Sprintf %+v *Config"], "ConsumerKey:[redacted]") {
		t.Errorf("%%+v does not show the redaction: %s", outputs["Sprintf %+v *Config"])
	}
	if !strings.Contains(outputs["json *Config"], `"consumer_key":"[redacted]"`) {
		t.Errorf("json does not show the redaction: %s", outputs["json *Config"])
	}
	if !strings.Contains(outputs["slog text"], "key=[redacted]") {
		t.Errorf("slog text does not show the redaction: %s", outputs["slog text"])
	}
	if got := c.Twitter.KeySources; got["access_token"] != "inline" || got["consumer_key"] != "env TWEETPI_CONSUMER_KEY" {
		t.Errorf("sources %q", got)
	}
}
