// Package sqldbtest gives store tests a fresh database of each dialect: a
// SQLite file in the test's temp dir, and a new PostgreSQL database on the
// server named by TEST_POSTGRES_DSN (dropped when the test ends).
package sqldbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/parleychat/parley/platform/sqldb"
)

// SQLite is a target for a new SQLite file.
func SQLite(t testing.TB, name string) sqldb.Target {
	t.Helper()
	return sqldb.Target{Dialect: sqldb.SQLite, Path: filepath.Join(t.TempDir(), name)}
}

// PostgresDSN returns TEST_POSTGRES_DSN. Without it the test is skipped
// locally and fails under CI, so CI can never pass without PostgreSQL.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TEST_POSTGRES_DSN is not set but CI is: the PostgreSQL half of the tests must run in CI (.ci/run starts a server)")
		}
		t.Skip("PostgreSQL tests skipped: set TEST_POSTGRES_DSN=postgres://user:pass@127.0.0.1:5432/db?sslmode=disable to run them")
	}
	return dsn
}

// Postgres creates a fresh database on the TEST_POSTGRES_DSN server and
// returns a target for it; the database is dropped when the test ends.
func Postgres(t testing.TB) sqldb.Target {
	t.Helper()
	dsn := PostgresDSN(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "parley_t_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", dsn)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return sqldb.Target{Dialect: sqldb.Postgres, DSN: u.String()}
}

// Each runs fn once per dialect as a subtest: "sqlite" always, "postgres"
// when TEST_POSTGRES_DSN is set (and always in CI).
func Each(t *testing.T, fn func(t *testing.T, target sqldb.Target)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, "test.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// Fresh makes a new, empty database of one dialect for the calling test.
type Fresh func(t testing.TB) sqldb.Target

// EachFresh is Each for suites whose every subtest wants its own database:
// fn runs once per dialect and gets a constructor instead of one target.
// Without TEST_POSTGRES_DSN the whole "postgres" subtest is skipped once
// (and fails under CI), rather than each of its subtests.
func EachFresh(t *testing.T, fn func(t *testing.T, fresh Fresh)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, func(t testing.TB) sqldb.Target { return SQLite(t, "test.db") })
	})
	t.Run("postgres", func(t *testing.T) {
		PostgresDSN(t)
		fn(t, func(t testing.TB) sqldb.Target { return Postgres(t) })
	})
}
