package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEditKeys(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"quoted", "twitter:\n  access_token: \"old\" # keep\n  access_token_secret: 'o''ld'\n", "twitter:\n  access_token: \"T\" # keep\n  access_token_secret: \"S\"\n"},
		{"plain and empty", "twitter:\n  access_token: old\n  access_token_secret:\n  api: v2\n", "twitter:\n  access_token: \"T\"\n  access_token_secret: \"S\"\n  api: v2\n"},
		{"missing", "# top\ntwitter:\n    consumer_key: \"k\"\n", "# top\ntwitter:\n    access_token: \"T\"\n    access_token_secret: \"S\"\n    consumer_key: \"k\"\n"},
		{"no twitter block", "state_dir: /x", "state_dir: /x\ntwitter:\n  access_token: \"T\"\n  access_token_secret: \"S\"\n"},
		{"crlf", "twitter:\r\n  access_token: old\r\n  access_token_secret: \"\"\r\n", "twitter:\r\n  access_token: \"T\"\r\n  access_token_secret: \"S\"\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EditKeys([]byte(tc.in), map[string]string{"access_token": "T", "access_token_secret": "S"})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"twitter: {consumer_key: k}\n", "twitter:\n  access_token: |\n    x\n  access_token_secret: s\n"} {
		if _, err := EditKeys([]byte(bad), map[string]string{"access_token": "T", "access_token_secret": "S"}); err == nil {
			t.Errorf("EditKeys(%q) = nil error", bad)
		}
	}
}

// TestSetKeys: auth's edit replaces the file (mode 0600) and keeps what the
// person wrote around the keys; temp files an interrupted write left go.
func TestSetKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte("# mine\ntwitter:\n  access_token: \"\"\n  access_token_secret: \"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, ".config.yaml.tmp-123")
	if err := os.WriteFile(left, []byte("torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SetKeys(path, map[string]string{"access_token": "1-a", "access_token_secret": "s"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), "# mine\ntwitter:\n  access_token: \"1-a\"\n  access_token_secret: \"s\"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 600", fi.Mode().Perm())
	}
	if _, err := os.Stat(left); err == nil {
		t.Error("the leftover temp file is still there")
	}
	if err := SetKeys(filepath.Join(dir, "none.yaml"), map[string]string{"access_token": "x"}); err == nil {
		t.Error("SetKeys on a missing file: nil error")
	}
	if !strings.Contains(string(data), "# mine") {
		t.Error("the comment is gone")
	}
}
