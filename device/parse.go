package device

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tweetpi/tweetpi/config"
)

// Verbs of the command language.
const (
	VerbHelp   = config.WordHelp   // the verbs and the device names
	VerbStatus = config.WordStatus // every device, uptime, temperature
	VerbState  = "state"           // one device's state ("led" or "led status")
	VerbOn     = config.WordOn
	VerbOff    = config.WordOff
	VerbToggle = config.WordToggle
	VerbPulse  = config.WordPulse // on, then off after Action.Duration
	VerbBlink  = config.WordBlink // Action.Count times, one every Action.Duration
	VerbDuty   = "duty"           // pwm at Action.Percent ("fan 40%")

	VerbAllOff    = config.WordAll + " " + config.WordOff // every output and pwm off
	VerbYes       = config.WordYes                        // confirms the command waiting for this person's yes
	VerbSchedules = config.WordSchedules                  // the schedules and their next run
)

// alone are the command words that stand for a whole command.
var alone = []string{VerbHelp, VerbStatus, VerbSchedules, VerbYes}

// Limits of the command language.
const (
	MaxCommands    = 10                    // commands in one text
	MinPulse       = 10 * time.Millisecond // shortest pulse
	MaxPulse       = 24 * time.Hour        // longest pulse when the device has no max_on
	MaxBlinks      = 100                   // most blinks in one command
	MinBlinkPeriod = 50 * time.Millisecond // shortest blink period (on plus off)
	MaxBlinkPeriod = time.Minute           // longest blink period
	DefaultBlink   = time.Second           // blink period when none is given
	MaxReply       = 200                   // longest reply, by config.Weight (X's count), leaving room in a post
	maxEcho        = 20                    // longest user word echoed in a reply
)

// Action is one checked command.
type Action struct {
	Device   string        // the device's name (not the alias used); "" for help and status
	Verb     string        // one of the Verb constants
	Duration time.Duration // pulse length, or blink period
	Count    int           // blinks
	Percent  int           // pwm duty, 0..100
}

// String is the action as a command: "pump pulse 30s".
func (a Action) String() string {
	switch a.Verb {
	case VerbHelp, VerbStatus, VerbAllOff, VerbYes, VerbSchedules:
		return a.Verb
	case VerbState:
		return a.Device
	case VerbPulse:
		return fmt.Sprintf("%s pulse %s", a.Device, fmtDuration(a.Duration))
	case VerbBlink:
		return fmt.Sprintf("%s blink %d %s", a.Device, a.Count, fmtDuration(a.Duration))
	case VerbDuty:
		return fmt.Sprintf("%s %d%%", a.Device, a.Percent)
	}
	return a.Device + " " + a.Verb
}

// verbsFor are the verbs each kind takes after its name, for checks and
// suggestions.
var verbsFor = map[string][]string{
	config.KindOutput: {VerbOn, VerbOff, VerbToggle, VerbPulse, VerbBlink, VerbStatus},
	config.KindPWM:    {VerbOn, VerbOff, VerbToggle, VerbStatus},
	config.KindInput:  {VerbStatus},

	config.KindDS18B20: {VerbStatus},
	config.KindBME280:  {VerbStatus},
	config.KindAHT20:   {VerbStatus},

	// A device of another node whose node has not said what it is: any
	// verb some kind takes; the node checks it.
	kindUnknown: {VerbOn, VerbOff, VerbToggle, VerbPulse, VerbBlink, VerbStatus},
}

// kindUnknown is the kind of a device of another node before its node
// announced it.
const kindUnknown = ""

var allVerbs = []string{VerbOn, VerbOff, VerbToggle, VerbPulse, VerbBlink, VerbStatus}

// Parse turns the text of a post into a checked list of actions, without
// touching a pin and without knowing who sent it (Board.Run checks the
// per-device allow lists). Leading and trailing @handles, http(s) links,
// a leading # and trailing . ! ? are dropped; case does not matter; commands are split at
// ";", "," and new lines. Either every command is good, or Parse returns
// an error whose text is the reply: what was wrong and, where it can, the
// nearest device or verb. The reply never repeats more of the text than
// one short plain word.
//
// Full-width ASCII letters (as typed by CJK keyboards) are folded to ASCII
// and any Unicode space counts as a space; any other non-ASCII character,
// zero-width ones included, makes the text rejected, so nothing that only
// looks like a command can run.
func Parse(text string, specs []config.Device) ([]Action, error) {
	norm, err := normalize(text)
	if err != nil {
		return nil, err
	}
	parts := splitCommands(norm)
	if len(parts) == 0 {
		return nil, errors.New(`no command; say "help" for the commands`)
	}
	if len(parts) > MaxCommands {
		return nil, fmt.Errorf("too many commands (%d); at most %d in one post", len(parts), MaxCommands)
	}
	idx := newIndex(specs)
	acts := make([]Action, 0, len(parts))
	for i, words := range parts {
		a, err := parseOne(words, idx)
		if err != nil {
			if len(parts) > 1 {
				return nil, fmt.Errorf("nothing run: command %d: %v", i+1, err)
			}
			return nil, err
		}
		acts = append(acts, a)
	}
	if len(acts) > 1 {
		for _, a := range acts {
			if a.Verb == VerbYes {
				return nil, errors.New("nothing run: say yes alone, in a post or DM of its own")
			}
		}
	}
	return acts, nil
}

// normalize folds case and full-width forms, and rejects other non-ASCII.
func normalize(text string) (string, error) {
	var b strings.Builder
	b.Grow(len(text))
	for _, r := range text {
		switch {
		case r == '\n' || r == '\r':
			b.WriteByte('\n')
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		case r >= 0xFF01 && r <= 0xFF5E: // full-width forms of ! .. ~
			b.WriteRune(unicode.ToLower(r - 0xFF01 + '!'))
		case r > unicode.MaxASCII || unicode.IsControl(r):
			return "", errors.New("not understood: use plain letters and digits (no emoji or special characters)")
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String(), nil
}

// splitCommands splits at ; , and new lines into the words of each
// command, dropping links, leading and trailing @handles, a leading # and
// empty commands.
func splitCommands(s string) [][]string {
	var out [][]string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == '\n' }) {
		var words []string
		for _, w := range strings.Fields(part) {
			if strings.HasPrefix(w, "http://") || strings.HasPrefix(w, "https://") {
				continue
			}
			words = append(words, w)
		}
		for len(words) > 0 && strings.HasPrefix(words[0], "@") {
			words = words[1:]
		}
		for len(words) > 0 && strings.HasPrefix(words[len(words)-1], "@") {
			words = words[:len(words)-1]
		}
		if len(words) > 0 {
			words[0] = strings.TrimLeft(words[0], "#")
			if words[0] == "" {
				words = words[1:]
			}
		}
		if n := len(words); n > 0 {
			// "led on." "led?" "pump off!"
			words[n-1] = strings.TrimRight(words[n-1], ".!?")
			if words[n-1] == "" {
				words = words[:n-1]
			}
		}
		if len(words) > 0 {
			out = append(out, words)
		}
	}
	return out
}

type index struct {
	byName map[string]*config.Device // names and aliases
	names  []string                  // names and aliases, in config order
}

func newIndex(specs []config.Device) *index {
	idx := &index{byName: map[string]*config.Device{}}
	for i := range specs {
		d := &specs[i]
		for _, n := range append([]string{d.Name}, d.Aliases...) {
			n = strings.ToLower(n)
			if n == "" || isCommandWord(n) {
				continue
			}
			if _, dup := idx.byName[n]; dup {
				continue
			}
			idx.byName[n] = d
			idx.names = append(idx.names, n)
		}
	}
	return idx
}

func parseOne(w []string, idx *index) (Action, error) {
	first := w[0]
	if contains(alone, first) {
		if len(w) > 1 {
			return Action{}, fmt.Errorf("%s takes nothing after it", first)
		}
		return Action{Verb: first}, nil
	}
	if first == config.WordAll {
		if len(w) == 2 && w[1] == VerbOff {
			return Action{Verb: VerbAllOff}, nil
		}
		return Action{}, errors.New("all goes with off only: say all off")
	}
	d, ok := idx.byName[first]
	if !ok {
		return Action{}, unknownDevice(w, idx)
	}
	a := Action{Device: d.Name, Verb: VerbState}
	if len(w) == 1 {
		return a, nil
	}
	verb, args := w[1], w[2:]
	kind := d.Kind
	if pct, ok := strings.CutSuffix(verb, "%"); ok || isDigits(verb) || isDecimal(verb) {
		if kind != config.KindPWM && kind != kindUnknown {
			return Action{}, fmt.Errorf("%s %s: %s is %s, not pwm; say %s", d.Name, echo(verb), d.Name, kindWord(kind), verbList(kind))
		}
		if !ok {
			return Action{}, fmt.Errorf("%s %s: pwm takes a percent; say %s %s", d.Name, echo(verb), d.Name, asPercent(verb))
		}
		n, err := percent(pct)
		if err != nil {
			return Action{}, fmt.Errorf("%s %s: %v", d.Name, echo(verb), err)
		}
		a.Verb, a.Percent = VerbDuty, n
		return a, noMore(a, args)
	}
	if !contains(allVerbs, verb) {
		msg := fmt.Sprintf("%s: no verb %s", d.Name, echo(verb))
		if s := config.Nearest(verb, verbsFor[kind]); s != "" {
			return Action{}, fmt.Errorf("%s; did you mean %s %s?", msg, d.Name, s)
		}
		return Action{}, fmt.Errorf("%s; say %s", msg, verbList(kind))
	}
	if !contains(verbsFor[kind], verb) {
		return Action{}, fmt.Errorf("%s is %s: no %s; say %s", d.Name, kindWord(kind), echo(verb), verbList(kind))
	}
	switch verb {
	case VerbStatus:
		return a, noMore(a, args)
	case VerbOn, VerbOff, VerbToggle:
		a.Verb = verb
		return a, noMore(a, args)
	case VerbPulse:
		a.Verb = verb
		if len(args) == 0 {
			return Action{}, fmt.Errorf("%s pulse: how long? say %s pulse 30s", d.Name, d.Name)
		}
		dur, err := duration(args[0])
		if err != nil {
			return Action{}, fmt.Errorf("%s pulse %s: %v; say %s pulse 30s, 1m30s or 500ms", d.Name, echo(args[0]), err, d.Name)
		}
		limit, what := MaxPulse, "the longest pulse"
		if d.MaxOn > 0 {
			limit, what = d.MaxOn, d.Name+"'s max_on"
		}
		if dur < MinPulse || dur > limit {
			return Action{}, fmt.Errorf("%s pulse %s refused: it must be %s to %s (%s)", d.Name, fmtDuration(dur), fmtDuration(MinPulse), fmtDuration(limit), what)
		}
		a.Duration = dur
		return a, noMore(a, args[1:])
	case VerbBlink:
		a.Verb, a.Duration = verb, DefaultBlink
		if len(args) == 0 {
			return Action{}, fmt.Errorf("%s blink: how many times? say %s blink 3", d.Name, d.Name)
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || !isDigits(args[0]) || n < 1 || n > MaxBlinks {
			return Action{}, fmt.Errorf("%s blink %s: say a count from 1 to %d, like %s blink 3", d.Name, echo(args[0]), MaxBlinks, d.Name)
		}
		a.Count = n
		if len(args) > 1 {
			p, err := duration(args[1])
			if err != nil {
				return Action{}, fmt.Errorf("%s blink %d %s: %v; say a period like %s blink %d 500ms", d.Name, n, echo(args[1]), err, d.Name, n)
			}
			if p < MinBlinkPeriod || p > MaxBlinkPeriod {
				return Action{}, fmt.Errorf("%s blink period %s refused: it must be %s to %s", d.Name, fmtDuration(p), fmtDuration(MinBlinkPeriod), fmtDuration(MaxBlinkPeriod))
			}
			a.Duration = p
		}
		if d.MaxOn > 0 && a.Duration/2 > d.MaxOn {
			return Action{}, fmt.Errorf("%s blink period %s refused: on for half of it is longer than %s's max_on %s", d.Name, fmtDuration(a.Duration), d.Name, fmtDuration(d.MaxOn))
		}
		return a, noMore(a, args[min(len(args), 2):])
	}
	return Action{}, fmt.Errorf("%s: no verb %s", d.Name, echo(verb))
}

func unknownDevice(w []string, idx *index) error {
	first := w[0]
	// "on led": the verb first.
	if len(w) == 2 && contains(allVerbs, first) {
		if d, ok := idx.byName[w[1]]; ok {
			return fmt.Errorf("the device comes first: say %s %s", d.Name, first)
		}
	}
	cands := append([]string{VerbHelp, VerbStatus, VerbSchedules}, idx.names...)
	if s := config.Nearest(first, cands); s != "" {
		return fmt.Errorf("no device %s; did you mean %s?", echo(first), s)
	}
	if len(idx.names) == 0 {
		return fmt.Errorf("no device %s; none are set up", echo(first))
	}
	return fmt.Errorf("no device %s; say help", echo(first))
}

// noMore refuses words after a whole command, naming the first of them.
func noMore(a Action, rest []string) error {
	switch len(rest) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%s: %s is one word too many; say %s", a, echo(rest[0]), a)
	}
	return fmt.Errorf("%s: %s and the words after it are too many; say %s", a, echo(rest[0]), a)
}

func percent(s string) (int, error) {
	if isDecimal(s) {
		return 0, errors.New("pwm takes whole percents, 0% to 100%")
	}
	n, err := strconv.Atoi(s)
	if err != nil || !isDigits(s) || len(s) > 3 || n > 100 {
		return 0, errors.New("pwm takes 0% to 100%")
	}
	return n, nil
}

// asPercent is a number written without % as the duty it likely means: a
// fraction (0.5) as 50%, a whole number (40) as 40%.
func asPercent(s string) string {
	v, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil || v < 0 || v > 100:
		return "40%"
	case isDecimal(s) && v <= 1:
		return strconv.Itoa(int(v*100+0.5)) + "%"
	}
	return strconv.Itoa(int(v+0.5)) + "%"
}

func duration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		return 0, errors.New("not a duration")
	}
	return d, nil
}

// isDecimal reports a number with a decimal point: 0.5, 12.5.
func isDecimal(s string) bool {
	i, f, ok := strings.Cut(s, ".")
	return ok && isDigits(i) && isDigits(f)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isCommandWord reports whether a name is a word of the command language
// (config.ReservedWords), which no device may be called.
func isCommandWord(n string) bool { return contains(config.ReservedWords, n) }

func kindWord(kind string) string {
	switch kind {
	case config.KindInput:
		return "an input"
	case config.KindDS18B20, config.KindBME280, config.KindAHT20:
		return "a sensor"
	case config.KindPWM:
		return "pwm"
	}
	return "an output"
}

func verbList(kind string) string {
	switch kind {
	case config.KindInput, config.KindDS18B20, config.KindBME280, config.KindAHT20:
		return "just its name"
	case config.KindPWM:
		return "on, off, toggle or 0-100%"
	}
	return "on, off, toggle, pulse 30s or blink 3"
}

// echo quotes a word of the user's for a reply only when it is short and
// plain (letters, digits, - _ %), so a reply can't be made to carry a
// link, a mention or someone else's text.
func echo(s string) string {
	if s == "" || len(s) > maxEcho {
		return "that word"
	}
	if n, ok := strings.CutSuffix(s, "%"); isDecimal(s) || ok && isDecimal(n) {
		return `"` + s + `"` // a number like 0.5: a dot between digits makes no link
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '%') {
			return "that word"
		}
	}
	return `"` + s + `"`
}

// fmtDuration is config.FormatDuration, the one duration format.
func fmtDuration(d time.Duration) string { return config.FormatDuration(d) }
