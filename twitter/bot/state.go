package bot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/twitter"
)

// StateFile is the name of the state file in the state directory.
const StateFile = "state.json"

// stateVersion is the format of the state file this code writes.
const stateVersion = 1

// maxSeenDMs bounds the remembered DM event ids. The DM endpoint has no
// since_id, so these are how a DM is known to be handled; the API lists the
// most recent events first, so the newest few hundred are all that matter.
const maxSeenDMs = 500

// MaxTaken bounds each other namespace of taken ids (Ledger.Take): the
// newest 1000 are remembered. Of X's ids (decimal snowflakes, which grow
// with time) those dropped still count as taken where the namespace keeps
// a floor (the mentions); other ids, once dropped, are new again.
const MaxTaken = 1000

// maxOutbox bounds the replies waiting for a rate limit to reset.
const maxOutbox = 50

// State is what the bot remembers across restarts. It is written atomically
// after every change that matters for at-most-once: a post is recorded as
// taken before its action runs.
type State struct {
	Version int `json:"version"`

	// The account the keys belong to (users/me is scarce: 25 per 24 h on Free).
	AccountID       string `json:"account_id,omitempty"`
	AccountUsername string `json:"account_username,omitempty"`
	// KeyID tells which keys AccountID belongs to: the access token's public
	// part (the digits before the dash are the user id), never a secret.
	KeyID string `json:"key_id,omitempty"`

	// Mentions: the since_id cursor, advanced after every page of a fetch is
	// handled, and the newest mention taken (recorded before it runs).
	MentionsSince string `json:"mentions_since,omitempty"`
	MentionsTaken string `json:"mentions_taken,omitempty"`
	// MentionsStarted is set once the starting point is known; before it,
	// the newest existing mention becomes the start and nothing older runs.
	MentionsStarted bool `json:"mentions_started,omitempty"`
	// MentionsSeen are mentions above MentionsTaken taken out of order (a
	// source that delivers as posts arrive, ahead of the polls), oldest
	// first: a poll that finds them later skips them.
	MentionsSeen []string `json:"mentions_seen,omitempty"`

	// DMs: the ids of the newest events seen (taken or skipped), oldest first.
	SeenDMs []string `json:"seen_dms,omitempty"`
	// DMsFloor is the newest id dropped from SeenDMs: every event id at or
	// below it counts as seen (event ids are snowflakes that grow with time).
	DMsFloor   string `json:"dms_floor,omitempty"`
	DMsStarted bool   `json:"dms_started,omitempty"`
	// DMsRead is the newest DM event a read of dm_events showed: a seen
	// event above it came by the stream, and proves nothing about those
	// below it. Empty: none read yet.
	DMsRead string `json:"dms_read,omitempty"`

	// Listening are the inboxes the bot last listened to: one it listens
	// to again after a run without it starts as at a first start. Nil in
	// an older state file.
	Listening []string `json:"listening,omitempty"`

	// Handles resolved from the allow list: lower-case handle -> user id.
	Handles map[string]string `json:"handles,omitempty"`

	// Taken holds the ids taken through Ledger.Take in namespaces other
	// than the inboxes (the MQTT commands' correlation data...), by
	// namespace, oldest first, at most MaxTaken each.
	Taken map[string][]string `json:"taken,omitempty"`

	// Outbox holds replies not yet sent, oldest first.
	Outbox []Outgoing `json:"outbox,omitempty"`

	// Spend is the estimate of what X bills (Meter), kept across restarts.
	Spend *Spend `json:"spend,omitempty"`

	// Saved is when the file was written.
	Saved time.Time `json:"saved"`
}

// Outgoing is a reply waiting to be sent.
type Outgoing struct {
	Inbox     string    `json:"inbox"`                 // "mentions": a threaded reply; "dms": a DM
	InReplyTo string    `json:"in_reply_to,omitempty"` // the post answered (mentions)
	To        string    `json:"to,omitempty"`          // the user id (dms)
	Text      string    `json:"text"`
	Queued    time.Time `json:"queued"`
	// Unsure is when a try to send it ended without knowing whether it
	// went out (no answer came, or X's own error): a DM is then looked for
	// among the account's sent DMs before it goes again, and a post's
	// duplicate counts as sent. Zero for a reply never tried so.
	Unsure time.Time `json:"unsure,omitzero"`

	// Not saved: base is the text before its time stamp, for a reply this
	// run made; tried is set once this run has tried to send it; restamps
	// counts the new stamps a duplicate of an earlier run's text cost. seq
	// tells the entry in the outbox; keep: the file must hold it (it waits:
	// for a rate limit, after a failure; it was loaded; the bot stops); a
	// reply about to go out is not written (a crash loses it, and no write
	// is needed to take it out again); saved: the file holds it (as of the
	// latest write); ready: it may go out (the item it answers is recorded
	// taken in the file); busy: a sender sends it now.
	base                     string
	tried                    bool
	restamps                 int
	seq                      uint64
	keep, saved, ready, busy bool
}

// ErrCorruptState is returned by LoadState for a state file that cannot be
// trusted. The daemon refuses to guess: starting without the file would
// replay or skip history, so a person must look.
var ErrCorruptState = errors.New("state file is corrupt")

// CheckStateDir refuses a state directory that others could tamper with: a
// symlink, or one writable by group or others. It creates the directory
// (mode 0700) when it does not exist.
func CheckStateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("state_dir %s: %w; create it (mkdir -m 700 %s) or set state_dir to a directory this user can write", dir, err, dir)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("state_dir %s: %w", dir, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("state_dir %s is a symlink; point state_dir at the real directory", dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("state_dir %s is not a directory; set state_dir to a directory", dir)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("state_dir %s is writable by group or others (mode %#o), so anyone could replay commands; run: chmod 700 %s", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// LoadState reads dir/state.json. A missing file is a fresh start (a zero
// State, nil error). A torn, empty or garbage file is ErrCorruptState with
// the fix in the message.
func LoadState(dir string) (*State, error) {
	path := filepath.Join(dir, StateFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Version: stateVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	s, err := decodeState(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v; tweetpi will not guess which commands already ran: "+
			"look at the file, then move it away (mv %s %s.bad) to start fresh from the newest post, where nothing older runs",
			ErrCorruptState, path, err, path, path)
	}
	return s, nil
}

func decodeState(data []byte) (*State, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s State
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	// Only white space may follow the object. (dec.More is no test of that:
	// it is false before a stray "}" or "]".)
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("version %d, this tweetpi reads version %d", s.Version, stateVersion)
	}
	ids := append([]string{s.AccountID, s.MentionsSince, s.MentionsTaken, s.DMsFloor, s.DMsRead}, s.SeenDMs...)
	for _, id := range append(ids, s.MentionsSeen...) {
		if !isID(id) && id != "" {
			return nil, fmt.Errorf("%q is not a post or user id", id)
		}
	}
	for _, o := range s.Outbox {
		if o.Inbox != InboxMentions && o.Inbox != InboxDMs {
			return nil, fmt.Errorf("outbox entry for unknown inbox %q", o.Inbox)
		}
	}
	if s.Spend != nil {
		if err := s.Spend.check(); err != nil {
			return nil, err
		}
	}
	for ns := range s.Taken {
		if ns == "" || ns == InboxMentions || ns == InboxDMs {
			return nil, fmt.Errorf("taken ids under namespace %q, which is not one of Take's", ns)
		}
	}
	return &s, nil
}

// bound applies to a loaded state the bounds the bot keeps while it runs,
// and drops what it would never have stored: a state file is only as good
// as the code that wrote it (an older tweetpi stored any id the API sent,
// and kept every reply the outbox held). It returns what it changed, for
// the log.
//
//   - A cursor or floor that is not an X id (twitter.ValidID) starts its
//     inbox afresh, like a first start: the newest existing item is the
//     starting point and nothing older runs. Kept, every later poll would
//     be refused (400), or every item would count as taken.
//   - Remembered ids that are not X ids are dropped: the API's items with
//     such ids are skipped, never taken.
//   - The outbox keeps its newest maxOutbox replies, those to a valid id,
//     each fitted to MaxPostWeight; the seen DMs their newest maxSeenDMs
//     (the floor rises over the rest); each namespace of Take its newest
//     MaxTaken; the handles cache at most maxHandles.
func (s *State) bound() (changes []string) {
	if !validOrEmpty(s.AccountID) {
		changes = append(changes, "account id "+strconv.Quote(s.AccountID)+" is not an X id: asking the API again")
		s.AccountID, s.AccountUsername, s.KeyID = "", "", ""
	}
	if !validOrEmpty(s.MentionsSince) || !validOrEmpty(s.MentionsTaken) {
		changes = append(changes, fmt.Sprintf("mentions cursor %q and floor %q are not X ids: the mentions start afresh from the newest post", s.MentionsSince, s.MentionsTaken))
		s.MentionsSince, s.MentionsTaken, s.MentionsSeen, s.MentionsStarted = "", "", nil, false
	}
	if !validOrEmpty(s.DMsFloor) {
		changes = append(changes, fmt.Sprintf("DM floor %q is not an X id: the DMs start afresh from the newest message", s.DMsFloor))
		s.DMsFloor, s.SeenDMs, s.DMsStarted, s.DMsRead = "", nil, false, ""
	}
	if !validOrEmpty(s.DMsRead) {
		changes = append(changes, fmt.Sprintf("DM read mark %q is not an X id: every seen DM counts as read", s.DMsRead))
		s.DMsRead = ""
	}
	if s.DMsStarted && s.DMsRead == "" {
		// An older state file, which knew no stream: what it holds was read.
		s.DMsRead = s.newestDM()
	}
	keep := func(what string, ids []string) []string {
		out := ids[:0]
		for _, id := range ids {
			if twitter.ValidID(id) {
				out = append(out, id)
			}
		}
		if n := len(ids) - len(out); n > 0 {
			changes = append(changes, fmt.Sprintf("%d %s that are not X ids dropped", n, what))
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	s.MentionsSeen = keep("taken mention ids", s.MentionsSeen)
	s.SeenDMs = keep("seen DM ids", s.SeenDMs)
	if n := len(s.SeenDMs); n > maxSeenDMs {
		changes = append(changes, fmt.Sprintf("%d seen DM ids, more than %d: the oldest are covered by the floor", n, maxSeenDMs))
	}
	s.trimDMs()
	s.trimTaken()
	for h, id := range s.Handles {
		if !twitter.ValidID(id) {
			delete(s.Handles, h)
			changes = append(changes, "handle @"+h+" cached with a bad id: it is resolved again")
		}
	}
	if len(s.Handles) > maxHandles {
		changes = append(changes, fmt.Sprintf("%d cached handles, more than %d: they are resolved again", len(s.Handles), maxHandles))
		s.Handles = nil
	}
	out := s.Outbox[:0]
	for _, o := range s.Outbox {
		to := o.InReplyTo
		if o.Inbox == InboxDMs {
			to = o.To
		}
		if !twitter.ValidID(to) {
			changes = append(changes, fmt.Sprintf("a queued reply to %q, not an X id, dropped", config.Truncate(to, 40)))
			continue
		}
		if config.Weight(o.Text) > MaxPostWeight {
			o.Text = config.Truncate(o.Text, MaxPostWeight)
		}
		out = append(out, o)
	}
	if n := len(out); n > maxOutbox {
		changes = append(changes, fmt.Sprintf("%d queued replies, more than %d: the %d oldest dropped", n, maxOutbox, n-maxOutbox))
		out = slices.Clone(out[n-maxOutbox:])
	}
	s.Outbox = out
	if len(s.Outbox) == 0 {
		s.Outbox = nil
	}
	return changes
}

// maxHandles bounds the cache of resolved handles: more than any allow
// list a person writes.
const maxHandles = 1000

func validOrEmpty(id string) bool { return id == "" || twitter.ValidID(id) }

// isID reports whether s is a decimal id as the API sends them.
func isID(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Save writes the state to dir/state.json atomically: a temp file in the same
// directory, fsync, rename over the old file, fsync of the directory. A crash
// at any point leaves either the old or the new file, never a torn one.
func (s *State) Save(dir string, now time.Time) error {
	s.Version = stateVersion
	s.Saved = now.UTC()
	s.trimDMs()
	s.trimTaken()
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	data = append(data, '\n')
	return config.WriteFile(filepath.Join(dir, StateFile), data, 0o600)
}

// removeTempFiles removes the temp files of state writes a crash cut short
// (config.RemoveTemp). Only the daemon calls it: it holds the state
// directory's lock, so it is the one writer there.
func removeTempFiles(dir string, log *slog.Logger) {
	left, err := config.RemoveTemp(filepath.Join(dir, StateFile))
	if err != nil {
		log.Warn("cannot remove a temp file a crash left", "dir", dir, "err", err)
	}
	if len(left) > 0 {
		log.Info("removed temp files an interrupted state write left", "count", len(left))
	}
}

// seenDM reports whether a DM event id was seen.
// newestDM is the newest DM event id the state knows, "" for none.
func (s *State) newestDM() string {
	n := s.DMsFloor
	for _, id := range s.SeenDMs {
		if twitter.IDLess(n, id) {
			n = id
		}
	}
	return n
}

func (s *State) seenDM(id string) bool {
	return !twitter.IDLess(s.DMsFloor, id) || slices.Contains(s.SeenDMs, id)
}

// markDM remembers a DM event id.
func (s *State) markDM(id string) {
	if !s.seenDM(id) {
		s.SeenDMs = append(s.SeenDMs, id)
	}
	s.trimDMs()
}

func (s *State) trimDMs() {
	n := len(s.SeenDMs)
	if n <= maxSeenDMs {
		return
	}
	for _, id := range s.SeenDMs[:n-maxSeenDMs] {
		if twitter.IDLess(s.DMsFloor, id) {
			s.DMsFloor = id
		}
	}
	s.SeenDMs = slices.Clone(s.SeenDMs[n-maxSeenDMs:])
}

// seen reports whether id was taken (or skipped) in namespace ns: an inbox
// (InboxMentions, InboxDMs: X's ids, at or below the inbox's floor, or
// remembered above it) or another namespace of Ledger.Take.
func (s *State) seen(ns, id string) bool {
	switch ns {
	case InboxDMs:
		return s.seenDM(id)
	case InboxMentions:
		return !twitter.IDLess(s.MentionsTaken, id) || slices.Contains(s.MentionsSeen, id)
	}
	return slices.Contains(s.Taken[ns], id)
}

// mark records id as taken in ns.
func (s *State) mark(ns, id string) {
	switch ns {
	case InboxDMs:
		s.markDM(id)
		return
	case InboxMentions:
		if !s.seen(ns, id) {
			s.MentionsSeen = append(s.MentionsSeen, id)
		}
		s.trimTaken()
		return
	}
	if s.Taken == nil {
		s.Taken = map[string][]string{}
	}
	if !slices.Contains(s.Taken[ns], id) {
		s.Taken[ns] = append(s.Taken[ns], id)
	}
	s.trimTaken()
}

// unmark forgets the id mark recorded last in ns, for a take whose write
// failed: not recorded, so not run, and tried again.
func (s *State) unmark(ns, id string) {
	drop := func(ids []string) []string {
		if n := len(ids); n > 0 && ids[n-1] == id {
			return ids[:n-1]
		}
		return ids
	}
	switch ns {
	case InboxDMs:
		s.SeenDMs = drop(s.SeenDMs)
	case InboxMentions:
		s.MentionsSeen = drop(s.MentionsSeen)
	default:
		if ids := drop(s.Taken[ns]); len(ids) > 0 {
			s.Taken[ns] = ids
		} else {
			delete(s.Taken, ns)
		}
	}
}

// raiseMentions moves the mentions' floor up to id: a poll handled every
// mention up to it, oldest first. The ids remembered above the old floor
// that the new one covers are dropped.
func (s *State) raiseMentions(id string) {
	if !twitter.IDLess(s.MentionsTaken, id) {
		return
	}
	s.MentionsTaken = id
	if len(s.MentionsSeen) == 0 {
		return
	}
	kept := s.MentionsSeen[:0]
	for _, x := range s.MentionsSeen {
		if twitter.IDLess(id, x) {
			kept = append(kept, x)
		}
	}
	s.MentionsSeen = kept // its room is reused by the next take; empty, it is not written
}

// trimTaken bounds the mentions remembered above the floor (the floor
// rises over the ones dropped) and every namespace of Take to MaxTaken.
func (s *State) trimTaken() {
	if n := len(s.MentionsSeen); n > MaxTaken {
		floor := s.MentionsTaken
		for _, id := range s.MentionsSeen[:n-MaxTaken] {
			if twitter.IDLess(floor, id) {
				floor = id
			}
		}
		s.MentionsSeen = slices.Clone(s.MentionsSeen[n-MaxTaken:])
		s.raiseMentions(floor)
	}
	for ns, ids := range s.Taken {
		if n := len(ids); n > MaxTaken {
			s.Taken[ns] = slices.Clone(ids[n-MaxTaken:])
		}
	}
}
