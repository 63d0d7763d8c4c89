package config

import (
	"strings"
	"testing"
)

// TestKeyShape: a key pasted with quotes of any kind, or with an invisible
// character, is refused at load wherever it came from (the file, a key
// file, the environment), and an access token without X's "digits-" form
// is refused when the keys are for X itself; no message shows the key.
func TestKeyShape(t *testing.T) {
	const key = "AbCdEfGh12345678IjKlMnOp"
	for _, tc := range []struct {
		name, value, want string
	}{
		{"smart double quotes", "“" + key + "”", "has quote marks inside"},
		{"smart single quotes", "‘" + key + "’", "has quote marks inside"},
		{"low quote", "„" + key + "“", "has quote marks inside"},
		{"guillemets", "«" + key + "»", "has quote marks inside"},
		{"ascii quotes kept", `"` + key + `"`, "has quote marks inside"},
		{"one ascii quote", "'" + key, "has quote marks inside"},
		{"backquotes", "`" + key + "`", "has quote marks inside"},
		{"full-width quotes", "＂" + key + "＂", "has quote marks inside"},
		{"zero-width space", key + "\u200b", "not plain ASCII"},
		{"no-break space", key[:5] + "\u00a0" + key[5:], "spaces or control characters"},
		{"space", key[:5] + " " + key[5:], "spaces or control characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := writeFile(t, dir, "secret", tc.value+"\n", 0o600)
			yamlValue := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(tc.value)
			for src, load := range map[string]func() error{
				"inline": func() error {
					_, err := Load(writeFile(t, dir, "c.yaml", "twitter:\n  consumer_secret: \""+yamlValue+"\"\n", 0o600), Options{})
					return err
				},
				"file": func() error {
					_, err := Load(writeFile(t, dir, "c.yaml", "twitter:\n  consumer_secret_file: "+file+"\n", 0o600), Options{})
					return err
				},
				"env": func() error {
					_, err := Parse("c.yaml", nil, Options{Getenv: envMap(map[string]string{"TWEETPI_CONSUMER_SECRET": tc.value})})
					return err
				},
			} {
				err := load()
				if err == nil {
					t.Errorf("%s: %q loads", src, tc.value)
					continue
				}
				if msg := err.Error(); !strings.Contains(msg, "consumer_secret") || !strings.Contains(msg, tc.want) {
					t.Errorf("%s: %v; want consumer_secret and %q", src, err, tc.want)
				}
				if strings.Contains(err.Error(), key[:12]) {
					t.Errorf("%s: the key is shown: %v", src, err)
				}
			}
		})
	}

	token := func(api, tok, secret string) error {
		y := "twitter:\n  access_token: \"" + tok + "\"\n  access_token_secret: \"" + secret + "\"\n"
		if api != "" {
			y += "  api_url: " + api + "\n"
		}
		_, err := Parse("c.yaml", []byte(y), Options{})
		return err
	}
	for _, tc := range []struct {
		api, tok, secret, want string
	}{
		{"", "1234567890-" + key, key, ""},
		{"", key, key + "x", "does not have the form of an X access token"},
		{"", key, "1234567890-" + key, "the two look swapped"},
		{"", "@1234567890-" + key, key, "does not have the form"},
		{"http://127.0.0.1:8080", key, key + "x", ""}, // another server, other tokens
	} {
		err := token(tc.api, tc.tok, tc.secret)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("token %q at %q: %v", tc.tok, tc.api, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("token %q at %q: %v; want %q", tc.tok, tc.api, err, tc.want)
		case err != nil && strings.Contains(err.Error(), key[:12]):
			t.Errorf("the key is shown: %v", err)
		}
	}
}
