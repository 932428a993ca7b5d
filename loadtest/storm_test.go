package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestStormSmall runs the big-room scenarios at a size CI affords: 200
// clients storm into one room against a replica whose admission bucket
// (40/s, burst 20) is far smaller, so most handshakes are shed with 1013
// and retried after the server's hint, and still every client ends up
// subscribed; then a fan-out in a room of 300 members of which 30 are
// connected. Timing is never asserted.
func TestStormSmall(t *testing.T) {
	s := startStack(t, "WS_ADMIT_RATE", "40", "WS_ADMIT_BURST", "20", "WS_MAX_CONNS_PER_USER", "1000")
	users := filepath.Join(t.TempDir(), "users.json")
	pid := strconv.Itoa(os.Getpid())

	st := runRecord(t, "storm", "-target", "parley", "-gateway", s.gateway.URL, "-ws", s.ws, "-users", users,
		"-clients", "200", "-storm-conc", "200", "-settle", "100ms", "-pid", pid)
	if !st.Clean || st.Metrics["clients"] != 200 || st.Metrics["rooms"] != 1 {
		t.Errorf("storm: clean=%v %+v", st.Clean, st.Metrics)
	}
	if st.Metrics["shed"] == 0 {
		t.Errorf("storm: no handshake shed past an admission burst of 20: %+v", st.Metrics)
	}
	if st.Metrics["presence_bytes_per_client"] <= 0 || st.Metrics["presence_frames_per_client"] < 1 {
		t.Errorf("storm: presence not counted (every subscribe gets a snapshot): %+v", st.Metrics)
	}
	wantZero(t, st, "disconnects")

	fan := runRecord(t, "fanout", "-target", "parley-members", "-gateway", s.gateway.URL, "-ws", s.ws, "-users", users,
		"-clients", "30", "-members", "300", "-senders", "3", "-rate", "30", "-duration", "1s", "-warmup", "0s", "-settle", "100ms")
	wantZero(t, fan, "lost", "duplicates", "unexpected", "late", "send_errors", "unanswered", "disconnects")
	if fan.Metrics["delivered"] == 0 || fan.Metrics["expected"] != fan.Metrics["accepted"]*30 {
		t.Errorf("fan-out with offline members: delivered %v, expected %v for %v messages (30 online each)",
			fan.Metrics["delivered"], fan.Metrics["expected"], fan.Metrics["accepted"])
	}
}
