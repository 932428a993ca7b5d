package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/sqldb"
)

const webhookColumns = `id, room_id, name, created_by, created_by_name, created_at`

func scanWebhook(row scanner) (chat.Webhook, error) {
	var (
		w       chat.Webhook
		created string
	)
	if err := row.Scan(&w.ID, &w.RoomID, &w.Name, &w.CreatedBy, &w.CreatedByUsername, &created); err != nil {
		return chat.Webhook{}, err
	}
	w.CreatedAt = parseTime(created)
	return w, nil
}

// CreateWebhook stores a webhook. The room's row is locked first (an
// update that changes nothing: SQLite's transaction holds the write lock
// already, PostgreSQL takes the row lock), so two creations at once count
// each other and the cap holds.
func (s *Store) CreateWebhook(ctx context.Context, nw chat.NewWebhook, max int) (chat.Webhook, error) {
	var w chat.Webhook
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE rooms SET last_seq = last_seq WHERE id = ?`), nw.RoomID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errRoomNotFound
		}
		var count int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM webhooks WHERE room_id = ?`), nw.RoomID).Scan(&count); err != nil {
			return err
		}
		if count >= max {
			return apperr.Conflict("webhook_limit", "this room has the most webhooks it may have; delete one first")
		}
		w, err = scanWebhook(tx.QueryRowContext(ctx, s.q(`INSERT INTO webhooks (room_id, name, token_hash, created_by, created_by_name, created_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING `+webhookColumns),
			nw.RoomID, nw.Name, nw.TokenHash, nw.CreatedBy, nw.CreatorName, fmtTime(nw.At)))
		return err
	})
	return w, sqldb.Wrap("create webhook", err)
}

// Webhooks lists a room's webhooks by id.
func (s *Store) Webhooks(ctx context.Context, roomID int64) ([]chat.Webhook, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+webhookColumns+` FROM webhooks WHERE room_id = ? ORDER BY id`), roomID)
	if err != nil {
		return nil, sqldb.Wrap("list webhooks", err)
	}
	defer rows.Close()
	out := []chat.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, sqldb.Wrap("list webhooks", err)
		}
		out = append(out, w)
	}
	return out, sqldb.Wrap("list webhooks", rows.Err())
}

// Webhook loads one webhook.
func (s *Store) Webhook(ctx context.Context, id int64) (chat.Webhook, error) {
	return s.oneWebhook(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`, id)
}

// WebhookByTokenHash finds a webhook by its token's hash: one equality
// lookup in the unique index, with a statement prepared once.
func (s *Store) WebhookByTokenHash(ctx context.Context, hash string) (chat.Webhook, error) {
	return s.oneWebhook(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE token_hash = ?`, hash)
}

func (s *Store) oneWebhook(ctx context.Context, query string, arg any) (chat.Webhook, error) {
	st, err := s.stmt(ctx, nil, query)
	if err != nil {
		return chat.Webhook{}, sqldb.Wrap("get webhook", err)
	}
	w, err := scanWebhook(st.QueryRowContext(ctx, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Webhook{}, chat.ErrWebhookNotFound
	}
	return w, sqldb.Wrap("get webhook", err)
}

// DeleteWebhook removes a webhook; the messages it posted stay.
func (s *Store) DeleteWebhook(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM webhooks WHERE id = ?`), id)
	if err != nil {
		return sqldb.Wrap("delete webhook", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return chat.ErrWebhookNotFound
	}
	return nil
}
