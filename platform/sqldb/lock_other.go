//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqldb

import "os"

// flock is not available here: no lock is taken, so restore cannot tell a
// running service (stop it first).
func flock(*os.File, bool) error { return nil }
