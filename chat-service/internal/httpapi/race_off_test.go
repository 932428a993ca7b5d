//go:build !race

package httpapi_test

// raceEnabled: the race detector slows sockets several times over, so the
// presence storm runs smaller rooms under it.
const raceEnabled = false
