package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// keyNames are the four OAuth 1.0a keys, as the file names them.
var keyNames = [4]string{"consumer_key", "consumer_secret", "access_token", "access_token_secret"}

// KeyEnv returns the environment variable that gives a key:
// TWEETPI_CONSUMER_KEY for consumer_key.
func KeyEnv(key string) string { return "TWEETPI_" + strings.ToUpper(key) }

func human(key string) string { return strings.ReplaceAll(key, "_", " ") }

// secret returns the field of a key.
func (t *Twitter) secret(key string) *Secret {
	switch key {
	case "consumer_key":
		return &t.ConsumerKey
	case "consumer_secret":
		return &t.ConsumerSecret
	case "access_token":
		return &t.AccessToken
	case "access_token_secret":
		return &t.AccessTokenSecret
	}
	panic("config: no key " + key)
}

// MissingKeys names the keys that are not set, in the order consumer_key,
// consumer_secret, access_token, access_token_secret.
func (t Twitter) MissingKeys() []string {
	var out []string
	for _, k := range keyNames {
		if *t.secret(k) == "" {
			out = append(out, k)
		}
	}
	return out
}

// CheckKeys returns nil when all four keys are set, else Errors naming each
// missing key and the three ways to give it. Commands that talk to the API
// call it; loading does not, since the commands that work the pins alone
// need no keys.
func (t Twitter) CheckKeys() error {
	var errs Errors
	for _, k := range t.MissingKeys() {
		errs = append(errs, &Error{
			File: t.file,
			Key:  "twitter." + k,
			Msg: fmt.Sprintf("the %s is not set; set %s in the environment, or name a file holding it with %s_file:, or write it in the file as %s: (then chmod 600 the file)",
				human(k), KeyEnv(k), k, k),
		})
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// keys sets each key from the environment, a *_file or the file itself, in
// that order, and records where it came from. dir is where relative
// *_file paths start.
func (d *decoder) keys(t *Twitter, dir string, opt Options) {
	getenv := opt.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	for _, k := range keyNames {
		if env := KeyEnv(k); strings.TrimSpace(getenv(env)) != "" {
			v := strings.TrimSpace(getenv(env))
			if p := keyProblem(v); p != "" {
				d.addf(0, "twitter."+k, "", "%s %s; set it to the %s alone", env, p, human(k))
			}
			*t.secret(k) = Secret(v)
			t.setSource(k, "env "+env)
			continue
		}
		if f, ok := d.files[k]; ok {
			if v, path, ok := d.keyFile(k, f, dir, opt); ok {
				*t.secret(k) = Secret(v)
				t.setSource(k, "file "+path)
			} else {
				*t.secret(k) = ""
			}
			continue
		}
		if line, ok := d.inline[k]; ok {
			if p := keyProblem(string(*t.secret(k))); p != "" {
				d.addf(line, "twitter."+k, "", "%s; write the %s alone, in plain double quotes", p, human(k))
			}
			t.setSource(k, "inline")
		}
	}
	line := d.inline["access_token"]
	if src := t.KeySources["access_token"]; src != "inline" {
		line = d.files["access_token"].line
		if strings.HasPrefix(src, "env ") {
			line = 0
		}
	}
	d.checkAccessToken(t, line, t.KeySources["access_token"])
}

func (t *Twitter) setSource(k, src string) {
	if t.KeySources == nil {
		t.KeySources = map[string]string{}
	}
	t.KeySources[k] = src
}

// exposed reports whether a file that holds a secret can be read by others
// than its owner. In systemd's credentials directory ($CREDENTIALS_DIRECTORY,
// which only the unit's processes can enter) a file may be readable by its
// group: newer systemd versions (Debian 13's 257) pass a credential as 0440
// for the service's group.
func exposed(path string, mode fs.FileMode, opt Options) bool {
	perm := mode.Perm()
	if opt.Getenv != nil {
		if d := opt.Getenv("CREDENTIALS_DIRECTORY"); d != "" && within(d, path) {
			return perm&0o004 != 0
		}
	}
	return perm&0o044 != 0
}

// within reports whether path is inside directory dir.
func within(dir, path string) bool {
	ad, err1 := filepath.Abs(dir)
	ap, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(ad, ap)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

// keyFile reads the key a *_file names: a regular file, private to its
// owner unless opt.InsecurePerms, holding the key and perhaps white space
// around it. It returns the key and the path it was read from.
func (d *decoder) keyFile(k string, f place, dir string, opt Options) (string, string, bool) {
	return d.secretFile(f, dir, opt, secretFileSpec{
		key: "twitter." + k + "_file", what: human(k), inline: k, example: "/etc/tweetpi/keys/" + k,
		problem: func(v string) string {
			if p := keyProblem(v); p != "" {
				return "the key in it " + p
			}
			return ""
		},
	})
}

// secretFileSpec says what a file that holds one secret is for.
type secretFileSpec struct {
	key     string // the dotted key that names the file: twitter.consumer_key_file
	what    string // what it holds, in words: "consumer key"
	inline  string // the key to write the secret under instead: consumer_key
	example string // a full path to suggest
	// problem says what is wrong with the secret read, "" when nothing.
	problem func(v string) string
}

// maxSecretFile is the most a file of one secret may hold: a key or a
// password is well under 100 bytes.
const maxSecretFile = 4 << 10

// secretFile reads the file f names (a path relative to dir, the config's
// directory): a regular file, private to its owner unless
// opt.InsecurePerms, holding the secret and perhaps white space around it.
// It returns the secret and the path it was read from. A name without a
// directory that cannot be read is not shown: it may be the secret itself,
// written there by mistake.
func (d *decoder) secretFile(f place, dir string, opt Options, s secretFileSpec) (string, string, bool) {
	key := s.key
	path := f.raw
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	shown := quote(f.raw)
	fi, err := os.Stat(path)
	if err != nil {
		if !strings.Contains(f.raw, "/") {
			d.addf(f.line, key, "", "names a file that cannot be read (%s) in %s; the name is not shown, as it may be a secret written here by mistake: give the file's full path, like %s, or write the %s itself as %s:",
				reason(err), dir, s.example, s.what, s.inline)
			return "", "", false
		}
		d.addf(f.line, key, f.raw, "%s cannot be read: %s; check the path (a relative path starts at the config file's directory)", shown, reason(err))
		return "", "", false
	}
	if !fi.Mode().IsRegular() {
		d.addf(f.line, key, f.raw, "%s is not a regular file; name a file that holds only the %s", shown, s.what)
		return "", "", false
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if exposed(path, fi.Mode(), opt) && !opt.InsecurePerms {
		d.addf(f.line, key, f.raw, "%s holds a secret and can be read by group or others (mode %04o); run chmod 600 %s", shown, fi.Mode().Perm(), path)
		return "", "", false
	}
	file, err := os.Open(path)
	if err != nil {
		d.addf(f.line, key, f.raw, "%s cannot be read: %s", shown, reason(err))
		return "", "", false
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxSecretFile+1))
	switch {
	case err != nil:
		d.addf(f.line, key, f.raw, "%s cannot be read: %s", shown, reason(err))
		return "", "", false
	case len(data) > maxSecretFile:
		d.addf(f.line, key, f.raw, "%s is larger than %d bytes; it must hold only the %s", shown, maxSecretFile, s.what)
		return "", "", false
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		d.addf(f.line, key, f.raw, "%s is empty; put the %s in it", shown, s.what)
		return "", "", false
	}
	if p := s.problem(v); p != "" {
		d.addf(f.line, key, f.raw, "%s: %s; it must hold only the %s", shown, p, s.what)
		return "", "", false
	}
	return v, path, true
}

// reason is an error from the file system without the path, which the
// message already names.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return err.Error()
}
