package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/sqldb"
)

var errMessageNotFound = apperr.NotFound("message_not_found", "message not found")

const messageColumns = `m.id, m.room_id, m.seq, m.user_id, m.username, m.body, m.client_msg_id, m.created_at, m.edited_at, m.deleted,
	m.thread_root_id, m.reply_count, m.last_reply_at, m.mentions, m.mentions_room, m.has_files,
	m.pinned_at, m.pinned_by, m.pinned_by_name, m.webhook_id, m.webhook_name`

func scanMessage(row scanner, extra ...any) (chat.Message, error) {
	var (
		m          chat.Message
		cmid       sql.NullString
		created    string
		edited     sql.NullString
		root       sql.NullInt64
		lastReply  sql.NullString
		mentions   string
		pinnedAt   sql.NullString
		pinnedBy   sql.NullInt64
		pinnerName sql.NullString
		hookID     sql.NullInt64
		hookName   sql.NullString
	)
	dest := append([]any{&m.ID, &m.RoomID, &m.Seq, &m.UserID, &m.Username, &m.Body, &cmid, &created, &edited, &m.Deleted,
		&root, &m.ReplyCount, &lastReply, &mentions, &m.MentionsRoom, &m.HasFiles,
		&pinnedAt, &pinnedBy, &pinnerName, &hookID, &hookName}, extra...)
	if err := row.Scan(dest...); err != nil {
		return chat.Message{}, err
	}
	if cmid.Valid {
		v := cmid.String
		m.ClientMsgID = &v
	}
	m.CreatedAt = parseTime(created)
	if edited.Valid {
		t := parseTime(edited.String)
		m.EditedAt = &t
	}
	if root.Valid {
		v := root.Int64
		m.ThreadRootID = &v
	}
	if lastReply.Valid {
		t := parseTime(lastReply.String)
		m.LastReplyAt = &t
	}
	m.Mentions = parseIDs(mentions)
	if pinnedAt.Valid {
		t := parseTime(pinnedAt.String)
		m.Pinned, m.PinnedAt = true, &t
		m.PinnedBy = &chat.UserRef{UserID: pinnedBy.Int64, Username: pinnerName.String}
	}
	m.Reactions = []chat.ReactionGroup{}
	m.Files = []chat.File{}
	if hookID.Valid {
		m.Webhook = &chat.WebhookRef{ID: hookID.Int64, Name: hookName.String}
	}
	return m, nil
}

// formatIDs and parseIDs write and read messages.mentions, a comma list.
func formatIDs(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

func parseIDs(s string) []int64 {
	out := []int64{}
	for s != "" {
		var part string
		part, s, _ = strings.Cut(s, ",")
		if id, err := strconv.ParseInt(part, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

func collectMessages(rows *sql.Rows) ([]chat.Message, error) {
	defer rows.Close()
	out := []chat.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// attachReactions loads the reactions of msgs in one query, grouped by
// emoji in the order they were first used, and their files in another.
func (s *Store) attachReactions(ctx context.Context, q querier, msgs []chat.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := s.attachFileRows(ctx, q, msgs); err != nil {
		return err
	}
	ids := make([]int64, len(msgs))
	idx := make(map[int64]int, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
		idx[m.ID] = i
	}
	rows, err := q.QueryContext(ctx, s.q(`SELECT message_id, emoji, user_id FROM reactions
		WHERE message_id IN (`+placeholders(len(ids))+`) ORDER BY message_id, id`), int64Args(ids)...)
	if err != nil {
		return sqldb.Wrap("load reactions", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			msgID, userID int64
			emoji         string
		)
		if err := rows.Scan(&msgID, &emoji, &userID); err != nil {
			return sqldb.Wrap("load reactions", err)
		}
		m := &msgs[idx[msgID]]
		found := false
		for g := range m.Reactions {
			if m.Reactions[g].Emoji == emoji {
				m.Reactions[g].Count++
				m.Reactions[g].UserIDs = append(m.Reactions[g].UserIDs, userID)
				found = true
				break
			}
		}
		if !found {
			m.Reactions = append(m.Reactions, chat.ReactionGroup{Emoji: emoji, Count: 1, UserIDs: []int64{userID}})
		}
	}
	return sqldb.Wrap("load reactions", rows.Err())
}

func (s *Store) getMessage(ctx context.Context, q querier, id int64) (chat.Message, error) {
	m, err := scanMessage(q.QueryRowContext(ctx, s.q(`SELECT `+messageColumns+` FROM messages m WHERE m.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Message{}, errMessageNotFound
	}
	if err != nil {
		return chat.Message{}, sqldb.Wrap("get message", err)
	}
	msgs := []chat.Message{m}
	if err := s.attachReactions(ctx, q, msgs); err != nil {
		return chat.Message{}, err
	}
	return msgs[0], nil
}

// Message loads one message with its reactions.
func (s *Store) Message(ctx context.Context, id int64) (chat.Message, error) {
	return s.getMessage(ctx, s.db, id)
}

// CreateMessage allocates the next seq of the room and inserts the message
// in one transaction: from the seq bump to the commit the writer holds
// SQLite's write lock (BEGIN IMMEDIATE) or, on PostgreSQL, the room row's
// lock, so seqs are gap-free and increasing however many processes or
// handles write, and a failed insert rolls the bump back. On SQLite the
// (user, client_msg_id) lookup runs under the same lock, so a retry racing
// the original still finds it; on PostgreSQL such a retry fails the unique
// index instead, and the original is looked up after the rollback.
func (s *Store) CreateMessage(ctx context.Context, nm chat.NewMessage) (chat.Message, bool, error) {
	r, err := s.createMessage(ctx, nm)
	return r.Message, r.Created, err
}

// createMessage is CreateMessage with the reply's root (CreateResult.Root).
// A reply is checked (checkRoots) and counted on its root (bumpRoots) in
// the transaction that stores it.
func (s *Store) createMessage(ctx context.Context, nm chat.NewMessage) (chat.CreateResult, error) {
	var r chat.CreateResult
	var cmid any
	if nm.ClientMsgID != "" {
		cmid = nm.ClientMsgID
	}
	var root any
	if nm.ThreadRootID != 0 {
		root = nm.ThreadRootID
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		r = chat.CreateResult{}
		if cmid != nil {
			var id int64
			err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM messages WHERE user_id = ? AND client_msg_id = ?`), nm.UserID, cmid).Scan(&id)
			if err == nil {
				r.Message, err = s.getMessage(ctx, tx, id)
				return err
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		nms, err := s.keepReaders(ctx, tx, []chat.NewMessage{nm})
		if err != nil {
			return err
		}
		nm := nms[0]
		out := make([]chat.CreateResult, 1)
		roots, bad, err := s.checkRoots(ctx, tx, nms, func(int) bool { return false })
		if err != nil {
			return err
		}
		if len(bad) > 0 {
			return chat.ErrInvalidThread
		}
		if bad, err := s.checkFiles(ctx, tx, nms, func(int) bool { return false }); err != nil {
			return err
		} else if len(bad) > 0 {
			return chat.ErrInvalidFiles
		}
		var seq int64
		err = tx.QueryRowContext(ctx, s.q(`UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq`), nm.RoomID).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return errRoomNotFound
		}
		if err != nil {
			return err
		}
		var id int64
		hookID, hookName := webhookArgs(nm)
		err = tx.QueryRowContext(ctx, s.q(`INSERT INTO messages (room_id, seq, user_id, username, body, client_msg_id, created_at, thread_root_id, mentions, mentions_room,
			webhook_id, webhook_name)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			nm.RoomID, seq, nm.UserID, nm.Username, nm.Body, cmid, fmtTime(nm.At), root, formatIDs(nm.Mentions), nm.MentionsRoom,
			hookID, hookName).Scan(&id)
		if err != nil {
			return err
		}
		out[0] = chat.CreateResult{Created: true, Message: storedMessage(id, seq, nm)}
		if err := s.recordMentions(ctx, tx, nms, out); err != nil {
			return err
		}
		if err := s.bumpRoots(ctx, tx, nms, out, roots); err != nil {
			return err
		}
		if err := s.attachFiles(ctx, tx, nms, out); err != nil {
			return err
		}
		r = out[0]
		return nil
	})
	if errors.Is(err, chat.ErrInvalidFiles) {
		return chat.CreateResult{}, chat.ErrInvalidFiles
	}
	if cmid != nil && sqldb.IsUniqueViolation(err) {
		var id int64
		if err := s.db.QueryRowContext(ctx, s.q(`SELECT id FROM messages WHERE user_id = ? AND client_msg_id = ?`), nm.UserID, cmid).Scan(&id); err != nil {
			return chat.CreateResult{}, sqldb.Wrap("create message", err)
		}
		msg, err := s.getMessage(ctx, s.db, id)
		return chat.CreateResult{Message: msg}, err
	}
	return r, sqldb.Wrap("create message", err)
}

// rootInfo is what a reply's check needs of its root.
type rootInfo struct {
	roomID, userID int64
	isReply, gone  bool
}

// checkRoots returns the indexes (bad) of the replies among nms, skip(i)
// aside, whose root is unknown, in another room, a reply itself or
// deleted, and the roots it read. On PostgreSQL the
// roots' rows are locked, in id order, until the commit: a root deleted
// meanwhile waits for the reply, and two batches counting replies on one
// root take turns.
func (s *Store) checkRoots(ctx context.Context, tx *sql.Tx, nms []chat.NewMessage, skip func(i int) bool) (map[int64]rootInfo, []int, error) {
	var ids []int64
	for i, nm := range nms {
		if nm.ThreadRootID == 0 || skip(i) {
			continue
		}
		if !slices.Contains(ids, nm.ThreadRootID) {
			ids = append(ids, nm.ThreadRootID)
		}
	}
	if len(ids) == 0 {
		return nil, nil, nil
	}
	slices.Sort(ids)
	query := `SELECT id, room_id, user_id, thread_root_id IS NOT NULL, deleted FROM messages WHERE id IN (` + placeholders(len(ids)) + `) ORDER BY id`
	if s.d.LockMessage != "" {
		query += ` FOR UPDATE`
	}
	rows, err := tx.QueryContext(ctx, s.q(query), int64Args(ids)...)
	if err != nil {
		return nil, nil, err
	}
	roots := make(map[int64]rootInfo, len(ids))
	for rows.Next() {
		var id int64
		var r rootInfo
		if err := rows.Scan(&id, &r.roomID, &r.userID, &r.isReply, &r.gone); err != nil {
			rows.Close()
			return nil, nil, err
		}
		roots[id] = r
	}
	if err := rows.Close(); err != nil {
		return nil, nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	var bad []int
	for i, nm := range nms {
		if nm.ThreadRootID == 0 || skip(i) {
			continue
		}
		if r, ok := roots[nm.ThreadRootID]; !ok || r.roomID != nm.RoomID || r.isReply || r.gone {
			bad = append(bad, i)
		}
	}
	return roots, bad, nil
}

// bumpRoots counts the created replies of out on their roots (reply_count,
// last_reply_at), makes the root's author and each replier follow the
// thread (a replier has read it up to their reply), and sets each created
// reply's Root to its root as it now stands.
func (s *Store) bumpRoots(ctx context.Context, tx *sql.Tx, nms []chat.NewMessage, out []chat.CreateResult, roots map[int64]rootInfo) error {
	if len(roots) == 0 {
		return nil
	}
	perRoot := map[int64][]int{}
	var ids []int64
	for i, nm := range nms {
		if nm.ThreadRootID == 0 || out[i].Err != nil || !out[i].Created {
			continue
		}
		if _, ok := perRoot[nm.ThreadRootID]; !ok {
			ids = append(ids, nm.ThreadRootID)
		}
		perRoot[nm.ThreadRootID] = append(perRoot[nm.ThreadRootID], i)
	}
	slices.Sort(ids)
	follow := s.q(`INSERT INTO thread_follows (user_id, root_id, room_id, last_read_seq, followed_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id, root_id) DO UPDATE SET last_read_seq = ` + s.d.Greatest + `(thread_follows.last_read_seq, excluded.last_read_seq)`)
	for _, id := range ids {
		idx := perRoot[id]
		info := roots[id]
		last := nms[idx[0]].At
		for _, i := range idx {
			if nms[i].At.After(last) {
				last = nms[i].At
			}
		}
		at := fmtTime(last)
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE messages SET reply_count = reply_count + ?,
			last_reply_at = `+s.d.Greatest+`(COALESCE(last_reply_at, ?), ?) WHERE id = ?`), len(idx), at, at, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, follow, info.userID, id, info.roomID, 0, at); err != nil {
			return err
		}
		for _, i := range idx {
			if _, err := tx.ExecContext(ctx, follow, nms[i].UserID, id, info.roomID, out[i].Message.Seq, at); err != nil {
				return err
			}
		}
		root, err := s.getMessage(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, i := range idx {
			out[i].Root = &root
		}
	}
	return nil
}

// storedMessage is nm as just inserted with id and seq (no reactions yet).
func storedMessage(id, seq int64, nm chat.NewMessage) chat.Message {
	m := chat.Message{ID: id, RoomID: nm.RoomID, Seq: seq, UserID: nm.UserID, Username: nm.Username, Body: nm.Body,
		CreatedAt: nm.At.UTC(), Reactions: []chat.ReactionGroup{}, Files: []chat.File{}}
	if nm.ThreadRootID != 0 {
		v := nm.ThreadRootID
		m.ThreadRootID = &v
	}
	m.Mentions = nm.Mentions
	if m.Mentions == nil {
		m.Mentions = []int64{}
	}
	m.MentionsRoom = nm.MentionsRoom
	m.Webhook = nm.Webhook
	if nm.ClientMsgID != "" {
		v := nm.ClientMsgID
		m.ClientMsgID = &v
	}
	return m
}

// Messages returns a page of a room's history in ascending seq order, and
// whether older messages exist before the page.
func (s *Store) Messages(ctx context.Context, f chat.MessageFilter) ([]chat.Message, bool, error) {
	where := `m.room_id = ?`
	args := []any{f.RoomID}
	if f.AfterSeq != nil {
		where += ` AND m.seq > ?`
		args = append(args, *f.AfterSeq)
	}
	if f.BeforeSeq > 0 {
		where += ` AND m.seq < ?`
		args = append(args, f.BeforeSeq)
	}
	older := `SELECT EXISTS (SELECT 1 FROM messages WHERE room_id = ? AND seq < ?)`
	if f.TopLevel {
		where += ` AND m.thread_root_id IS NULL`
		older = `SELECT EXISTS (SELECT 1 FROM messages WHERE room_id = ? AND seq < ? AND thread_root_id IS NULL)`
	}
	order := `DESC`
	if f.AfterSeq != nil {
		order = `ASC`
	}
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+messageColumns+` FROM messages m WHERE `+where+` ORDER BY m.seq `+order+` LIMIT ?`), args...)
	if err != nil {
		return nil, false, sqldb.Wrap("list messages", err)
	}
	msgs, err := collectMessages(rows)
	if err != nil {
		return nil, false, sqldb.Wrap("list messages", err)
	}
	if order == `DESC` {
		for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
			msgs[i], msgs[j] = msgs[j], msgs[i]
		}
	}
	if err := s.attachReactions(ctx, s.db, msgs); err != nil {
		return nil, false, err
	}
	hasOlder := false
	if len(msgs) > 0 {
		err := s.db.QueryRowContext(ctx, s.q(older), f.RoomID, msgs[0].Seq).Scan(&hasOlder)
		if err != nil {
			return nil, false, sqldb.Wrap("list messages", err)
		}
	}
	return msgs, hasOlder, nil
}

// EditMessage replaces a body and stamps edited_at.
func (s *Store) EditMessage(ctx context.Context, id int64, body string, at time.Time) (chat.Message, error) {
	var msg chat.Message
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE messages SET body = ?, edited_at = ? WHERE id = ? AND NOT deleted`), body, fmtTime(at), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errMessageNotFound
		}
		msg, err = s.getMessage(ctx, tx, id)
		return err
	})
	return msg, sqldb.Wrap("edit message", err)
}

// DeleteMessage empties the body, marks the tombstone, unpins it and drops
// reactions.
func (s *Store) DeleteMessage(ctx context.Context, id int64) (chat.Message, error) {
	var msg chat.Message
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE messages SET body = '', deleted = true,
			pinned_at = NULL, pinned_by = NULL, pinned_by_name = NULL WHERE id = ?`), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errMessageNotFound
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM reactions WHERE message_id = ?`), id); err != nil {
			return err
		}
		if err := s.deleteFiles(ctx, tx, `message_id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE messages SET has_files = false WHERE id = ? AND has_files`), id); err != nil {
			return err
		}
		msg, err = s.getMessage(ctx, tx, id)
		return err
	})
	return msg, sqldb.Wrap("delete message", err)
}

// AddReaction adds one user's reaction, refusing a new emoji past
// MaxDistinctReactions.
func (s *Store) AddReaction(ctx context.Context, messageID, userID int64, emoji string, at time.Time) (bool, error) {
	var changed bool
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		// Concurrent new emojis must not each see room under the cap.
		if err := s.lock(ctx, tx, s.d.LockMessage, messageID); err != nil {
			return err
		}
		var (
			exists   bool
			distinct int
		)
		err := tx.QueryRowContext(ctx, s.q(`SELECT
			EXISTS (SELECT 1 FROM reactions WHERE message_id = ? AND emoji = ?),
			(SELECT COUNT(DISTINCT emoji) FROM reactions WHERE message_id = ?)`), messageID, emoji, messageID).Scan(&exists, &distinct)
		if err != nil {
			return err
		}
		if !exists && distinct >= chat.MaxDistinctReactions {
			return apperr.Conflict("too_many_reactions", "this message has the most different reactions allowed")
		}
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`), messageID, userID, emoji, fmtTime(at))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		changed = n == 1
		return nil
	})
	return changed, sqldb.Wrap("add reaction", err)
}

// RemoveReaction removes one user's reaction.
func (s *Store) RemoveReaction(ctx context.Context, messageID, userID int64, emoji string) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM reactions WHERE message_id = ? AND user_id = ? AND emoji = ?`), messageID, userID, emoji)
	if err != nil {
		return false, sqldb.Wrap("remove reaction", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Search runs the dialect's full-text query over the rooms the user can
// read.
func (s *Store) Search(ctx context.Context, f chat.SearchFilter) ([]chat.SearchHit, error) {
	if len(f.Words) == 0 {
		return []chat.SearchHit{}, nil
	}
	from, cond, condArgs := s.d.Search(f.Words)
	where := cond + ` AND NOT m.deleted AND (r.kind = 'public' OR mm.user_id IS NOT NULL)`
	args := append([]any{f.UserID}, condArgs...)
	if f.RoomID > 0 {
		where += ` AND m.room_id = ?`
		args = append(args, f.RoomID)
	}
	if f.BeforeID > 0 {
		where += ` AND m.id < ?`
		args = append(args, f.BeforeID)
	}
	args = append(args, f.Limit)
	// A DM has no name of its own: show the other member's, as room lists do.
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+messageColumns+`,
		CASE WHEN r.kind = 'dm' THEN COALESCE((SELECT o.username FROM members o WHERE o.room_id = r.id AND o.user_id <> mm.user_id LIMIT 1), '') ELSE r.name END,
		r.kind
		FROM `+from+`
		JOIN rooms r ON r.id = m.room_id
		LEFT JOIN members mm ON mm.room_id = m.room_id AND mm.user_id = ?
		WHERE `+where+` ORDER BY m.id DESC LIMIT ?`), args...)
	if err != nil {
		return nil, sqldb.Wrap("search", err)
	}
	defer rows.Close()
	hits := []chat.SearchHit{}
	var groups []int64
	for rows.Next() {
		var roomName, kind string
		m, err := scanMessage(rows, &roomName, &kind)
		if err != nil {
			return nil, sqldb.Wrap("search", err)
		}
		if kind == chat.KindGroup {
			groups = append(groups, m.RoomID)
		}
		hits = append(hits, chat.SearchHit{Message: m, RoomName: roomName})
	}
	if err := rows.Err(); err != nil {
		return nil, sqldb.Wrap("search", err)
	}
	rows.Close()
	if len(groups) > 0 {
		names, err := s.groupNames(ctx, groups, f.UserID)
		if err != nil {
			return nil, err
		}
		for i := range hits {
			if n, ok := names[hits[i].RoomID]; ok {
				hits[i].RoomName = n
			}
		}
	}
	msgs := make([]chat.Message, len(hits))
	for i := range hits {
		msgs[i] = hits[i].Message
	}
	if err := s.attachReactions(ctx, s.db, msgs); err != nil {
		return nil, err
	}
	for i := range hits {
		hits[i].Message = msgs[i]
	}
	return hits, nil
}

// groupNames names group DMs as room lists do (roomViews): the other
// members' usernames by user id, "user N" for one without a name.
func (s *Store) groupNames(ctx context.Context, roomIDs []int64, userID int64) (map[int64]string, error) {
	seen := map[int64]bool{}
	ids := []int64{}
	for _, id := range roomIDs {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	args := append(int64Args(ids), userID)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT room_id, user_id, username FROM members
		WHERE room_id IN (`+placeholders(len(ids))+`) AND user_id <> ? ORDER BY room_id, user_id`), args...)
	if err != nil {
		return nil, sqldb.Wrap("group names", err)
	}
	defer rows.Close()
	names := map[int64]string{}
	for rows.Next() {
		var roomID, uid int64
		var name string
		if err := rows.Scan(&roomID, &uid, &name); err != nil {
			return nil, sqldb.Wrap("group names", err)
		}
		if name == "" {
			name = "user " + strconv.FormatInt(uid, 10)
		}
		if names[roomID] != "" {
			name = names[roomID] + ", " + name
		}
		names[roomID] = name
	}
	return names, sqldb.Wrap("group names", rows.Err())
}
