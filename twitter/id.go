package twitter

import (
	"strconv"
	"time"
)

// ValidID reports whether s is an id as X makes them (posts, DM events,
// users): decimal, 1 to 19 digits, no leading zero, within int64 (X's ids
// are 64-bit snowflakes). Anything else from the API is not trusted: it
// must never become a cursor or be stored.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 19 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// snowflakeEpoch is X's snowflake epoch (2010-11-04T01:42:54.657Z) in Unix
// milliseconds.
const snowflakeEpoch = 1288834974657

// IDTime is the creation time a snowflake id (a post's or a DM event's)
// encodes, to the millisecond: its top 41 bits count milliseconds since
// X's epoch. The zero time for an id that is not valid. An id made before
// snowflakes (2010) decodes to a time near the epoch: long ago.
func IDTime(id string) time.Time {
	if !ValidID(id) {
		return time.Time{}
	}
	n, _ := strconv.ParseInt(id, 10, 64)
	return time.UnixMilli(n>>22 + snowflakeEpoch).UTC()
}
