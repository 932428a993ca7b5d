package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/sqldb"
)

// SetFileURLs makes every message and file the store loads carry signed
// URLs (chat.FileURLs.Sign). Set it before serving.
func (s *Store) SetFileURLs(u *chat.FileURLs) { s.urls = u }

const fileColumns = `f.id, f.room_id, f.uploader_id, f.message_id, f.name, f.size, f.content_type, f.width, f.height, f.thumb_size, f.complete, f.created_at`

func (s *Store) scanFile(row scanner) (chat.File, error) {
	var (
		f       chat.File
		msg     sql.NullInt64
		w, h    sql.NullInt64
		created string
	)
	if err := row.Scan(&f.ID, &f.RoomID, &f.UploaderID, &msg, &f.Name, &f.Size, &f.ContentType, &w, &h, &f.ThumbSize, &f.Complete, &created); err != nil {
		return chat.File{}, err
	}
	f.MessageID = msg.Int64
	if w.Valid && h.Valid {
		wi, hi := int(w.Int64), int(h.Int64)
		f.Width, f.Height = &wi, &hi
	}
	f.CreatedAt = parseTime(created)
	s.urls.Sign(&f)
	return f, nil
}

// CreateFile records an upload that is starting.
func (s *Store) CreateFile(ctx context.Context, nf chat.NewFile) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO files (room_id, uploader_id, name, created_at) VALUES (?, ?, ?, ?) RETURNING id`),
		nf.RoomID, nf.UploaderID, nf.Name, fmtTime(nf.At)).Scan(&id)
	return id, sqldb.Wrap("create file", err)
}

// WriteFileChunk stores one chunk in a statement of its own: SQLite's
// write lock is held for one chunk, never for a whole slow upload.
func (s *Store) WriteFileChunk(ctx context.Context, fileID int64, part, n int, data []byte) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO file_chunks (file_id, part, n, data) VALUES (?, ?, ?, ?)`), fileID, part, n, data)
	return sqldb.Wrap("write file chunk", err)
}

// CompleteFile records what the upload learned and marks it complete.
func (s *Store) CompleteFile(ctx context.Context, fileID int64, m chat.FileMeta) (chat.File, error) {
	var w, h any
	if m.Width > 0 && m.Height > 0 {
		w, h = m.Width, m.Height
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE files SET size = ?, content_type = ?, width = ?, height = ?, thumb_size = ?, complete = true WHERE id = ?`),
		m.Size, m.ContentType, w, h, m.ThumbSize, fileID)
	if err != nil {
		return chat.File{}, sqldb.Wrap("complete file", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return chat.File{}, chat.ErrFileNotFound
	}
	return s.File(ctx, fileID)
}

// DeleteFile removes a file and its chunks.
func (s *Store) DeleteFile(ctx context.Context, fileID int64) error {
	return sqldb.Wrap("delete file", s.db.Tx(ctx, func(tx *sql.Tx) error {
		return s.deleteFiles(ctx, tx, `id = ?`, fileID)
	}))
}

// deleteFiles deletes the files matching cond (on files, unqualified)
// and their chunks.
func (s *Store) deleteFiles(ctx context.Context, q querier, cond string, args ...any) error {
	if _, err := q.ExecContext(ctx, s.q(`DELETE FROM file_chunks WHERE file_id IN (SELECT id FROM files WHERE `+cond+`)`), args...); err != nil {
		return err
	}
	_, err := q.ExecContext(ctx, s.q(`DELETE FROM files WHERE `+cond), args...)
	return err
}

// File loads one file's row.
func (s *Store) File(ctx context.Context, fileID int64) (chat.File, error) {
	f, err := s.scanFile(s.db.QueryRowContext(ctx, s.q(`SELECT `+fileColumns+` FROM files f WHERE f.id = ?`), fileID))
	if errors.Is(err, sql.ErrNoRows) {
		return chat.File{}, chat.ErrFileNotFound
	}
	return f, sqldb.Wrap("get file", err)
}

// SweepFiles deletes files not attached to a message and created before
// before, a batch of them per transaction.
func (s *Store) SweepFiles(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT id FROM files WHERE message_id IS NULL AND created_at < ? ORDER BY id LIMIT 100`), fmtTime(before))
		if err != nil {
			return total, sqldb.Wrap("sweep files", err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return total, sqldb.Wrap("sweep files", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, sqldb.Wrap("sweep files", err)
		}
		if len(ids) == 0 {
			return total, nil
		}
		// message_id IS NULL again: a send may have attached one since.
		err = s.db.Tx(ctx, func(tx *sql.Tx) error {
			return s.deleteFiles(ctx, tx, `message_id IS NULL AND id IN (`+placeholders(len(ids))+`)`, int64Args(ids)...)
		})
		if err != nil {
			return total, sqldb.Wrap("sweep files", err)
		}
		total += len(ids)
	}
}

// FileKey returns the URL signing key, making it the first time: the
// first replica's insert wins and every replica reads the same key.
func (s *Store) FileKey(ctx context.Context) ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO file_keys (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`), key); err != nil {
		return nil, sqldb.Wrap("file key", err)
	}
	var stored []byte
	err := s.db.QueryRowContext(ctx, s.q(`SELECT secret FROM file_keys WHERE id = 1`)).Scan(&stored)
	return stored, sqldb.Wrap("file key", err)
}

// attachFileRows loads the files of msgs that have any in one query, in
// id order; the others get an empty list.
func (s *Store) attachFileRows(ctx context.Context, q querier, msgs []chat.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	var ids []int64
	idx := make(map[int64]int, len(msgs))
	for i, m := range msgs {
		if msgs[i].Files == nil {
			msgs[i].Files = []chat.File{}
		}
		if m.HasFiles {
			ids = append(ids, m.ID)
			idx[m.ID] = i
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := q.QueryContext(ctx, s.q(`SELECT `+fileColumns+` FROM files f
		WHERE f.message_id IN (`+placeholders(len(ids))+`) ORDER BY f.message_id, f.id`), int64Args(ids)...)
	if err != nil {
		return sqldb.Wrap("load files", err)
	}
	defer rows.Close()
	for rows.Next() {
		f, err := s.scanFile(rows)
		if err != nil {
			return sqldb.Wrap("load files", err)
		}
		m := &msgs[idx[f.MessageID]]
		m.Files = append(m.Files, f)
	}
	return sqldb.Wrap("load files", rows.Err())
}

// checkFiles returns the indexes among nms, skip(i) aside, whose FileIDs
// do not all name complete, unattached uploads of their sender in their
// room. On PostgreSQL the files' rows are locked until the commit, so two
// sends cannot both take one file.
func (s *Store) checkFiles(ctx context.Context, tx *sql.Tx, nms []chat.NewMessage, skip func(i int) bool) ([]int, error) {
	var bad []int
	for i, nm := range nms {
		if len(nm.FileIDs) == 0 || skip(i) {
			continue
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM files WHERE id IN (`+placeholders(len(nm.FileIDs))+`)
			AND room_id = ? AND uploader_id = ? AND message_id IS NULL AND complete ORDER BY id`+s.d.LockFiles),
			append(int64Args(nm.FileIDs), nm.RoomID, nm.UserID)...)
		if err != nil {
			return nil, err
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if n != len(nm.FileIDs) {
			bad = append(bad, i)
		}
	}
	return bad, nil
}

// attachFiles gives the created messages of out their files (checked by
// checkFiles in the same transaction).
func (s *Store) attachFiles(ctx context.Context, tx *sql.Tx, nms []chat.NewMessage, out []chat.CreateResult) error {
	for i, nm := range nms {
		if len(nm.FileIDs) == 0 || !out[i].Created || out[i].Err != nil {
			continue
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE files SET message_id = ? WHERE id IN (`+placeholders(len(nm.FileIDs))+`)
			AND room_id = ? AND uploader_id = ? AND message_id IS NULL AND complete`),
			append(append([]any{out[i].Message.ID}, int64Args(nm.FileIDs)...), nm.RoomID, nm.UserID)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != int64(len(nm.FileIDs)) {
			return fmt.Errorf("attach files: %w", chat.ErrInvalidFiles)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE messages SET has_files = true WHERE id = ?`), out[i].Message.ID); err != nil {
			return err
		}
		msgs := []chat.Message{out[i].Message}
		msgs[0].Files, msgs[0].HasFiles = nil, true
		if err := s.attachFileRows(ctx, tx, msgs); err != nil {
			return err
		}
		out[i].Message = msgs[0]
	}
	return nil
}

// OpenFile reads a part of a file, one chunk query at a time.
func (s *Store) OpenFile(ctx context.Context, fileID int64, part int, size int64) chat.FileContent {
	return &chunkReader{s: s, ctx: ctx, id: fileID, part: part, size: size, n: -1}
}

// chunkReader is an io.ReadSeeker over a part's chunks that holds one
// chunk at a time.
type chunkReader struct {
	s    *Store
	ctx  context.Context
	id   int64
	part int
	size int64
	off  int64
	n    int    // the chunk in buf (-1: none)
	buf  []byte // chunk n
}

func (r *chunkReader) Size() int64 { return r.size }

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := int(r.off / chat.FileChunkBytes)
	if n != r.n {
		r.buf = r.buf[:0]
		err := r.s.db.QueryRowContext(r.ctx, r.s.q(`SELECT data FROM file_chunks WHERE file_id = ? AND part = ? AND n = ?`), r.id, r.part, n).Scan(&r.buf)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, io.ErrUnexpectedEOF
		}
		if err != nil {
			return 0, sqldb.Wrap("read file", err)
		}
		r.n = n
	}
	start := int(r.off - int64(n)*chat.FileChunkBytes)
	if start >= len(r.buf) {
		return 0, io.ErrUnexpectedEOF
	}
	k := copy(p, r.buf[start:])
	r.off += int64(k)
	return k, nil
}

func (r *chunkReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, errors.New("seek: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("seek: negative position")
	}
	r.off = offset
	return offset, nil
}
