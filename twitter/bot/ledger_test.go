package bot

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// TestLedgerTake: an id is fresh once, and the record is in the file
// before Take says so: a ledger opened after a crash (no Close) knows it.
func TestLedgerTake(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenLedger(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, false} {
		fresh, err := l.Take("mqtt", "corr-1")
		if err != nil || fresh != want {
			t.Fatalf("take %d: %t, %v; want %t", i, fresh, err, want)
		}
	}
	if fresh, err := l.Take("other", "corr-1"); err != nil || !fresh {
		t.Errorf("the same id in another namespace: %t, %v; want fresh", fresh, err)
	}
	st, err := LoadState(dir) // what a restart would read, the lock still held
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Taken["mqtt"], []string{"corr-1"}) {
		t.Errorf("the file holds %v, want corr-1 under mqtt", st.Taken)
	}
	l.Close()
	l, err = OpenLedger(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if fresh, err := l.Take("mqtt", "corr-1"); err != nil || fresh {
		t.Errorf("after a restart: %t, %v; want taken", fresh, err)
	}
	for _, ns := range []string{"", InboxMentions, InboxDMs} {
		if _, err := l.Take(ns, "1"); err == nil {
			t.Errorf("Take(%q) took an id; the inboxes are the bot's", ns)
		}
	}
	if _, err := l.Take("mqtt", ""); err == nil {
		t.Error("Take of an empty id: nil error")
	}
}

// TestLedgerTakeWriteFails: when the state cannot be written the id is not
// taken (the command must not run) and a later Take, once the write works,
// takes it.
func TestLedgerTakeWriteFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	l, err := OpenLedger(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if fresh, err := l.Take("mqtt", "a"); err == nil || fresh {
		t.Fatalf("Take with no state directory: %t, %v; want an error", fresh, err)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	if fresh, err := l.Take("mqtt", "a"); err != nil || !fresh {
		t.Errorf("Take once the write works: %t, %v; want fresh", fresh, err)
	}
}

// TestLedgerBound: each namespace remembers its newest MaxTaken ids.
func TestLedgerBound(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenLedger(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// What many Takes record, without a write each; the last writes.
	for i := range MaxTaken + 9 {
		l.st.mark("mqtt", fmt.Sprintf("id-%d", i))
	}
	if fresh, err := l.Take("mqtt", fmt.Sprintf("id-%d", MaxTaken+9)); err != nil || !fresh {
		t.Fatalf("take: %t, %v", fresh, err)
	}
	st, err := LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Taken["mqtt"]); n != MaxTaken {
		t.Errorf("the file holds %d ids, want %d", n, MaxTaken)
	}
	if fresh, _ := l.Take("mqtt", fmt.Sprintf("id-%d", MaxTaken+8)); fresh {
		t.Error("a recent id is fresh again")
	}
	if fresh, _ := l.Take("mqtt", "id-0"); !fresh {
		t.Error("the oldest id, beyond the bound, is still remembered")
	}
}

// TestLockSurvivesDeletedLockFile (issue 18, item 9): deleting
// state_dir/.lock does not let a second tweetpi in; neither does anything
// else while the first holds the directory.
func TestLockSurvivesDeletedLockFile(t *testing.T) {
	dir := t.TempDir()
	a, err := OpenLedger(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLedger(dir, nil); err == nil || !strings.Contains(err.Error(), "in use by another tweetpi (pid ") {
		t.Fatalf("a second ledger on the same directory: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, lockFile)); err != nil {
		t.Fatal(err)
	}
	b, err := OpenLedger(dir, nil)
	if err == nil {
		b.Close()
		t.Fatal("a second ledger opened once .lock was deleted: two daemons would run the same commands")
	}
	if !strings.Contains(err.Error(), "stop the other one first") {
		t.Errorf("the refusal does not say what to do: %v", err)
	}
	a.Close()
	b, err = OpenLedger(dir, nil)
	if err != nil {
		t.Fatalf("once the first let go: %v", err)
	}
	b.Close()
}

// TestLedgerBesideTheBot: another user of the ledger (MQTT commands) takes
// ids while the bot runs. Its writes take along a reply the bot queued
// without a write of its own (a notification waiting for the DM limit), so
// once that reply is sent the bot must write the file again: a restart
// sends nothing twice.
func TestLedgerBesideTheBot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		c.setLimit(twitter.EndpointSendDM, 1, time.Hour)
		dir := t.TempDir()
		l, err := OpenLedger(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		notify := make(chan string)
		stop := startBot(t, c, &recorder{}, dir, Options{Ledger: l, PollInterval: time.Second, Notify: notify})
		time.Sleep(2 * time.Second)
		notify <- "door: open"
		notify <- "door: closed" // waits for the DM limit, in memory only
		time.Sleep(time.Second)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				if fresh, err := l.Take("mqtt", fmt.Sprint("c", i)); err != nil || !fresh {
					t.Errorf("take c%d: %t, %v", i, fresh, err)
				}
			})
		}
		wg.Wait()
		if st, err := LoadState(dir); err != nil || len(st.Outbox) != 1 {
			t.Fatalf("state %+v, %v: want the waiting reply in the file", st, err)
		}
		time.Sleep(time.Hour + time.Minute) // the limit resets (plus the pacing margin): the reply goes out
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if len(c.sentDMs) != 2 {
			t.Errorf("DMs %q, want two", c.sentDMs)
		}
		st, err := LoadState(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Outbox) != 0 {
			t.Errorf("the file still holds %d sent replies: a restart would send them again", len(st.Outbox))
		}
		if len(st.Taken["mqtt"]) != 20 {
			t.Errorf("the file holds %d MQTT ids, want 20", len(st.Taken["mqtt"]))
		}
	})
}
