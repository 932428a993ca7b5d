package storetest_test

import (
	"os"
	"testing"

	"github.com/parleychat/parley/chat-service/internal/store/storetest"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
)

func TestMain(m *testing.M) {
	storetest.WriterMain() // a writer process of SeqGapFreeAcrossProcesses
	os.Exit(m.Run())
}

// TestStore runs the suite on SQLite and on PostgreSQL (TEST_POSTGRES_DSN;
// required under CI).
func TestStore(t *testing.T) { sqldbtest.EachFresh(t, storetest.Run) }
