package sqlite

import "time"

// SetPollInterval sets the queue's fallback poll for the queues made after
// it, and returns the previous one.
func SetPollInterval(d time.Duration) time.Duration {
	old := pollInterval
	pollInterval = d
	return old
}
