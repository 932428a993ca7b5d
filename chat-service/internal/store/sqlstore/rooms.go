package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/text"
)

var errRoomNotFound = apperr.NotFound("room_not_found", "room not found")

const roomColumns = `r.id, r.name, r.description, r.kind, r.created_by, r.created_at, r.updated_at, r.archived, r.last_seq, r.is_default`

type scanner interface{ Scan(dest ...any) error }

func scanRoom(row scanner, extra ...any) (chat.Room, error) {
	var r chat.Room
	var created, updated string
	dest := append([]any{&r.ID, &r.Name, &r.Description, &r.Kind, &r.CreatedBy, &created, &updated, &r.Archived, &r.LastSeq, &r.IsDefault}, extra...)
	if err := row.Scan(dest...); err != nil {
		return chat.Room{}, err
	}
	r.CreatedAt, r.UpdatedAt = parseTime(created), parseTime(updated)
	return r, nil
}

func (s *Store) getRoom(ctx context.Context, q querier, id int64) (chat.Room, error) {
	r, err := scanRoom(q.QueryRowContext(ctx, s.q(`SELECT `+roomColumns+` FROM rooms r WHERE r.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Room{}, errRoomNotFound
	}
	return r, sqldb.Wrap("get room", err)
}

// Room loads one room.
func (s *Store) Room(ctx context.Context, id int64) (chat.Room, error) {
	return s.getRoom(ctx, s.db, id)
}

// CreateRoom inserts a room and its owner in one transaction.
func (s *Store) CreateRoom(ctx context.Context, nr chat.NewRoom) (chat.Room, error) {
	var room chat.Room
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO rooms (name, name_key, description, kind, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			nr.Name, text.FoldKey(nr.Name), nr.Description, nr.Kind, nr.CreatedBy, fmtTime(nr.At), fmtTime(nr.At)).Scan(&id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO members (room_id, user_id, username, role, joined_at) VALUES (?, ?, ?, 'owner', ?)`),
			id, nr.CreatedBy, nr.CreatorName, fmtTime(nr.At)); err != nil {
			return err
		}
		room, err = s.getRoom(ctx, tx, id)
		return err
	})
	if sqldb.IsUniqueViolation(err) {
		return chat.Room{}, apperr.Conflict("room_name_taken", "a public room with that name exists")
	}
	return room, sqldb.Wrap("create room", err)
}

// UpdateRoom applies a patch.
func (s *Store) UpdateRoom(ctx context.Context, id int64, p chat.RoomPatch, at time.Time) (chat.Room, error) {
	var room chat.Room
	var key *string
	if p.Name != nil {
		k := text.FoldKey(*p.Name)
		key = &k
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE rooms SET
				name = COALESCE(?, name), name_key = COALESCE(?, name_key), description = COALESCE(?, description),
				archived = COALESCE(?, archived), updated_at = ?
			WHERE id = ?`), p.Name, key, p.Description, p.Archived, fmtTime(at), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errRoomNotFound
		}
		room, err = s.getRoom(ctx, tx, id)
		return err
	})
	if sqldb.IsUniqueViolation(err) {
		return chat.Room{}, apperr.Conflict("room_name_taken", "a public room with that name exists")
	}
	return room, sqldb.Wrap("update room", err)
}

// NameClash is a public room whose name folds to the same key as an older
// public room's (RefoldRoomNames): both are kept, and an admin should
// rename one.
type NameClash struct {
	RoomID, SameAsID int64
	Name, SameAsName string
}

// RefoldRoomNames sets every public room's name_key to text.FoldKey of its
// name where it differs: after migration 0002, which could only fill in
// lower(name), and after an upgrade that changes the folding. A public room
// whose key an older public room holds keeps its name and gets
// key+"\x01"+id, which no valid name folds to; it is returned as a clash.
// With nothing to change it only reads.
func (s *Store) RefoldRoomNames(ctx context.Context) ([]NameClash, error) {
	type row struct {
		id        int64
		name, key string
	}
	var clashes []NameClash
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		clashes = nil
		rows, err := tx.QueryContext(ctx, `SELECT id, name, name_key FROM rooms WHERE kind = 'public' ORDER BY id`)
		if err != nil {
			return err
		}
		var all []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.name, &r.key); err != nil {
				rows.Close()
				return err
			}
			all = append(all, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		want := make([]string, len(all))
		holder := map[string]row{}
		stale := false
		for i, r := range all {
			k := text.FoldKey(r.name)
			if first, taken := holder[k]; taken {
				clashes = append(clashes, NameClash{RoomID: r.id, SameAsID: first.id, Name: r.name, SameAsName: first.name})
				k += "\x01" + strconv.FormatInt(r.id, 10)
			} else {
				holder[k] = r
			}
			want[i] = k
			stale = stale || k != r.key
		}
		if !stale {
			return nil
		}
		// Two passes, so that no update meets a key another row still
		// holds: first a placeholder per row, then the keys.
		for _, pass := range []func(i int) string{
			func(i int) string { return "\x01" + strconv.FormatInt(all[i].id, 10) },
			func(i int) string { return want[i] },
		} {
			for i, r := range all {
				if want[i] == r.key {
					continue
				}
				if _, err := tx.ExecContext(ctx, s.q(`UPDATE rooms SET name_key = ? WHERE id = ?`), pass(i), r.id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return clashes, sqldb.Wrap("refold room names", err)
}

// DeleteRoom removes a room and everything in it.
func (s *Store) DeleteRoom(ctx context.Context, id int64) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM file_chunks WHERE file_id IN (SELECT id FROM files WHERE room_id = ?)`,
			`DELETE FROM files WHERE room_id = ?`,
			`DELETE FROM reactions WHERE message_id IN (SELECT id FROM messages WHERE room_id = ?)`,
			`DELETE FROM messages WHERE room_id = ?`,
			`DELETE FROM members WHERE room_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, s.q(q), id); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM rooms WHERE id = ?`), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errRoomNotFound
		}
		return nil
	})
	return sqldb.Wrap("delete room", err)
}

// OpenDM finds or creates the DM room of a pair.
func (s *Store) OpenDM(ctx context.Context, a, b chat.UserRef, at time.Time) (chat.Room, bool, error) {
	lo, hi := a.UserID, b.UserID
	if lo > hi {
		lo, hi = hi, lo
	}
	key := strconv.FormatInt(lo, 10) + ":" + strconv.FormatInt(hi, 10)
	var (
		room    chat.Room
		created bool
	)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var id int64
		find := s.q(`SELECT id FROM rooms WHERE dm_key = ?`)
		err := tx.QueryRowContext(ctx, find, key).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			// Both members opening the DM at once, on two replicas: on
			// PostgreSQL the second insert waits for the first, then does
			// nothing and returns no row, and the room is read again.
			err = tx.QueryRowContext(ctx, s.q(`INSERT INTO rooms (name, description, kind, created_by, created_at, updated_at, dm_key)
				VALUES ('', '', 'dm', ?, ?, ?, ?) ON CONFLICT (dm_key) DO NOTHING RETURNING id`), a.UserID, fmtTime(at), fmtTime(at), key).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				err = tx.QueryRowContext(ctx, find, key).Scan(&id)
			} else if err == nil {
				for _, u := range []chat.UserRef{a, b} {
					if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO members (room_id, user_id, username, role, joined_at) VALUES (?, ?, ?, 'member', ?)`),
						id, u.UserID, u.Username, fmtTime(at)); err != nil {
						return err
					}
				}
				created = true
			}
		}
		if err != nil {
			return err
		}
		room, err = s.getRoom(ctx, tx, id)
		return err
	})
	return room, created, sqldb.Wrap("open dm", err)
}

// roomViewSelect yields a room plus the viewer's membership, member count,
// unread count and unread mentions (by name, or @room/@here by someone
// else, once per message); its two placeholders are both the viewer.
const roomViewSelect = `SELECT ` + roomColumns + `,
	(SELECT COUNT(*) FROM members c WHERE c.room_id = r.id),
	m.role, COALESCE(m.last_read_seq, 0),
	CASE WHEN m.user_id IS NULL THEN 0 ELSE
		(SELECT COUNT(*) FROM messages x WHERE x.room_id = r.id AND x.seq > m.last_read_seq AND x.user_id <> ? AND NOT x.deleted)
	END,
	CASE WHEN m.user_id IS NULL THEN 0 ELSE
		(SELECT COUNT(*) FROM mentions x JOIN messages y ON y.id = x.message_id
			WHERE x.room_id = r.id AND x.user_id = m.user_id AND x.seq > m.last_read_seq AND NOT y.deleted)
		+ (SELECT COUNT(*) FROM messages y WHERE y.room_id = r.id AND y.mentions_room AND y.seq > m.last_read_seq
			AND y.user_id <> m.user_id AND NOT y.deleted
			AND NOT EXISTS (SELECT 1 FROM mentions z WHERE z.message_id = y.id AND z.user_id = m.user_id))
	END
	FROM rooms r LEFT JOIN members m ON m.room_id = r.id AND m.user_id = ?`

func scanRoomView(row scanner) (chat.RoomView, error) {
	var v chat.RoomView
	var role sql.NullString
	room, err := scanRoom(row, &v.MemberCount, &role, &v.LastReadSeq, &v.Unread, &v.MentionCount)
	if err != nil {
		return chat.RoomView{}, err
	}
	v.Room = room
	if role.Valid {
		r := role.String
		v.Role, v.IsMember = &r, true
	}
	return v, nil
}

// RoomViews lists rooms the user may see, by id.
func (s *Store) RoomViews(ctx context.Context, userID, afterID int64, limit int) ([]chat.RoomView, error) {
	rows, err := s.db.QueryContext(ctx, s.q(roomViewSelect+`
		WHERE (r.kind = 'public' OR m.user_id IS NOT NULL) AND r.id > ?
		ORDER BY r.id LIMIT ?`), userID, userID, afterID, limit)
	if err != nil {
		return nil, sqldb.Wrap("list rooms", err)
	}
	defer rows.Close()
	views := []chat.RoomView{}
	for rows.Next() {
		v, err := scanRoomView(rows)
		if err != nil {
			return nil, sqldb.Wrap("list rooms", err)
		}
		views = append(views, v)
	}
	if err := rows.Err(); err != nil {
		return nil, sqldb.Wrap("list rooms", err)
	}
	return views, s.decorate(ctx, views, userID)
}

// RoomView is one room as userID sees it (visibility is the caller's job).
func (s *Store) RoomView(ctx context.Context, roomID, userID int64) (chat.RoomView, error) {
	v, err := scanRoomView(s.db.QueryRowContext(ctx, s.q(roomViewSelect+` WHERE r.id = ?`), userID, userID, roomID))
	if errors.Is(err, sql.ErrNoRows) {
		return chat.RoomView{}, errRoomNotFound
	}
	if err != nil {
		return chat.RoomView{}, sqldb.Wrap("get room view", err)
	}
	views := []chat.RoomView{v}
	if err := s.decorate(ctx, views, userID); err != nil {
		return chat.RoomView{}, err
	}
	return views[0], nil
}

// decorate fills last_message and, for DMs, the other user and a name.
func (s *Store) decorate(ctx context.Context, views []chat.RoomView, userID int64) error {
	if len(views) == 0 {
		return nil
	}
	ids := make([]int64, len(views))
	byID := make(map[int64]*chat.RoomView, len(views))
	var dms []int64
	for i := range views {
		ids[i] = views[i].ID
		byID[views[i].ID] = &views[i]
		if chat.IsDirect(views[i].Kind) {
			dms = append(dms, views[i].ID)
		}
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+messageColumns+` FROM rooms r
		JOIN messages m ON m.id = (SELECT id FROM messages WHERE room_id = r.id AND NOT deleted ORDER BY seq DESC LIMIT 1)
		WHERE r.id IN (`+placeholders(len(ids))+`)`), int64Args(ids)...)
	if err != nil {
		return sqldb.Wrap("last messages", err)
	}
	msgs, err := collectMessages(rows)
	if err != nil {
		return sqldb.Wrap("last messages", err)
	}
	if err := s.attachReactions(ctx, s.db, msgs); err != nil {
		return err
	}
	for i := range msgs {
		byID[msgs[i].RoomID].LastMessage = &msgs[i]
	}
	if len(dms) == 0 {
		return nil
	}
	args := append(int64Args(dms), userID)
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT room_id, user_id, username FROM members
		WHERE room_id IN (`+placeholders(len(dms))+`) AND user_id <> ? ORDER BY room_id, user_id`), args...)
	if err != nil {
		return sqldb.Wrap("dm users", err)
	}
	defer rows.Close()
	for rows.Next() {
		var roomID int64
		var u chat.UserRef
		if err := rows.Scan(&roomID, &u.UserID, &u.Username); err != nil {
			return sqldb.Wrap("dm users", err)
		}
		v := byID[roomID]
		name := u.Username
		if name == "" {
			name = "user " + strconv.FormatInt(u.UserID, 10)
		}
		if v.Kind == chat.KindGroup {
			// A group is named by its other members, by user id.
			v.GroupUsers = append(v.GroupUsers, u)
			if v.Name != "" {
				name = v.Name + ", " + name
			}
		} else {
			v.DMUser = &u
		}
		v.Name = name
	}
	return sqldb.Wrap("dm users", rows.Err())
}

const memberColumns = `room_id, user_id, username, role, last_read_seq, joined_at`

func scanMember(row scanner) (chat.Member, error) {
	var m chat.Member
	var joined string
	if err := row.Scan(&m.RoomID, &m.UserID, &m.Username, &m.Role, &m.LastReadSeq, &joined); err != nil {
		return chat.Member{}, err
	}
	m.JoinedAt = parseTime(joined)
	return m, nil
}

// Member loads one membership.
func (s *Store) Member(ctx context.Context, roomID, userID int64) (chat.Member, bool, error) {
	m, err := scanMember(s.db.QueryRowContext(ctx, s.q(`SELECT `+memberColumns+` FROM members WHERE room_id = ? AND user_id = ?`), roomID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Member{}, false, nil
	}
	if err != nil {
		return chat.Member{}, false, sqldb.Wrap("get member", err)
	}
	return m, true, nil
}

// RoomMember loads a room and userID's membership of it (nil when not a
// member) in one read, with a prepared statement: every request that
// checks access does.
func (s *Store) RoomMember(ctx context.Context, roomID, userID int64) (chat.Room, *chat.Member, error) {
	st, err := s.stmt(ctx, nil, `SELECT `+roomColumns+`, m.username, m.role, m.last_read_seq, m.joined_at
		FROM rooms r LEFT JOIN members m ON m.room_id = r.id AND m.user_id = ? WHERE r.id = ?`)
	if err != nil {
		return chat.Room{}, nil, sqldb.Wrap("get room", err)
	}
	var (
		username, role, joined sql.NullString
		lastRead               sql.NullInt64
	)
	r, err := scanRoom(st.QueryRowContext(ctx, userID, roomID), &username, &role, &lastRead, &joined)
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Room{}, nil, errRoomNotFound
	}
	if err != nil {
		return chat.Room{}, nil, sqldb.Wrap("get room", err)
	}
	if !role.Valid {
		return r, nil, nil
	}
	return r, &chat.Member{RoomID: r.ID, UserID: userID, Username: username.String, Role: role.String,
		LastReadSeq: lastRead.Int64, JoinedAt: parseTime(joined.String)}, nil
}

// Members pages through a room's members by user id.
func (s *Store) Members(ctx context.Context, roomID, afterUserID int64, limit int) ([]chat.Member, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+memberColumns+` FROM members
		WHERE room_id = ? AND user_id > ? ORDER BY user_id LIMIT ?`), roomID, afterUserID, limit)
	if err != nil {
		return nil, sqldb.Wrap("list members", err)
	}
	defer rows.Close()
	out := []chat.Member{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, sqldb.Wrap("list members", err)
		}
		out = append(out, m)
	}
	return out, sqldb.Wrap("list members", rows.Err())
}

// AddMember inserts a membership unless present.
func (s *Store) AddMember(ctx context.Context, m chat.Member) (chat.Member, bool, error) {
	var (
		stored  chat.Member
		created bool
	)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO members (room_id, user_id, username, role, joined_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`), m.RoomID, m.UserID, m.Username, m.Role, fmtTime(m.JoinedAt))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		created = n == 1
		stored, err = scanMember(tx.QueryRowContext(ctx, s.q(`SELECT `+memberColumns+` FROM members WHERE room_id = ? AND user_id = ?`), m.RoomID, m.UserID))
		return err
	})
	if sqldb.IsForeignKeyViolation(err) {
		return chat.Member{}, false, errRoomNotFound
	}
	return stored, created, sqldb.Wrap("add member", err)
}

// RemoveMember deletes a membership, promoting the longest-standing member
// when the room's last owner leaves.
func (s *Store) RemoveMember(ctx context.Context, roomID, userID int64) (bool, *chat.Member, error) {
	var (
		removed  bool
		promoted *chat.Member
	)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		// Two owners leaving at once must not each see the other as the
		// owner who stays.
		if err := s.lock(ctx, tx, s.d.LockRoom, roomID); err != nil {
			return err
		}
		var role string
		err := tx.QueryRowContext(ctx, s.q(`DELETE FROM members WHERE room_id = ? AND user_id = ? RETURNING role`), roomID, userID).Scan(&role)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		removed = true
		if role != chat.RoleOwner {
			return nil
		}
		var owners int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM members WHERE room_id = ? AND role = 'owner'`), roomID).Scan(&owners); err != nil {
			return err
		}
		if owners > 0 {
			return nil
		}
		m, err := scanMember(tx.QueryRowContext(ctx, s.q(`UPDATE members SET role = 'owner'
			WHERE room_id = ? AND user_id = (SELECT user_id FROM members WHERE room_id = ? ORDER BY joined_at, user_id LIMIT 1)
			RETURNING `+memberColumns), roomID, roomID))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		promoted = &m
		return nil
	})
	return removed, promoted, sqldb.Wrap("remove member", err)
}

// MarkRead moves a read marker forward, clamped to the room's last seq.
func (s *Store) MarkRead(ctx context.Context, roomID, userID, seq int64) (chat.ReadState, error) {
	st := chat.ReadState{RoomID: roomID}
	err := s.db.QueryRowContext(ctx, s.q(`UPDATE members
		SET last_read_seq = `+s.d.Greatest+`(last_read_seq, `+s.d.Least+`(?, (SELECT last_seq FROM rooms WHERE id = ?)))
		WHERE room_id = ? AND user_id = ? RETURNING last_read_seq`), seq, roomID, roomID, userID).Scan(&st.LastReadSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return chat.ReadState{}, apperr.Forbidden("not_member", "join the room first")
	}
	if err != nil {
		return chat.ReadState{}, sqldb.Wrap("mark read", err)
	}
	err = s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM messages WHERE room_id = ? AND seq > ? AND user_id <> ? AND NOT deleted`),
		roomID, st.LastReadSeq, userID).Scan(&st.Unread)
	return st, sqldb.Wrap("count unread", err)
}
