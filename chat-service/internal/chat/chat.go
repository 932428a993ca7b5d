// Package chat is the centre of chat-service: rooms, members, messages,
// reactions and read markers, the rules about who may do what with them, and
// the Store and Publisher interfaces that adapters (SQLite, the broker hub)
// implement. It imports no transport or SQL package.
package chat

import (
	"context"
	"errors"
	"time"

	"github.com/parleychat/parley/platform/apperr"
)

// Room kinds.
const (
	KindPublic  = "public"
	KindPrivate = "private"
	KindDM      = "dm"
	// KindGroup is a group DM: a fixed set of 3 to 9 people (ARCHITECTURE.md, chat-service: Group DMs).
	KindGroup = "group"
)

// Group DM sizes: the other users a POST /dms {user_ids} names.
const (
	MinGroupOthers = 2
	MaxGroupOthers = 8
)

// IsDirect says whether a room is a 1:1 or group DM: its member set is
// fixed (nobody joins or is invited) and it has no name or owner.
func IsDirect(kind string) bool { return kind == KindDM || kind == KindGroup }

// Member roles.
const (
	RoleOwner  = "owner"
	RoleMember = "member"
)

// Limits of user-supplied text, counted in Unicode code points.
const (
	MaxBodyRunes        = 4000
	MaxRoomNameRunes    = 64
	MaxDescriptionRunes = 500
	MaxClientMsgIDLen   = 64
	MaxUsernameRunes    = 64
	// MaxDistinctReactions caps the different emoji on one message.
	MaxDistinctReactions = 50
	// MaxSearchRunes caps a search query.
	MaxSearchRunes = 256
	// MaxPinsPerRoom caps the pinned messages of one room.
	MaxPinsPerRoom = 50
)

// Room is a conversation: a public or private channel, or a direct message
// between two users.
type Room struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Kind        string    `json:"kind"`
	CreatedBy   int64     `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Archived    bool      `json:"archived"`
	// LastSeq is the seq of the newest message (0 when empty).
	LastSeq int64 `json:"last_seq"`
	// IsDefault marks the General room every user joins on first sight.
	IsDefault bool `json:"is_default"`
}

// Member is one user's membership of a room.
type Member struct {
	RoomID      int64     `json:"room_id"`
	UserID      int64     `json:"user_id"`
	Username    string    `json:"username"`
	Role        string    `json:"role"`
	LastReadSeq int64     `json:"last_read_seq"`
	JoinedAt    time.Time `json:"joined_at"`
	// Online is filled from presence by list endpoints.
	Online bool `json:"online"`
}

// UserRef names a user.
type UserRef struct {
	UserID   int64  `json:"user_id"`
	Username string `json:"username"`
}

// RoomView is a room as one user sees it in lists.
type RoomView struct {
	Room
	MemberCount int64   `json:"member_count"`
	IsMember    bool    `json:"is_member"`
	Role        *string `json:"role"`
	LastReadSeq int64   `json:"last_read_seq"`
	// Unread counts messages after the caller's read marker that are not
	// theirs and not deleted (0 for non-members).
	Unread int64 `json:"unread"`
	// MentionCount counts those unread messages that mention the caller
	// (by name, or @room/@here).
	MentionCount int64    `json:"mention_count"`
	LastMessage  *Message `json:"last_message"`
	// DMUser is the other user of a direct message, nil for channels.
	DMUser *UserRef `json:"dm_user"`
	// GroupUsers are the other members of a group DM (by user id), nil
	// for other rooms; the group's name is their names.
	GroupUsers []UserRef `json:"group_users,omitempty"`
}

// Message is one chat message. Deleted messages stay as tombstones with an
// empty body.
type Message struct {
	ID          int64           `json:"id"`
	RoomID      int64           `json:"room_id"`
	Seq         int64           `json:"seq"`
	UserID      int64           `json:"user_id"`
	Username    string          `json:"username"`
	Body        string          `json:"body"`
	ClientMsgID *string         `json:"client_msg_id"`
	CreatedAt   time.Time       `json:"created_at"`
	EditedAt    *time.Time      `json:"edited_at"`
	Deleted     bool            `json:"deleted"`
	Reactions   []ReactionGroup `json:"reactions"`
	// ThreadRootID is the thread a reply belongs to (nil for top-level
	// messages). ReplyCount and LastReplyAt describe a top-level message's
	// thread (0 and nil without replies, and always for replies).
	ThreadRootID *int64     `json:"thread_root_id"`
	ReplyCount   int64      `json:"reply_count"`
	LastReplyAt  *time.Time `json:"last_reply_at"`
	// Mentions are the users the body names with @username who could read
	// the room when it was sent; MentionsRoom is @room or @here.
	Mentions     []int64 `json:"mentions"`
	MentionsRoom bool    `json:"mentions_room"`
	// Files are the files the message carries (empty, never null).
	Files []File `json:"files"`
	// HasFiles says whether the store has files for the message (it
	// loads them only then).
	HasFiles bool `json:"-"`
	// Pinned says whether the message is pinned in its room; PinnedBy
	// and PinnedAt say who pinned it and when (nil when not pinned).
	Pinned   bool       `json:"pinned"`
	PinnedBy *UserRef   `json:"pinned_by"`
	PinnedAt *time.Time `json:"pinned_at"`
	// Webhook names the incoming webhook that posted the message (absent
	// for people's messages, whose user_id is never 0).
	Webhook *WebhookRef `json:"webhook,omitempty"`
}

// ThreadView is a followed thread as GET /threads lists it.
type ThreadView struct {
	Root Message `json:"root"`
	// UnreadReplies counts replies after the follower's thread read
	// marker that are not theirs and not deleted.
	UnreadReplies int64 `json:"unread_replies"`
}

// ThreadReadState is a follower's thread read marker after an update.
type ThreadReadState struct {
	RootID        int64 `json:"root_id"`
	Following     bool  `json:"following"`
	LastReadSeq   int64 `json:"last_read_seq"`
	UnreadReplies int64 `json:"unread_replies"`
}

// ReactionGroup is every reaction with one emoji on a message, in the order
// users reacted.
type ReactionGroup struct {
	Emoji   string  `json:"emoji"`
	Count   int     `json:"count"`
	UserIDs []int64 `json:"user_ids"`
}

// SearchHit is a message found by search, with its room's name.
type SearchHit struct {
	Message
	RoomName string `json:"room_name"`
}

// ReadState is a member's read marker after an update.
type ReadState struct {
	RoomID      int64 `json:"room_id"`
	LastReadSeq int64 `json:"last_read_seq"`
	Unread      int64 `json:"unread"`
}

// Stats is the activity summary user-service shows on profiles.
type Stats struct {
	UserID       int64      `json:"user_id"`
	MessagesSent int64      `json:"messages_sent"`
	RoomsCreated int64      `json:"rooms_created"`
	RoomsJoined  int64      `json:"rooms_joined"`
	LastActiveAt *time.Time `json:"last_active_at"`
}

// Actor is the authenticated user a request or frame speaks for.
type Actor struct {
	UserID   int64
	Username string
	Admin    bool
}

// RoomPatch names the room fields to change; nil fields stay.
type RoomPatch struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Archived    *bool   `json:"archived"`
}

// NewRoom is a room to create.
type NewRoom struct {
	Name        string
	Description string
	Kind        string
	CreatedBy   int64
	CreatorName string
	At          time.Time
}

// NewMessage is a message to store.
type NewMessage struct {
	RoomID      int64
	UserID      int64
	Username    string
	Body        string
	ClientMsgID string
	// ThreadRootID, when not 0, makes the message a reply: it must name a
	// top-level, not deleted message of the same room (else
	// ErrInvalidThread, and nothing is stored).
	ThreadRootID int64
	// Mentions and MentionsRoom are the resolved mentions (ResolveMentions).
	Mentions     []int64
	MentionsRoom bool
	FileIDs      []int64
	At           time.Time
	// Webhook, for a webhook's post (UserID 0), names it; CheckUserID is
	// then its creator, whose membership the send check reads.
	Webhook     *WebhookRef
	CheckUserID int64
}

// ErrInvalidThread refuses a reply whose thread_root_id does not name a
// top-level, not deleted message of its room.
var ErrInvalidThread = apperr.Validation("invalid_thread", "thread_root_id must name a top-level, not deleted message of this room")

// ErrTooManyPins refuses a pin past MaxPinsPerRoom.
var ErrTooManyPins = apperr.Validation("too_many_pins", "a room has at most 50 pinned messages; unpin one first")

// CreateResult is what CreateMessages did with one message of a batch: the
// stored message (created=false when its client id was already used), or
// Err when that message alone was refused (its room is gone).
type CreateResult struct {
	Message Message
	Created bool
	Err     error
	// Root is a created reply's thread root with its new reply count.
	Root *Message
}

// SendCheck decides whether a message may be stored, given its room and
// the sender's membership of it (nil when not a member) as read in the
// transaction that stores it; an error refuses that message alone.
type SendCheck func(room Room, sender *Member) error

// MessageFilter selects a page of a room's history: messages with
// AfterSeq < seq < BeforeSeq (BeforeSeq 0 = unbounded). With AfterSeq set —
// 0 included, meaning "everything" — the page is the oldest Limit messages
// after it; without it, the newest Limit.
type MessageFilter struct {
	RoomID    int64
	BeforeSeq int64
	AfterSeq  *int64
	Limit     int
	// TopLevel leaves replies out (thread_root_id null only).
	TopLevel bool
}

// SearchFilter selects search results: messages holding every one of
// Words (the last as a prefix) in the rooms UserID can read, newest first,
// ids below BeforeID when set. Each store turns Words into its dialect's
// full-text query.
type SearchFilter struct {
	UserID   int64
	Words    []string
	RoomID   int64
	BeforeID int64
	Limit    int
}

// Store persists chat data. Implementations return *apperr.Error values for
// missing rows (404) and conflicts (409) and wrap anything else.
type Store interface {
	FileStore
	// TouchUser records the user's current name; the first time a user is
	// seen they join the default room, returned as joined.
	TouchUser(ctx context.Context, u UserRef, at time.Time) (joined *Member, err error)
	// Username is the last name seen for a user ("" when unknown).
	Username(ctx context.Context, userID int64) (string, error)

	CreateRoom(ctx context.Context, r NewRoom) (Room, error)
	Room(ctx context.Context, id int64) (Room, error)
	// RoomViews lists the rooms userID may see with id > afterID.
	RoomViews(ctx context.Context, userID, afterID int64, limit int) ([]RoomView, error)
	RoomView(ctx context.Context, roomID, userID int64) (RoomView, error)
	UpdateRoom(ctx context.Context, id int64, p RoomPatch, at time.Time) (Room, error)
	DeleteRoom(ctx context.Context, id int64) error
	// OpenDM finds or creates the one DM room of a pair.
	OpenDM(ctx context.Context, a, b UserRef, at time.Time) (room Room, created bool, err error)
	// OpenGroup finds or creates the one group DM of exactly members
	// (creator included); members who left it are back in it.
	OpenGroup(ctx context.Context, creator int64, members []UserRef, at time.Time) (room Room, created bool, err error)

	// RoomMember returns a room and userID's membership of it (nil when
	// not a member) in one read.
	RoomMember(ctx context.Context, roomID, userID int64) (Room, *Member, error)
	// Member returns the membership or ok=false.
	Member(ctx context.Context, roomID, userID int64) (m Member, ok bool, err error)
	Members(ctx context.Context, roomID, afterUserID int64, limit int) ([]Member, error)
	// AddMember inserts m unless present; it returns the stored member.
	AddMember(ctx context.Context, m Member) (stored Member, created bool, err error)
	// RemoveMember deletes the membership; when the last owner leaves, the
	// longest-standing member becomes owner (promoted).
	RemoveMember(ctx context.Context, roomID, userID int64) (removed bool, promoted *Member, err error)
	MarkRead(ctx context.Context, roomID, userID, seq int64) (ReadState, error)

	// CreateMessage allocates the room's next seq and stores the message,
	// unless (UserID, ClientMsgID) exists: then it returns that message
	// with created=false.
	CreateMessage(ctx context.Context, m NewMessage) (msg Message, created bool, err error)
	// CreateMessages stores a batch in one transaction with the outcome
	// CreateMessage would give each message were they sent one after
	// another in this order, each first passing check (when not nil); seqs
	// of a room follow the batch's order. A message refused on its own
	// gets CreateResult.Err; err (the database failed) means none was
	// stored.
	CreateMessages(ctx context.Context, ms []NewMessage, check SendCheck) ([]CreateResult, error)
	Message(ctx context.Context, id int64) (Message, error)
	// Thread returns up to limit replies of rootID with seq > afterSeq,
	// in seq order.
	Thread(ctx context.Context, rootID, afterSeq int64, limit int) ([]Message, error)
	// Threads lists the threads userID follows in rooms they can read,
	// newest root first, roots below beforeRootID when it is not 0.
	Threads(ctx context.Context, userID, beforeRootID int64, limit int) ([]ThreadView, error)
	// MarkThreadRead moves a follower's thread read marker forward to seq
	// (clamped to the room's last seq); for a user who does not follow
	// the thread it changes nothing (Following false).
	MarkThreadRead(ctx context.Context, rootID, userID, seq int64) (ThreadReadState, error)
	Messages(ctx context.Context, f MessageFilter) (msgs []Message, hasOlder bool, err error)
	// ResolveMentions returns the ids of the users named (lower-cased
	// usernames) who may read roomID: anyone chat-service knows in a
	// public room, members elsewhere.
	ResolveMentions(ctx context.Context, roomID int64, names []string) ([]int64, error)
	// Mentions lists the messages that mention userID (by name, or the
	// room in rooms they are a member of), not deleted, in rooms they can
	// read, newest first, ids below beforeID when it is not 0.
	Mentions(ctx context.Context, userID, beforeID int64, limit int) ([]Message, error)
	EditMessage(ctx context.Context, id int64, body string, at time.Time) (Message, error)
	// DeleteMessage turns the message into a tombstone, drops its
	// reactions and unpins it.
	DeleteMessage(ctx context.Context, id int64) (Message, error)
	// PinMessage pins messageID, which must be a message of roomID that
	// is not deleted (else 404 message_not_found), as pinned by by at at.
	// Pinning a pinned message changes nothing (changed=false); a pin
	// past MaxPinsPerRoom is ErrTooManyPins. It returns the message as it
	// then stands.
	PinMessage(ctx context.Context, roomID, messageID int64, by UserRef, at time.Time) (msg Message, changed bool, err error)
	// UnpinMessage unpins messageID under the same conditions; unpinning
	// a message that is not pinned changes nothing.
	UnpinMessage(ctx context.Context, roomID, messageID int64) (msg Message, changed bool, err error)
	// Pins lists the pinned messages of a room, newest pin first.
	Pins(ctx context.Context, roomID int64) ([]Message, error)
	// AddReaction returns changed=false when the reaction was there.
	AddReaction(ctx context.Context, messageID, userID int64, emoji string, at time.Time) (changed bool, err error)
	RemoveReaction(ctx context.Context, messageID, userID int64, emoji string) (changed bool, err error)

	Search(ctx context.Context, f SearchFilter) ([]SearchHit, error)
	Stats(ctx context.Context, userID int64) (Stats, error)

	// AdminRooms lists every public and private room (never DMs) with
	// id > afterID, by id; AdminRoom is one of them (404 for a DM).
	AdminRooms(ctx context.Context, afterID int64, limit int) ([]AdminRoom, error)
	AdminRoom(ctx context.Context, id int64) (AdminRoom, error)
	// RecordActive notes that the users were active on day ("YYYY-MM-DD",
	// UTC); noting a user twice is a no-op.
	RecordActive(ctx context.Context, day string, userIDs []int64) error
	// PruneActive forgets the activity of days before day.
	PruneActive(ctx context.Context, before string) error
	// ActiveUsers counts the users active on day.
	ActiveUsers(ctx context.Context, day string) (int64, error)
	// MessagesPerDay counts the messages created at or after since (a
	// UTC midnight) by UTC day, ascending; days without messages are
	// left out.
	MessagesPerDay(ctx context.Context, since time.Time) ([]DayCount, error)

	WebhookStore
}

// Directory is the user directory (user-service): the one place that
// knows every account, including those chat-service has never seen.
type Directory interface {
	// Username returns the current username of userID, asking with the
	// caller's Authorization header. ErrNoSuchUser means the directory
	// answered that there is no such user; any other error means it could
	// not answer.
	Username(ctx context.Context, userID int64, authorization string) (string, error)
}

// ErrNoSuchUser is a Directory's answer for an id that names no user.
var ErrNoSuchUser = errors.New("no such user")

// Presence answers who is online in a room across every replica.
type Presence interface {
	// OnlinePage lists up to limit online users in (username, user_id)
	// order after the given one (nil: from the first), whether more
	// follow, and how many are online.
	OnlinePage(roomID int64, after *UserRef, limit int) (users []UserRef, more bool, count int)
	// OnlineAmong lists which of ids are online, and how many are online.
	OnlineAmong(roomID int64, ids []int64) (users []UserRef, count int)
}
