package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/sqldb"
)

// pinTarget reads what a pin or unpin needs of a message and refuses one
// that is not a live message of roomID.
func (s *Store) pinTarget(ctx context.Context, tx *sql.Tx, roomID, messageID int64) (pinned bool, err error) {
	var (
		room    int64
		deleted bool
	)
	err = tx.QueryRowContext(ctx, s.q(`SELECT room_id, deleted, pinned_at IS NOT NULL FROM messages WHERE id = ?`), messageID).
		Scan(&room, &deleted, &pinned)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (room != roomID || deleted)) {
		return false, errMessageNotFound
	}
	return pinned, err
}

// PinMessage pins a message of roomID. The room's row is locked on
// PostgreSQL (SQLite's write transactions run one at a time), so two pins
// at once cannot both see room under the cap; the update re-checks that
// the message is not deleted, so a delete that commits in between wins.
func (s *Store) PinMessage(ctx context.Context, roomID, messageID int64, by chat.UserRef, at time.Time) (chat.Message, bool, error) {
	var (
		msg     chat.Message
		changed bool
	)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		changed = false
		if err := s.lock(ctx, tx, s.d.LockRoom, roomID); err != nil {
			return err
		}
		pinned, err := s.pinTarget(ctx, tx, roomID, messageID)
		if err != nil {
			return err
		}
		if !pinned {
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM messages WHERE room_id = ? AND pinned_at IS NOT NULL`), roomID).Scan(&n); err != nil {
				return err
			}
			if n >= chat.MaxPinsPerRoom {
				return chat.ErrTooManyPins
			}
			res, err := tx.ExecContext(ctx, s.q(`UPDATE messages SET pinned_at = ?, pinned_by = ?, pinned_by_name = ?
				WHERE id = ? AND NOT deleted`), fmtTime(at), by.UserID, by.Username, messageID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return errMessageNotFound
			}
			changed = true
		}
		msg, err = s.getMessage(ctx, tx, messageID)
		return err
	})
	return msg, changed, sqldb.Wrap("pin message", err)
}

// UnpinMessage unpins a message of roomID.
func (s *Store) UnpinMessage(ctx context.Context, roomID, messageID int64) (chat.Message, bool, error) {
	var (
		msg     chat.Message
		changed bool
	)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		changed = false
		if _, err := s.pinTarget(ctx, tx, roomID, messageID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE messages SET pinned_at = NULL, pinned_by = NULL, pinned_by_name = NULL
			WHERE id = ? AND pinned_at IS NOT NULL`), messageID)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		changed = n == 1
		msg, err = s.getMessage(ctx, tx, messageID)
		return err
	})
	return msg, changed, sqldb.Wrap("unpin message", err)
}

// Pins lists a room's pinned messages, newest pin first: a range of the
// index messages_pinned.
func (s *Store) Pins(ctx context.Context, roomID int64) ([]chat.Message, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+messageColumns+` FROM messages m
		WHERE m.room_id = ? AND m.pinned_at IS NOT NULL ORDER BY m.pinned_at DESC, m.id DESC LIMIT ?`), roomID, chat.MaxPinsPerRoom)
	if err != nil {
		return nil, sqldb.Wrap("pins", err)
	}
	msgs, err := collectMessages(rows)
	if err != nil {
		return nil, sqldb.Wrap("pins", err)
	}
	return msgs, s.attachReactions(ctx, s.db, msgs)
}
