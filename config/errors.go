package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in a configuration file. It never holds a secret:
// Value is empty for the four keys.
type Error struct {
	File  string
	Line  int    // 0 when not tied to a line
	Key   string // dotted: devices.pump.max_on; "" for the file as a whole
	Value string // the bad value as written ("" for a missing key); never a secret
	Msg   string // what is wrong and how to fix it
}

// Error renders the problem as FILE:LINE: KEY: MSG, leaving out the parts
// that are not known, e.g.
//
//	config.yaml:14: devices.pump.max_on: "5 minutes" is not a duration; write it like 5m or 90s
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, in the order of the file.
// Load and Parse return it (as a value) when the file is not usable; the
// command line maps it to exit status 78.
type Errors []*Error

// Error renders one problem a line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sortErrors orders problems by line, keeping the order they were found in
// on the same line; problems of the file as a whole come first.
func sortErrors(es Errors) {
	slices.SortStableFunc(es, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
}

// quote renders a value as written, for messages.
func quote(s string) string { return strconv.Quote(s) }

// Nearest returns the candidate closest to s by EditDistance (case does not
// count), or "" when none is close enough to be a typo: at most one edit
// from a word of up to 3 letters, two from one of 4 to 9, three from a
// longer one, and fewer edits than the candidate has letters. It is the one
// "did you mean" of config keys and of device commands.
func Nearest(s string, candidates []string) string {
	if len(s) < 2 || len(s) > 64 {
		return ""
	}
	ls := strings.ToLower(s)
	best, bestD := "", 0
	for _, c := range candidates {
		d := EditDistance(ls, strings.ToLower(c))
		limit := 1
		if len(c) >= 4 {
			limit = 2
		}
		if len(c) >= 10 {
			limit = 3
		}
		if d > limit || d >= len(c) {
			continue
		}
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b, in bytes, where
// swapping two neighbours counts as one edit (optimal string alignment). The
// "did you mean" of config keys and of device commands both rest on it.
func EditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 1 << 20
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// orList renders "a, b or c".
func orList(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
