package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/sqldb"
)

// Thread returns a page of a thread's replies in seq order: a range of the
// messages_thread index (thread_root_id, seq), whatever the room's size.
func (s *Store) Thread(ctx context.Context, rootID, afterSeq int64, limit int) ([]chat.Message, error) {
	st, err := s.stmt(ctx, nil, `SELECT `+messageColumns+` FROM messages m
		WHERE m.thread_root_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?`)
	if err != nil {
		return nil, sqldb.Wrap("thread", err)
	}
	rows, err := st.QueryContext(ctx, rootID, afterSeq, limit)
	if err != nil {
		return nil, sqldb.Wrap("thread", err)
	}
	msgs, err := collectMessages(rows)
	if err != nil {
		return nil, sqldb.Wrap("thread", err)
	}
	return msgs, s.attachReactions(ctx, s.db, msgs)
}

// Threads lists the threads userID follows in rooms they can still read
// (public rooms, and others they are a member of), newest root first.
func (s *Store) Threads(ctx context.Context, userID, beforeRootID int64, limit int) ([]chat.ThreadView, error) {
	if beforeRootID <= 0 {
		beforeRootID = math.MaxInt64
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+messageColumns+`,
		(SELECT COUNT(*) FROM messages x WHERE x.thread_root_id = m.id AND x.seq > f.last_read_seq AND x.user_id <> f.user_id AND NOT x.deleted)
		FROM thread_follows f
		JOIN messages m ON m.id = f.root_id
		JOIN rooms r ON r.id = f.room_id
		LEFT JOIN members mm ON mm.room_id = f.room_id AND mm.user_id = f.user_id
		WHERE f.user_id = ? AND f.root_id < ? AND (r.kind = 'public' OR mm.user_id IS NOT NULL)
		ORDER BY f.root_id DESC LIMIT ?`), userID, beforeRootID, limit)
	if err != nil {
		return nil, sqldb.Wrap("threads", err)
	}
	defer rows.Close()
	out := []chat.ThreadView{}
	for rows.Next() {
		var unread int64
		m, err := scanMessage(rows, &unread)
		if err != nil {
			return nil, sqldb.Wrap("threads", err)
		}
		out = append(out, chat.ThreadView{Root: m, UnreadReplies: unread})
	}
	if err := rows.Err(); err != nil {
		return nil, sqldb.Wrap("threads", err)
	}
	msgs := make([]chat.Message, len(out))
	for i := range out {
		msgs[i] = out[i].Root
	}
	if err := s.attachReactions(ctx, s.db, msgs); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Root = msgs[i]
	}
	return out, nil
}

// MarkThreadRead moves a follower's thread read marker forward, clamped to
// the room's last seq.
func (s *Store) MarkThreadRead(ctx context.Context, rootID, userID, seq int64) (chat.ThreadReadState, error) {
	st := chat.ThreadReadState{RootID: rootID}
	err := s.db.QueryRowContext(ctx, s.q(`UPDATE thread_follows
		SET last_read_seq = `+s.d.Greatest+`(last_read_seq, `+s.d.Least+`(?, (SELECT last_seq FROM rooms WHERE id = thread_follows.room_id)))
		WHERE root_id = ? AND user_id = ? RETURNING last_read_seq`), seq, rootID, userID).Scan(&st.LastReadSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return chat.ThreadReadState{}, sqldb.Wrap("mark thread read", err)
	}
	st.Following = true
	err = s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM messages WHERE thread_root_id = ? AND seq > ? AND user_id <> ? AND NOT deleted`),
		rootID, st.LastReadSeq, userID).Scan(&st.UnreadReplies)
	return st, sqldb.Wrap("count unread replies", err)
}

// groupKey is a group DM's dm_key: "g:" and its sorted member ids.
func groupKey(members []chat.UserRef) string {
	ids := make([]int64, len(members))
	for i, m := range members {
		ids[i] = m.UserID
	}
	slices.Sort(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return "g:" + strings.Join(parts, ",")
}

// OpenGroup finds or creates the group DM of exactly members (distinct
// users, the creator among them). Everyone in the set is a member after
// it, whoever had left.
func (s *Store) OpenGroup(ctx context.Context, creator int64, members []chat.UserRef, at time.Time) (chat.Room, bool, error) {
	key := groupKey(members)
	var (
		room    chat.Room
		created bool
	)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		created = false
		var id int64
		find := s.q(`SELECT id FROM rooms WHERE dm_key = ?`)
		err := tx.QueryRowContext(ctx, find, key).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			// Two members opening the group at once on two replicas: as in
			// OpenDM, the second insert does nothing and reads the first.
			err = tx.QueryRowContext(ctx, s.q(`INSERT INTO rooms (name, description, kind, created_by, created_at, updated_at, dm_key)
				VALUES ('', '', 'group', ?, ?, ?, ?) ON CONFLICT (dm_key) DO NOTHING RETURNING id`), creator, fmtTime(at), fmtTime(at), key).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				err = tx.QueryRowContext(ctx, find, key).Scan(&id)
			} else if err == nil {
				created = true
			}
		}
		if err != nil {
			return err
		}
		for _, u := range members {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO members (room_id, user_id, username, role, joined_at) VALUES (?, ?, ?, 'member', ?)
				ON CONFLICT DO NOTHING`), id, u.UserID, u.Username, fmtTime(at)); err != nil {
				return err
			}
		}
		room, err = s.getRoom(ctx, tx, id)
		return err
	})
	return room, created, sqldb.Wrap("open group", err)
}
