package proc

import (
	"net"
	"os"
	"testing"
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
