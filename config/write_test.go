package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, data := range []string{"one\n", "two\n"} {
		if err := WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Fatalf("read %q, %v; want %q", got, err, data)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
}

// TestWriteFileErrors: a write that cannot happen says so and leaves the
// old file and no temp file.
func TestWriteFileErrors(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); err == nil {
		t.Error("a write into a missing directory: nil error")
	}
	// A directory where the file should be: the rename fails.
	path := filepath.Join(dir, "taken")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "keep"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("x"), 0o600); err == nil {
		t.Error("a rename over a directory: nil error")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".taken.tmp*")); len(left) > 0 {
		t.Errorf("a failed write left %v", left)
	}
}

func TestRemoveTemp(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{".state.json.tmp-1", ".state.json.tmp-22", ".state.json.tmp333", "state.json", ".devices.json.tmp-1"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveTemp(filepath.Join(dir, "state.json"))
	if err != nil || len(removed) != 3 {
		t.Errorf("removed %v, %v; want the three temp files of state.json", removed, err)
	}
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{".devices.json.tmp-1", "state.json"}; !slices.Equal(names, want) {
		t.Errorf("left %v, want %v", names, want)
	}
}
