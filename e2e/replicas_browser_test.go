package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/platform/testkit"
)

// pinRandom makes Math.random return r in every document the tab loads,
// so the SPA's random pick of a chat replica is known: with two URLs, r
// below 0.5 picks the first.
func (p *tab) pinRandom(r float64) {
	p.t.Helper()
	js := fmt.Sprintf(`Math.random = () => %v;`, r)
	p.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js})
		return err
	}))
}

// jsOnReplica is true when the page's live connection is up on replica i
// (its index in CHAT_WS_URL).
func jsOnReplica(i int) string {
	return fmt.Sprintf(`%s && document.documentElement.dataset.chatReplica === '%d'`, jsConnected, i)
}

// wsConnections reads a chat-service replica's open WebSocket count from
// its metrics.
func wsConnections(t *testing.T, svc *testkit.Service) int {
	t.Helper()
	resp, err := http.Get(svc.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^chat_ws_connections (\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no chat_ws_connections in /metrics", svc.Name)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestBrowserReplicas runs two chat-service replicas with the browser told
// both WebSocket URLs: two users land on different replicas and talk live
// across them; then replica A stops under its user, whose page fails over
// to B, and nothing sent around the failover is lost or doubled. A reload
// while A is down picks A again and moves on to B.
func TestBrowserReplicas(t *testing.T) {
	chromiumPath(t) // skip before starting anything when there is no browser
	s := startReplicaStack(t)
	b := startBrowser(t)
	alice := b.newTab("alice", s.FrontendURL)
	bob := b.newTab("bob", s.FrontendURL)
	defer alice.checkClean()
	defer bob.checkClean()
	alice.pinRandom(0)  // replica A, the first URL
	bob.pinRandom(0.75) // replica B, the second

	alice.register("alice")
	bob.register("bob")
	if got := eval[[]string](alice, `fetch('/config.json').then(r => r.json()).then(c => c.chat_ws_urls)`); !slices.Equal(got, []string{s.ChatWS, s.ChatWSB}) {
		t.Fatalf("config.json chat_ws_urls = %v, want [%s %s]", got, s.ChatWS, s.ChatWSB)
	}
	alice.wait("alice on replica A", jsOnReplica(0))
	bob.wait("bob on replica B", jsOnReplica(1))
	// The servers agree: one socket each.
	testkit.Eventually(t, "one WebSocket on each replica", waitTimeout, func() bool {
		return wsConnections(t, s.Chat) == 1 && wsConnections(t, s.ChatB) == 1
	})
	room := eval[string](alice, `location.pathname`)
	if bobRoom := eval[string](bob, `location.pathname`); bobRoom != room {
		t.Fatalf("alice is in %s, bob in %s", room, bobRoom)
	}

	// Live both ways across the replicas (through NATS).
	want := []string{"A1: hello from replica A", "B1: hello back from replica B"}
	alice.send(want[0])
	bob.wait("alice's message on B", hasBody(want[0]))
	bob.send(want[1])
	alice.wait("bob's message on A", hasBody(want[1]))

	// Replica A goes away (a graceful stop: its sockets close with 1012).
	// Both users write at once, while alice's page is between replicas.
	if err := s.Chat.Stop(); err != nil {
		t.Fatalf("stop replica A: %v", err)
	}
	during := []string{"A2: sent while A stops", "B2: sent while alice moves"}
	alice.send(during[0])
	bob.send(during[1])
	want = append(want, during...)
	alice.wait("alice on replica B", jsOnReplica(1))
	bob.wait("bob still on replica B", jsOnReplica(1))
	for _, p := range []*tab{alice, bob} {
		for _, m := range during {
			p.wait(m, hasBody(m))
		}
	}

	// Live again, both ways, now on one replica.
	after := []string{"A3: alice after the failover", "B3: bob after the failover"}
	alice.send(after[0])
	bob.wait("alice's message after the failover", hasBody(after[0]))
	bob.send(after[1])
	alice.wait("bob's message after the failover", hasBody(after[1]))
	want = append(want, after...)

	noneOutstanding := `!document.querySelector('[data-testid=message-pending], [data-testid=message-failed]')`
	checkHistory := func(p *tab) {
		t.Helper()
		p.wait("no message pending", noneOutstanding)
		got := eval[[]string](p, jsBodies)
		for _, m := range want {
			if n := countOf(got, m); n != 1 {
				t.Errorf("%s: %q shows %d times in %q", p.name, m, n, got)
			}
		}
		if d := firstDuplicate(got); d != "" {
			t.Errorf("%s: %q shows twice", p.name, d)
		}
	}
	checkHistory(alice)
	checkHistory(bob)
	if a, b := eval[[]string](alice, jsBodies), eval[[]string](bob, jsBodies); !slices.Equal(a, b) {
		t.Errorf("the two pages differ:\nalice %q\nbob   %q", a, b)
	}

	// The server's history holds each message once.
	var login struct {
		AccessToken string `json:"access_token"`
	}
	anon := &api{t: t, base: s.Gateway.URL}
	anon.must(200, "POST", "/api/auth/login", map[string]string{"username": "alice", "password": password}, &login)
	var hist struct {
		Messages []message `json:"messages"`
	}
	roomID := strings.TrimPrefix(room, "/rooms/")
	anon.with(login.AccessToken).must(200, "GET", "/api/chat/rooms/"+roomID+"/messages?limit=100", nil, &hist)
	var bodies []string
	for _, m := range hist.Messages {
		bodies = append(bodies, m.Body)
	}
	for _, m := range want {
		if n := countOf(bodies, m); n != 1 {
			t.Errorf("history: %q stored %d times in %q", m, n, bodies)
		}
	}

	// A reload while A is down picks A again (the pinned random), fails to
	// open it and moves on to B with the whole history.
	alice.do(chromedp.Reload())
	alice.wait("alice back on replica B after a reload", jsOnReplica(1))
	alice.wait("the history after the reload", hasBody(want[len(want)-1]))
	checkHistory(alice)
	testkit.Eventually(t, "both sockets on replica B", waitTimeout, func() bool { return wsConnections(t, s.ChatB) == 2 })
}
