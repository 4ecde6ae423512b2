//go:build !unix

package sqlite

import "os"

// lockDatabase takes no lock where flock is missing; the head cache is
// then off (DB.exclusive is false), since another process could write.
func lockDatabase(path string) (*os.File, error) { return nil, nil }
