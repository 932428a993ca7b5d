package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/sqldb"
)

// insertChunk bounds the rows of one insert statement. A batch's rows go
// into as few statements as possible: each statement is a savepoint, at
// which FTS5 writes what it holds as a new index segment, and journals
// every page it changes.
const insertChunk = 128

// lookupChunk bounds the client ids one lookup statement checks.
const lookupChunk = 128

// The access check of a batch with at most preparedUsers senders in at
// most preparedRooms rooms uses a prepared statement (one per shape, so
// at most preparedUsers × preparedRooms of them); larger batches are rare
// and parse their query each time.
const (
	preparedUsers = 16
	preparedRooms = 4
)

var (
	// errClientIDTaken: a message of the batch repeats a client id used
	// before it; the batch is tried again, looking client ids up first.
	errClientIDTaken = errors.New("a client id of the batch is already used")
	// errOneByOne: the batch is stored one message per transaction.
	errOneByOne = errors.New("the batch needs one transaction per message")
)

// clientKey is what makes a send idempotent.
type clientKey struct {
	user int64
	cmid string
}

// CreateMessages stores a batch of messages in one transaction (group
// commit): one seq bump per room — rooms in ascending id order, so that on
// PostgreSQL two replicas' batches take room locks in the same order and
// cannot deadlock — multi-row inserts, one commit. Each message gets what
// CreateMessage would have given it had the batch been sent one message
// after another: one that check refuses (given its room and the sender's
// membership, read in the transaction in one query for the batch) or
// whose room is gone fails alone, and a client id used before, or earlier
// in the batch, returns that message with created=false.
//
// Retries are rare, so the first attempt does not look client ids up: its
// insert skips rows whose client id is taken, and when one was, the
// transaction is rolled back (its seqs would have gaps) and run again,
// looking them up first. When that fails too for a reason that may concern
// one message only — on PostgreSQL a retry racing its original through
// another replica, as CreateMessage explains — every message is stored in
// a transaction of its own, in order, each getting CreateMessage's answer.
// When the database itself fails (unavailable, or ctx ends), nothing is
// stored and err says why.
func (s *Store) CreateMessages(ctx context.Context, nms []chat.NewMessage, check chat.SendCheck) ([]chat.CreateResult, error) {
	if len(nms) == 0 {
		return []chat.CreateResult{}, nil
	}
	var (
		out []chat.CreateResult
		err error
	)
	for _, lookup := range []bool{false, true} {
		err = s.db.Tx(ctx, func(tx *sql.Tx) error {
			var err error
			out, err = s.createBatch(ctx, tx, nms, check, lookup)
			return err
		})
		s.prepareLater(ctx)
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, errClientIDTaken) {
			break
		}
	}
	if !errors.Is(err, errOneByOne) && !errors.Is(err, errClientIDTaken) && (sqldb.IsUnavailable(err) || ctx.Err() != nil) {
		return nil, sqldb.Wrap("create messages", err)
	}
	out = make([]chat.CreateResult, len(nms))
	for i, nm := range nms {
		if check != nil {
			room, m, err := s.RoomMember(ctx, nm.RoomID, checkUser(nm))
			if err == nil {
				err = check(room, m)
			}
			if err != nil && !sqldb.IsUnavailable(err) && ctx.Err() == nil {
				out[i] = chat.CreateResult{Err: err}
				continue
			}
		}
		r, err := s.createMessage(ctx, nm)
		if err != nil && (sqldb.IsUnavailable(err) || ctx.Err() != nil) {
			// The database went away mid-way: what was stored stays stored
			// (a retry with the same client id finds it), the rest fail.
			for j := i; j < len(nms); j++ {
				out[j] = chat.CreateResult{Err: err}
			}
			return out, nil
		}
		if err != nil {
			r = chat.CreateResult{Err: err}
		}
		out[i] = r
	}
	return out, nil
}

func (s *Store) createBatch(ctx context.Context, tx *sql.Tx, nms []chat.NewMessage, check chat.SendCheck, lookup bool) ([]chat.CreateResult, error) {
	out := make([]chat.CreateResult, len(nms))
	refused := make([]bool, len(nms))
	if check != nil {
		if err := s.checkAccess(ctx, tx, nms, check, out, refused); err != nil {
			return nil, err
		}
	}
	var existing map[clientKey]chat.Message
	if lookup {
		var err error
		if existing, err = s.messagesByClientID(ctx, tx, nms); err != nil {
			return nil, err
		}
	}
	// Replies whose root does not qualify fail alone, before any seq is
	// taken; a retry of a stored reply gets its message back whatever
	// became of the root since.
	nms, err := s.keepReaders(ctx, tx, nms)
	if err != nil {
		return nil, err
	}
	roots, bad, err := s.checkRoots(ctx, tx, nms, func(i int) bool {
		if refused[i] {
			return true
		}
		_, stored := existing[clientKey{nms[i].UserID, nms[i].ClientMsgID}]
		return stored && nms[i].ClientMsgID != ""
	})
	if err != nil {
		return nil, err
	}
	for _, i := range bad {
		if !lookup && nms[i].ClientMsgID != "" {
			// It may be a retry: look client ids up first.
			return nil, errClientIDTaken
		}
		out[i], refused[i] = chat.CreateResult{Err: chat.ErrInvalidThread}, true
	}
	fbad, err := s.checkFiles(ctx, tx, nms, func(i int) bool {
		if refused[i] {
			return true
		}
		_, stored := existing[clientKey{nms[i].UserID, nms[i].ClientMsgID}]
		return stored && nms[i].ClientMsgID != ""
	})
	if err != nil {
		return nil, err
	}
	for _, i := range fbad {
		if !lookup && nms[i].ClientMsgID != "" {
			return nil, errClientIDTaken
		}
		out[i], refused[i] = chat.CreateResult{Err: chat.ErrInvalidFiles}, true
	}
	// Plan in batch order: which messages are new, which repeat a client id
	// used before (existing) or earlier in the batch (dupOf).
	var (
		firstOf = map[clientKey]int{}
		dupOf   = map[int]int{}
		perRoom = map[int64][]int{}
		rooms   []int64
	)
	for i, nm := range nms {
		if refused[i] {
			continue
		}
		if nm.ClientMsgID != "" {
			k := clientKey{nm.UserID, nm.ClientMsgID}
			if m, ok := existing[k]; ok {
				out[i] = chat.CreateResult{Message: m}
				continue
			}
			if j, ok := firstOf[k]; ok {
				dupOf[i] = j
				continue
			}
			firstOf[k] = i
		}
		if _, ok := perRoom[nm.RoomID]; !ok {
			rooms = append(rooms, nm.RoomID)
		}
		perRoom[nm.RoomID] = append(perRoom[nm.RoomID], i)
	}
	// Allocate each room's seqs with one bump: SQLite's write lock, or the
	// room row's lock on PostgreSQL, is held from here to the commit.
	slices.Sort(rooms)
	bump, err := s.stmt(ctx, tx, `UPDATE rooms SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq`)
	if err != nil {
		return nil, err
	}
	seqOf := map[[2]int64]int{} // (room, seq) → message index
	var rows []int
	for _, room := range rooms {
		idx := perRoom[room]
		var last int64
		err := bump.QueryRowContext(ctx, len(idx), room).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			for _, i := range idx {
				out[i] = chat.CreateResult{Err: errRoomNotFound}
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		for n, i := range idx {
			seq := last - int64(len(idx)) + 1 + int64(n)
			seqOf[[2]int64{room, seq}] = i
			out[i] = chat.CreateResult{Created: true, Message: chat.Message{RoomID: room, Seq: seq}}
			rows = append(rows, i)
		}
	}
	// A repeat of a message that failed would, sent alone after it, have
	// been stored: leave that rare case to one transaction per message.
	for _, j := range dupOf {
		if out[j].Err != nil {
			return nil, errOneByOne
		}
	}
	slices.Sort(rows) // insert in batch order, so ids follow it as seqs do
	for len(rows) > 0 {
		n := min(len(rows), insertChunk)
		if err := s.insertMessages(ctx, tx, nms, out, rows[:n], seqOf); err != nil {
			return nil, err
		}
		rows = rows[n:]
	}
	if err := s.recordMentions(ctx, tx, nms, out); err != nil {
		return nil, err
	}
	if err := s.bumpRoots(ctx, tx, nms, out, roots); err != nil {
		return nil, err
	}
	if err := s.attachFiles(ctx, tx, nms, out); err != nil {
		// Two messages of the batch name one file: one by one, the
		// second is refused alone.
		return nil, errOneByOne
	}
	for i, j := range dupOf {
		out[i] = chat.CreateResult{Message: out[j].Message}
	}
	return out, nil
}

// checkAccess reads the batch's rooms and their senders' memberships in
// one query and refuses (refused[i], out[i].Err) the messages that check
// refuses or whose room does not exist. check runs once per room and
// sender.
func (s *Store) checkAccess(ctx context.Context, tx *sql.Tx, nms []chat.NewMessage, check chat.SendCheck, out []chat.CreateResult, refused []bool) error {
	rooms := map[int64]chat.Room{}
	members := map[[2]int64]*chat.Member{}
	for start := 0; start < len(nms); start += lookupChunk {
		chunk := nms[start:min(start+lookupChunk, len(nms))]
		var roomIDs, userIDs []int64
		for _, nm := range chunk {
			if !slices.Contains(roomIDs, nm.RoomID) {
				roomIDs = append(roomIDs, nm.RoomID)
			}
			if !slices.Contains(userIDs, checkUser(nm)) {
				userIDs = append(userIDs, checkUser(nm))
			}
		}
		query := `SELECT ` + roomColumns + `, m.user_id, m.username, m.role, m.last_read_seq, m.joined_at
			FROM rooms r LEFT JOIN members m ON m.room_id = r.id AND m.user_id IN (` + placeholders(len(userIDs)) + `)
			WHERE r.id IN (` + placeholders(len(roomIDs)) + `)`
		args := append(int64Args(userIDs), int64Args(roomIDs)...)
		var (
			rows *sql.Rows
			err  error
		)
		if len(userIDs) <= preparedUsers && len(roomIDs) <= preparedRooms {
			// The common shapes (a few senders in a few rooms) are prepared
			// once: parsing the query cost a seventh of a one-send batch.
			var st *sql.Stmt
			if st, err = s.stmt(ctx, tx, query); err == nil {
				rows, err = st.QueryContext(ctx, args...)
			}
		} else {
			rows, err = tx.QueryContext(ctx, s.q(query), args...)
		}
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				user, lastRead         sql.NullInt64
				username, role, joined sql.NullString
			)
			r, err := scanRoom(rows, &user, &username, &role, &lastRead, &joined)
			if err != nil {
				rows.Close()
				return err
			}
			rooms[r.ID] = r
			if user.Valid {
				members[[2]int64{r.ID, user.Int64}] = &chat.Member{RoomID: r.ID, UserID: user.Int64, Username: username.String,
					Role: role.String, LastReadSeq: lastRead.Int64, JoinedAt: parseTime(joined.String)}
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	verdicts := map[[2]int64]error{}
	for i, nm := range nms {
		key := [2]int64{nm.RoomID, checkUser(nm)}
		verdict, ok := verdicts[key]
		if !ok {
			if room, found := rooms[nm.RoomID]; found {
				verdict = check(room, members[key])
			} else {
				verdict = errRoomNotFound
			}
			verdicts[key] = verdict
		}
		if verdict != nil {
			out[i], refused[i] = chat.CreateResult{Err: verdict}, true
		}
	}
	return nil
}

// messagesByClientID loads the messages that already hold the batch's
// client ids, with their reactions.
func (s *Store) messagesByClientID(ctx context.Context, tx *sql.Tx, nms []chat.NewMessage) (map[clientKey]chat.Message, error) {
	var keys []clientKey
	seen := map[clientKey]bool{}
	for _, nm := range nms {
		k := clientKey{nm.UserID, nm.ClientMsgID}
		if nm.ClientMsgID != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	found := map[clientKey]chat.Message{}
	var msgs []chat.Message
	for start := 0; start < len(keys); start += lookupChunk {
		chunk := keys[start:min(start+lookupChunk, len(keys))]
		var cond strings.Builder
		args := make([]any, 0, 2*len(chunk))
		for i, k := range chunk {
			if i > 0 {
				cond.WriteString(" OR ")
			}
			cond.WriteString("(m.user_id = ? AND m.client_msg_id = ?)")
			args = append(args, k.user, k.cmid)
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT `+messageColumns+` FROM messages m WHERE `+cond.String()), args...)
		if err != nil {
			return nil, err
		}
		page, err := collectMessages(rows)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, page...)
	}
	if len(msgs) == 0 {
		return found, nil
	}
	if err := s.attachReactions(ctx, tx, msgs); err != nil {
		return nil, err
	}
	for _, m := range msgs {
		found[clientKey{m.UserID, *m.ClientMsgID}] = m
	}
	return found, nil
}

// insertSQL is the insert of n messages, prepared once per row count. A row whose (user, client id)
// is taken is skipped, not an error, and then missing from RETURNING.
func insertSQL(n int) string {
	var q strings.Builder
	q.WriteString(`INSERT INTO messages (room_id, seq, user_id, username, body, client_msg_id, created_at, thread_root_id, mentions, mentions_room,
		webhook_id, webhook_name) VALUES `)
	for i := range n {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	}
	// RETURNING's row order is not promised: rows are matched by (room, seq).
	q.WriteString(` ON CONFLICT (user_id, client_msg_id) DO NOTHING RETURNING id, room_id, seq`)
	return q.String()
}

// insertMessages inserts the messages nms[i] for i in rows, whose room and
// seq out[i] holds, in one statement, and completes out[i].
func (s *Store) insertMessages(ctx context.Context, tx *sql.Tx, nms []chat.NewMessage, out []chat.CreateResult, rows []int, seqOf map[[2]int64]int) error {
	args := make([]any, 0, 12*len(rows))
	for _, i := range rows {
		nm := nms[i]
		var cmid, root any
		if nm.ClientMsgID != "" {
			cmid = nm.ClientMsgID
		}
		if nm.ThreadRootID != 0 {
			root = nm.ThreadRootID
		}
		hookID, hookName := webhookArgs(nm)
		args = append(args, nm.RoomID, out[i].Message.Seq, nm.UserID, nm.Username, nm.Body, cmid, fmtTime(nm.At), root,
			formatIDs(nm.Mentions), nm.MentionsRoom, hookID, hookName)
	}
	st, err := s.stmt(ctx, tx, s.insertSQL[len(rows)-1])
	if err != nil {
		return err
	}
	res, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer res.Close()
	got := 0
	for res.Next() {
		var id, room, seq int64
		if err := res.Scan(&id, &room, &seq); err != nil {
			return err
		}
		i, ok := seqOf[[2]int64{room, seq}]
		if !ok {
			return errors.New("insert returned a row that was not inserted")
		}
		out[i].Message = storedMessage(id, seq, nms[i])
		got++
	}
	if err := res.Err(); err != nil {
		return err
	}
	if got != len(rows) {
		return errClientIDTaken
	}
	return nil
}

// checkUser is whose membership the send check reads: the sender, or for
// a webhook's post (user 0) the webhook's creator.
func checkUser(nm chat.NewMessage) int64 {
	if nm.CheckUserID != 0 {
		return nm.CheckUserID
	}
	return nm.UserID
}

// webhookArgs are a message's webhook_id and webhook_name (NULL for
// people's messages).
func webhookArgs(nm chat.NewMessage) (id, name any) {
	if nm.Webhook == nil {
		return nil, nil
	}
	return nm.Webhook.ID, nm.Webhook.Name
}
