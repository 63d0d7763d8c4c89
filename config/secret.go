package config

import (
	"fmt"
	"log/slog"
)

// Secret is a key or token. Every way of printing it (fmt verbs, JSON, YAML,
// text, slog) shows "[redacted]" or, when empty, "[unset]"; only Reveal gives
// the value, and only the code that signs requests calls it.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret itself. Call it only to hand the value to a signer.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) mask() string {
	if s == "" {
		return "[unset]"
	}
	return redacted
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.mask() }

// GoString implements fmt.GoStringer, for %#v.
func (s Secret) GoString() string { return s.mask() }

// Format implements fmt.Formatter so that no verb (%s, %v, %q, %x, %d...) can
// print the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.mask())
		return
	}
	fmt.Fprint(f, s.mask())
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.mask()) }

// MarshalText implements encoding.TextMarshaler (JSON, YAML and friends).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }
