package twitter

import "strings"

// KeyID is the public part of an access token: X's tokens are the account's
// user id, a dash and a secret part, so KeyID is the id before the dash (""
// for a token of another form). It tells whether a cached account belongs
// to these keys without keeping anything secret.
func KeyID(accessToken string) string {
	id, _, ok := strings.Cut(accessToken, "-")
	if !ok {
		return ""
	}
	return id
}
