package app_test

import (
	"os"
	"testing"

	"github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/platform/serve"
)

// replicaEnv, when set, turns a re-executed test binary into a chat-service
// replica: the same serve.Main(app.Run) as main.go, configured from the
// process environment, so a test can kill it with SIGKILL (process_test.go).
const replicaEnv = "PARLEY_TEST_CHAT_REPLICA"

func TestMain(m *testing.M) {
	if os.Getenv(replicaEnv) != "" {
		serve.Main(app.Run)
		os.Exit(0)
	}
	os.Exit(m.Run())
}
