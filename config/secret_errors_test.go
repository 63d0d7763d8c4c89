package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// marker stands for a secret; markerCore is the part no message may show,
// even cut short.
const (
	marker     = "Zq9S3cretMARKERk7Xw2"
	markerCore = "S3cretMARKER"
)

// secretForms are the ways a person can write a secret badly (or well) in
// a key's place, K being the key's name and M the secret. Each must either
// load or fail with messages that never show M.
var secretForms = []string{
	// fine, or fine YAML with a bad value
	"K: M", `K: "M"`, "K: 'M'", "K: M M", `K: "M\tx"`, "K: M, x", `K: "M\u200b"`,
	"K: “M”", "K: ‘M’", "K: `M`", `K: "'M'"`, `K: '"M"'`, "K: «M»", "K: ＂M＂",
	// YAML that means something else
	"K: *M", "K: *M x", "K: &M", "K: &M x", "K: !M", "K: !!M", "K: !M x", "K: !<M> x", "K: !!str M", "K: ! M",
	"K: [M]", "K: [*M]", "K: {M: x}", "K: {a: M}", "K: - M", "K:\n    - M", "K:\n    M: x", "K: <<: M",
	"K: M: x", "K: ?M", "K: %M", "K: @M", "K: |M", "K: >M", "K: |\n    M\n    x", "K: >-\n    M",
	// broken YAML
	`K: "M`, "K: 'M", `K: "M""`, `K: "M" x`, "K: 'M''", "K: [M", "K: {M", "K: ]M", "K: }M", "K: ,M",
	`K: "M\x"`, `K: "\uM"`, `K: "M\q"`, "K: M\n\tapi: v2", "K:\tM\n\tx: y", "K: M\n  :x", "K: M\n M", "K: M\n   M",
	"K: M #", "K: M\x00", "K: M\xff", "K: \x7fM", "K: M\n---\nx: M", "K: M\n...\nx: M",
	// the key written wrong
	"K:M", "K:M: x", "K = M", "K M", "K= \"M\"", "\"K: M\": x", "K_M: x", "M: x", "M", "? M", "? K\n  : M",
	"M: K", "K-M: x", "K M: x", "K: M\n  K: M", "K:\n  M",
	// the secret in a *_file key
	"K_file: M", `K_file: "M"`, "K_file: M ", "K_file: [M]", "K_file: {M: x}", "K_file: *M", "K_file: M\n  K_file: M",
}

// TestNoSecretInErrors plants a secret in every key that holds one, in
// every form above, in the twitter section and out of it, and through the
// environment and key files; no message may show it.
func TestNoSecretInErrors(t *testing.T) {
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "keyfile", "x", 0o600)
	var cases []struct{ name, yaml string }
	add := func(name, yaml string) { cases = append(cases, struct{ name, yaml string }{name, yaml}) }
	for _, k := range keyNames {
		for _, f := range secretForms {
			form := strings.ReplaceAll(strings.ReplaceAll(f, "K", k), "M", marker)
			indented := strings.ReplaceAll(form, "\n", "\n  ")
			add(k+" in twitter: "+f, "twitter:\n  "+indented+"\n  api: v2\ndevices:\n  led: {pin: GPIO17, kind: output}\n")
			add(k+" at the top: "+f, form+"\ngpio: {backend: sim}\n")
			add(k+" in a device: "+f, "devices:\n  led:\n    pin: GPIO17\n    kind: output\n    "+strings.ReplaceAll(form, "\n", "\n    ")+"\n")
			add(k+" in twitter flow: "+f, "twitter: {"+strings.ReplaceAll(form, "\n", " ")+"}\n")
		}
		add(k+" after a key file", "twitter:\n  "+k+"_file: "+keyFile+"\n  "+k+": "+marker+" x\n  api: [v2]\n")
	}
	for _, c := range cases {
		for _, perm := range []os.FileMode{0o600, 0o644} {
			path := writeFile(t, dir, "config.yaml", c.yaml, perm)
			_, err := Load(path, Options{})
			noMarker(t, fmt.Sprintf("%s (mode %o)", c.name, perm), c.yaml, err)
		}
	}

	// The environment and key files, holding a secret with something wrong.
	for _, bad := range []string{marker + " x", "“" + marker + "”", `"` + marker + `"`, marker + "\x00", marker + "\u00a0", "'" + marker, marker + "\u200b"} {
		for _, k := range keyNames {
			_, err := Parse(filepath.Join(dir, "c.yaml"), []byte("twitter:\n  api: v2\n"), Options{Getenv: envMap(map[string]string{KeyEnv(k): bad})})
			noMarker(t, KeyEnv(k)+"="+fmt.Sprintf("%q", bad), "", err)
			p := writeFile(t, dir, "key-"+k, bad, 0o600)
			_, err = Load(writeFile(t, dir, "c.yaml", "twitter:\n  "+k+"_file: "+p+"\n", 0o600), Options{})
			noMarker(t, k+"_file holding "+fmt.Sprintf("%q", bad), "", err)
			p = writeFile(t, dir, "key-"+k, bad, 0o644)
			_, err = Load(writeFile(t, dir, "c.yaml", "twitter:\n  "+k+"_file: "+p+"\n", 0o600), Options{})
			noMarker(t, k+"_file (0644) holding "+fmt.Sprintf("%q", bad), "", err)
		}
	}
}

func noMarker(t *testing.T, name, yaml string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	es, ok := err.(Errors)
	if !ok {
		t.Errorf("%s: %T is not Errors", name, err)
		return
	}
	for _, e := range es {
		for _, s := range []string{e.Error(), e.Key, e.Value, e.Msg} {
			if strings.Contains(s, markerCore) {
				t.Errorf("%s: a message shows the secret:\n%s\nfile:\n%s", name, e, yaml)
				return
			}
		}
	}
}

// FuzzNoSecretInErrors writes a secret in one key's place in an arbitrary
// form on one line that starts with the key (K in the form is the key's
// name, M the secret: what follows a key on its line is what was written
// for it) and checks that no message shows it. The forms over several
// lines are the table's.
func FuzzNoSecretInErrors(f *testing.F) {
	for i, form := range secretForms {
		f.Add(form, uint8(i))
	}
	name := filepath.Join(f.TempDir(), "fuzz.yaml")
	f.Fuzz(func(t *testing.T, form string, where uint8) {
		form = strings.NewReplacer("\n", " ", "\r", " ").Replace(form)
		if !strings.Contains(form, "M") {
			form += " M"
		}
		if !strings.HasPrefix(form, "K") {
			form = "K: " + form
		}
		k := keyNames[int(where)%len(keyNames)]
		form = strings.ReplaceAll(strings.ReplaceAll(form, "K", k), "M", marker)
		var data string
		switch where / 4 % 4 {
		case 0:
			data = "twitter:\n  " + strings.ReplaceAll(form, "\n", "\n  ") + "\n  api: v2\n"
		case 1:
			data = form + "\n"
		case 2:
			data = "devices:\n  led:\n    " + form + "\n    pin: GPIO17\n"
		default:
			data = "twitter: {" + form + "}\n"
		}
		_, err := Parse(name, []byte(data), Options{})
		noMarker(t, fmt.Sprintf("%q", form), data, err)
	})
}
