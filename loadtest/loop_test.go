package main

import (
	"errors"
	"testing"
	"time"

	"github.com/parleychat/parley/loadtest/internal/stats"
	"github.com/parleychat/parley/loadtest/internal/wsload"
)

func TestLoopbackOnly(t *testing.T) {
	ok := []string{"http://127.0.0.1:5000", "ws://localhost:5003/ws", "http://[::1]:80/x", "wss://127.1.2.3/ws", "https://LOCALHOST"}
	bad := []string{"http://10.0.0.1:5000", "ws://example.com/ws", "http://0.0.0.0:5000", "ftp://127.0.0.1", "http:///x",
		"http://127.0.0.1.nip.io", "http://[::ffff:8.8.8.8]:80", "not a url\x7f"}
	for _, u := range ok {
		if err := checkLoopbackURL(u); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	for _, u := range bad {
		if err := checkLoopbackURL(u); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	if err := checkLoopbackAddr("0.0.0.0:80"); !errors.Is(err, errNotLoopback) {
		t.Errorf("listening on every interface accepted: %v", err)
	}
	if err := checkLoopbackAddr("127.0.0.1:0"); err != nil {
		t.Errorf("127.0.0.1:0 refused: %v", err)
	}
}

func TestJudge(t *testing.T) {
	good := wsload.Result{Rate: 100, SendRate: 99, Latency: stats.Summary{P99: 100}}
	cases := []struct {
		name string
		mod  func(r *wsload.Result)
		pass bool
	}{
		{"sustained", func(*wsload.Result) {}, true},
		{"p99 over", func(r *wsload.Result) { r.Latency.P99 = 251 }, false},
		{"lost", func(r *wsload.Result) { r.Lost = 1 }, false},
		{"duplicate", func(r *wsload.Result) { r.Duplicates = 1 }, false},
		{"refused", func(r *wsload.Result) { r.SendErrors = 1 }, false},
		{"disconnect", func(r *wsload.Result) { r.Disconnects = map[string]int{"close 1013": 1} }, false},
		{"senders behind", func(r *wsload.Result) { r.SendRate = 90 }, false},
		{"drain timeout", func(r *wsload.Result) { r.DrainTimedOut = true }, false},
	}
	for _, c := range cases {
		r := good
		c.mod(&r)
		if ok, why := judge(r, 250*time.Millisecond); ok != c.pass {
			t.Errorf("%s: passed=%v (%s)", c.name, ok, why)
		}
	}
}

func TestNumberFormatting(t *testing.T) {
	cases := map[float64]string{1234567: "1,234,567", -4321: "-4,321", 999: "999", 12.345: "12.3", 1.234: "1.23", 0: "0.00"}
	for v, want := range cases {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
}
