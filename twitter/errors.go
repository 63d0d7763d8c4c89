package twitter

import (
	"context"
	"errors"
	"fmt"
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
