package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	gateway "github.com/parleychat/parley/api-gateway/app"
	auth "github.com/parleychat/parley/auth-service/app"
	chat "github.com/parleychat/parley/chat-service/app"
	frontend "github.com/parleychat/parley/frontend/app"
	"github.com/parleychat/parley/platform/testkit"
	users "github.com/parleychat/parley/user-service/app"
)

// stack is the whole of Parley running in this test process, each service
// on its own loopback port with its own SQLite file, wired as in compose.
type stack struct {
	Auth, User, Chat, Gateway, Frontend *testkit.Service
	FrontendURL                         string
	// ChatWS is the WebSocket URL the browser connects to.
	ChatWS string
	// ChatB and ChatWSB are the second chat-service replica and its
	// WebSocket URL in a replica stack (startReplicaStack), else nil and "".
	ChatB   *testkit.Service
	ChatWSB string

	chatEnv, authEnv map[string]string
}

const adminPassword = "admin-password-for-tests"

// startStack starts the five services and stops them when the test ends.
// chatEnv, when given, adds to chat-service's environment (a test that
// seeds thousands of messages lifts the per-user send rate).
func startStack(t *testing.T, chatEnv ...map[string]string) *stack {
	t.Helper()
	var extra map[string]string
	if len(chatEnv) > 0 {
		extra = chatEnv[0]
	}
	return startStackWith(t, extra, false)
}

// startReplicaStack is startStack with two chat-service replicas, A (Chat)
// and B (ChatB), on one SQLite database and an embedded NATS server. The
// browser gets both WebSocket URLs in CHAT_WS_URL; the gateway and
// user-service call B, so A can be stopped under the browsers.
func startReplicaStack(t *testing.T) *stack {
	t.Helper()
	return startStackWith(t, map[string]string{"NATS_URL": testkit.StartNATS(t)}, true)
}

func startStackWith(t testing.TB, chatExtra map[string]string, replicas bool) *stack {
	t.Helper()
	return startStackEnv(t, nil, chatExtra, replicas)
}

// startStackEnv is startStackWith with allExtra added to every service's
// environment (the tracing test points them all at one OTLP receiver).
func startStackEnv(t testing.TB, allExtra, chatExtra map[string]string, replicas bool) *stack {
	t.Helper()
	dir := t.TempDir()
	ports := map[string]int{}
	for _, name := range []string{"auth", "user", "chat", "chatb", "gateway", "frontend"} {
		ports[name] = testkit.FreePort(t)
	}
	url := func(name string) string { return fmt.Sprintf("http://127.0.0.1:%d", ports[name]) }
	frontendURL := url("frontend")
	chatURL := url("chat")
	if replicas {
		chatURL = url("chatb")
	}
	common := func(name string, extra map[string]string) map[string]string {
		env := map[string]string{
			"PORT":             strconv.Itoa(ports[name]),
			"DATA_DIR":         filepath.Join(dir, name),
			"AUTH_SERVICE_URL": url("auth"),
			"USER_SERVICE_URL": url("user"),
			"CHAT_SERVICE_URL": chatURL,
			"ALLOWED_ORIGINS":  frontendURL,
			"LOG_LEVEL":        "warn",
		}
		if os.Getenv("PARLEY_TEST_LOGS") != "" {
			env["LOG_LEVEL"] = "debug"
		}
		for _, m := range []map[string]string{allExtra, extra} {
			for k, v := range m {
				env[k] = v
			}
		}
		return env
	}
	s := &stack{FrontendURL: frontendURL, ChatWS: fmt.Sprintf("ws://127.0.0.1:%d/ws", ports["chat"])}
	s.authEnv = common("auth", map[string]string{
		"BCRYPT_COST": "4", "ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": adminPassword,
	})
	s.Auth = testkit.Start(t, "auth-service", auth.Run, copyEnv(s.authEnv))
	s.chatEnv = common("chat", chatExtra)
	s.Chat = testkit.Start(t, "chat-service", chat.Run, copyEnv(s.chatEnv))
	wsURLs := s.ChatWS
	if replicas {
		envB := copyEnv(s.chatEnv) // same DATA_DIR: one database
		envB["PORT"] = strconv.Itoa(ports["chatb"])
		s.ChatB = testkit.Start(t, "chat-service-b", chat.Run, envB)
		s.ChatWSB = fmt.Sprintf("ws://127.0.0.1:%d/ws", ports["chatb"])
		wsURLs += ", " + s.ChatWSB
	}
	s.User = testkit.Start(t, "user-service", users.Run, common("user", nil))
	s.Gateway = testkit.Start(t, "api-gateway", gateway.Run, common("gateway", map[string]string{
		// Browser tests and API walks come from one address; the limit
		// under test lives in the gateway's own tests.
		"RATE_LIMIT_RPS": "1000", "RATE_LIMIT_BURST": "2000",
	}))
	s.Frontend = testkit.Start(t, "frontend", frontend.Run, common("frontend", map[string]string{
		"API_BASE_URL": url("gateway"), "CHAT_WS_URL": wsURLs,
	}))
	return s
}

// restartChat stops chat-service and starts it again on the same port and
// database, as a rollout or crash would.
func (s *stack) restartChat(t *testing.T) {
	t.Helper()
	if err := s.Chat.Stop(); err != nil {
		t.Fatalf("chat-service stop: %v", err)
	}
	s.Chat = testkit.Start(t, "chat-service", chat.Run, copyEnv(s.chatEnv))
}

// restartAuth starts auth-service again on the same port and database
// after a test stopped it.
func (s *stack) restartAuth(t *testing.T) {
	t.Helper()
	s.Auth = testkit.Start(t, "auth-service", auth.Run, copyEnv(s.authEnv))
}

func copyEnv(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
