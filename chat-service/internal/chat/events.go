package chat

import "context"

// Event types pushed to WebSocket clients. Each is also the "type" of the
// frame a client receives.
const (
	EventMessage        = "message"
	EventMessageUpdated = "message_updated"
	EventMessageDeleted = "message_deleted"
	EventReaction       = "reaction"
	EventTyping         = "typing"
	EventPresence       = "presence"
	// EventPresenceDelta carries who came online or went offline in a room
	// of at most PresenceListMax online users since the last one.
	EventPresenceDelta = "presence_delta"
	EventRoomUpdated   = "room_updated"
	EventMemberJoined  = "member_joined"
	EventMemberLeft    = "member_left"
	// EventRead tells a user's other connections that a read marker moved.
	EventRead = "read"
	// EventMention goes to every socket of each user a message names.
	EventMention = "mention"
)

// Event is something committed (or, for typing, said) that every replica
// delivers to its WebSocket clients. Frame is the JSON object clients get;
// the routing fields say who gets it.
type Event struct {
	Type   string
	RoomID int64
	// Seq is the message seq of message events, used to skip what a
	// subscription already replayed from the database.
	Seq int64
	// Users also receive the event on every connection, subscribed or not
	// (a user invited to a room, the other side of a new DM).
	Users []int64
	// ExceptUser does not receive the event (the typist).
	ExceptUser int64
	// RevokeUsers lose their subscription to RoomID after this event (a
	// member removed from a private room).
	RevokeUsers []int64
	// DropRoom ends every subscription to RoomID (the room was deleted).
	DropRoom bool
	Frame    any
}

// Publisher sends events to every replica, this one included.
type Publisher interface {
	Publish(ctx context.Context, e Event) error
}

// MessageFrame is the frame of message and message_updated events.
type MessageFrame struct {
	Type    string  `json:"type"`
	Message Message `json:"message"`
}

// MessageDeletedFrame announces a tombstone.
type MessageDeletedFrame struct {
	Type      string  `json:"type"`
	RoomID    int64   `json:"room_id"`
	MessageID int64   `json:"message_id"`
	Seq       int64   `json:"seq"`
	Message   Message `json:"message"`
}

// ReactionFrame announces one reaction added or removed, with the message's
// reactions after the change.
type ReactionFrame struct {
	Type      string          `json:"type"`
	RoomID    int64           `json:"room_id"`
	MessageID int64           `json:"message_id"`
	Seq       int64           `json:"seq"`
	UserID    int64           `json:"user_id"`
	Username  string          `json:"username"`
	Emoji     string          `json:"emoji"`
	Added     bool            `json:"added"`
	Reactions []ReactionGroup `json:"reactions"`
}

// TypingFrame says a user is typing in a room.
type TypingFrame struct {
	Type     string `json:"type"`
	RoomID   int64  `json:"room_id"`
	UserID   int64  `json:"user_id"`
	Username string `json:"username"`
}

// PresenceFrame is the presence snapshot of a room with at most 200
// online: all of them by (username, user_id), and their count. A bigger
// room's snapshot is a PresenceCountFrame.
type PresenceFrame struct {
	Type   string    `json:"type"`
	RoomID int64     `json:"room_id"`
	Online []UserRef `json:"online"`
	Count  int       `json:"count"`
}

// PresenceCountFrame is the presence of a room with more than 200 online:
// its count only (a "presence" frame without "online").
type PresenceCountFrame struct {
	Type   string `json:"type"`
	RoomID int64  `json:"room_id"`
	Count  int    `json:"count"`
}

// PresenceDeltaFrame lists who came online (Joined) and went offline
// (Left) in a room since the last presence frame, and the count after.
type PresenceDeltaFrame struct {
	Type   string    `json:"type"`
	RoomID int64     `json:"room_id"`
	Joined []UserRef `json:"joined"`
	Left   []UserRef `json:"left"`
	Count  int       `json:"count"`
}

// RoomUpdatedFrame carries a room after a change; Deleted is true when the
// room is gone.
type RoomUpdatedFrame struct {
	Type    string `json:"type"`
	Room    Room   `json:"room"`
	Deleted bool   `json:"deleted"`
}

// MemberJoinedFrame announces a new member; Room lets an invited user add
// the room to their list.
type MemberJoinedFrame struct {
	Type   string `json:"type"`
	RoomID int64  `json:"room_id"`
	Member Member `json:"member"`
	Room   Room   `json:"room"`
	// AddedBy names who added the member; absent when they joined.
	AddedBy *UserRef `json:"added_by,omitempty"`
}

// MemberLeftFrame announces a member leaving (RemovedBy nil) or removed.
type MemberLeftFrame struct {
	Type      string `json:"type"`
	RoomID    int64  `json:"room_id"`
	UserID    int64  `json:"user_id"`
	Username  string `json:"username"`
	RemovedBy *int64 `json:"removed_by"`
}

// ReadFrame tells the reader's own connections about a new read marker.
type ReadFrame struct {
	Type        string `json:"type"`
	RoomID      int64  `json:"room_id"`
	LastReadSeq int64  `json:"last_read_seq"`
	Unread      int64  `json:"unread"`
}
