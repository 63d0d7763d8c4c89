package config

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// What a key looks like. X's four keys are letters and digits; the access
// token is the account's numeric id, a dash and letters and digits. None
// holds a quote mark, a space or anything outside ASCII: those come from
// pasting (the quotes of a web page or a chat, a no-break space, a
// zero-width space) and end in a 401 at the first request. The messages
// here never show the key.

// quoteMarks are the quote marks a pasted key can bring along: ASCII,
// typographic (“ ” ‘ ’ „ ‚ ‹ › « »), primes and full-width ones.
const quoteMarks = "\"'`´‘’‚‛“”„‟‹›«»′″＂＇"

// keyProblem says what is wrong with the text of a key ("" when nothing):
// "has quote marks inside", "has spaces or control characters inside"...
func keyProblem(s string) string {
	switch {
	case strings.ContainsAny(s, quoteMarks):
		return "has quote marks inside (it was copied with its quotes; no key has any)"
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "has spaces or control characters inside"
	case strings.IndexFunc(s, func(r rune) bool { return r > unicode.MaxASCII }) >= 0:
		return "has a character that is not plain ASCII inside (often an invisible one, copied with the key)"
	}
	return ""
}

// accessTokenForm is an X access token: the id of the account it belongs
// to, a dash, the rest.
var accessTokenForm = regexp.MustCompile(`^[0-9]{1,20}-[A-Za-z0-9]+$`)

// checkAccessToken reports an access token that does not have X's form,
// when the keys are for X itself (a server at api_url may issue others).
// line is where it was written (0 for the environment), src where it came
// from, for the message.
func (d *decoder) checkAccessToken(t *Twitter, line int, src string) {
	v := t.AccessToken.Reveal()
	if t.APIURL != "" || v == "" || keyProblem(v) != "" || accessTokenForm.MatchString(v) {
		return
	}
	msg := "does not have the form of an X access token (the account's numeric id, a dash, then letters and digits)"
	if accessTokenForm.MatchString(t.AccessTokenSecret.Reveal()) {
		msg += "; the access token secret has it: the two look swapped"
	} else {
		msg += "; paste the access token here, not its secret or the consumer key"
	}
	d.addf(line, "twitter.access_token", "", "%s (from %s)", msg, src)
}

// Plausible lengths of a key, in characters (the access token: after its
// dash). X's are 25 to 50.
const (
	minKeyLen = 18
	maxKeyLen = 100
)

// keyWarnings are the keys that load but are unlikely to be right: too
// short or long to be whole, or one key written in two places.
func keyWarnings(t *Twitter) []string {
	var out []string
	seen := map[string]string{}
	for _, k := range keyNames {
		v := t.secret(k).Reveal()
		if v == "" {
			continue
		}
		if other, ok := seen[v]; ok {
			out = append(out, fmt.Sprintf("twitter.%s is the same as twitter.%s; each of the four keys is different: one of them was pasted twice", k, other))
			continue
		}
		seen[v] = k
		body := v
		if k == "access_token" {
			if _, rest, ok := strings.Cut(v, "-"); ok {
				body = rest
			}
		}
		src := t.KeySources[k]
		switch {
		case len(body) < minKeyLen:
			out = append(out, fmt.Sprintf("twitter.%s (%s) is only %d characters long; X's keys are 25 to 50: check that all of it was copied", k, src, len(v)))
		case len(body) > maxKeyLen:
			out = append(out, fmt.Sprintf("twitter.%s (%s) is %d characters long; X's keys are 25 to 50: check that only the key was copied", k, src, len(v)))
		}
	}
	return out
}
