package wsload

import (
	"bytes"
	"errors"
	"strconv"
)

// A probe message body is "lt|<epoch>|<sender>|<seq>|<unix ns>|" padded
// with 'x' to the body size: the receiver learns who sent it, which one it
// was and when, from the body alone, whatever the server wraps around it.
const bodyPrefix = "lt|"

// probe is what a message body says about itself.
type probe struct {
	epoch, sender, seq int
	sentNS             int64
}

// appendBody appends a probe body of at least size bytes.
func appendBody(dst []byte, p probe, size int) []byte {
	start := len(dst)
	dst = append(dst, bodyPrefix...)
	dst = strconv.AppendInt(dst, int64(p.epoch), 10)
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, int64(p.sender), 10)
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, int64(p.seq), 10)
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, p.sentNS, 10)
	dst = append(dst, '|')
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

var errNotProbe = errors.New("not a probe body")

// parseBody reads a probe body (padding and anything after the fifth
// field ignored).
func parseBody(b []byte) (probe, error) {
	if !bytes.HasPrefix(b, []byte(bodyPrefix)) {
		return probe{}, errNotProbe
	}
	b = b[len(bodyPrefix):]
	var f [4]int64
	for i := range f {
		j := bytes.IndexByte(b, '|')
		if j <= 0 {
			return probe{}, errNotProbe
		}
		v, ok := atoi(b[:j])
		if !ok {
			return probe{}, errNotProbe
		}
		f[i] = v
		b = b[j+1:]
	}
	return probe{epoch: int(f[0]), sender: int(f[1]), seq: int(f[2]), sentNS: f[3]}, nil
}

func atoi(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// Parley server frames start with their type (ARCHITECTURE.md, Contract: WebSocket; chat-service
// encodes structs whose first field is Type). Only message, ack and error
// frames matter to the harness, and it finds the probe body by searching
// rather than decoding the whole message, so the client spends its CPU on
// receiving rather than on JSON.
var (
	prefixMessage = []byte(`{"type":"message",`)
	prefixAck     = []byte(`{"type":"ack",`)
	prefixError   = []byte(`{"type":"error",`)
	prefixReady   = []byte(`{"type":"ready",`)
	prefixSubd    = []byte(`{"type":"subscribed",`)
	// prefixPresence starts presence and presence_delta frames.
	prefixPresence = []byte(`{"type":"presence`)
	bodyKey        = []byte(`"body":"` + bodyPrefix)
)

// frameKind classifies a Parley server frame.
type frameKind int

const (
	kindOther frameKind = iota
	kindMessage
	kindAck
	kindError
	kindReady
	kindSubscribed
	kindPresence
)

func classify(f []byte) frameKind {
	switch {
	case bytes.HasPrefix(f, prefixMessage):
		return kindMessage
	case bytes.HasPrefix(f, prefixAck):
		return kindAck
	case bytes.HasPrefix(f, prefixError):
		return kindError
	case bytes.HasPrefix(f, prefixReady):
		return kindReady
	case bytes.HasPrefix(f, prefixSubd):
		return kindSubscribed
	case bytes.HasPrefix(f, prefixPresence):
		return kindPresence
	}
	return kindOther
}

// probeIn finds the probe body inside a JSON frame. Probe bodies hold no
// characters JSON escapes, so the body ends at the next quote.
func probeIn(f []byte) (probe, error) {
	i := bytes.Index(f, bodyKey)
	if i < 0 {
		return probe{}, errNotProbe
	}
	b := f[i+len(bodyKey)-len(bodyPrefix):]
	j := bytes.IndexByte(b, '"')
	if j < 0 {
		return probe{}, errNotProbe
	}
	return parseBody(b[:j])
}

// clientMsgID names a probe for Parley's idempotent send; error frames
// carry it back as ref. Parley dedupes sends on (user, client_msg_id)
// forever, so the fleet's random tag keeps ids unique across runs that
// reuse the same users.
func appendClientMsgID(dst []byte, tag string, p probe) []byte {
	dst = append(dst, tag...)
	dst = append(dst, '-', 'e')
	dst = strconv.AppendInt(dst, int64(p.epoch), 10)
	dst = append(dst, 's')
	dst = strconv.AppendInt(dst, int64(p.sender), 10)
	dst = append(dst, 'n')
	dst = strconv.AppendInt(dst, int64(p.seq), 10)
	return dst
}

func parseClientMsgID(s, tag string) (probe, bool) {
	var p probe
	if len(s) <= len(tag) || s[:len(tag)] != tag || s[len(tag)] != '-' {
		return p, false
	}
	s = s[len(tag)+1:]
	var f [3]int64
	keys := "esn"
	b := []byte(s)
	for i := range f {
		if len(b) == 0 || b[0] != keys[i] {
			return p, false
		}
		b = b[1:]
		j := 0
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		v, ok := atoi(b[:j])
		if !ok {
			return p, false
		}
		f[i] = v
		b = b[j:]
	}
	if len(b) != 0 {
		return p, false
	}
	return probe{epoch: int(f[0]), sender: int(f[1]), seq: int(f[2])}, true
}

// appendSendFrame builds Parley's send frame around a probe.
func appendSendFrame(dst []byte, tag string, room int64, p probe, size int) []byte {
	dst = append(dst, `{"type":"send","room_id":`...)
	dst = strconv.AppendInt(dst, room, 10)
	// ref names the frame in error answers (the server's per-connection
	// frame limiter answers with ref, not client_msg_id).
	dst = append(dst, `,"ref":"`...)
	dst = appendClientMsgID(dst, tag, p)
	dst = append(dst, `","client_msg_id":"`...)
	dst = appendClientMsgID(dst, tag, p)
	dst = append(dst, `","body":"`...)
	dst = appendBody(dst, p, size)
	return append(dst, `"}`...)
}
