package wsload

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestMessageHead(t *testing.T) {
	for _, c := range []struct {
		frame  string
		prefix []byte
		want   head
		ok     bool
	}{
		{`{"type":"message","message":{"id":1204,"room_id":7,"seq":42,"user_id":1,"body":"x"}}`, prefixMessage, head{1204, 7, 42}, true},
		{`{"type":"ack","client_msg_id":"t-e0s1n2","message":{"id":9,"room_id":3,"seq":1,"user_id":1}}`, prefixAck, head{9, 3, 1}, true},
		{`{"type":"message","message":{"id":0,"room_id":7,"seq":42,"x":1}}`, prefixMessage, head{}, false},
		{`{"type":"message","message":{"id":5,"seq":42,"room_id":7,"x":1}}`, prefixMessage, head{}, false},
		{`{"type":"message"}`, prefixMessage, head{}, false},
	} {
		got, ok := messageHead([]byte(c.frame), c.prefix)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("messageHead(%s) = %+v, %v; want %+v, %v", c.frame, got, ok, c.want, c.ok)
		}
	}
	p, ok := ackProbe([]byte(`{"type":"ack","client_msg_id":"ab12-e0s3n17","message":{}}`), "ab12")
	if !ok || p.sender != 3 || p.seq != 17 {
		t.Errorf("ackProbe = %+v, %v", p, ok)
	}
}

func TestRetryDelay(t *testing.T) {
	closeErr := func(code int, text string) error { return &websocket.CloseError{Code: code, Text: text} }
	for _, c := range []struct {
		name        string
		err         error
		attempt     int
		lo, hi      time.Duration
		exponential bool
		reason      string
	}{
		{"restart", closeErr(1012, "server restart"), 0, shortMin, shortMin + shortSpan, false, "1012"},
		{"rebalance hint", closeErr(1012, `{"code":"rebalance","retry_after_ms":2500}`), 3, 2500 * time.Millisecond, 2500 * time.Millisecond, false, "1012 rebalance"},
		{"overloaded hint", closeErr(1013, `{"code":"overloaded","retry_after_ms":1200}`), 0, 1200 * time.Millisecond, 1200 * time.Millisecond, false, "1013 overloaded"},
		{"slow reader", closeErr(1013, "too slow"), 0, shortMin, shortMin + shortSpan, false, "1013"},
		{"eof, first", io.ErrUnexpectedEOF, 0, 250 * time.Millisecond, 500 * time.Millisecond, true, "1006 eof"},
		{"eof, fourth", io.ErrUnexpectedEOF, 3, 2 * time.Second, 4 * time.Second, true, "1006 eof"},
		{"capped", errors.New("x"), 20, 5 * time.Second, 10 * time.Second, true, "1006 read error"},
	} {
		d, exponential := retryDelay(c.err, c.attempt, 10*time.Second)
		if d < c.lo || d > c.hi || exponential != c.exponential {
			t.Errorf("%s: retryDelay = %v, %v; want in [%v,%v], %v", c.name, d, exponential, c.lo, c.hi, c.exponential)
		}
		if r := closeReason(c.err, false); r != c.reason {
			t.Errorf("%s: closeReason = %q, want %q", c.name, r, c.reason)
		}
	}
}
