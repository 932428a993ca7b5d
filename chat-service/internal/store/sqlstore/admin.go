package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/sqldb"
)

// adminRoomSelect is a room with its member count and the time of its
// newest message (the row of its last seq: one lookup in the (room_id,
// seq) index). The message count is the last seq itself.
const adminRoomSelect = `SELECT ` + roomColumns + `,
	(SELECT COUNT(*) FROM members c WHERE c.room_id = r.id),
	(SELECT x.created_at FROM messages x WHERE x.room_id = r.id AND x.seq = r.last_seq)
	FROM rooms r WHERE r.kind NOT IN ('dm', 'group')`

func scanAdminRoom(row scanner) (chat.AdminRoom, error) {
	var v chat.AdminRoom
	var last sql.NullString
	room, err := scanRoom(row, &v.MemberCount, &last)
	if err != nil {
		return chat.AdminRoom{}, err
	}
	v.Room, v.MessageCount = room, room.LastSeq
	if last.Valid {
		t := parseTime(last.String)
		v.LastMessageAt = &t
	}
	return v, nil
}

// AdminRooms lists public and private rooms with id > afterID, by id.
func (s *Store) AdminRooms(ctx context.Context, afterID int64, limit int) ([]chat.AdminRoom, error) {
	rows, err := s.db.QueryContext(ctx, s.q(adminRoomSelect+` AND r.id > ? ORDER BY r.id LIMIT ?`), afterID, limit)
	if err != nil {
		return nil, sqldb.Wrap("admin rooms", err)
	}
	defer rows.Close()
	out := []chat.AdminRoom{}
	for rows.Next() {
		v, err := scanAdminRoom(rows)
		if err != nil {
			return nil, sqldb.Wrap("admin rooms", err)
		}
		out = append(out, v)
	}
	return out, sqldb.Wrap("admin rooms", rows.Err())
}

// AdminRoom is one public or private room (404 for DMs and missing rooms).
func (s *Store) AdminRoom(ctx context.Context, id int64) (chat.AdminRoom, error) {
	v, err := scanAdminRoom(s.db.QueryRowContext(ctx, s.q(adminRoomSelect+` AND r.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return chat.AdminRoom{}, errRoomNotFound
	}
	return v, sqldb.Wrap("admin room", err)
}

// activeChunk is the most users one insert of RecordActive carries (two
// parameters each, well under both dialects' limits).
const activeChunk = 500

// RecordActive inserts (day, user) rows, skipping those present, in one
// transaction.
func (s *Store) RecordActive(ctx context.Context, day string, userIDs []int64) error {
	if len(userIDs) == 0 {
		return nil
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(userIDs); start += activeChunk {
			chunk := userIDs[start:min(start+activeChunk, len(userIDs))]
			args := make([]any, 0, 2*len(chunk))
			for _, u := range chunk {
				args = append(args, day, u)
			}
			q := `INSERT INTO daily_active (day, user_id) VALUES ` +
				strings.TrimSuffix(strings.Repeat("(?, ?),", len(chunk)), ",") + ` ON CONFLICT DO NOTHING`
			if _, err := tx.ExecContext(ctx, s.q(q), args...); err != nil {
				return err
			}
		}
		return nil
	})
	return sqldb.Wrap("record activity", err)
}

// PruneActive deletes the activity of days before before.
func (s *Store) PruneActive(ctx context.Context, before string) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM daily_active WHERE day < ?`), before)
	return sqldb.Wrap("prune activity", err)
}

// ActiveUsers counts the users active on day (a range of the primary key).
func (s *Store) ActiveUsers(ctx context.Context, day string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM daily_active WHERE day = ?`), day).Scan(&n)
	return n, sqldb.Wrap("count active users", err)
}

// MessagesPerDay counts messages by UTC day from since on: a range of
// the messages_created index (migration 0003).
func (s *Store) MessagesPerDay(ctx context.Context, since time.Time) ([]chat.DayCount, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+s.d.Day("created_at")+`, COUNT(*) FROM messages
		WHERE created_at >= ? GROUP BY 1 ORDER BY 1`), fmtTime(since))
	if err != nil {
		return nil, sqldb.Wrap("messages per day", err)
	}
	defer rows.Close()
	out := []chat.DayCount{}
	for rows.Next() {
		var d chat.DayCount
		if err := rows.Scan(&d.Day, &d.Count); err != nil {
			return nil, sqldb.Wrap("messages per day", err)
		}
		out = append(out, d)
	}
	return out, sqldb.Wrap("messages per day", rows.Err())
}
