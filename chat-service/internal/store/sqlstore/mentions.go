package sqlstore

import (
	"context"
	"database/sql"
	"math"
	"slices"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/sqldb"
)

// recordMentions writes a mentions row for each user a created message of
// out names (its sender aside), and makes the users a reply mentions follow
// its thread.
func (s *Store) recordMentions(ctx context.Context, tx *sql.Tx, nms []chat.NewMessage, out []chat.CreateResult) error {
	for i, nm := range nms {
		if len(nm.Mentions) == 0 || out[i].Err != nil || !out[i].Created {
			continue
		}
		m := out[i].Message
		for _, u := range nm.Mentions {
			if u == nm.UserID {
				continue
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO mentions (user_id, message_id, room_id, seq) VALUES (?, ?, ?, ?)
				ON CONFLICT DO NOTHING`), u, m.ID, m.RoomID, m.Seq); err != nil {
				return err
			}
			if nm.ThreadRootID != 0 {
				if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO thread_follows (user_id, root_id, room_id, last_read_seq, followed_at)
					VALUES (?, ?, ?, 0, ?) ON CONFLICT DO NOTHING`), u, nm.ThreadRootID, m.RoomID, fmtTime(nm.At)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// keepReaders drops, from the mentions of messages to rooms that are not
// public, the users who are no longer members when the message is stored:
// the names were resolved before the transaction, and someone removed
// from a private room meanwhile must not be told of its message. nms is
// copied before it is changed.
func (s *Store) keepReaders(ctx context.Context, tx *sql.Tx, nms []chat.NewMessage) ([]chat.NewMessage, error) {
	var rooms, users []int64
	for _, nm := range nms {
		if len(nm.Mentions) == 0 {
			continue
		}
		if !slices.Contains(rooms, nm.RoomID) {
			rooms = append(rooms, nm.RoomID)
		}
		for _, u := range nm.Mentions {
			if !slices.Contains(users, u) {
				users = append(users, u)
			}
		}
	}
	if len(rooms) == 0 {
		return nms, nil
	}
	rows, err := tx.QueryContext(ctx, s.q(`SELECT r.id, r.kind, m.user_id FROM rooms r
		LEFT JOIN members m ON m.room_id = r.id AND m.user_id IN (`+placeholders(len(users))+`)
		WHERE r.id IN (`+placeholders(len(rooms))+`)`), append(int64Args(users), int64Args(rooms)...)...)
	if err != nil {
		return nil, err
	}
	member := map[[2]int64]bool{}
	public := map[int64]bool{} // anyone may read these: their mentions stand
	for rows.Next() {
		var (
			room int64
			kind string
			user sql.NullInt64
		)
		if err := rows.Scan(&room, &kind, &user); err != nil {
			rows.Close()
			return nil, err
		}
		public[room] = kind == chat.KindPublic
		if user.Valid {
			member[[2]int64{room, user.Int64}] = true
		}
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	copied := false
	for i, nm := range nms {
		if len(nm.Mentions) == 0 || public[nm.RoomID] {
			continue
		}
		kept := make([]int64, 0, len(nm.Mentions))
		for _, u := range nm.Mentions {
			if member[[2]int64{nm.RoomID, u}] {
				kept = append(kept, u)
			}
		}
		if len(kept) == len(nm.Mentions) {
			continue
		}
		if !copied {
			nms, copied = slices.Clone(nms), true
		}
		nms[i].Mentions = kept
	}
	return nms, nil
}

// ResolveMentions returns the ids of the users named who may read the
// room: in a public room anyone chat-service has seen, elsewhere members.
func (s *Store) ResolveMentions(ctx context.Context, roomID int64, names []string) ([]int64, error) {
	if len(names) == 0 {
		return []int64{}, nil
	}
	args := []any{roomID}
	for _, n := range names {
		args = append(args, n)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT u.id FROM users u JOIN rooms r ON r.id = ?
		WHERE lower(u.username) IN (`+placeholders(len(names))+`)
		AND (r.kind = 'public' OR EXISTS (SELECT 1 FROM members m WHERE m.room_id = r.id AND m.user_id = u.id))
		ORDER BY u.id`), args...)
	if err != nil {
		return nil, sqldb.Wrap("resolve mentions", err)
	}
	defer rows.Close()
	ids := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, sqldb.Wrap("resolve mentions", err)
		}
		ids = append(ids, id)
	}
	return ids, sqldb.Wrap("resolve mentions", rows.Err())
}

// Mentions lists the messages that mention userID — by name, or the room
// in rooms they are a member of (not their own) — that are not deleted, in
// rooms they can read, newest first.
func (s *Store) Mentions(ctx context.Context, userID, beforeID int64, limit int) ([]chat.Message, error) {
	if beforeID <= 0 {
		beforeID = math.MaxInt64
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+messageColumns+` FROM messages m
		JOIN rooms r ON r.id = m.room_id
		LEFT JOIN members mm ON mm.room_id = m.room_id AND mm.user_id = ?
		WHERE m.id IN (
			SELECT message_id FROM mentions WHERE user_id = ? AND message_id < ?
			UNION
			SELECT y.id FROM members z JOIN messages y ON y.room_id = z.room_id AND y.mentions_room
			WHERE z.user_id = ? AND y.id < ? AND y.user_id <> ?
		) AND NOT m.deleted AND (r.kind = 'public' OR mm.user_id IS NOT NULL)
		ORDER BY m.id DESC LIMIT ?`), userID, userID, beforeID, userID, beforeID, userID, limit)
	if err != nil {
		return nil, sqldb.Wrap("mentions", err)
	}
	msgs, err := collectMessages(rows)
	if err != nil {
		return nil, sqldb.Wrap("mentions", err)
	}
	return msgs, s.attachReactions(ctx, s.db, msgs)
}
