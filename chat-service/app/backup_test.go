package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
	"github.com/parleychat/parley/platform/testkit"
)

type ackedMsg struct{ room, id, seq int64 }

// writer sends messages to one room over HTTP until stop is closed,
// recording each acknowledged one.
type writer struct {
	mu    sync.Mutex
	acked []ackedMsg
	err   error
}

func (w *writer) run(base, tok string, room int64, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		status, raw, err := request("POST", fmt.Sprintf("%s/rooms/%d/messages", base, room), tok, map[string]string{"body": fmt.Sprintf("load %d in %d", i, room)})
		var m struct{ ID, Seq int64 }
		if err == nil {
			err = json.Unmarshal(raw, &m)
		}
		if status != http.StatusCreated || err != nil {
			w.fail(fmt.Errorf("send: %d %s %v", status, raw, err))
			return
		}
		w.mu.Lock()
		w.acked = append(w.acked, ackedMsg{room, m.ID, m.Seq})
		w.mu.Unlock()
	}
}

func (w *writer) fail(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
}

func (w *writer) snapshot() ([]ackedMsg, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]ackedMsg(nil), w.acked...), w.err
}

// waitAcked polls until the writers together have n acknowledged sends.
func waitAcked(t *testing.T, ws []*writer, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		total := 0
		for _, w := range ws {
			list, err := w.snapshot()
			if err != nil {
				t.Fatal(err)
			}
			total += len(list)
		}
		if total >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d sends acknowledged", total, n)
		}
		<-tick.C
	}
}

// roomHistory is every message of a room as the API answers it, oldest
// first, with each one's seq and id.
type roomHistory struct {
	raw  []json.RawMessage
	seqs []int64
	ids  []int64
}

func fetchRoom(t *testing.T, base, tok string, room int64) roomHistory {
	t.Helper()
	var h roomHistory
	after := int64(0)
	for {
		var page struct {
			Messages []json.RawMessage `json:"messages"`
		}
		mustAPI(t, 200, "GET", fmt.Sprintf("%s/rooms/%d/messages?after_seq=%d&limit=200", base, room, after), tok, nil, &page)
		for _, raw := range page.Messages {
			var m struct{ ID, Seq int64 }
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			h.raw = append(h.raw, raw)
			h.seqs = append(h.seqs, m.Seq)
			h.ids = append(h.ids, m.ID)
			after = m.Seq
		}
		if len(page.Messages) < 200 {
			return h
		}
	}
}

// TestBackupUnderWriteLoad: writers keep sending through the running
// service while `chat-service backup` runs; the backup, restored into a
// new database, holds every message acknowledged before the backup
// started, with gap-free seqs, answers exactly what the original answers
// for the messages up to its snapshot, and serves the uploaded file.
func TestBackupUnderWriteLoad(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, source sqldb.Target) {
		is := authntest.New(t)
		env := map[string]string{"DATABASE_URL": source.URL(), "JWKS_URL": is.JWKSURL, "USER_SERVICE_URL": userDirectory(t, 1, 2), "LOG_LEVEL": "warn", "SEND_RATE": "100000", "SEND_BURST": "100000", "USER_RATE_LIMIT_RPS": "100000", "USER_RATE_LIMIT_BURST": "100000"}
		orig := testkit.Start(t, "chat-original", app.Run, env)
		alice := is.Token(t, 1, "alice", authn.RoleUser, time.Hour)
		bob := is.Token(t, 2, "bob", authn.RoleUser, time.Hour)
		var ops struct{ ID int64 }
		mustAPI(t, 201, "POST", orig.URL+"/rooms", alice, map[string]string{"name": "ops", "kind": "private"}, &ops)
		mustAPI(t, 201, "POST", fmt.Sprintf("%s/rooms/%d/members", orig.URL, ops.ID), alice, map[string]any{"user_id": 2}, nil)
		fileData := multiChunk()
		file := uploadFile(t, orig.URL, alice, ops.ID, "data.bin", fileData)
		mustAPI(t, 201, "POST", fmt.Sprintf("%s/rooms/%d/messages", orig.URL, ops.ID), alice, map[string]any{"file_ids": []int64{file.ID}}, nil)

		stop := make(chan struct{})
		ws := []*writer{{}, {}, {}}
		var wg sync.WaitGroup
		for i, w := range ws {
			room, tok := []int64{1, ops.ID, 1}[i], []string{alice, bob, bob}[i]
			wg.Add(1)
			go func() { defer wg.Done(); w.run(orig.URL, tok, room, stop) }()
		}
		defer func() { close(stop); wg.Wait() }()
		waitAcked(t, ws, 60)

		var before []ackedMsg
		for _, w := range ws {
			list, _ := w.snapshot()
			before = append(before, list...)
		}
		file1 := filepath.Join(t.TempDir(), "chat.backup")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var out bytes.Buffer
		if err := app.Run(ctx, []string{"chat-service", "backup", "--to", file1}, testkit.Env(env), &out); err != nil {
			t.Fatalf("backup: %v\n%s", err, out.String())
		}
		var during int
		for _, w := range ws {
			list, _ := w.snapshot()
			during += len(list)
		}
		t.Logf("%d sends acknowledged before the backup, %d while it ran", len(before), during-len(before))
		// Sends carry on after the backup, past its snapshot.
		waitAcked(t, ws, during+30)
		if !strings.Contains(out.String(), "file_chunks") {
			t.Fatalf("backup output:\n%s", out.String())
		}

		targets := []sqldb.Target{sqldbtest.SQLite(t, "restored.db")}
		if source.Dialect == sqldb.Postgres {
			targets = append(targets, sqldbtest.Postgres(t))
		}
		for _, target := range targets {
			t.Run("into "+string(target.Dialect), func(t *testing.T) {
				renv := map[string]string{"DATABASE_URL": target.URL(), "JWKS_URL": is.JWKSURL, "USER_SERVICE_URL": env["USER_SERVICE_URL"], "LOG_LEVEL": "warn"}
				out.Reset()
				if err := app.Run(ctx, []string{"chat-service", "restore", "--from", file1}, testkit.Env(renv), &out); err != nil {
					t.Fatalf("restore: %v\n%s", err, out.String())
				}
				restored := testkit.Start(t, "chat-restored", app.Run, renv)
				for _, room := range []int64{1, ops.ID} {
					got := fetchRoom(t, restored.URL, alice, room)
					for i, seq := range got.seqs {
						if seq != int64(i+1) {
							t.Fatalf("room %d: restored seq %d at position %d: not gap-free", room, seq, i)
						}
					}
					have := map[int64]int64{}
					for i, id := range got.ids {
						have[id] = got.seqs[i]
					}
					for _, m := range before {
						if m.room == room && have[m.id] != m.seq {
							t.Fatalf("room %d: message %d (seq %d), acknowledged before the backup, is missing", room, m.id, m.seq)
						}
					}
					want := fetchRoom(t, orig.URL, alice, room)
					if len(want.raw) < len(got.raw) {
						t.Fatalf("room %d: restored %d messages, the original has %d", room, len(got.raw), len(want.raw))
					}
					for i := range got.raw {
						if !bytes.Equal(got.raw[i], want.raw[i]) {
							t.Fatalf("room %d seq %d differs:\nrestored %s\noriginal %s", room, got.seqs[i], got.raw[i], want.raw[i])
						}
					}
				}
				if status, got := fetchFile(t, restored.URL, file.URL); status != 200 || !bytes.Equal(got, fileData) {
					t.Fatalf("file after the restore: %d, %d bytes", status, len(got))
				}
				// The restored service carries on writing.
				var m struct{ Seq int64 }
				mustAPI(t, 201, "POST", restored.URL+"/rooms/1/messages", alice, map[string]string{"body": "after the restore"}, &m)
				if m.Seq < 2 {
					t.Fatalf("first seq after the restore: %d", m.Seq)
				}
			})
		}

		// Restoring into the running original's SQLite file is refused,
		// even with --force; over PostgreSQL data without --force too.
		args, want := []string{"chat-service", "restore", "--from", file1, "--force"}, "is running on"
		if source.Dialect == sqldb.Postgres {
			args, want = args[:4], "give --force"
		}
		if err := app.Run(ctx, args, testkit.Env(env), &out); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("restore over the original: %v, want %q", err, want)
		}
		mustAPI(t, 201, "POST", orig.URL+"/rooms/1/messages", alice, map[string]string{"body": "still serving"}, nil)
	})
}
