package serve

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// cgroupMemoryFiles hold a container's memory limit: cgroup v2, then v1.
var cgroupMemoryFiles = []string{
	"/sys/fs/cgroup/memory.max",
	"/sys/fs/cgroup/memory/memory.limit_in_bytes",
}

// TuneGC sets the garbage collector of a process that keeps a small live
// heap but allocates on every request (the gateway, auth-service): at the
// default GOGC=100 a live heap of a few MiB is collected many times a
// second under load, and that collection is a good part of the CPU each
// request costs. gcPercent trades a few MiB for that CPU.
//
// So that the larger target can never be what pushes the process past its
// container's memory limit, that limit (cgroup memory.max) less a tenth
// becomes the runtime's soft memory limit: near it the collector runs as
// often as it must. GOGC and GOMEMLIMIT, when set, are left alone. main
// calls it, before anything else: it changes the whole process.
func TuneGC(getenv func(string) string, gcPercent int) {
	percent, limit := gcSettings(getenv, gcPercent, os.ReadFile)
	if percent > 0 {
		debug.SetGCPercent(percent)
	}
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
}

// gcSettings is what TuneGC sets: the GC percentage and the soft memory
// limit, 0 for "leave as is".
func gcSettings(getenv func(string) string, gcPercent int, readFile func(string) ([]byte, error)) (percent int, limit int64) {
	if getenv("GOGC") == "" {
		percent = gcPercent
	}
	if getenv("GOMEMLIMIT") == "" {
		for _, f := range cgroupMemoryFiles {
			if b, err := readFile(f); err == nil {
				if n, ok := parseMemoryLimit(string(b)); ok {
					limit = n - n/10
				}
				break
			}
		}
	}
	return percent, limit
}

// parseMemoryLimit reads a cgroup memory limit; "max" (v2) and v1's
// page-rounded "unlimited" (near 2^63) are no limit.
func parseMemoryLimit(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0, false
	}
	return n, true
}
