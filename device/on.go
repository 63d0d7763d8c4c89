package device

import "github.com/tweetpi/tweetpi/config"

// On names the outputs that are on and the pwm devices above 0%, in the
// order of the configuration, with no timer to turn them off.
func (b *Board) On() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, d := range b.lay().devs {
		if d.on && d.job == "" && (d.spec.Kind == config.KindOutput || d.spec.Kind == config.KindPWM) {
			out = append(out, d.spec.Name)
		}
	}
	return out
}
