package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// What two configurations differ in, key by key: a reload applies what it
// can of it and says what it did. Line numbers and where a value came from
// (KeySources, PasswordSource) are not values: moving a key, adding a
// comment or taking a secret from a file instead of the file itself
// changes nothing.

// Change is one key whose value differs between two configurations.
type Change struct {
	// Key is the key's path as the file writes it: "twitter.poll_interval",
	// "mqtt.broker", "interlocks"; a section that appears or goes is its
	// name alone ("mqtt").
	Key string
	// Old and New are the values as short text ("60s", "[mentions, dms]",
	// "true"); "" for a secret, a section and a value too long to show.
	Old, New string
	// Secret: the key holds a secret; its values are never shown.
	Secret bool
}

// String is "twitter.poll_interval 60s -> 30s", or "twitter.consumer_key
// changed" where the values are not shown.
func (c Change) String() string {
	if c.Old == "" && c.New == "" {
		return c.Key + " changed"
	}
	return c.Key + " " + orNone(c.Old) + " -> " + orNone(c.New)
}

func orNone(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// maxShown is the longest value a Change shows.
const maxShown = 60

// notValues are the fields that say where something came from or where it
// was written, by their path.
var notValues = map[string]bool{
	"twitter.key_sources":  true,
	"mqtt.password_source": true,
}

// Diff lists the keys whose values differ between old and new, in the
// order of the Config type, devices left out: DiffDevices compares those.
// Keys added to Config later are compared too, by their json names.
func Diff(old, new *Config) []Change {
	var out []Change
	diffStruct(&out, "", reflect.ValueOf(*old), reflect.ValueOf(*new))
	return out
}

func diffStruct(out *[]Change, prefix string, a, b reflect.Value) {
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := keyName(f)
		if name == "" {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		if notValues[key] || key == "devices" {
			continue
		}
		diffValue(out, key, a.Field(i), b.Field(i))
	}
}

func diffValue(out *[]Change, key string, a, b reflect.Value) {
	switch {
	case a.Kind() == reflect.Pointer && a.Type().Elem().Kind() == reflect.Struct:
		switch {
		case a.IsNil() && b.IsNil():
		case a.IsNil() || b.IsNil():
			*out = append(*out, Change{Key: key})
		default:
			diffStruct(out, key, a.Elem(), b.Elem())
		}
	case a.Kind() == reflect.Struct && a.Type() != reflect.TypeFor[time.Time]():
		diffStruct(out, key, a, b)
	case !equalValues(a, b):
		c := Change{Key: key, Secret: a.Type() == reflect.TypeFor[Secret]()}
		if !c.Secret {
			c.Old, c.New = shown(a), shown(b)
		}
		*out = append(*out, c)
	}
}

// keyName is a field's key in the file: its json name; "" for a field the
// file does not hold.
func keyName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return strings.ToLower(f.Name)
	case "frequency_hz":
		return "frequency" // the file writes 25kHz
	}
	return name
}

// equalValues compares two values of one type, leaving out the fields the
// file does not hold (line numbers): two schedules written on other lines
// are the same schedule. A nil list is the same as an empty one.
func equalValues(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Struct:
		t := a.Type()
		for i := range t.NumField() {
			if keyName(t.Field(i)) == "" {
				continue
			}
			if !equalValues(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalValues(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() || !equalValues(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValues(a.Elem(), b.Elem())
	}
	return a.Equal(b)
}

// shown is a value as short text, or "" when it is too long to show.
func shown(v reflect.Value) string {
	s := text(v)
	if len(s) > maxShown {
		return ""
	}
	return s
}

func text(v reflect.Value) string {
	if d, ok := v.Interface().(time.Duration); ok {
		return FormatDuration(d)
	}
	switch v.Kind() {
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range v.Len() {
			parts[i] = text(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Struct:
		t := v.Type()
		var parts []string
		for i := range t.NumField() {
			f := v.Field(i)
			if name := keyName(t.Field(i)); name != "" && !f.IsZero() {
				parts = append(parts, name+": "+text(f))
			}
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.String:
		if v.String() == "" {
			return `""`
		}
	}
	return fmt.Sprint(v.Interface())
}

// DeviceChange is a device that was added, removed or changed.
type DeviceChange struct {
	Name string
	// Keys are the keys that differ ("pin", "max_on"), in the order of the
	// Device type; nil when the device was added or removed.
	Keys           []string
	Added, Removed bool
}

// String is "pump changed (pin, max_on)", "fan added" or "door removed".
func (c DeviceChange) String() string {
	switch {
	case c.Added:
		return c.Name + " added"
	case c.Removed:
		return c.Name + " removed"
	}
	return c.Name + " changed (" + strings.Join(c.Keys, ", ") + ")"
}

// DiffDevices lists the devices added to or changed in new, in new's
// order, then those removed from old, in old's. A device is the same
// device when its name is.
func DiffDevices(old, new []Device) []DeviceChange {
	var out []DeviceChange
	for _, n := range new {
		i := slices.IndexFunc(old, func(o Device) bool { return o.Name == n.Name })
		if i < 0 {
			out = append(out, DeviceChange{Name: n.Name, Added: true})
			continue
		}
		if keys := DeviceKeys(old[i], n); len(keys) > 0 {
			out = append(out, DeviceChange{Name: n.Name, Keys: keys})
		}
	}
	for _, o := range old {
		if !slices.ContainsFunc(new, func(n Device) bool { return n.Name == o.Name }) {
			out = append(out, DeviceChange{Name: o.Name, Removed: true})
		}
	}
	return out
}

// DeviceKeys are the keys whose values differ between two devices, line
// numbers left out; nil when they are the same.
func DeviceKeys(a, b Device) []string {
	var keys []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	t := va.Type()
	for i := range t.NumField() {
		name := keyName(t.Field(i))
		if name == "" || name == "name" {
			continue
		}
		if !equalValues(va.Field(i), vb.Field(i)) {
			keys = append(keys, name)
		}
	}
	return keys
}
