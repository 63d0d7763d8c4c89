package twitter

import "context"

// PollOnce polls one inbox once, as Run does when it is due, and handles
// what is new. It is for the benchmarks, which time single poll cycles.
func (b *Bot) PollOnce(ctx context.Context, inbox string) error { return b.poll(ctx, inbox) }
