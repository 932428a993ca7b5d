package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
	"github.com/parleychat/parley/platform/testkit"
)

// TestWebhookAcrossReplicas: a webhook made on replica A and posted to on
// replica A reaches a subscriber of replica B (the send path's fan-out
// through NATS), and its token works on B as well (one database).
func TestWebhookAcrossReplicas(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, target sqldb.Target) {
		natsURL := testkit.StartNATS(t)
		is := authntest.New(t)
		env := map[string]string{"DATABASE_URL": target.URL(), "JWKS_URL": is.JWKSURL, "NATS_URL": natsURL, "LOG_LEVEL": "warn"}
		a := testkit.Start(t, "chat-a", app.Run, copyMap(env))
		b := testkit.Start(t, "chat-b", app.Run, copyMap(env))
		alice := is.Token(t, 1, "alice", authn.RoleUser, time.Hour)
		bob := newClient(t, "bob", is.Token(t, 2, "bob", authn.RoleUser, time.Hour))
		bob.connect(b.URL, 0) // joins and follows General (room 1)

		var hook struct {
			URL string `json:"url"`
		}
		req, _ := http.NewRequest("POST", a.URL+"/rooms/1/webhooks", strings.NewReader(`{"name":"CI"}`))
		req.Header.Set("Authorization", "Bearer "+alice)
		doJSON(t, req, http.StatusCreated, &hook)
		_, token, _ := strings.Cut(hook.URL, "/hooks/")
		for i, base := range []string{a.URL, b.URL} {
			var posted struct {
				ID int64 `json:"id"`
			}
			req, _ := http.NewRequest("POST", base+"/hooks/"+token, bytes.NewBufferString(`{"text":"build passed"}`))
			doJSON(t, req, http.StatusCreated, &posted)
			testkit.Eventually(t, "bob on B sees post "+string(rune('1'+i)), 10*time.Second, func() bool { return bob.hasAll([]int64{posted.ID}) == 0 })
		}
	})
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func doJSON(t *testing.T, req *http.Request, want int, out any) {
	t.Helper()
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d", req.Method, req.URL.Path, res.StatusCode, want)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
