package bot

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// stateSeeds are state files as tweetpi writes them, and as a crash, a full
// disk or a person's editor could leave them.
func stateSeeds(f *testing.F) {
	full := &State{
		Version: stateVersion, AccountID: "1500000000", AccountUsername: "mypi", KeyID: "1500000000",
		MentionsSince: "1900000000000000001", MentionsTaken: "1900000000000000002", MentionsStarted: true,
		SeenDMs: []string{"1800000000000000001", "1800000000000000005"}, DMsFloor: "1700000000000000000", DMsStarted: true,
		Handles: map[string]string{"alice": "1500000001"},
		Outbox: []Outgoing{
			{Inbox: InboxMentions, InReplyTo: "1900000000000000002", Text: "led is on (12:00:00)", Queued: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)},
			{Inbox: InboxDMs, To: "1500000001", Text: "door is open", Queued: time.Date(2025, 1, 1, 12, 0, 1, 0, time.UTC)},
		},
		Saved: time.Date(2025, 1, 1, 12, 0, 2, 0, time.UTC),
	}
	good, err := json.MarshalIndent(full, "", "  ")
	if err != nil {
		f.Fatal(err)
	}
	good = append(good, '\n')
	f.Add(good)
	f.Add(good[:len(good)/2]) // torn: a crash mid-write without the rename
	f.Add([]byte{})
	f.Add([]byte("\x00\x00\x00\x00")) // a file whose blocks never reached the disk
	f.Add([]byte(`{"version":1}`))    // a fresh start's state
	f.Add([]byte(`{"version":2}`))    // a newer tweetpi's
	f.Add([]byte(`{"version":1}{"version":1}`))
	f.Add([]byte(`{"version":1,"mentions_since":"12a"}`))
	f.Add([]byte(`{"version":1,"seen_dms":["1","01","001"],"dms_floor":"0"}`))
	f.Add([]byte(`{"version":1,"outbox":[{"inbox":"sms","text":"x"}]}`))
	f.Add([]byte(`{"version":1,"surprise":true}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"version":1,"saved":"2025-13-01T00:00:00Z"}`))
}

// FuzzLoadState feeds the state-file loader any bytes. It must never panic;
// what it accepts must survive a save and a load unchanged, with every DM
// it remembered still counted as seen; and what it refuses must come back
// from LoadState as ErrCorruptState (LoadState wraps every decodeState
// error; TestLoadStateRefuses checks that on files), so the daemon stops
// instead of guessing which commands already ran.
func FuzzLoadState(f *testing.F) {
	stateSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeState(data)
		if err != nil {
			if s != nil {
				t.Fatalf("decodeState returned a state and an error: %v", err)
			}
			return
		}
		seen := append([]string(nil), s.SeenDMs...)
		// What Save does, but for the fsyncs.
		s.trimDMs()
		for _, id := range seen {
			if !s.seenDM(id) {
				t.Fatalf("DM %s was seen before the state was trimmed and is not after: it would run again", id)
			}
		}
		enc, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			t.Fatalf("an accepted state does not encode: %v", err)
		}
		s2, err := decodeState(append(enc, '\n'))
		if err != nil {
			t.Fatalf("a state this code wrote does not load: %v\n%s", err, enc)
		}
		enc2, err := json.MarshalIndent(s2, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("the state changed on a save and load:\n%s\n---\n%s", enc, enc2)
		}
		for _, id := range seen {
			if !s2.seenDM(id) {
				t.Fatalf("DM %s is not seen after a save and load", id)
			}
		}
	})
}

// TestLoadStateRefuses is the loader's contract on the files a crash or a
// person could leave: each is ErrCorruptState with the path and the fix.
func TestLoadStateRefuses(t *testing.T) {
	for i, data := range []string{
		"", "\n", "\x00\x00\x00", `{"version":1,"mentions_since":"1`, `{"version":1}` + "\n}",
		`{"version":1,"surprise":1}`, `{"version":9}`, `{}`, `null`, `{"version":1,"seen_dms":["abc"]}`,
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, StateFile)
			if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadState(dir)
			if !errors.Is(err, ErrCorruptState) {
				t.Fatalf("LoadState(%q) = %v, want ErrCorruptState", data, err)
			}
			for _, want := range []string{path, "mv " + path} {
				if !bytes.Contains([]byte(err.Error()), []byte(want)) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestSaveLeavesNoTempFile: a finished save leaves only state.json, and a
// temp file left by a crash mid-write does not stop the next load.
func TestSaveLeavesNoTempFile(t *testing.T) {
	dir := t.TempDir()
	// What a SIGKILL between CreateTemp and rename leaves: an empty temp
	// file, and one cut short.
	for name, data := range map[string]string{".state.json.tmp-111": "", ".state.json.tmp-222": `{"version":1,"ment`} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := LoadState(dir)
	if err != nil {
		t.Fatalf("LoadState with stray temp files: %v", err)
	}
	s.MentionsSince, s.MentionsStarted = "42", true
	if err := s.Save(dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.MentionsSince != "42" {
		t.Fatalf("mentions_since = %q after a save, want 42", got.MentionsSince)
	}
	fi, err := os.Stat(filepath.Join(dir, StateFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state.json mode %#o, want 0600", fi.Mode().Perm())
	}
}
