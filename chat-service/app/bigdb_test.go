package app_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
	"github.com/parleychat/parley/platform/testkit"
)

// TestBigDatabaseBackup is the generator and stopwatch behind
// docs/BENCHMARKS.md's backup figures, not a check: with
// PARLEY_BIGDB_MIB=1024 it fills a chat database of that size through the
// running service (24 MiB files attached to messages, stored as chunks,
// while four senders post 4000-character messages), then times `chat-service
// backup` of it while the service runs, `restore` into a new file, and
// with TEST_POSTGRES_DSN the same from PostgreSQL (filled by copy-db).
// Without PARLEY_BIGDB_MIB it builds an 8 MiB database, so the generator
// itself stays tested.
//
//	PARLEY_BIGDB_MIB=1024 go test -run TestBigDatabaseBackup -v -timeout 30m ./app/
func TestBigDatabaseBackup(t *testing.T) {
	mib := 8
	if v := os.Getenv("PARLEY_BIGDB_MIB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 8192 {
			t.Fatalf("PARLEY_BIGDB_MIB=%q: want 1..8192", v)
		}
		mib = n
	}
	dir := t.TempDir()
	is := authntest.New(t)
	env := map[string]string{"DATA_DIR": dir, "JWKS_URL": is.JWKSURL, "USER_SERVICE_URL": userDirectory(t, 1), "LOG_LEVEL": "warn", "SEND_RATE": "100000", "SEND_BURST": "100000", "USER_RATE_LIMIT_RPS": "100000", "USER_RATE_LIMIT_BURST": "100000", "FILE_MAX_BYTES": strconv.Itoa(25 << 20)}
	svc := testkit.Start(t, "chat-big", app.Run, env)
	alice := is.Token(t, 1, "alice", authn.RoleUser, 24*time.Hour)
	dbPath := filepath.Join(dir, "chat.db")
	target := int64(mib) << 20

	start := time.Now()
	fill(t, svc.URL, alice, dbPath, target)
	fi, _ := os.Stat(dbPath)
	t.Logf("generated %d MiB (file %d MiB) in %s", mib, fi.Size()>>20, time.Since(start).Round(time.Second))

	ctx := context.Background()
	timed := func(what string, args []string, env map[string]string, file string) {
		var out bytes.Buffer
		start := time.Now()
		if err := app.Run(ctx, append([]string{"chat-service"}, args...), testkit.Env(env), &out); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out.String())
		}
		took := time.Since(start)
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s, %d MiB, %.0f MiB/s", what, took.Round(time.Millisecond), fi.Size()>>20, float64(fi.Size())/(1<<20)/took.Seconds())
	}
	backupFile := filepath.Join(t.TempDir(), "chat.backup")
	// The service keeps running (and answering) during the backup.
	timed("backup (SQLite, service running)", []string{"backup", "--to", backupFile}, env, backupFile)
	mustAPI(t, 201, "POST", svc.URL+"/rooms/1/messages", alice, map[string]string{"body": "after the backup"}, nil)
	restored := filepath.Join(t.TempDir(), "restored.db")
	timed("restore (into SQLite)", []string{"restore", "--from", backupFile, "--database", "sqlite://" + restored}, env, restored)

	if os.Getenv("TEST_POSTGRES_DSN") == "" || os.Getenv("PARLEY_BIGDB_MIB") == "" {
		return
	}
	if err := svc.Stop(); err != nil {
		t.Fatal(err)
	}
	pg := sqldbtest.Postgres(t)
	var out bytes.Buffer
	start = time.Now()
	if err := app.Run(ctx, []string{"chat-service", "copy-db", "--to", pg.DSN}, testkit.Env(env), &out); err != nil {
		t.Fatalf("copy-db: %v\n%s", err, out.String())
	}
	t.Logf("copy-db into PostgreSQL: %s", time.Since(start).Round(time.Millisecond))
	pgEnv := map[string]string{"DATABASE_URL": pg.DSN, "LOG_LEVEL": "warn"}
	pgBackup := filepath.Join(t.TempDir(), "chat-pg.backup")
	timed("backup (PostgreSQL)", []string{"backup", "--to", pgBackup}, pgEnv, pgBackup)
	pg2 := sqldbtest.Postgres(t)
	start = time.Now()
	if err := app.Run(ctx, []string{"chat-service", "restore", "--from", pgBackup, "--database", pg2.DSN}, testkit.Env(pgEnv), &out); err != nil {
		t.Fatalf("restore into PostgreSQL: %v", err)
	}
	t.Logf("restore (into PostgreSQL): %s", time.Since(start).Round(time.Millisecond))
}

// fill writes through the service until the database (file and WAL)
// holds target bytes: bounded by target and by a send count.
func fill(t *testing.T, base, tok, dbPath string, target int64) {
	t.Helper()
	size := func() int64 {
		var n int64
		for _, s := range []string{"", "-wal"} {
			if fi, err := os.Stat(dbPath + s); err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	var (
		wg       sync.WaitGroup
		files    atomic.Int64
		messages atomic.Int64
		failed   atomic.Value
	)
	done := func() bool { return size() >= target || failed.Load() != nil }
	// One uploader, until the target: files of up to 24 MiB (random
	// bytes) attached to messages. Messages (with their full-text index)
	// are far slower to write per byte, so files make most of the bytes.
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(1, 2))
		data := make([]byte, min(24<<20, target/8))
		for i := 0; i < 400 && !done(); i++ {
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			if err := uploadAndAttach(base, tok, data, i); err != nil {
				failed.Store(err)
				return
			}
			files.Add(1)
		}
	}()
	// Senders: 4000-character bodies.
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.Repeat(fmt.Sprintf("%d lorem ipsum dolor sit amet ", w), 200)[:4000]
			for i := 0; i < 2_000_000 && !done(); i++ {
				if status, raw, err := request("POST", base+"/rooms/1/messages", tok, map[string]string{"body": body}); err != nil || status != 201 {
					failed.Store(fmt.Errorf("send: %d %s %v", status, raw, err))
					return
				}
				messages.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d files and %d messages", files.Load(), messages.Load())
}

func uploadAndAttach(base, tok string, data []byte, i int) error {
	f, err := upload(base, tok, 1, fmt.Sprintf("blob-%d.bin", i), data)
	if err != nil {
		return err
	}
	status, raw, err := request("POST", base+"/rooms/1/messages", tok, map[string]any{"file_ids": []int64{f.ID}})
	if err != nil {
		return err
	}
	if status != 201 {
		return fmt.Errorf("attach: %d %s", status, raw)
	}
	return nil
}
