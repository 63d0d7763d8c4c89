package bot

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Ledger is a state directory in use: its lock, which keeps a second
// tweetpi away (two would run the same commands), and its state.json, in
// which every command's id is recorded before the command runs. The bot is
// given one, or opens its own; a fleet agent, which runs no bot, opens one
// for the ids of the commands MQTT brings. Its methods are safe for
// concurrent use.
type Ledger struct {
	dir  string
	log  *slog.Logger
	lock *dirLock

	mu sync.Mutex // guards st, dirty, seq, and every write of the file
	st *State
	// dirty: st holds changes the file does not (items taken without a
	// write of their own, replies sent that the file still holds); the
	// next write takes them along, whoever makes it.
	dirty bool
	seq   uint64 // the last outbox entry's seq
	// failed counts the writes that failed (a full or read-only card).
	failed atomic.Uint64
	// meter, when set, is the bot's spend estimate: every write keeps it.
	meter *Meter
}

// OpenLedger checks the state directory (creating it, mode 0700, when it
// does not exist), takes its lock, loads state.json (a missing file is a
// fresh start; a corrupt one, ErrCorruptState) and removes the temp files
// of writes a crash cut short. log may be nil. Close it to let another
// tweetpi use the directory.
func OpenLedger(dir string, log *slog.Logger) (*Ledger, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := CheckStateDir(dir); err != nil {
		return nil, err
	}
	lock, err := lockStateDir(dir)
	if err != nil {
		return nil, err
	}
	st, err := LoadState(dir)
	if err != nil {
		lock.Close()
		return nil, err
	}
	for _, c := range st.bound() {
		log.Warn("state file: a bound applied on load", "dir", dir, "change", c)
	}
	removeTempFiles(dir, log)
	l := &Ledger{dir: dir, log: log, lock: lock, st: st}
	for i := range st.Outbox {
		o := &st.Outbox[i]
		l.seq++
		o.seq, o.keep, o.saved, o.ready = l.seq, true, true, true
	}
	return l, nil
}

// Dir is the state directory.
func (l *Ledger) Dir() string { return l.dir }

// Close releases the directory's lock. The ledger must not be used after.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lock == nil {
		return nil
	}
	err := l.lock.Close()
	l.lock = nil
	return err
}

// Take records id in namespace ns (say "mqtt") and reports whether it is
// fresh: true only once per id, and only after the record is written to
// the state file, so what runs after a true runs at most once, across
// crashes and restarts. A write that fails records nothing and returns the
// error: the caller must not run the command (it may try again). Each
// namespace remembers its newest MaxTaken ids; an id older than those is
// taken as fresh again. The namespaces of the bot's inboxes
// (InboxMentions, InboxDMs) are the bot's own: Take refuses them.
func (l *Ledger) Take(ns, id string) (fresh bool, err error) {
	switch {
	case ns == "" || id == "":
		return false, errors.New("ledger: take needs a namespace and an id")
	case ns == InboxMentions || ns == InboxDMs:
		return false, fmt.Errorf("ledger: namespace %q is the bot's; take ids under another", ns)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st.seen(ns, id) {
		return false, nil
	}
	l.st.mark(ns, id)
	if err := l.save(); err != nil {
		l.st.unmark(ns, id)
		return false, err
	}
	return true, nil
}

// WriteErrors is how many writes of the state file failed since it was
// opened.
func (l *Ledger) WriteErrors() uint64 { return l.failed.Load() }

// save writes the state file. l.mu is held. The queued replies the file
// must keep (those that wait) are in it then; every queued reply may go
// out: what it answers is recorded.
func (l *Ledger) save() error {
	if l.meter != nil {
		l.st.Spend = l.meter.persist()
	}
	all := l.st.Outbox
	kept := all
	if slices.ContainsFunc(all, func(o Outgoing) bool { return !o.keep }) {
		kept = slices.DeleteFunc(slices.Clone(all), func(o Outgoing) bool { return !o.keep })
	}
	l.st.Outbox = kept
	err := l.st.Save(l.dir, time.Now())
	l.st.Outbox = all
	if err != nil {
		l.failed.Add(1)
		if l.meter != nil {
			l.meter.touch() // not kept after all: the next write keeps it
		}
		return err // it names the file
	}
	l.dirty = false
	for i := range all {
		all[i].saved, all[i].ready = all[i].keep, true
	}
	return nil
}
