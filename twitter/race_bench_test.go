//go:build race

package twitter_test

const raceEnabled = true
