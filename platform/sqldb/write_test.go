package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/parleychat/parley/platform/sqldb"
)

type countObserver struct{ n atomic.Int64 }

func (c *countObserver) Observe(float64) { c.n.Add(1) }

// Every write, Tx or ExecContext, failed or not, is timed once and traced
// as one client span ("db.tx", "db.exec" with its statement cut to 1 KiB);
// reads are traced as "db.query" and not timed; nothing is traced under
// no recorded span. A Tx checks the file just before it commits, so a file
// deleted while the transaction runs refuses the commit.
func TestWritesAreTimedTracedAndGuarded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chat.db")
	db := openFile(t, path)
	writes := &countObserver{}
	db.ObserveWrites(writes)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, root := tp.Tracer("test").Start(context.Background(), "request")

	longQuery := `UPDATE notes SET body = body /* ` + strings.Repeat("x", 2000) + ` */`
	boom := errors.New("boom")
	steps := []struct {
		name  string
		write func() error
		span  string
		query string
		err   bool
	}{
		{"tx", func() error { return insertCtx(ctx, db, 1) }, "db.tx", "", false},
		{"failed tx", func() error {
			return db.Tx(ctx, func(*sql.Tx) error { return boom })
		}, "db.tx", "", true},
		{"exec", func() error {
			_, err := db.ExecContext(ctx, `INSERT INTO notes (id) VALUES (2)`)
			return err
		}, "db.exec", `INSERT INTO notes (id) VALUES (2)`, false},
		{"failed exec", func() error {
			_, err := db.ExecContext(ctx, `INSERT INTO notes (id) VALUES (2)`)
			return err
		}, "db.exec", `INSERT INTO notes (id) VALUES (2)`, true},
		{"long exec", func() error {
			_, err := db.ExecContext(ctx, longQuery)
			return err
		}, "db.exec", longQuery[:1024], false},
		{"untraced tx", func() error { return insertCtx(context.Background(), db, 3) }, "", "", false},
		{"query", func() error {
			var n int
			return db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notes`).Scan(&n)
		}, "db.query", `SELECT COUNT(*) FROM notes`, false},
	}
	wantWrites := int64(0)
	for _, s := range steps {
		rec.Reset()
		if err := s.write(); (err != nil) != s.err {
			t.Fatalf("%s: err = %v, want an error: %v", s.name, err, s.err)
		}
		if s.span != "db.query" {
			wantWrites++
		}
		if got := writes.n.Load(); got != wantWrites {
			t.Errorf("%s: %d writes observed, want %d", s.name, got, wantWrites)
		}
		checkSpan(t, s.name, rec.Ended(), s.span, s.query, s.err)
	}

	// The file goes while a transaction runs: its commit is refused.
	rec.Reset()
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notes (id) VALUES (4)`); err != nil {
			return err
		}
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			os.Remove(f)
		}
		return nil
	})
	if !errors.Is(err, sqldb.ErrFileReplaced) {
		t.Fatalf("commit into a file deleted during the transaction: %v, want ErrFileReplaced", err)
	}
	if got := writes.n.Load(); got != wantWrites+1 {
		t.Errorf("refused commit: %d writes observed, want %d", got, wantWrites+1)
	}
	checkSpan(t, "refused commit", rec.Ended(), "db.tx", "", true)
	root.End()
}

func insertCtx(ctx context.Context, db *sqldb.DB, id int) error {
	return db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO notes (id) VALUES (?)`, id)
		return err
	})
}

// checkSpan wants spans to be the one span name (none when name is empty)
// of a SQLite client call, with query as its statement and an error status
// when failed.
func checkSpan(t *testing.T, step string, spans []sdktrace.ReadOnlySpan, name, query string, failed bool) {
	t.Helper()
	if name == "" {
		if len(spans) != 0 {
			t.Errorf("%s: %d spans without a recorded parent, want none", step, len(spans))
		}
		return
	}
	if len(spans) != 1 {
		t.Fatalf("%s: %d spans, want 1 %q", step, len(spans), name)
	}
	s := spans[0]
	attrs := map[string]string{}
	for _, a := range s.Attributes() {
		attrs[string(a.Key)] = a.Value.String()
	}
	if s.Name() != name || s.SpanKind() != trace.SpanKindClient || attrs["db.system.name"] != "sqlite" || attrs["db.query.text"] != query {
		t.Errorf("%s: span %q kind %v attrs %v, want %q, client, sqlite, query %.40q", step, s.Name(), s.SpanKind(), attrs, name, query)
	}
	if (s.Status().Code == codes.Error) != failed {
		t.Errorf("%s: span status %v, want an error: %v", step, s.Status(), failed)
	}
}
