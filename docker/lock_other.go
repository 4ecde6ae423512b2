//go:build !unix

package docker

import "context"

// lockFile is a no-op where flock is missing; baseMu still serialises
// callers within one process.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	return func() {}, nil
}
