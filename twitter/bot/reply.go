package bot

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
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
// each one, and a counter when the same text went out within the second
// (however many did).
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
	b.stamps.Lock()
	defer b.stamps.Unlock()
	label := time.Now().UTC().Format("15:04:05")
	if label != b.stamps.label {
		// A new second: every stamp of the last one is behind, so its
		// counts can go (the map holds one second's replies at most).
		b.stamps.label, b.stamps.n = label, map[string]int{}
	}
	if tag != "" {
		label += " " + tag
	}
	// Room for a counter: " #" and up to 5 digits.
	base := config.Truncate(stripLinks(text), MaxPostWeight-config.Weight(" ("+label+")")-7)
	key := base + "\x00" + tag
	b.stamps.n[key]++
	if n := b.stamps.n[key]; n > 1 {
		return base + " (" + label + " #" + strconv.Itoa(n) + ")"
	}
	return base + " (" + label + ")"
}

// stamps are the counts of each reply text within the current second,
// which keep the texts unique however many go out in it.
type stamps struct {
	sync.Mutex
	label string         // the second, as the stamp writes it
	n     map[string]int // base text and tag -> replies stamped so far
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
