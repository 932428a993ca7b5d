package wsload

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBodyRoundTrip(t *testing.T) {
	p := probe{epoch: 3, sender: 917, seq: 12345, sentNS: 1_763_780_000_123_456_789}
	for _, size := range []int{0, 32, 64, 400} {
		b := appendBody(nil, p, size)
		if len(b) < size {
			t.Fatalf("size %d: body %d bytes", size, len(b))
		}
		got, err := parseBody(b)
		if err != nil || got != p {
			t.Fatalf("size %d: parse(%q) = %+v, %v", size, b, got, err)
		}
	}
}

func TestParseBodyRejects(t *testing.T) {
	for _, b := range []string{"", "hello", "lt|", "lt|1|2|3", "lt|1|2|x|4|", "lt||2|3|4|", "lt|1|2|3|99999999999999999999|"} {
		if _, err := parseBody([]byte(b)); err == nil {
			t.Errorf("parseBody(%q) accepted", b)
		}
	}
}

// parleyFrame builds the frames chat-service sends, the way it does: a
// struct whose first field is the type, marshalled by encoding/json.
func parleyFrame(t *testing.T, typ, body string) []byte {
	t.Helper()
	type message struct {
		ID          int64   `json:"id"`
		RoomID      int64   `json:"room_id"`
		Seq         int64   `json:"seq"`
		UserID      int64   `json:"user_id"`
		Username    string  `json:"username"`
		Body        string  `json:"body"`
		ClientMsgID *string `json:"client_msg_id"`
		CreatedAt   string  `json:"created_at"`
		Deleted     bool    `json:"deleted"`
		Reactions   []int   `json:"reactions"`
	}
	cmid := "x"
	m := message{ID: 9, RoomID: 2, Seq: 7, UserID: 4, Username: "lt_body_guy", Body: body, ClientMsgID: &cmid,
		CreatedAt: "2026-01-02T03:04:05.678Z", Reactions: []int{}}
	var v any
	switch typ {
	case "message":
		v = struct {
			Type    string  `json:"type"`
			Message message `json:"message"`
		}{typ, m}
	case "ack":
		v = struct {
			Type        string  `json:"type"`
			ClientMsgID string  `json:"client_msg_id"`
			Message     message `json:"message"`
		}{typ, cmid, m}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestProbeInParleyFrames(t *testing.T) {
	p := probe{epoch: 1, sender: 2, seq: 3, sentNS: 4}
	body := string(appendBody(nil, p, 64))
	for _, typ := range []string{"message", "ack"} {
		f := parleyFrame(t, typ, body)
		want := map[string]frameKind{"message": kindMessage, "ack": kindAck}[typ]
		if k := classify(f); k != want {
			t.Fatalf("%s classified %v", f, k)
		}
		got, err := probeIn(f)
		if err != nil || got != p {
			t.Fatalf("probeIn(%s) = %+v, %v", f, got, err)
		}
	}
	if _, err := probeIn(parleyFrame(t, "message", "a person typed this")); err == nil {
		t.Fatal("a non-probe body was taken for a probe")
	}
	cases := map[string]frameKind{
		`{"type":"error","code":"rate_limited","message":"m","ref":"r"}`: kindError,
		`{"type":"ready","user":{"id":1}}`:                               kindReady,
		`{"type":"subscribed","room_id":1,"last_seq":0}`:                 kindSubscribed,
		`{"type":"presence","room_id":1,"online":[]}`:                    kindPresence,
		`{"type":"presence_delta","room_id":1,"joined":[]}`:              kindPresence,
		`{"type":"typing","room_id":1}`:                                  kindOther,
		`{"type":"messages"}`:                                            kindOther,
	}
	for f, want := range cases {
		if got := classify([]byte(f)); got != want {
			t.Errorf("classify(%s) = %v, want %v", f, got, want)
		}
	}
}

func TestSendFrameIsValidJSON(t *testing.T) {
	p := probe{epoch: 2, sender: 5, seq: 41, sentNS: 99}
	raw := appendSendFrame(nil, "ab12", 77, p, 64)
	var f struct {
		Type        string `json:"type"`
		RoomID      int64  `json:"room_id"`
		Ref         string `json:"ref"`
		ClientMsgID string `json:"client_msg_id"`
		Body        string `json:"body"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	if f.Type != "send" || f.RoomID != 77 || f.Ref != f.ClientMsgID || len(f.Body) < 64 {
		t.Fatalf("frame %+v", f)
	}
	got, ok := parseClientMsgID(f.ClientMsgID, "ab12")
	if !ok || got.epoch != 2 || got.sender != 5 || got.seq != 41 {
		t.Fatalf("parseClientMsgID(%q) = %+v, %v", f.ClientMsgID, got, ok)
	}
	for _, bad := range []string{"", "ab12", "ab12-", "zz99-e1s2n3", "ab12-e1s2", "ab12-e1s2n3x", "ab12-s1e2n3", "ab12e1s2n3"} {
		if _, ok := parseClientMsgID(bad, "ab12"); ok {
			t.Errorf("parseClientMsgID(%q) accepted", bad)
		}
	}
	if !strings.HasPrefix(f.ClientMsgID, "ab12-") {
		t.Fatalf("client_msg_id %q lacks the fleet tag", f.ClientMsgID)
	}
}
