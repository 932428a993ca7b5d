package chat

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/ratelimit"
	"github.com/parleychat/parley/platform/text"
)

// Incoming webhooks (docs/ARCHITECTURE.md, chat-service: Incoming
// webhooks): a secret URL that posts into one room through the same send
// path as any message.

// MaxWebhooksPerRoom caps a room's webhooks: each has its own rate limit,
// so the cap bounds what one room can be sent through them.
const MaxWebhooksPerRoom = 25

// WebhookTokenBytes is the randomness of a webhook token (256 bits); the
// token is its unpadded base64url form, WebhookTokenLen characters.
const (
	WebhookTokenBytes = 32
	WebhookTokenLen   = 43
)

// Webhook is an incoming webhook of a room. Its token is not part of it:
// only its hash is stored, and the URL is shown once, at creation.
type Webhook struct {
	ID                int64     `json:"id"`
	RoomID            int64     `json:"room_id"`
	Name              string    `json:"name"`
	CreatedBy         int64     `json:"created_by"`
	CreatedByUsername string    `json:"created_by_username"`
	CreatedAt         time.Time `json:"created_at"`
}

// WebhookRef names the webhook that posted a message: its id and its name
// when it posted.
type WebhookRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// NewWebhook is a webhook to store.
type NewWebhook struct {
	RoomID      int64
	Name        string
	TokenHash   string
	CreatedBy   int64
	CreatorName string
	At          time.Time
}

// WebhookStore persists webhooks (part of Store).
type WebhookStore interface {
	// CreateWebhook stores w unless its room is gone (404 room_not_found)
	// or already has max webhooks (409 webhook_limit), checked under the
	// room's lock.
	CreateWebhook(ctx context.Context, w NewWebhook, max int) (Webhook, error)
	// Webhooks lists a room's webhooks by id.
	Webhooks(ctx context.Context, roomID int64) ([]Webhook, error)
	// Webhook is one webhook (404 webhook_not_found).
	Webhook(ctx context.Context, id int64) (Webhook, error)
	// WebhookByTokenHash finds the webhook whose token hashes to hash
	// (404 webhook_not_found).
	WebhookByTokenHash(ctx context.Context, hash string) (Webhook, error)
	// DeleteWebhook removes one (404 webhook_not_found); its messages stay.
	DeleteWebhook(ctx context.Context, id int64) error
}

var (
	// ErrWebhookNotFound answers an unknown, deleted or malformed token, and
	// a webhook id the caller may not see.
	ErrWebhookNotFound = apperr.NotFound("webhook_not_found", "no such webhook")
	errWebhookInactive = apperr.Forbidden("webhook_inactive", "the webhook's creator is no longer a member of its room; a member must create a new webhook")
)

// HashWebhookToken is what is stored and looked up for a token: the hex
// SHA-256 of it.
func HashWebhookToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newWebhookToken returns a fresh token and its hash.
func newWebhookToken() (token, hash string, err error) {
	b := make([]byte, WebhookTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashWebhookToken(token), nil
}

// wellFormedToken reports whether token could be one newWebhookToken made;
// anything else is not looked up. Its length is public, so checking it
// first tells a caller nothing about any stored token.
func wellFormedToken(token string) bool {
	if len(token) != WebhookTokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// MaxWebhookNameRunes caps a webhook's name and a post's display name.
const MaxWebhookNameRunes = 64

// CleanWebhookName checks a webhook's name or a post's display name
// (field names it in errors, 422 invalid_<field>) with the rules of names:
// 1–64 code points that show something, without control, bidi or
// invisible characters, so a webhook cannot pass for someone else by a
// look-alike name.
func CleanWebhookName(field, name string) (string, error) {
	name = text.NFC(strings.TrimSpace(name))
	bad := func(why string) error { return apperr.Validation("invalid_"+field, field+" "+why) }
	if text.Blank(name) {
		return "", bad("must not be empty")
	}
	if utf8.RuneCountInString(name) > MaxWebhookNameRunes {
		return "", bad("must be at most 64 characters")
	}
	if p := text.NameProblem(name); p != "" {
		return "", bad("must not contain " + p)
	}
	return name, nil
}

// CreateWebhook makes a webhook for a room the actor is a member of (not
// archived) and returns it with its token, which is not kept.
func (s *Service) CreateWebhook(ctx context.Context, a Actor, roomID int64, name string) (Webhook, string, error) {
	room, m, err := s.access(ctx, a, roomID)
	if err != nil {
		return Webhook{}, "", err
	}
	if m == nil {
		return Webhook{}, "", errNotMember
	}
	if room.Archived {
		return Webhook{}, "", errArchived
	}
	if name, err = CleanWebhookName("name", name); err != nil {
		return Webhook{}, "", err
	}
	token, hash, err := newWebhookToken()
	if err != nil {
		return Webhook{}, "", err
	}
	w, err := s.store.CreateWebhook(ctx, NewWebhook{RoomID: roomID, Name: name, TokenHash: hash,
		CreatedBy: a.UserID, CreatorName: a.Username, At: s.at()}, MaxWebhooksPerRoom)
	if err != nil {
		return Webhook{}, "", err
	}
	return w, token, nil
}

// ListWebhooks lists a room's webhooks to its members and to admins.
func (s *Service) ListWebhooks(ctx context.Context, a Actor, roomID int64) ([]Webhook, error) {
	_, m, err := s.access(ctx, a, roomID)
	if err != nil {
		return nil, err
	}
	if m == nil && !a.Admin {
		return nil, errNotMember
	}
	return s.store.Webhooks(ctx, roomID)
}

// DeleteWebhook removes a webhook: its creator, the room's owners and
// admins. A webhook of a room the actor cannot read is 404, as an unknown
// id is.
func (s *Service) DeleteWebhook(ctx context.Context, a Actor, id int64) error {
	if id <= 0 {
		return ErrWebhookNotFound
	}
	w, err := s.store.Webhook(ctx, id)
	if err != nil {
		return err
	}
	_, m, err := s.access(ctx, a, w.RoomID)
	if err != nil {
		if e, ok := apperr.From(err); ok && e.Kind == apperr.KindNotFound {
			return ErrWebhookNotFound
		}
		return err
	}
	if w.CreatedBy != a.UserID && !canModerate(a, m) {
		return apperr.Forbidden("forbidden", "only the webhook's creator, the room owner or an admin may delete a webhook")
	}
	return s.store.DeleteWebhook(ctx, id)
}

// WebhookPost is what a webhook's caller sends: the text, an optional
// display name, and an optional idempotency key.
type WebhookPost struct {
	Text     string `json:"text"`
	Username string `json:"username"`
	ID       string `json:"id"`
}

// FindWebhook resolves a token (404 webhook_not_found for any token that
// names no webhook, well-formed or not) and takes one post from its rate
// limit (429 with the wait).
func (s *Service) FindWebhook(ctx context.Context, token string) (Webhook, error) {
	if !wellFormedToken(token) {
		return Webhook{}, ErrWebhookNotFound
	}
	w, err := s.store.WebhookByTokenHash(ctx, HashWebhookToken(token))
	if err != nil {
		return Webhook{}, err
	}
	if ok, wait := s.hooks.Allow(strconv.FormatInt(w.ID, 10)); !ok {
		return Webhook{}, apperr.RateLimited("too many posts to this webhook; retry later", ratelimit.RetryAfterSeconds(wait))
	}
	return w, nil
}

// PostWebhook posts p into w's room through the send path of every
// message (the same text rules, group commit, seq, fan-out and mentions).
// The message's user_id is 0 — no person wrote it — and it names the
// webhook; its display name is p.Username or the webhook's name. With an
// id, a retry returns the stored message with created=false.
func (s *Service) PostWebhook(ctx context.Context, w Webhook, p WebhookPost) (Message, bool, error) {
	body, err := CleanBody(p.Text)
	if err != nil {
		return Message{}, false, err
	}
	if err := ValidateClientMsgID(p.ID); err != nil {
		return Message{}, false, apperr.Validation("invalid_id", "id must be at most 64 printable ASCII characters without spaces")
	}
	display := w.Name
	if p.Username != "" {
		if display, err = CleanWebhookName("username", p.Username); err != nil {
			return Message{}, false, err
		}
	}
	nm := NewMessage{RoomID: w.RoomID, UserID: 0, Username: display, Body: body,
		Webhook: &WebhookRef{ID: w.ID, Name: w.Name}, CheckUserID: w.CreatedBy}
	if p.ID != "" {
		// Every webhook post has user_id 0: the webhook's id keeps each
		// webhook's keys apart.
		nm.ClientMsgID = "hook:" + strconv.FormatInt(w.ID, 10) + ":" + p.ID
	}
	r, err := s.deliver(ctx, nm)
	if err != nil {
		// The creator's membership is what the send check read: a
		// webhook of someone who left (or was removed from) its room
		// posts nothing.
		if e, ok := apperr.From(err); ok && (e.Code == "room_not_found" || e.Code == "not_member") {
			return Message{}, false, errWebhookInactive
		}
		return Message{}, false, err
	}
	return r.Message, r.Created, nil
}
