package bot

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/twitter"
)

// allowList is who may command the bot, by user id, and the handles of the
// configuration resolved to ids. Only the loop changes it; UserID reads it
// from the handler, so it is locked.
type allowList struct {
	mu      sync.RWMutex
	ids     map[string]bool   // allowed user ids: Options.Allow's, and its handles'
	byName  map[string]string // resolved handle (lower case, no @) -> user id: Allow's and Handles'
	names   map[string]string // user id -> handle, for the log
	pending []string          // handles not resolved yet: they let nobody in
	global  map[string]bool   // the handles of Options.Allow
}

// handleOf is the handle an allow entry names ("" for an id), lower case
// and without the @.
func handleOf(entry string) string {
	h, ok := strings.CutPrefix(entry, "@")
	if !ok {
		return ""
	}
	return strings.ToLower(h)
}

// setAllow resolves the allow list and the other handles: ids as they are,
// @handles through the state's cache or the API. A handle X does not know
// is *Fatal at start (with the nearest of the other handles, for a typo)
// and logged on a reload; one that cannot be resolved now (X unreachable,
// a rate limit) lets nobody in until the loop resolves it. No entry ever
// matches a post by its author's name: anyone can register a free one.
func (b *Bot) setAllow(ctx context.Context, allow, handles []string, start bool) error {
	ids, global := map[string]bool{}, map[string]bool{}
	var all []string // the handles, each once, in order
	for _, a := range allow {
		if h := handleOf(a); h != "" {
			global[h] = true
			if !slices.Contains(all, h) {
				all = append(all, h)
			}
		} else if twitter.ValidID(a) {
			ids[a] = true
		}
	}
	for _, a := range handles {
		if h := handleOf(a); h != "" && !slices.Contains(all, h) {
			all = append(all, h)
		}
	}
	byName, names := map[string]string{}, map[string]string{}
	var pending, unknown []string
	var why error // what kept the first pending handle from resolving
	for _, h := range all {
		if id, ok := b.st.Handles[h]; ok && twitter.ValidID(id) {
			byName[h] = id
			continue
		}
		if len(pending) > 0 {
			pending = append(pending, h) // X could not be asked: nor now
			continue
		}
		id, err := b.resolve(ctx, h)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			byName[h] = id
		case twitter.KindOf(err) == twitter.KindNotFound:
			unknown = append(unknown, h)
		default:
			pending, why = append(pending, h), err
			b.log.Warn("allow: cannot resolve the handle now; it lets nobody in until it resolves (retried)",
				"handle", "@"+h, "err", err)
		}
	}
	if len(unknown) > 0 {
		err := unknownHandles(unknown, all)
		if start {
			return &Fatal{fmt.Errorf("allow: %w", err)}
		}
		b.log.Error("allow: "+err.Error(), "handles", len(unknown))
	}
	for h, id := range byName {
		if global[h] {
			ids[id] = true
		}
		names[id] = h
	}
	b.allow.mu.Lock()
	b.allow.ids, b.allow.byName, b.allow.names, b.allow.pending, b.allow.global = ids, byName, names, pending, global
	b.allow.mu.Unlock()
	if len(pending) > 0 {
		p := b.pacer(twitter.EndpointUserByName)
		p.next = later(time.Now().Add(b.backoff(p, why)), b.paced(twitter.EndpointUserByName, time.Now(), 0))
	}
	return b.cacheHandles(byName)
}

// resolve asks the API for a handle's user id.
func (b *Bot) resolve(ctx context.Context, h string) (string, error) {
	u, err := b.opt.Client.UserByUsername(ctx, h)
	b.noteClock()
	if err != nil {
		return "", err
	}
	if !twitter.ValidID(u.ID) {
		return "", &twitter.APIError{Kind: twitter.KindTransient, Endpoint: twitter.EndpointUserByName, Title: "malformed answer",
			Detail: fmt.Sprintf("user id %q is not an X id", config.Truncate(u.ID, 40))}
	}
	return u.ID, nil
}

// unknownHandles says which handles X has no account for, each with the
// nearest other handle of the configuration (a typo: "@alcie", "@alice").
func unknownHandles(unknown, all []string) error {
	var parts []string
	for _, h := range unknown {
		others := slices.DeleteFunc(slices.Clone(all), func(o string) bool { return o == h || slices.Contains(unknown, o) })
		part := "@" + h
		if n := config.Nearest(h, others); n != "" {
			part += " (did you mean @" + n + "?)"
		}
		parts = append(parts, part)
	}
	return fmt.Errorf("%s: X has no account with this handle, so it would let nobody in (or whoever registers it later); correct it in the configuration's allow list (twitter.allow or a device's allow), or write the user id instead", strings.Join(parts, ", "))
}

// resolvePending tries the handles not resolved yet, while the API answers;
// the loop calls it when the pacer of users/by/username is due.
func (b *Bot) resolvePending(ctx context.Context) {
	b.allow.mu.RLock()
	pending := slices.Clone(b.allow.pending)
	b.allow.mu.RUnlock()
	p := b.pacer(twitter.EndpointUserByName)
	for len(pending) > 0 {
		h := pending[0]
		if now := time.Now(); b.spent(twitter.EndpointUserByName, now) {
			p.next = b.paced(twitter.EndpointUserByName, now, 0)
			break
		}
		id, err := b.resolve(ctx, h)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		switch {
		case err == nil:
			b.ok(p, twitter.EndpointUserByName, now)
			b.log.Info("allow: handle resolved; it lets its owner in now", "handle", "@"+h, "user_id", id)
			b.allow.mu.Lock()
			b.allow.byName[h] = id
			b.allow.names[id] = h
			if b.allow.global[h] {
				b.allow.ids[id] = true
			}
			b.allow.mu.Unlock()
		case twitter.KindOf(err) == twitter.KindNotFound:
			b.ok(p, twitter.EndpointUserByName, now)
			b.allow.mu.RLock()
			var all []string
			for x := range b.allow.global {
				all = append(all, x)
			}
			for x := range b.allow.byName {
				all = append(all, x)
			}
			b.allow.mu.RUnlock()
			slices.Sort(all)
			b.log.Error("allow: "+unknownHandles([]string{h}, all).Error(), "handle", "@"+h)
		default:
			p.next = later(now.Add(b.backoff(p, err)), b.paced(twitter.EndpointUserByName, now, 0))
			b.log.Warn("allow: cannot resolve the handle now; it lets nobody in until it resolves (retried)",
				"handle", "@"+h, "err", err, "retry_at", p.next.UTC().Format(time.RFC3339))
			b.setPending(pending)
			return
		}
		pending = pending[1:]
		b.setPending(pending)
		p.next = b.paced(twitter.EndpointUserByName, now, 0)
	}
	b.allow.mu.RLock()
	byName := maps.Clone(b.allow.byName)
	b.allow.mu.RUnlock()
	if err := b.cacheHandles(byName); err != nil {
		b.log.Error("save state", "err", err)
	}
}

func (b *Bot) setPending(p []string) {
	b.allow.mu.Lock()
	b.allow.pending = slices.Clone(p)
	b.allow.mu.Unlock()
}

// pendingHandles reports whether some handle waits to be resolved.
func (b *Bot) pendingHandles() bool {
	b.allow.mu.RLock()
	defer b.allow.mu.RUnlock()
	return len(b.allow.pending) > 0
}

// cacheHandles keeps the resolved handles in the state file (users/by/username
// is scarce: 3 per 15 minutes on Free), the handles of the configuration only.
func (b *Bot) cacheHandles(byName map[string]string) error {
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	if len(byName) == len(b.st.Handles) {
		same := true
		for h, id := range byName {
			if b.st.Handles[h] != id {
				same = false
				break
			}
		}
		if same {
			return nil
		}
	}
	b.st.Handles = nil
	if len(byName) > 0 {
		b.st.Handles = maps.Clone(byName)
	}
	return b.saveLocked()
}

// allowed reports whether user id may command the bot.
func (b *Bot) allowed(id string) bool {
	b.allow.mu.RLock()
	defer b.allow.mu.RUnlock()
	return b.allow.ids[id]
}

// allowedIDs are the allowed user ids, sorted.
func (b *Bot) allowedIDs() []string {
	b.allow.mu.RLock()
	defer b.allow.mu.RUnlock()
	ids := make([]string, 0, len(b.allow.ids))
	for id := range b.allow.ids {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// nameOf is the configuration's handle for a user id ("" when it has none):
// what the log shows beside the id. The mentions poll asks X for no
// author names (each would be billed as a user read).
func (b *Bot) nameOf(id string) string {
	b.allow.mu.RLock()
	defer b.allow.mu.RUnlock()
	return b.allow.names[id]
}

// UserID is the user id a handle (with or without @, any case) of the
// configuration resolved to; ok is false while it is not resolved, or when
// it names nobody. The device allow lists are matched through it. Safe for
// concurrent use.
func (b *Bot) UserID(handle string) (id string, ok bool) {
	h := strings.ToLower(strings.TrimPrefix(handle, "@"))
	b.allow.mu.RLock()
	defer b.allow.mu.RUnlock()
	id, ok = b.allow.byName[h]
	return id, ok
}
