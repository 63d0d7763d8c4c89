package config

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// This file keeps secrets out of messages. A secret can reach a message
// only by being written where the file expected something else: as a key
// name (consumer_key:S3cret, consumer_key = S3cret, a secret on a line of
// its own), as a YAML alias (*S3cret, which yaml.v3 quotes in "unknown
// anchor"), or in a *_file key (echoed as the path). Each path is closed
// where the message is made; scrub is the last line of defence for what
// no one thought of: every message is cleaned of every text written as a
// secret's value before it leaves the package.

// secretNames are the keys whose value is a secret.
var secretNames = append(keyNames[:], "password")

// mayHoldSecret reports whether a key name as written could hold a
// secret, so that a message must not show it: a secret key's name with
// more glued to it (consumer_key:S3cret), or a word that looks like a
// random key (long, with digits or mixed case).
func mayHoldSecret(name string) bool {
	lower := strings.ToLower(name)
	for _, s := range secretNames {
		if strings.Contains(lower, s) && lower != s && lower != s+"_file" {
			return true
		}
	}
	if len(name) > 40 {
		return true
	}
	for _, tok := range strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len(tok) < 8 {
			continue
		}
		digit := strings.IndexFunc(tok, unicode.IsDigit) >= 0
		upper := strings.IndexFunc(tok[1:], unicode.IsUpper) >= 0
		lowerCase := strings.IndexFunc(tok, unicode.IsLower) >= 0
		if digit || upper && lowerCase || strings.IndexFunc(tok, func(r rune) bool { return r > unicode.MaxASCII }) >= 0 {
			return true
		}
	}
	return false
}

// unknown reports an unknown key k of the mapping at parent. A name that
// may hold a secret is not shown: the problem names the mapping and the
// line, and what was likely meant.
func (d *decoder) unknown(line int, parent, k string, known []string, here string) {
	if !mayHoldSecret(k) {
		d.add(line, child(parent, k), "", unknownKey(k, known, here))
		return
	}
	msg := "an unknown key, not shown here since it may hold a key or secret"
	lower := strings.ToLower(k)
	byLength := slices.Clone(known)
	slices.SortFunc(byLength, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	fixed := false
	for _, name := range byLength {
		rest, ok := strings.CutPrefix(lower, name)
		if !ok || rest == "" {
			continue
		}
		switch trimmed := strings.TrimLeft(rest, " \t"); {
		case strings.HasPrefix(rest, ":"):
			msg += "; put a space after the colon: " + name + `: "..."`
		case strings.HasPrefix(trimmed, "="):
			msg += "; YAML takes a colon and a space, not =: " + name + `: "..."`
		case rest != trimmed:
			msg += "; put a colon and a space after the name: " + name + `: "..."`
		default:
			continue
		}
		fixed = true
		break
	}
	if !fixed {
		if m := Nearest(k, known); m != "" {
			msg += "; did you mean " + m + "?"
		} else {
			msg += "; the keys here are " + orList(known)
		}
	}
	d.add(line, parent, "", msg)
}

// secretValue finds where a secret key is written on a line ("consumer_key:",
// "consumer_key =", "consumer_key S3cret", in a flow mapping too); the text
// after it is the secret as written.
var secretValue = regexp.MustCompile(`(?:^|[\s{,"'?-])(?:consumer_key|consumer_secret|access_token|access_token_secret|password)["']?[\s:=]`)

// secretTexts returns the words written as secret values in data (on a
// secret key's line after the key, and on the lines indented below it), to
// scrub from messages. Words short or plain enough to be part of a
// message (lower-case words, key names) are left out: no key is one.
func secretTexts(data []byte) []string {
	var out []string
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		locs := secretValue.FindAllStringIndex(l, -1)
		if locs == nil {
			continue
		}
		for _, loc := range locs {
			out = append(out, words(l[loc[1]:])...)
		}
		indent := len(l) - len(strings.TrimLeft(l, " \t-"))
		for i+1 < len(lines) {
			next := lines[i+1]
			t := strings.TrimLeft(next, " \t")
			if t != "" && len(next)-len(t) <= indent {
				break
			}
			out = append(out, words(next)...)
			i++
		}
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return slices.Compact(out)
}

var plainWord = regexp.MustCompile(`^[a-z_]{1,12}$`)

func words(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_./+=~", r))
	}) {
		w = strings.Trim(w, ".=")
		if len(w) < 8 || plainWord.MatchString(w) || slices.Contains(allKeys(), w) {
			continue
		}
		out = append(out, w)
	}
	return out
}

func allKeys() []string {
	return slices.Concat(topKeys, twitterKeys, gpioKeys, deviceKeys, mqttKeys)
}

// scrub removes every secret from the problems: the values loaded into c
// and every text written as a secret's value in the file.
func (d *decoder) scrub(c *Config) {
	secrets := secretTexts(d.data)
	if c != nil {
		for _, k := range keyNames {
			if v := c.Twitter.secret(k).Reveal(); len(v) >= 4 {
				secrets = append(secrets, v)
			}
		}
		if c.MQTT != nil && len(c.MQTT.Password) >= 4 {
			secrets = append(secrets, c.MQTT.Password.Reveal())
		}
	}
	if len(secrets) == 0 {
		return
	}
	slices.SortFunc(secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	clean := func(s string) string {
		for _, x := range secrets {
			s = strings.ReplaceAll(s, x, redacted)
		}
		return s
	}
	for _, e := range d.errs {
		e.Key, e.Value, e.Msg = clean(e.Key), clean(e.Value), clean(e.Msg)
	}
}

// quotedInYAML is source text quoted in a yaml.v3 message ('S3cret' in
// "unknown anchor 'S3cret' referenced"); its fixed messages quote single
// characters only (',' or ']').
var quotedInYAML = regexp.MustCompile(`'[^']{2,}'`)

// unquotedAlias finds a value written as an alias (*name).
var unquotedAlias = regexp.MustCompile(`(?:^|[:\[,{-])\s*\*\S`)
