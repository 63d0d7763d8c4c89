package twitter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrorKind says what a failed call means for the caller.
type ErrorKind int

// Kinds of API failure.
const (
	KindOther        ErrorKind = iota // a 4xx the bot cannot fix by waiting
	KindRateLimited                   // 429, or a 24-hour limit: wait until Reset
	KindUnauthorized                  // 401: wrong or revoked keys, or a clock far off
	KindForbidden                     // 403: not allowed, app not enrolled, code 453, missing permission
	KindDuplicate                     // 403 duplicate content / v1.1 code 187: already sent
	KindTransient                     // 5xx, timeouts, dropped connections, malformed JSON: back off, retry
	KindNotFound                      // 404, or a user that does not exist
	// KindNoCredits is 402: the app's pay-per-use credits are used up. Only
	// a person can fix it (a top-up in the developer console); retry slowly.
	KindNoCredits
	// KindUsageCapped is a 429 whose problem type is usage-capped: the
	// app's spending cap, set in the developer console, is reached. Not a
	// rate limit: its window's reset does not lift it; retry slowly.
	KindUsageCapped
)

func (k ErrorKind) String() string {
	switch k {
	case KindRateLimited:
		return "rate limited"
	case KindUnauthorized:
		return "unauthorized"
	case KindForbidden:
		return "forbidden"
	case KindDuplicate:
		return "duplicate"
	case KindTransient:
		return "transient"
	case KindNotFound:
		return "not found"
	case KindNoCredits:
		return "credits used up"
	case KindUsageCapped:
		return "usage capped"
	}
	return "error"
}

// APIError is a failed call. Its text never holds a secret.
type APIError struct {
	Kind     ErrorKind
	Endpoint string    // logical endpoint (Endpoint* constants)
	Status   int       // HTTP status; 0 when no answer came
	Code     int       // v1.1 error code (187, 453, 88...) where sent
	Title    string    // the API's own words: problem title or v1.1 message
	Detail   string    // problem detail
	Reset    time.Time // for KindRateLimited: when to try again (zero when unknown)
	Day      bool      // for KindRateLimited: the 24-hour limit is the one spent, not a 15-minute window
	Err      error     // the underlying error for transport failures
}

func (e *APIError) Error() string {
	msg := e.Endpoint + ": "
	if e.Status != 0 {
		msg += fmt.Sprintf("%d ", e.Status)
	}
	msg += e.Kind.String()
	if e.Code != 0 {
		msg += fmt.Sprintf(" (code %d)", e.Code)
	}
	if e.Title != "" {
		msg += ": " + e.Title
	}
	if e.Detail != "" && e.Detail != e.Title {
		msg += ": " + e.Detail
	}
	if e.Kind == KindRateLimited && !e.Reset.IsZero() {
		msg += "; resets at " + e.Reset.UTC().Format(time.RFC3339)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *APIError) Unwrap() error { return e.Err }

// KindOf returns the kind of err: the Kind of an *APIError in its chain,
// KindTransient for any other non-nil error that is not a cancellation,
// and KindOther for nil and for the end of the caller's context
// (context.Canceled, context.DeadlineExceeded: a shutdown, not a fault).
func KindOf(err error) ErrorKind {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Kind
	}
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return KindOther
	}
	return KindTransient
}

// The advice for the two ways X stops a pay-per-use app that has spent
// what it may.
const (
	FixNoCredits = "your X API credits are used up: top up in the developer console (Billing; an auto-recharge " +
		"keeps it from happening again); tweetpi retries every 15 minutes and goes on by itself once there is credit"
	FixUsageCapped = "your app reached the spending cap set in the developer console: raise the cap there, or wait " +
		"until it resets; tweetpi retries every 15 minutes and goes on by itself once the cap allows"
)

// Fix says what the user can do about a failed call: the one place the
// daemon's log and `tweetpi verify` take their advice from.
func Fix(err error) string {
	var re *RefusedError
	if errors.As(err, &re) {
		return re.Fix() // the Activity API's own advice
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return "check the network"
	}
	words := strings.ToLower(ae.Title + " " + ae.Detail)
	const perms = "its user authentication (OAuth 1.0a) must have the permissions \"Read and write and Direct messages\"; " +
		"after changing them, regenerate the access token and secret (or run tweetpi auth)"
	switch {
	case ae.Kind == KindNoCredits:
		return FixNoCredits
	case ae.Kind == KindUsageCapped:
		return FixUsageCapped
	case ae.Kind == KindUnauthorized:
		return "check the four keys in the config: all four (consumer key and secret, access token and secret) must match the app's \"Keys and tokens\" page " +
			"in the developer portal (tweetpi verify tells whose they are); after changing the app's permissions, regenerate the access token and secret " +
			"(or run tweetpi auth) and put the new ones in the config; a local clock far off is refused too"
	case strings.Contains(words, "enrolled") || strings.Contains(words, "attached to a project"):
		return "in the developer portal, attach the app to a Project (Projects & Apps: add the app to a project; a standalone app cannot call API v2); " + perms
	case ae.Code == 453 || strings.Contains(words, "subset of x api"):
		return "this access level cannot use this endpoint: set api: v2 in the config (v1.1 reads are closed to self-serve access), or in the developer portal move the app to a Project with a level that includes it"
	case ae.Kind == KindForbidden:
		return "in the developer portal, make sure the app is inside a Project; " + perms
	}
	return "see the API's words above"
}
