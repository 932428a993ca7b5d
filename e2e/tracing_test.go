package e2e

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/parleychat/parley/platform/testkit"
	"github.com/parleychat/parley/platform/tracing/tracingtest"
)

// TestOneSendIsOneTrace follows one message sent over the gateway's REST
// API to a listener on the other chat replica: every service exports to an
// in-process OTLP receiver, and one trace must connect the gateway's server
// span, chat's server span (replica B, which the gateway calls), a database
// span and a broker publish span of B, and the broker receive span of
// replica A, which delivers the message to the WebSocket.
func TestOneSendIsOneTrace(t *testing.T) {
	rcv := tracingtest.Start(t)
	s := startStackEnv(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.Endpoint(),
		"OTEL_TRACES_SAMPLER":         "always_on",
		"OTEL_BSP_SCHEDULE_DELAY":     "50",
	}, map[string]string{"NATS_URL": testkit.StartNATS(t)}, true)
	anon := &api{t: t, base: s.Gateway.URL}
	alice, _ := register(t, anon, "alice")
	_, bs := register(t, anon, "bob")

	var r room
	alice.must(201, "POST", "/api/chat/rooms", map[string]string{"name": "traced", "kind": "public"}, &r)
	rid := strconv.FormatInt(r.ID, 10)
	bob := anon.with(bs.AccessToken)
	bob.must(200, "POST", "/api/chat/rooms/"+rid+"/join", nil, nil)

	// Bob listens on replica A; the gateway sends to replica B.
	ws := dialChat(t, s, bs.AccessToken)
	ws.send(map[string]any{"type": "subscribe", "room_id": r.ID})
	ws.await("subscribed")
	var sent message
	alice.must(201, "POST", "/api/chat/rooms/"+rid+"/messages", map[string]string{"body": "follow me"}, &sent)
	if m := ws.awaitMessage(); m.ID != sent.ID {
		t.Fatalf("replica A delivered %+v, want message %d", m, sent.ID)
	}

	path := "/api/chat/rooms/" + rid + "/messages"
	var gw tracingtest.Span
	var spans []tracingtest.Span
	var missing string
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		gw, spans, missing = findSendTrace(rcv, path)
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connected trace for POST %s after 20s: %s\nspans received:\n%s", path, missing, dump(rcv.Spans()))
		}
		<-tick.C
	}
	if errs := rcv.Errors(); len(errs) > 0 {
		t.Fatalf("the receiver refused exports: %v", errs)
	}
	t.Logf("trace %s:\n%s", gw.TraceID, dump(spans))
}

// findSendTrace looks for the gateway's server span of POST path and checks
// its trace; missing says what is not there (yet).
func findSendTrace(rcv *tracingtest.Receiver, path string) (tracingtest.Span, []tracingtest.Span, string) {
	var gw tracingtest.Span
	for _, sp := range rcv.Spans() {
		if sp.Service == "api-gateway" && sp.Kind == tracepb.Span_SPAN_KIND_SERVER && sp.Attrs["url.path"] == path && sp.Attrs["http.request.method"] == "POST" {
			gw = sp
		}
	}
	if gw.SpanID == "" {
		return gw, nil, "the gateway's server span"
	}
	spans := rcv.Trace(gw.TraceID)
	byID := map[string]tracingtest.Span{}
	for _, sp := range spans {
		byID[sp.SpanID] = sp
	}
	// below reports whether sp descends from ancestor.
	below := func(sp tracingtest.Span, ancestor string) bool {
		for i := 0; i < 64 && sp.ParentID != ""; i++ {
			if sp.ParentID == ancestor {
				return true
			}
			sp = byID[sp.ParentID]
		}
		return false
	}
	find := func(ok func(tracingtest.Span) bool) (tracingtest.Span, bool) {
		for _, sp := range spans {
			if ok(sp) {
				return sp, true
			}
		}
		return tracingtest.Span{}, false
	}
	chat, ok := find(func(sp tracingtest.Span) bool {
		return sp.Service == "chat-service" && sp.Kind == tracepb.Span_SPAN_KIND_SERVER &&
			sp.Attrs["http.route"] == "/rooms/:id/messages" && below(sp, gw.SpanID)
	})
	if !ok {
		return gw, spans, "chat-service's server span for POST /rooms/:id/messages below the gateway's"
	}
	if _, ok := find(func(sp tracingtest.Span) bool {
		return sp.Instance == chat.Instance && sp.Name == "db.tx" && below(sp, chat.SpanID)
	}); !ok {
		return gw, spans, "a database transaction span below chat's server span"
	}
	pub, ok := find(func(sp tracingtest.Span) bool {
		return sp.Instance == chat.Instance && sp.Kind == tracepb.Span_SPAN_KIND_PRODUCER &&
			sp.Attrs["messaging.system"] == "nats" && below(sp, chat.SpanID)
	})
	if !ok {
		return gw, spans, "a broker publish span below chat's server span"
	}
	if _, ok := find(func(sp tracingtest.Span) bool {
		return sp.Service == "chat-service" && sp.Instance != chat.Instance &&
			sp.Kind == tracepb.Span_SPAN_KIND_CONSUMER && sp.ParentID == pub.SpanID
	}); !ok {
		return gw, spans, "the other replica's broker receive span below the publish span"
	}
	return gw, spans, ""
}

func dump(spans []tracingtest.Span) string {
	lines := make([]string, 0, len(spans))
	for _, sp := range spans {
		lines = append(lines, fmt.Sprintf("  %s %s/%s parent=%s %s[%s] %v %s", sp.TraceID[:8], sp.Service, sp.Instance[:4], sp.ParentID, sp.SpanID, sp.Kind, sp.Name, sp.Attrs["http.route"]))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
