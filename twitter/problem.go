package twitter

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// errorBody is either error shape X sends, on either API version: v2
// problem JSON ({title, detail, type, status}) and the v1.1 (and v2 partial)
// {"errors":[...]} list.
type errorBody struct {
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Type   string `json:"type"`
	Status int    `json:"status"`
	Reason string `json:"reason"` // client-not-enrolled...
	Errors []struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
		Title   string `json:"title"`
		Detail  string `json:"detail"`
		Type    string `json:"type"`
	} `json:"errors"`
}

// v1.1 error codes that change the kind of a failure.
const (
	codeDuplicate   = 187 // Status is a duplicate.
	codeDailyLimit  = 185 // User is over daily status update limit.
	codeRateLimited = 88  // Rate limit exceeded.
)

// errorFromAnswer turns a non-2xx answer into an *APIError.
func errorFromAnswer(ep string, status int, h http.Header, body []byte) *APIError {
	e := &APIError{Endpoint: ep, Status: status}
	var b errorBody
	if json.Unmarshal(body, &b) == nil {
		e.Title, e.Detail = b.Title, b.Detail
		if len(b.Errors) > 0 {
			first := b.Errors[0]
			e.Code = first.Code
			if e.Title == "" {
				e.Title = first.Message
				if e.Title == "" {
					e.Title = first.Title
				}
			}
			if e.Detail == "" {
				e.Detail = first.Detail
			}
			// Problem JSON with an errors list (invalid-request): the
			// list says which parameter, the title and detail only that
			// one was wrong.
			if m := first.Message; m != "" && m != e.Title && !strings.Contains(e.Detail, m) {
				e.Detail = strings.TrimSpace(e.Detail + " " + m)
			}
		}
		if e.Title == "" && e.Detail == "" && b.Reason != "" {
			e.Title = b.Reason
		}
	}
	if e.Title == "" && e.Detail == "" {
		e.Title = http.StatusText(status)
	}
	words := strings.ToLower(e.Title + " " + e.Detail)
	switch {
	case status == http.StatusPaymentRequired:
		e.Kind = KindNoCredits
	case status == http.StatusTooManyRequests && usageCapped(b):
		e.Kind = KindUsageCapped
	case status == http.StatusTooManyRequests || e.Code == codeRateLimited || e.Code == codeDailyLimit:
		e.Kind = KindRateLimited
		e.Reset = resetFrom(h)
		e.Day = daySpent(h) || e.Code == codeDailyLimit
	case status == http.StatusUnauthorized:
		e.Kind = KindUnauthorized
	case e.Code == codeDuplicate || (status == http.StatusForbidden && strings.Contains(words, "duplicate")):
		e.Kind = KindDuplicate
	case status == http.StatusForbidden:
		e.Kind = KindForbidden
	case status == http.StatusNotFound:
		e.Kind = KindNotFound
	case status >= 500 || status == http.StatusRequestTimeout:
		e.Kind = KindTransient
	default:
		e.Kind = KindOther
	}
	return e
}

// usageCapped reports whether a problem's type (or its first error's) is
// X's usage-capped: https://api.twitter.com/2/problems/usage-capped.
func usageCapped(b errorBody) bool {
	types := []string{b.Type}
	for _, e := range b.Errors {
		types = append(types, e.Type)
	}
	for _, t := range types {
		if strings.HasSuffix(strings.TrimRight(t, "/"), "/usage-capped") || t == "usage-capped" {
			return true
		}
	}
	return false
}

// resetFrom is when a rate-limited endpoint may be tried again: the reset of
// whichever limit is spent (the later one when both are), else the window's.
func resetFrom(h http.Header) time.Time {
	rl, _ := parseLimits(h)
	var reset time.Time
	if h.Get("X-Rate-Limit-Remaining") != "" && rl.Remaining == 0 {
		reset = rl.Reset
	}
	if daySpent(h) && rl.DayReset.After(reset) {
		reset = rl.DayReset
	}
	if reset.IsZero() {
		reset = rl.Reset
	}
	return reset
}

// daySpent reports whether the answer's 24-hour user limit is spent.
func daySpent(h http.Header) bool {
	rl, _ := parseLimits(h)
	return h.Get("X-User-Limit-24hour-Remaining") != "" && rl.DayRemaining == 0
}

// partialError is the v2 answer with status 200, no "data" and an "errors"
// list (a user that does not exist, a post not visible).
func partialError(ep string, status int, body []byte) *APIError {
	var b errorBody
	if json.Unmarshal(body, &b) != nil || len(b.Errors) == 0 {
		return &APIError{Kind: KindTransient, Endpoint: ep, Status: status, Title: "malformed answer", Detail: "no data and no errors"}
	}
	first := b.Errors[0]
	e := &APIError{Endpoint: ep, Status: status, Code: first.Code, Title: first.Title, Detail: first.Detail}
	if e.Title == "" {
		e.Title = first.Message
	}
	switch typ := first.Type; {
	case strings.HasSuffix(typ, "/resource-not-found"):
		e.Kind = KindNotFound
	case strings.HasSuffix(typ, "/not-authorized-for-resource"), strings.HasSuffix(typ, "/client-forbidden"):
		e.Kind = KindForbidden
	case strings.Contains(strings.ToLower(e.Title+" "+e.Detail), "duplicate"):
		e.Kind = KindDuplicate
	default:
		e.Kind = KindOther
	}
	return e
}
