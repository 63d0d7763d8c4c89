package twitter_test

import (
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"1": true, "1500000000": true, "1899000000000000001": true, "9223372036854775807": true,
		"": false, "0": false, "0123": false, "12ab": false, "-5": false, "+5": false, " 12": false, "1e9": false,
		"9223372036854775808": false, "99999999999999999999": false, "123456789012345678901234": false, "١٢٣": false,
	} {
		if got := twitter.ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %t, want %t", id, got, want)
		}
	}
}

// TestIDTime: the time in a snowflake is the time the fake (which makes
// ids as X does) made the post at, to the millisecond.
func TestIDTime(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	at := time.Date(2026, 3, 1, 12, 30, 15, 250e6, time.UTC)
	srv.SetClock(func() time.Time { return at })
	p := srv.Post(srv.AddUser("alice"), "hello", time.Hour)
	if got, want := twitter.IDTime(p.ID), at.Add(-time.Hour); !got.Equal(want) {
		t.Errorf("IDTime(%s) = %s, want %s", p.ID, got, want)
	}
	if got := twitter.IDTime("12ab"); !got.IsZero() {
		t.Errorf("IDTime of a bad id = %s, want zero", got)
	}
	// The arithmetic on a real id, worked by hand: 1212092628029698048>>22
	// is 288985402114 ms after X's epoch (1288834974657 Unix ms).
	if got, want := twitter.IDTime("1212092628029698048"), time.UnixMilli(288985402114+1288834974657).UTC(); !got.Equal(want) {
		t.Errorf("IDTime(1212092628029698048) = %s, want %s", got, want)
	}
}
