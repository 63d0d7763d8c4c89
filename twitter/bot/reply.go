package bot

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tweetpi/tweetpi/config"
)

// MaxPostWeight is the most a post may weigh: 280, where most Latin
// characters weigh 1 and others (CJK, emoji) weigh 2.
const MaxPostWeight = 280

// replyText makes a reply the API will take: no links (they cost far more
// and a device has no reason to send one), at most MaxPostWeight, and unlike
// the latest replies (the API refuses duplicate text): a UTC time stamp ends
// each one, and a counter when the same text went out within the second.
func (b *Bot) replyText(text string) string { return b.stamped(text, "") }

// freshReplyText is replyText with a random tag in the stamp: for a reply
// the API refused as a duplicate of what an earlier run (killed and
// restarted within the second) sent elsewhere. That run's counters are
// gone with it, so only chance keeps the new text apart from its texts.
func (b *Bot) freshReplyText(text string) string {
	const letters = "abcdefghijkmnpqrstuvwxyz23456789"
	tag := make([]byte, 3)
	for i := range tag {
		tag[i] = letters[rand.N(len(letters))]
	}
	return b.stamped(text, string(tag))
}

func (b *Bot) stamped(text, tag string) string {
	label := time.Now().UTC().Format("15:04:05")
	if tag != "" {
		label += " " + tag
	}
	// 3 spare for a counter: " #2".
	base := config.Truncate(stripLinks(text), MaxPostWeight-config.Weight(" ("+label+")")-3)
	out := base + " (" + label + ")"
	for n := 2; slices.Contains(b.recent, out); n++ {
		out = base + " (" + label + " #" + strconv.Itoa(n) + ")"
	}
	b.recent = append(b.recent, out)
	if len(b.recent) > 64 {
		b.recent = b.recent[len(b.recent)-64:]
	}
	return out
}

// stripLinks removes every word that looks like a link.
func stripLinks(s string) string {
	fields := strings.Fields(s)
	out := fields[:0]
	for _, f := range fields {
		l := strings.ToLower(f)
		if strings.Contains(l, "://") || strings.HasPrefix(l, "www.") || looksLikeDomain(l) {
			continue
		}
		out = append(out, f)
	}
	return strings.Join(out, " ")
}

// looksLikeDomain catches "example.com" and "example.com/x", which X turns
// into links, but not "21.5°C", "1.5s" or a sentence's end.
func looksLikeDomain(w string) bool {
	w = strings.TrimRight(w, ".,;:!?)")
	i := strings.LastIndexByte(strings.SplitN(w, "/", 2)[0], '.')
	if i <= 0 {
		return false
	}
	host := strings.SplitN(w, "/", 2)[0]
	tld := host[i+1:]
	if len(tld) < 2 || len(tld) > 6 {
		return false
	}
	for _, r := range tld {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return unicode.IsLetter(rune(host[0])) || unicode.IsDigit(rune(host[0]))
}
