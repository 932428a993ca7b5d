package proc

import (
	"net"
	"os"
	"testing"
	"time"
)

func TestSelfFigures(t *testing.T) {
	pid := os.Getpid()
	rss, err := RSS(pid)
	if err != nil || rss <= 0 {
		t.Fatalf("RSS = %d, %v", rss, err)
	}
	if _, err := CPUTime(pid); err != nil {
		t.Fatalf("CPUTime: %v", err)
	}
	if _, err := RSS(1 << 30); err == nil {
		t.Fatal("RSS of a missing process should fail")
	}
	busy, total := MachineCPU()
	if total <= 0 || busy > total {
		t.Fatalf("machine cpu busy %v total %v", busy, total)
	}
}

func TestPIDByPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	pid, err := PIDByPort(port)
	if err != nil || pid != os.Getpid() {
		t.Fatalf("PIDByPort(%d) = %d, %v; want %d", port, pid, err, os.Getpid())
	}
	ln.Close()
	if _, err := PIDByPort(port); err == nil {
		t.Fatal("closed port still found")
	}
}

// TestUsagePerProcess: with several watched processes, Since splits the
// servers' CPU by process, in the order they were given, and the parts add
// up to the whole.
func TestUsagePerProcess(t *testing.T) {
	at := time.Unix(1000, 0)
	a := Snapshot{At: at, ServerCPU: 3 * time.Second, PerPID: []time.Duration{time.Second, 2 * time.Second}}
	b := Snapshot{At: at.Add(2 * time.Second), ServerCPU: 6 * time.Second, PerPID: []time.Duration{1500 * time.Millisecond, 4500 * time.Millisecond}}
	u := Since(a, b)
	if u.ServerCores != 1.5 {
		t.Fatalf("ServerCores = %v, want 1.5", u.ServerCores)
	}
	if len(u.PerServerCores) != 2 || u.PerServerCores[0] != 0.25 || u.PerServerCores[1] != 1.25 {
		t.Fatalf("PerServerCores = %v, want [0.25 1.25]", u.PerServerCores)
	}
	one := Since(Snapshot{At: at, PerPID: []time.Duration{0}}, Snapshot{At: at.Add(time.Second), PerPID: []time.Duration{time.Second}})
	if one.PerServerCores != nil {
		t.Fatalf("one process: PerServerCores = %v, want none", one.PerServerCores)
	}
	w := Watch{PIDs: []int{os.Getpid(), 1 << 30}}
	if s := w.Snapshot(); len(s.PerPID) != 2 || s.PerPID[1] != 0 || s.ServerCPU != s.PerPID[0] {
		t.Fatalf("snapshot of self and a missing process: %+v", s)
	}
}
