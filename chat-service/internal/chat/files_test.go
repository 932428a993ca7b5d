package chat_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/chat-service/internal/store"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
)

// clock is a settable time for the service.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestSweepFiles: an upload never attached is deleted once it is 24 h
// old, by the service's clock; an attached one never is.
func TestSweepFiles(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldbtest.SQLite(t, "chat.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	svc := chat.NewService(chat.Options{Store: st, Now: clk.Now, SendRate: 1e6, SendBurst: 1e6})
	owner := chat.Actor{UserID: 1, Username: "owner"}
	room := mustRoom(t, svc, owner, "room", chat.KindPublic)

	kept, err := svc.UploadFile(ctx, owner, room, "kept.txt", strings.NewReader("kept"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Send(ctx, owner, chat.Outgoing{RoomID: room, FileIDs: []int64{kept.ID}}); err != nil {
		t.Fatal(err)
	}
	loose, err := svc.UploadFile(ctx, owner, room, "loose.txt", strings.NewReader("loose"))
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(23 * time.Hour)
	later, err := svc.UploadFile(ctx, owner, room, "later.txt", strings.NewReader("later"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := svc.SweepFiles(ctx); err != nil || n != 0 {
		t.Fatalf("at 23 h swept %d, %v", n, err)
	}
	clk.Add(time.Hour + time.Millisecond)
	if n, err := svc.SweepFiles(ctx); err != nil || n != 1 {
		t.Fatalf("at 24 h swept %d, %v", n, err)
	}
	if _, err := st.File(ctx, loose.ID); !errors.Is(err, chat.ErrFileNotFound) {
		t.Fatalf("loose file: %v", err)
	}
	for _, id := range []int64{kept.ID, later.ID} {
		if _, err := st.File(ctx, id); err != nil {
			t.Fatalf("file %d: %v", id, err)
		}
	}
	// Attaching a swept upload is refused.
	if _, _, err := svc.Send(ctx, owner, chat.Outgoing{RoomID: room, FileIDs: []int64{loose.ID}}); !errors.Is(err, chat.ErrInvalidFiles) {
		t.Fatalf("send with a swept file: %v", err)
	}
}

func TestCleanFileName(t *testing.T) {
	long := strings.Repeat("é", 300) + ".jpeg"
	for _, tt := range []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{`C:\Users\me\report.pdf`, "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{"a\x00b\x1bc\u202ed\u2066e.txt", "abcde.txt"},
		{"  \u200b  ", "file"},
		{"..", "file"},
		{"tab\tand\nnewline.txt", "tabandnewline.txt"},
		{"\xff\xfe.bin", "bin"},
		{`"><img src=x onerror=alert(1)>.html`, `"><img src=x onerror=alert(1)>.html`},
		{`x/"><script>alert(1)</script>.html`, `script>.html`},
		{long, strings.Repeat("é", chat.MaxFileNameRunes-5) + ".jpeg"},
	} {
		if got := chat.CleanFileName(tt.in); got != tt.want {
			t.Errorf("CleanFileName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFileURLs(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	u := &chat.FileURLs{Key: bytes.Repeat([]byte{7}, 32), Now: func() time.Time { return now }}
	f := chat.File{ID: 42, ThumbSize: 10}
	u.Sign(&f)
	g := chat.File{ID: 42, ThumbSize: 10}
	now = now.Add(5 * time.Hour) // same 6 h bucket (12:00 → 17:00)
	u.Sign(&g)
	if f.URL != g.URL || *f.ThumbnailURL != *g.ThumbnailURL {
		t.Fatalf("URL changed within a bucket: %s %s", f.URL, g.URL)
	}
	// Valid until the end of the next bucket (midnight), not after.
	now = time.Date(2026, 3, 1, 23, 59, 59, 0, time.UTC)
	exp, sig := query(t, f.URL)
	if err := u.Check(42, chat.PartFile, exp, sig); err != nil {
		t.Fatalf("check before exp: %v", err)
	}
	now = now.Add(time.Second)
	if err := u.Check(42, chat.PartFile, exp, sig); !errors.Is(err, chat.ErrLinkExpired) {
		t.Fatalf("check at exp: %v", err)
	}
	if err := u.Check(43, chat.PartFile, exp, sig); !errors.Is(err, chat.ErrBadSignature) {
		t.Fatalf("other id: %v", err)
	}
	if err := u.Check(42, chat.PartThumbnail, exp, sig); !errors.Is(err, chat.ErrBadSignature) {
		t.Fatalf("other part: %v", err)
	}
}

func query(t *testing.T, u string) (exp, sig string) {
	t.Helper()
	_, q, _ := strings.Cut(u, "?")
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "exp":
			exp = v
		case "sig":
			sig = v
		}
	}
	return exp, sig
}
