package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/loadtest/internal/stats"
	"github.com/parleychat/parley/platform/sqldb"
)

// rawSchema mirrors chat-service's messages table (its two unique
// constraints and index; not its full-text index) so a raw commit writes
// the same row shape a chat message does.
const rawSchema = `
CREATE TABLE IF NOT EXISTS messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id       INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    username      TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    client_msg_id TEXT,
    created_at    TEXT    NOT NULL,
    UNIQUE (room_id, seq),
    UNIQUE (user_id, client_msg_id)
);
CREATE INDEX IF NOT EXISTS messages_user ON messages (user_id, id);`

// cmdSQLite measures the floor under message persistence: one-row
// transactions on a SQLite file opened exactly as Parley opens its
// databases (platform/sqldb: WAL, synchronous=NORMAL, busy_timeout,
// foreign keys, BEGIN IMMEDIATE).
func cmdSQLite(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sqlite", flag.ContinueOnError)
	c := &common{stderr: stderr, stdout: stdout}
	c.register(fs, "sqlite")
	dir := fs.String("dir", "", "directory for the database file (required; use the services' data disk)")
	duration := fs.Duration("duration", 10*time.Second, "how long")
	writers := fs.Int("writers", 1, "concurrent writers (SQLite serialises them)")
	body := fs.Int("body", 64, "message body size")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("-dir is required")
	}
	if *duration <= 0 || *duration > maxDuration || *writers < 1 || *writers > 64 {
		return errors.New("-duration > 0 and -writers 1..64")
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	path := filepath.Join(*dir, fmt.Sprintf("raw-%d.db", time.Now().UnixNano()))
	db, err := sqldb.Open(ctx, sqldb.Target{Dialect: sqldb.SQLite, Path: path})
	if err != nil {
		return err
	}
	defer func() {
		db.Close()
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(path + suffix)
		}
	}()
	if _, err := db.ExecContext(ctx, rawSchema); err != nil {
		return err
	}
	text := make([]byte, *body)
	for i := range text {
		text[i] = 'x'
	}
	var (
		seq  atomic.Int64
		mu   sync.Mutex
		hist stats.Histogram
		errN atomic.Int64
		wg   sync.WaitGroup
	)
	insert := func(ctx context.Context, user int) error {
		n := seq.Add(1)
		return db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO messages (room_id, seq, user_id, username, body, client_msg_id, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, 1, n, user, "raw-user", string(text), fmt.Sprintf("raw-%d", n),
				time.Now().UTC().Format("2006-01-02 15:04:05.000"))
			return err
		})
	}
	run := func(d time.Duration, record bool) (int64, time.Duration) {
		rctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		start := seq.Load()
		t0 := time.Now()
		for w := range *writers {
			wg.Go(func() {
				var local stats.Histogram
				for rctx.Err() == nil {
					s := time.Now()
					if err := insert(ctx, w); err != nil {
						errN.Add(1)
						continue
					}
					local.Record(time.Since(s))
				}
				if record {
					mu.Lock()
					hist.Merge(&local)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return seq.Load() - start, time.Since(t0)
	}
	run(min(time.Second, *duration/4), false) // warm the page cache and the WAL
	n, took := run(*duration, true)
	perSec := float64(n) / took.Seconds()
	c.logf("%.0f commits/s (%d writers, p50 %.3f ms, p99 %.3f ms, %d errors) on %s", perSec, *writers,
		hist.Quantile(0.5).Seconds()*1e3, hist.Quantile(0.99).Seconds()*1e3, errN.Load(), *dir)
	s := hist.Summarize()
	return c.emit(Record{Clean: errN.Load() == 0, Metrics: map[string]float64{
		"commits_per_s": math.Round(perSec), "p50_ms": s.P50, "p99_ms": s.P99, "errors": float64(errN.Load()),
	}, Params: map[string]any{"writers": *writers, "dir": *dir, "duration_s": duration.Seconds(), "dsn_pragmas": "platform/sqldb.SQLiteDSN"}})
}
