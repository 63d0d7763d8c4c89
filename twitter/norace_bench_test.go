//go:build !race

package twitter_test

const raceEnabled = false
