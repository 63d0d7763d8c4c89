package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse feeds Parse arbitrary bytes: it must never panic, must report
// problems only as well-formed Errors, never with an inline key's value,
// and must return only configurations that validate.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	files = append(files, "../deploy/config.example.yaml")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("twitter:\n  consumer_key: s3cr3tFUZZkey\n  api: [v2]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("devices: {led: {pin: 1, kind: pwm, frequency: 1e400}}\n"))
	dir := f.TempDir()
	name := filepath.Join(dir, "fuzz.yaml")
	env := envMap(nil)

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(name, data, Options{Getenv: env})
		if err != nil {
			if c != nil {
				t.Fatalf("a config and an error")
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("%T is not Errors: %v", err, err)
			}
			for i, e := range es {
				if e.File != name || e.Line < 0 || e.Msg == "" {
					t.Fatalf("malformed %#v", e)
				}
				if i > 0 && es[i-1].Line > e.Line {
					t.Fatalf("not in the order of the file: %v", err)
				}
			}
			for _, s := range inlineKeys(data) {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("the key %q is in the message:\n%v", s, err)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse returned a config that does not validate: %v", err)
		}
		seen := map[string]bool{}
		for _, d := range c.Devices {
			for _, n := range append([]string{d.Name}, d.Aliases...) {
				if seen[n] {
					t.Fatalf("name %q twice", n)
				}
				seen[n] = true
			}
		}
	})
}

// inlineKeys returns the values of the four keys written in data, when
// each is long and found once in data (so it cannot be a value shown
// legitimately elsewhere).
func inlineKeys(data []byte) []string {
	var doc struct {
		Twitter map[string]any `yaml:"twitter"`
	}
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	var out []string
	for _, k := range keyNames {
		s, ok := doc.Twitter[k].(string)
		if ok && len(s) >= 6 && bytes.Count(data, []byte(s)) == 1 {
			out = append(out, s)
		}
	}
	return out
}
