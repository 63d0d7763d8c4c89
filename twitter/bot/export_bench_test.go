package bot

import (
	"context"
	"fmt"
)

// PollOnce polls one inbox once, as Run does when it is due, and handles
// what is new. It is for the benchmarks, which time single poll cycles.
func (b *Bot) PollOnce(ctx context.Context, inbox string) error {
	for _, s := range b.sources {
		if s.Inbox() == inbox {
			return b.poll(ctx, s)
		}
	}
	return fmt.Errorf("not listening to %s", inbox)
}
