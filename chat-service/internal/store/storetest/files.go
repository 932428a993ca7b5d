package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/sqldb"
)

// putFile stores data as a complete file of user in room, in chunks.
func putFile(t *testing.T, st chat.FileStore, room, user int64, name string, data []byte, at time.Time) chat.File {
	t.Helper()
	ctx := context.Background()
	id, err := st.CreateFile(ctx, chat.NewFile{RoomID: room, UploaderID: user, Name: name, At: at})
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n*chat.FileChunkBytes < len(data); n++ {
		chunk := data[n*chat.FileChunkBytes : min(len(data), (n+1)*chat.FileChunkBytes)]
		if err := st.WriteFileChunk(ctx, id, chat.PartFile, n, chunk); err != nil {
			t.Fatal(err)
		}
	}
	f, err := st.CompleteFile(ctx, id, chat.FileMeta{Size: int64(len(data)), ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// testFiles: chunked bytes read back (and seek) exactly, file_ids attach
// only the sender's complete, unattached uploads of the room, by the
// one-message and the batch path alike, messages carry their files,
// deleting a message or a room deletes its files, the sweep takes only
// old unattached uploads, and the URL key is made once.
func testFiles(t *testing.T, target sqldb.Target) {
	ctx := context.Background()
	st := Open(t, target)
	room := mustRoom(t, st, "files", chat.KindPublic, 1)
	other := mustRoom(t, st, "other", chat.KindPublic, 1)

	data := make([]byte, 2*chat.FileChunkBytes+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	big := putFile(t, st, room.ID, 1, "big.bin", data, t0)
	if !big.Complete || big.Size != int64(len(data)) || big.Width != nil || big.MessageID != 0 {
		t.Fatalf("file %+v", big)
	}
	r := st.OpenFile(ctx, big.ID, chat.PartFile, big.Size)
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, err %v", len(got), err)
	}
	if _, err := r.Seek(chat.FileChunkBytes-2, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(r, buf); err != nil || !bytes.Equal(buf, data[chat.FileChunkBytes-2:chat.FileChunkBytes+3]) {
		t.Fatalf("read across a chunk edge: %v %v", buf, err)
	}

	mine := putFile(t, st, room.ID, 1, "a.txt", []byte("a"), t0)
	theirs := putFile(t, st, room.ID, 2, "b.txt", []byte("b"), t0)
	elsewhere := putFile(t, st, other.ID, 1, "c.txt", []byte("c"), t0)
	pendingID, err := st.CreateFile(ctx, chat.NewFile{RoomID: room.ID, UploaderID: 1, Name: "half", At: t0})
	if err != nil {
		t.Fatal(err)
	}
	for name, ids := range map[string][]int64{
		"theirs": {mine.ID, theirs.ID}, "other room": {elsewhere.ID}, "incomplete": {pendingID}, "unknown": {1 << 40},
	} {
		_, _, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: room.ID, UserID: 1, Username: "u1", Body: "x", FileIDs: ids, At: t0})
		if !errors.Is(err, chat.ErrInvalidFiles) {
			t.Errorf("one message, %s: %v", name, err)
		}
		res, err := st.CreateMessages(ctx, []chat.NewMessage{
			{RoomID: room.ID, UserID: 1, Username: "u1", Body: "ok", At: t0},
			{RoomID: room.ID, UserID: 1, Username: "u1", Body: "x", FileIDs: ids, At: t0},
		}, nil)
		if err != nil || res[0].Err != nil || !errors.Is(res[1].Err, chat.ErrInvalidFiles) {
			t.Errorf("batch, %s: %v %+v", name, err, res)
		}
	}

	m := send(t, st, chat.NewMessage{RoomID: room.ID, UserID: 1, Username: "u1", Body: "", FileIDs: []int64{big.ID, mine.ID}})
	if len(m.Files) != 2 || m.Files[0].ID != big.ID || m.Files[1].ID != mine.ID || m.Files[1].Name != "a.txt" {
		t.Fatalf("sent files %+v", m.Files)
	}
	// The batch path attaches too, and a file is taken once.
	res, err := st.CreateMessages(ctx, []chat.NewMessage{
		{RoomID: room.ID, UserID: 2, Username: "u2", Body: "b", FileIDs: []int64{theirs.ID}, At: t0},
		{RoomID: room.ID, UserID: 1, Username: "u1", Body: "again", FileIDs: []int64{mine.ID}, At: t0},
	}, nil)
	if err != nil || res[0].Err != nil || len(res[0].Message.Files) != 1 || !errors.Is(res[1].Err, chat.ErrInvalidFiles) {
		t.Fatalf("batch: %v %+v", err, res)
	}
	loaded, err := st.Message(ctx, m.ID)
	if err != nil || len(loaded.Files) != 2 {
		t.Fatalf("loaded %+v %v", loaded.Files, err)
	}
	page, _, err := st.Messages(ctx, chat.MessageFilter{RoomID: room.ID, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	for _, pm := range page {
		if pm.Files == nil {
			t.Fatalf("message %d has nil files", pm.ID)
		}
	}
	// Two sends racing for one file: exactly one gets it.
	race := putFile(t, st, room.ID, 1, "race.txt", []byte("r"), t0)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = Open(t, target).CreateMessage(ctx, chat.NewMessage{RoomID: room.ID, UserID: 1, Username: "u1", Body: "r", FileIDs: []int64{race.ID}, At: t0})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, chat.ErrInvalidFiles):
			t.Fatalf("racing send: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d sends took one file", won)
	}

	// Deleting the message deletes its files and their bytes.
	tomb, err := st.DeleteMessage(ctx, m.ID)
	if err != nil || len(tomb.Files) != 0 {
		t.Fatalf("tombstone %+v %v", tomb.Files, err)
	}
	if _, err := st.File(ctx, big.ID); !errors.Is(err, chat.ErrFileNotFound) {
		t.Fatalf("file of a deleted message: %v", err)
	}
	if n := count(t, target, `SELECT COUNT(*) FROM file_chunks WHERE file_id = ?`, big.ID); n != 0 {
		t.Fatalf("%d chunks left", n)
	}

	// The sweep takes unattached uploads older than its cut-off, complete
	// or not, and nothing attached.
	fresh := putFile(t, st, room.ID, 1, "fresh.txt", []byte("f"), t0.Add(2*time.Hour))
	n, err := st.SweepFiles(ctx, t0.Add(time.Hour))
	if err != nil || n != 2 { // elsewhere, pendingID
		t.Fatalf("swept %d, %v", n, err)
	}
	if _, err := st.File(ctx, elsewhere.ID); !errors.Is(err, chat.ErrFileNotFound) {
		t.Fatalf("swept file: %v", err)
	}
	for _, id := range []int64{fresh.ID, theirs.ID} {
		if _, err := st.File(ctx, id); err != nil {
			t.Fatalf("file %d: %v", id, err)
		}
	}

	// Deleting a room deletes its files.
	if err := st.DeleteRoom(ctx, room.ID); err != nil {
		t.Fatal(err)
	}
	if n := count(t, target, `SELECT COUNT(*) FROM files WHERE room_id = ?`, room.ID); n != 0 {
		t.Fatalf("%d files left in a deleted room", n)
	}

	k1, err := st.FileKey(ctx)
	if err != nil || len(k1) != 32 {
		t.Fatalf("key %x %v", k1, err)
	}
	k2, err := Open(t, target).FileKey(ctx)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second handle's key differs: %v", err)
	}
}

// count runs a COUNT query on a handle of its own.
func count(t *testing.T, target sqldb.Target, query string, args ...any) int {
	t.Helper()
	db, err := sqldb.Open(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(context.Background(), db.Rebind(query), args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
