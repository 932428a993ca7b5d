package chat

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/ratelimit"
	"github.com/parleychat/parley/platform/text"
)

// Options configures a Service.
type Options struct {
	Store     Store
	Publisher Publisher
	Presence  Presence
	// Directory says who exists (POST /dms). Without one, opening a DM
	// is refused as unavailable: a DM must never be opened with nobody.
	Directory Directory
	Logger    *slog.Logger
	Now       func() time.Time
	// SendRate and SendBurst limit messages per user (HTTP and WebSocket
	// together, per replica).
	SendRate  float64
	SendBurst int
	// TypingInterval is the least time between two typing events of one
	// user in one room; more frequent ones are dropped.
	TypingInterval time.Duration
	// SendBatch is the most concurrent sends stored in one transaction
	// (DefaultSendBatch when 0).
	SendBatch int
	// FileURLs signs file URLs (nil: URLs are not signed and every
	// download is refused). FileMaxBytes caps an upload
	// (DefaultFileMaxBytes when 0).
	FileURLs     *FileURLs
	FileMaxBytes int64
	// WebhookRate and WebhookBurst limit posts per incoming webhook (per
	// replica; 1/s, burst 10 when 0).
	WebhookRate  float64
	WebhookBurst int
}

// Service holds every business rule of chat. Transports call it with the
// Actor they authenticated.
type Service struct {
	store    Store
	pub      Publisher
	presence Presence
	dir      Directory
	log      *slog.Logger
	now      func() time.Time
	send     *ratelimit.Keyed
	typing   *ratelimit.Keyed
	hooks    *ratelimit.Keyed // per webhook id (webhooks.go)

	// seen caches the username last recorded per user id, so TouchUser
	// writes only when a user is new or renamed.
	seen sync.Map
	// commit stores concurrent sends in shared transactions and publishes
	// them in seq order (commit.go).
	commit    committer
	sendBatch int
	// active records who is active each day (admin.go).
	active activity
	// Files (upload.go): the URL signer, the upload limit, and a slot per
	// image decoded at once.
	urls     *FileURLs
	fileMax  int64
	decoding chan struct{}
}

// NewService builds a Service.
func NewService(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SendRate <= 0 {
		o.SendRate = 10
	}
	if o.SendBurst <= 0 {
		o.SendBurst = 30
	}
	if o.TypingInterval <= 0 {
		o.TypingInterval = 2 * time.Second
	}
	if o.SendBatch <= 0 {
		o.SendBatch = DefaultSendBatch
	}
	if o.FileMaxBytes <= 0 {
		o.FileMaxBytes = DefaultFileMaxBytes
	}
	if o.WebhookRate <= 0 {
		o.WebhookRate = 1
	}
	if o.WebhookBurst <= 0 {
		o.WebhookBurst = 10
	}
	return &Service{
		urls: o.FileURLs, fileMax: o.FileMaxBytes, decoding: make(chan struct{}, 2),
		store: o.Store, pub: o.Publisher, presence: o.Presence, dir: o.Directory, log: o.Logger, now: o.Now, sendBatch: o.SendBatch,
		send:   ratelimit.NewWithClock(o.SendRate, o.SendBurst, o.Now),
		typing: ratelimit.NewWithClock(1/o.TypingInterval.Seconds(), 1, o.Now),
		hooks:  ratelimit.NewWithClock(o.WebhookRate, o.WebhookBurst, o.Now),
	}
}

func (s *Service) at() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// publish hands an event to the broker. A failure is logged, not returned:
// the change is committed, and clients that missed the event catch up by
// seq on resume or through HTTP history.
func (s *Service) publish(ctx context.Context, e Event) {
	if s.pub == nil {
		return
	}
	if err := s.pub.Publish(ctx, e); err != nil {
		s.log.WarnContext(ctx, "publish event", "type", e.Type, "room_id", e.RoomID, "error", err)
	}
}

var (
	errRoomNotFound    = apperr.NotFound("room_not_found", "room not found")
	errMessageNotFound = apperr.NotFound("message_not_found", "message not found")
	errNotMember       = apperr.Forbidden("not_member", "join the room first")
	errArchived        = apperr.Conflict("room_archived", "the room is archived")
	errDMFixed         = apperr.Forbidden("forbidden", "direct messages cannot be changed")
)

// SeeUser records the actor's username the first time it is seen (or when
// it changed); a new user joins the default room.
func (s *Service) SeeUser(ctx context.Context, a Actor) error {
	if name, ok := s.seen.Load(a.UserID); ok && name.(string) == a.Username {
		return nil
	}
	joined, err := s.store.TouchUser(ctx, UserRef{UserID: a.UserID, Username: a.Username}, s.at())
	if err != nil {
		return err
	}
	s.seen.Store(a.UserID, a.Username)
	if joined != nil {
		if room, err := s.store.Room(ctx, joined.RoomID); err == nil {
			s.publish(ctx, Event{Type: EventMemberJoined, RoomID: room.ID,
				Frame: MemberJoinedFrame{Type: EventMemberJoined, RoomID: room.ID, Member: *joined, Room: room}})
		}
	}
	return nil
}

// access loads a room the actor may read: every public room, and private
// rooms and DMs they belong to. Anything else is 404, never 403, so private
// rooms do not leak. member is nil for non-members of public rooms.
func (s *Service) access(ctx context.Context, a Actor, roomID int64) (Room, *Member, error) {
	if roomID <= 0 {
		return Room{}, nil, errRoomNotFound
	}
	room, m, err := s.store.RoomMember(ctx, roomID, a.UserID)
	if err != nil {
		return Room{}, nil, err
	}
	if m == nil && room.Kind != KindPublic {
		return Room{}, nil, errRoomNotFound
	}
	return room, m, nil
}

// ReadableRoom returns the room when the actor may read it (404 otherwise).
func (s *Service) ReadableRoom(ctx context.Context, a Actor, roomID int64) (Room, error) {
	room, _, err := s.access(ctx, a, roomID)
	return room, err
}

func canModerate(a Actor, m *Member) bool {
	return a.Admin || (m != nil && m.Role == RoleOwner)
}

// ListRooms pages through the rooms the actor may see, by id.
func (s *Service) ListRooms(ctx context.Context, a Actor, afterID int64, limit int) ([]RoomView, *int64, error) {
	rooms, err := s.store.RoomViews(ctx, a.UserID, afterID, limit+1)
	if err != nil {
		return nil, nil, err
	}
	rooms, next := page(rooms, limit, func(x RoomView) int64 { return x.ID })
	return rooms, next, nil
}

// CreateRoom creates a public or private room owned by the actor.
func (s *Service) CreateRoom(ctx context.Context, a Actor, name, description, kind string) (RoomView, error) {
	name, err := CleanRoomName(name)
	if err != nil {
		return RoomView{}, err
	}
	description, err = CleanDescription(description)
	if err != nil {
		return RoomView{}, err
	}
	switch kind {
	case "":
		kind = KindPublic
	case KindPublic, KindPrivate:
	default:
		return RoomView{}, apperr.Validation("invalid_kind", `kind must be "public" or "private"`)
	}
	room, err := s.store.CreateRoom(ctx, NewRoom{Name: name, Description: description, Kind: kind,
		CreatedBy: a.UserID, CreatorName: a.Username, At: s.at()})
	if err != nil {
		return RoomView{}, err
	}
	return s.store.RoomView(ctx, room.ID, a.UserID)
}

// GetRoom is one room as the actor sees it.
func (s *Service) GetRoom(ctx context.Context, a Actor, roomID int64) (RoomView, error) {
	if _, _, err := s.access(ctx, a, roomID); err != nil {
		return RoomView{}, err
	}
	return s.store.RoomView(ctx, roomID, a.UserID)
}

// UpdateRoom changes name, description or archived; owners and admins only.
func (s *Service) UpdateRoom(ctx context.Context, a Actor, roomID int64, p RoomPatch) (RoomView, error) {
	room, m, err := s.access(ctx, a, roomID)
	if err != nil {
		return RoomView{}, err
	}
	if IsDirect(room.Kind) {
		return RoomView{}, errDMFixed
	}
	if !canModerate(a, m) {
		return RoomView{}, apperr.Forbidden("forbidden", "only the room owner or an admin may change the room")
	}
	if p.Name != nil {
		n, err := CleanRoomName(*p.Name)
		if err != nil {
			return RoomView{}, err
		}
		p.Name = &n
	}
	if p.Description != nil {
		d, err := CleanDescription(*p.Description)
		if err != nil {
			return RoomView{}, err
		}
		p.Description = &d
	}
	if p.Name != nil || p.Description != nil || p.Archived != nil {
		if _, err := s.patchRoom(ctx, room, p); err != nil {
			return RoomView{}, err
		}
	}
	return s.store.RoomView(ctx, roomID, a.UserID)
}

// patchRoom stores a checked patch and tells the room's sockets (an
// owner's change and an admin's alike). The default room is never
// archived.
func (s *Service) patchRoom(ctx context.Context, room Room, p RoomPatch) (Room, error) {
	if p.Archived != nil && *p.Archived && room.IsDefault {
		return Room{}, apperr.Conflict("default_room", "the default room cannot be archived")
	}
	updated, err := s.store.UpdateRoom(ctx, room.ID, p, s.at())
	if err != nil {
		return Room{}, err
	}
	s.publish(ctx, Event{Type: EventRoomUpdated, RoomID: room.ID,
		Frame: RoomUpdatedFrame{Type: EventRoomUpdated, Room: updated}})
	return updated, nil
}

// DeleteRoom deletes a room with its messages; owners and admins only.
func (s *Service) DeleteRoom(ctx context.Context, a Actor, roomID int64) error {
	room, m, err := s.access(ctx, a, roomID)
	if err != nil {
		return err
	}
	if IsDirect(room.Kind) {
		return errDMFixed
	}
	if !canModerate(a, m) {
		return apperr.Forbidden("forbidden", "only the room owner or an admin may delete the room")
	}
	return s.removeRoom(ctx, room)
}

// removeRoom deletes a room with its members, messages and reactions in
// one transaction and ends every subscription to it (an owner's delete
// and an admin's alike). The default room is never deleted.
func (s *Service) removeRoom(ctx context.Context, room Room) error {
	if room.IsDefault {
		return apperr.Conflict("default_room", "the default room cannot be deleted")
	}
	if err := s.store.DeleteRoom(ctx, room.ID); err != nil {
		return err
	}
	s.publish(ctx, Event{Type: EventRoomUpdated, RoomID: room.ID, DropRoom: true,
		Frame: RoomUpdatedFrame{Type: EventRoomUpdated, Room: room, Deleted: true}})
	return nil
}

// JoinRoom makes the actor a member of a public room. Joining a private
// room one already belongs to is a no-op; otherwise private rooms are 404.
func (s *Service) JoinRoom(ctx context.Context, a Actor, roomID int64) (RoomView, error) {
	room, m, err := s.access(ctx, a, roomID)
	if err != nil {
		return RoomView{}, err
	}
	if m == nil {
		if room.Archived {
			return RoomView{}, errArchived
		}
		stored, created, err := s.store.AddMember(ctx, Member{RoomID: roomID, UserID: a.UserID, Username: a.Username,
			Role: RoleMember, JoinedAt: s.at()})
		if err != nil {
			return RoomView{}, err
		}
		if created {
			s.publish(ctx, Event{Type: EventMemberJoined, RoomID: roomID,
				Frame: MemberJoinedFrame{Type: EventMemberJoined, RoomID: roomID, Member: stored, Room: room}})
		}
	}
	return s.store.RoomView(ctx, roomID, a.UserID)
}

// LeaveRoom removes the actor from a room. Leaving a public room one is not
// in is a no-op; 1:1 DMs cannot be left, group DMs can.
func (s *Service) LeaveRoom(ctx context.Context, a Actor, roomID int64) error {
	room, m, err := s.access(ctx, a, roomID)
	if err != nil {
		return err
	}
	if room.Kind == KindDM {
		return apperr.Forbidden("forbidden", "direct messages cannot be left")
	}
	if m == nil {
		return nil
	}
	return s.removeMember(ctx, room, *m, nil)
}

func (s *Service) removeMember(ctx context.Context, room Room, m Member, by *int64) error {
	removed, _, err := s.store.RemoveMember(ctx, room.ID, m.UserID)
	if err != nil || !removed {
		return err
	}
	e := Event{Type: EventMemberLeft, RoomID: room.ID, Users: []int64{m.UserID},
		Frame: MemberLeftFrame{Type: EventMemberLeft, RoomID: room.ID, UserID: m.UserID, Username: m.Username, RemovedBy: by}}
	if room.Kind != KindPublic {
		e.RevokeUsers = []int64{m.UserID}
	}
	s.publish(ctx, e)
	return nil
}

// ListMembers pages through a room's members by user id.
func (s *Service) ListMembers(ctx context.Context, a Actor, roomID, afterUserID int64, limit int) ([]Member, *int64, error) {
	if _, _, err := s.access(ctx, a, roomID); err != nil {
		return nil, nil, err
	}
	ms, err := s.store.Members(ctx, roomID, afterUserID, limit+1)
	if err != nil {
		return nil, nil, err
	}
	ms, next := page(ms, limit, func(x Member) int64 { return x.UserID })
	if s.presence != nil {
		ids := make([]int64, len(ms))
		for i, m := range ms {
			ids[i] = m.UserID
		}
		users, _ := s.presence.OnlineAmong(roomID, ids)
		online := make(map[int64]bool, len(users))
		for _, u := range users {
			online[u.UserID] = true
		}
		for i := range ms {
			ms[i].Online = online[ms[i].UserID]
		}
	}
	return ms, next, nil
}

// AddMember adds a user to a room (an invite). Any member may invite. The
// username is the one chat-service last saw in that user's token, else the
// one in the request, else empty; it is corrected when the user shows up.
func (s *Service) AddMember(ctx context.Context, a Actor, roomID, userID int64, username string) (Member, bool, error) {
	room, m, err := s.access(ctx, a, roomID)
	if err != nil {
		return Member{}, false, err
	}
	if IsDirect(room.Kind) {
		return Member{}, false, errDMFixed
	}
	if m == nil && !a.Admin {
		return Member{}, false, errNotMember
	}
	if room.Archived {
		return Member{}, false, errArchived
	}
	if userID <= 0 {
		return Member{}, false, apperr.Validation("invalid_user_id", "user_id must be a positive integer")
	}
	username, err = s.resolveUsername(ctx, userID, username)
	if err != nil {
		return Member{}, false, err
	}
	stored, created, err := s.store.AddMember(ctx, Member{RoomID: roomID, UserID: userID, Username: username,
		Role: RoleMember, JoinedAt: s.at()})
	if err != nil {
		return Member{}, false, err
	}
	if created {
		s.publish(ctx, Event{Type: EventMemberJoined, RoomID: roomID, Users: []int64{userID},
			Frame: MemberJoinedFrame{Type: EventMemberJoined, RoomID: roomID, Member: stored, Room: room,
				AddedBy: &UserRef{UserID: a.UserID, Username: a.Username}}})
	}
	return stored, created, nil
}

// resolveUsername prefers the name chat-service saw in the user's own token
// over one a client supplied.
func (s *Service) resolveUsername(ctx context.Context, userID int64, given string) (string, error) {
	given, err := CleanUsername(given)
	if err != nil {
		return "", err
	}
	known, err := s.store.Username(ctx, userID)
	if err != nil || known != "" {
		return known, err
	}
	return given, nil
}

// RemoveMember removes userID from a room: the user themself (leave), or an
// owner or admin (kick).
func (s *Service) RemoveMember(ctx context.Context, a Actor, roomID, userID int64) error {
	if userID == a.UserID {
		return s.LeaveRoom(ctx, a, roomID)
	}
	room, m, err := s.access(ctx, a, roomID)
	if err != nil {
		return err
	}
	if IsDirect(room.Kind) {
		return errDMFixed
	}
	if !canModerate(a, m) {
		return apperr.Forbidden("forbidden", "only the room owner or an admin may remove members")
	}
	target, ok, err := s.store.Member(ctx, roomID, userID)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.NotFound("member_not_found", "that user is not a member of the room")
	}
	by := a.UserID
	return s.removeMember(ctx, room, target, &by)
}

// OpenDM returns the one DM room between the actor and userID, creating it
// (created=true) the first time. userID must be a user of the directory
// (asked with the caller's authorization): an unknown id is 404
// user_not_found, and a directory that cannot answer is 503
// directory_unavailable, never a DM with nobody. The directory's username
// names the other person; the client's username is used only when the
// directory has none.
func (s *Service) OpenDM(ctx context.Context, a Actor, userID int64, username, authorization string) (RoomView, bool, error) {
	if userID <= 0 {
		return RoomView{}, false, apperr.Validation("invalid_user_id", "user_id must be a positive integer")
	}
	if userID == a.UserID {
		return RoomView{}, false, apperr.Validation("invalid_user_id", "you cannot open a direct message with yourself")
	}
	given, err := CleanUsername(username)
	if err != nil {
		return RoomView{}, false, err
	}
	listed, err := s.lookUp(ctx, userID, authorization)
	if err != nil {
		return RoomView{}, false, err
	}
	if listed == "" {
		if listed, err = s.resolveUsername(ctx, userID, given); err != nil {
			return RoomView{}, false, err
		}
	}
	username = listed
	room, created, err := s.store.OpenDM(ctx, UserRef{UserID: a.UserID, Username: a.Username},
		UserRef{UserID: userID, Username: username}, s.at())
	if err != nil {
		return RoomView{}, false, err
	}
	if created {
		s.publish(ctx, Event{Type: EventMemberJoined, RoomID: room.ID, Users: []int64{userID, a.UserID},
			Frame: MemberJoinedFrame{Type: EventMemberJoined, RoomID: room.ID, Room: room,
				Member: Member{RoomID: room.ID, UserID: userID, Username: username, Role: RoleMember, JoinedAt: room.CreatedAt}}})
	}
	v, err := s.store.RoomView(ctx, room.ID, a.UserID)
	return v, created, err
}

// OpenGroup returns the one group DM of the actor and userIDs (2 to 8
// other users; repeats and the actor's own id are dropped, then fewer than
// 2 or more than 8 is 422 invalid_group_size), creating it (created=true)
// the first time; members who had left it are back in it. Every id must be
// a user of the directory (404 user_not_found, 503 directory_unavailable),
// whose names are the members' names.
func (s *Service) OpenGroup(ctx context.Context, a Actor, userIDs []int64, authorization string) (RoomView, bool, error) {
	var others []int64
	for _, id := range userIDs {
		if id <= 0 {
			return RoomView{}, false, apperr.Validation("invalid_user_id", "user_ids must be positive integers")
		}
		if id != a.UserID && !slices.Contains(others, id) {
			others = append(others, id)
		}
	}
	if len(others) < MinGroupOthers || len(others) > MaxGroupOthers {
		return RoomView{}, false, apperr.Validation("invalid_group_size",
			"a group DM has 2 to 8 other people (for one person, send user_id)")
	}
	members := []UserRef{{UserID: a.UserID, Username: a.Username}}
	for _, id := range others {
		name, err := s.lookUp(ctx, id, authorization)
		if err != nil {
			return RoomView{}, false, err
		}
		members = append(members, UserRef{UserID: id, Username: name})
	}
	room, created, err := s.store.OpenGroup(ctx, a.UserID, members, s.at())
	if err != nil {
		return RoomView{}, false, err
	}
	if created {
		ids := make([]int64, len(members))
		for i, m := range members {
			ids[i] = m.UserID
		}
		for _, m := range members[1:] {
			s.publish(ctx, Event{Type: EventMemberJoined, RoomID: room.ID, Users: ids,
				Frame: MemberJoinedFrame{Type: EventMemberJoined, RoomID: room.ID, Room: room,
					Member: Member{RoomID: room.ID, UserID: m.UserID, Username: m.Username, Role: RoleMember, JoinedAt: room.CreatedAt}}})
		}
	}
	v, err := s.store.RoomView(ctx, room.ID, a.UserID)
	return v, created, err
}

// lookUp asks the directory for userID's username.
func (s *Service) lookUp(ctx context.Context, userID int64, authorization string) (string, error) {
	if s.dir == nil {
		return "", apperr.Unavailable("directory_unavailable", "the user directory is not configured; try again later", errors.New("no directory"))
	}
	name, err := s.dir.Username(ctx, userID, authorization)
	switch {
	case errors.Is(err, ErrNoSuchUser):
		return "", apperr.NotFound("user_not_found", "no user with id "+strconv.FormatInt(userID, 10))
	case err != nil:
		return "", apperr.Unavailable("directory_unavailable", "the user directory cannot answer; try again later", err)
	}
	// A name the directory gives passes the same checks as a client's.
	if name, err = CleanUsername(name); err != nil {
		return "", apperr.Unavailable("directory_unavailable", "the user directory gave an unusable name", err)
	}
	return name, nil
}

// GetMessage returns one message the actor may read (a permalink); any
// other is 404 message_not_found, as an unknown id is.
func (s *Service) GetMessage(ctx context.Context, a Actor, messageID int64) (Message, error) {
	msg, _, _, err := s.messageAccess(ctx, a, messageID)
	return msg, err
}

// ListMessagesAround returns the page of a room's history centred on seq
// around (which it includes): up to limit messages, about half older and
// half newer, in ascending seq order, and the before_seq cursor of the page
// older than it. around must be a seq of the room (1 to its last seq), else
// 400 invalid_cursor.
func (s *Service) ListMessagesAround(ctx context.Context, a Actor, roomID, around int64, topLevel bool, limit int) ([]Message, *int64, error) {
	room, _, err := s.access(ctx, a, roomID)
	if err != nil {
		return nil, nil, err
	}
	if around < 1 || around > room.LastSeq {
		return nil, nil, apperr.Invalid("invalid_cursor", "around_seq must be a seq of the room, from 1 to "+strconv.FormatInt(room.LastSeq, 10))
	}
	newer := limit / 2
	older, hasOlder, err := s.store.Messages(ctx, MessageFilter{RoomID: roomID, BeforeSeq: around + 1, Limit: limit - newer, TopLevel: topLevel})
	if err != nil {
		return nil, nil, err
	}
	var after []Message
	if newer > 0 {
		if after, _, err = s.store.Messages(ctx, MessageFilter{RoomID: roomID, AfterSeq: &around, Limit: newer, TopLevel: topLevel}); err != nil {
			return nil, nil, err
		}
	}
	msgs := append(older, after...)
	var next *int64
	if hasOlder && len(older) > 0 {
		seq := older[0].Seq
		next = &seq
	}
	return msgs, next, nil
}

// Thread returns the root and a page of its replies (seq > afterSeq, in
// seq order), with the after_seq cursor of the next page. The root must be
// a top-level message of a room the actor may read (404 otherwise: a
// reply is 404 thread_not_found).
func (s *Service) Thread(ctx context.Context, a Actor, rootID, afterSeq int64, limit int) (Message, []Message, *int64, error) {
	if afterSeq < 0 {
		return Message{}, nil, nil, apperr.Invalid("invalid_query", "after_seq must not be negative")
	}
	root, _, _, err := s.messageAccess(ctx, a, rootID)
	if err != nil {
		return Message{}, nil, nil, err
	}
	if root.ThreadRootID != nil {
		return Message{}, nil, nil, errNotThread
	}
	msgs, err := s.store.Thread(ctx, rootID, afterSeq, limit+1)
	if err != nil {
		return Message{}, nil, nil, err
	}
	msgs, next := page(msgs, limit, func(x Message) int64 { return x.Seq })
	return root, msgs, next, nil
}

var errNotThread = apperr.NotFound("thread_not_found", "that message is a reply; its thread is its root's")

// Threads lists the threads the actor follows (newest root first) with
// their unread replies, and the cursor (a root id) of the next page.
func (s *Service) Threads(ctx context.Context, a Actor, beforeRootID int64, limit int) ([]ThreadView, *int64, error) {
	ts, err := s.store.Threads(ctx, a.UserID, beforeRootID, limit+1)
	if err != nil {
		return nil, nil, err
	}
	ts, next := page(ts, limit, func(x ThreadView) int64 { return x.Root.ID })
	return ts, next, nil
}

// MarkThreadRead moves the actor's read marker of a thread forward to seq
// (a room seq; clamped, never backwards). Reading a thread one does not
// follow changes nothing and answers following=false.
func (s *Service) MarkThreadRead(ctx context.Context, a Actor, rootID, seq int64) (ThreadReadState, error) {
	if seq < 0 {
		return ThreadReadState{}, apperr.Validation("invalid_seq", "seq must not be negative")
	}
	root, _, _, err := s.messageAccess(ctx, a, rootID)
	if err != nil {
		return ThreadReadState{}, err
	}
	if root.ThreadRootID != nil {
		return ThreadReadState{}, errNotThread
	}
	return s.store.MarkThreadRead(ctx, rootID, a.UserID, seq)
}

// Mentions lists the messages that mention the actor (newest first, in
// rooms they can read) and the cursor (a before_id) of the next page.
func (s *Service) Mentions(ctx context.Context, a Actor, beforeID int64, limit int) ([]Message, *int64, error) {
	msgs, err := s.store.Mentions(ctx, a.UserID, beforeID, limit+1)
	if err != nil {
		return nil, nil, err
	}
	msgs, next := page(msgs, limit, func(x Message) int64 { return x.ID })
	return msgs, next, nil
}

// ListMessages returns a page of history in ascending seq order and the
// cursor (a before_seq) of the next older page, if any.
func (s *Service) ListMessages(ctx context.Context, a Actor, f MessageFilter) ([]Message, *int64, error) {
	if _, _, err := s.access(ctx, a, f.RoomID); err != nil {
		return nil, nil, err
	}
	if f.BeforeSeq < 0 || (f.AfterSeq != nil && *f.AfterSeq < 0) {
		return nil, nil, apperr.Invalid("invalid_query", "before_seq and after_seq must not be negative")
	}
	msgs, hasOlder, err := s.store.Messages(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	var next *int64
	if hasOlder && len(msgs) > 0 {
		seq := msgs[0].Seq
		next = &seq
	}
	return msgs, next, nil
}

// Replay returns up to limit messages after afterSeq for a WebSocket resume.
func (s *Service) Replay(ctx context.Context, roomID, afterSeq int64, limit int) ([]Message, error) {
	msgs, _, err := s.store.Messages(ctx, MessageFilter{RoomID: roomID, AfterSeq: &afterSeq, Limit: limit})
	return msgs, err
}

// SendMessage posts a top-level message (Send without a thread).
func (s *Service) SendMessage(ctx context.Context, a Actor, roomID int64, body, clientMsgID string) (Message, bool, error) {
	return s.Send(ctx, a, Outgoing{RoomID: roomID, Body: body, ClientMsgID: clientMsgID})
}

// Outgoing is a message a client sends.
type Outgoing struct {
	RoomID      int64
	Body        string
	ClientMsgID string
	// ThreadRootID, when not 0, makes it a reply in that thread.
	ThreadRootID int64
	// FileIDs are uploads to attach (the body may then be empty).
	FileIDs []int64
}

// Send posts a message. It is idempotent on (actor, clientMsgID): a retry
// returns the stored message with created=false and publishes nothing.
// Concurrent sends are stored together (commit.go). Whether the actor may
// post in the room (sendCheck), and whether a reply's root is a top-level,
// not deleted message of the room (else 422 invalid_thread), is decided on
// the rows read in the transaction that stores the message, one query for
// the batch; a refused send fails alone and stores nothing.
func (s *Service) Send(ctx context.Context, a Actor, o Outgoing) (Message, bool, error) {
	if err := ValidateFileIDs(o.FileIDs); err != nil {
		return Message{}, false, err
	}
	body, err := CleanBody(o.Body)
	if err != nil && !(len(o.FileIDs) > 0 && text.Blank(text.CleanLines(o.Body))) {
		return Message{}, false, err
	}
	if err != nil {
		body, err = "", nil
	}
	if err := ValidateClientMsgID(o.ClientMsgID); err != nil {
		return Message{}, false, err
	}
	if o.ThreadRootID < 0 {
		return Message{}, false, ErrInvalidThread
	}
	if ok, wait := s.send.Allow(strconv.FormatInt(a.UserID, 10)); !ok {
		return Message{}, false, apperr.RateLimited("too many messages; retry with the same client_msg_id", ratelimit.RetryAfterSeconds(wait))
	}
	if o.RoomID <= 0 {
		return Message{}, false, errRoomNotFound
	}
	nm := NewMessage{RoomID: o.RoomID, UserID: a.UserID, Username: a.Username,
		Body: body, ClientMsgID: o.ClientMsgID, ThreadRootID: o.ThreadRootID, FileIDs: o.FileIDs}
	r, err := s.deliver(ctx, nm)
	if err != nil {
		return Message{}, false, err
	}
	s.MarkActive(a.UserID)
	return r.Message, r.Created, nil
}

// deliver resolves a checked message's mentions and stores it through the
// group commit, which publishes it: the path every message takes, from a
// person or a webhook.
func (s *Service) deliver(ctx context.Context, nm NewMessage) (CreateResult, error) {
	if strings.IndexByte(nm.Body, '@') >= 0 {
		// Only users who may read the room are named: a mention of
		// anyone else stays plain text and tells nobody anything.
		names, room := ParseMentions(nm.Body)
		nm.MentionsRoom = room
		if len(names) > 0 {
			var err error
			if nm.Mentions, err = s.store.ResolveMentions(ctx, nm.RoomID, names); err != nil {
				return CreateResult{}, err
			}
		}
	}
	r, err := s.persist(ctx, nm)
	if err != nil {
		return CreateResult{}, err
	}
	if !r.Created && r.Message.RoomID != nm.RoomID {
		return CreateResult{}, apperr.Conflict("client_msg_id_reused", "client_msg_id was already used for a message in another room")
	}
	return r, nil
}

// sendCheck is who may post: members of rooms that are not archived. A
// private room is not found for anyone else, as in access.
func sendCheck(room Room, m *Member) error {
	if m == nil {
		if room.Kind != KindPublic {
			return errRoomNotFound
		}
		return errNotMember
	}
	if room.Archived {
		return errArchived
	}
	return nil
}

// messageAccess loads a message and its room for the actor; messages of
// rooms the actor cannot read are 404.
func (s *Service) messageAccess(ctx context.Context, a Actor, messageID int64) (Message, Room, *Member, error) {
	if messageID <= 0 {
		return Message{}, Room{}, nil, errMessageNotFound
	}
	msg, err := s.store.Message(ctx, messageID)
	if err != nil {
		return Message{}, Room{}, nil, err
	}
	room, m, err := s.access(ctx, a, msg.RoomID)
	if err != nil {
		if e, ok := apperr.From(err); ok && e.Kind == apperr.KindNotFound {
			return Message{}, Room{}, nil, errMessageNotFound
		}
		return Message{}, Room{}, nil, err
	}
	return msg, room, m, nil
}

// EditMessage replaces a message's body; the author only.
func (s *Service) EditMessage(ctx context.Context, a Actor, messageID int64, body string) (Message, error) {
	msg, room, _, err := s.messageAccess(ctx, a, messageID)
	if err != nil {
		return Message{}, err
	}
	if msg.UserID != a.UserID {
		return Message{}, apperr.Forbidden("not_author", "only the author may edit a message")
	}
	if body, err = CleanBody(body); err != nil {
		return Message{}, err
	}
	if msg.Deleted {
		return Message{}, apperr.Conflict("message_deleted", "the message was deleted")
	}
	if room.Archived {
		return Message{}, errArchived
	}
	msg, err = s.store.EditMessage(ctx, messageID, body, s.at())
	if err != nil {
		return Message{}, err
	}
	s.publish(ctx, Event{Type: EventMessageUpdated, RoomID: msg.RoomID,
		Frame: MessageFrame{Type: EventMessageUpdated, Message: msg}})
	return msg, nil
}

// DeleteMessage tombstones a message: its author, the room owner or an
// admin. Deleting a tombstone again returns it unchanged.
func (s *Service) DeleteMessage(ctx context.Context, a Actor, messageID int64) (Message, error) {
	msg, _, m, err := s.messageAccess(ctx, a, messageID)
	if err != nil {
		return Message{}, err
	}
	if msg.UserID != a.UserID && !canModerate(a, m) {
		return Message{}, apperr.Forbidden("forbidden", "only the author, the room owner or an admin may delete a message")
	}
	if msg.Deleted {
		return msg, nil
	}
	msg, err = s.store.DeleteMessage(ctx, messageID)
	if err != nil {
		return Message{}, err
	}
	s.publish(ctx, Event{Type: EventMessageDeleted, RoomID: msg.RoomID,
		Frame: MessageDeletedFrame{Type: EventMessageDeleted, RoomID: msg.RoomID, MessageID: msg.ID, Seq: msg.Seq, Message: msg}})
	return msg, nil
}

// React adds or removes the actor's reaction; members only.
func (s *Service) React(ctx context.Context, a Actor, messageID int64, emoji string, add bool) (Message, error) {
	if err := ValidateEmoji(emoji); err != nil {
		return Message{}, err
	}
	msg, room, m, err := s.messageAccess(ctx, a, messageID)
	if err != nil {
		return Message{}, err
	}
	if m == nil {
		return Message{}, errNotMember
	}
	if msg.Deleted {
		return Message{}, apperr.Conflict("message_deleted", "the message was deleted")
	}
	if room.Archived {
		return Message{}, errArchived
	}
	var changed bool
	if add {
		changed, err = s.store.AddReaction(ctx, messageID, a.UserID, emoji, s.at())
	} else {
		changed, err = s.store.RemoveReaction(ctx, messageID, a.UserID, emoji)
	}
	if err != nil {
		return Message{}, err
	}
	if msg, err = s.store.Message(ctx, messageID); err != nil {
		return Message{}, err
	}
	if changed {
		s.publish(ctx, Event{Type: EventReaction, RoomID: msg.RoomID, Frame: ReactionFrame{Type: EventReaction,
			RoomID: msg.RoomID, MessageID: msg.ID, Seq: msg.Seq, UserID: a.UserID, Username: a.Username,
			Emoji: emoji, Added: add, Reactions: msg.Reactions}})
	}
	return msg, nil
}

// MarkRead moves the actor's read marker forward to seq (clamped to the
// room's last seq; it never moves backwards).
func (s *Service) MarkRead(ctx context.Context, a Actor, roomID, seq int64) (ReadState, error) {
	if seq < 0 {
		return ReadState{}, apperr.Validation("invalid_seq", "seq must not be negative")
	}
	_, m, err := s.access(ctx, a, roomID)
	if err != nil {
		return ReadState{}, err
	}
	if m == nil {
		return ReadState{}, errNotMember
	}
	st, err := s.store.MarkRead(ctx, roomID, a.UserID, seq)
	if err != nil {
		return ReadState{}, err
	}
	if st.LastReadSeq != m.LastReadSeq {
		s.publish(ctx, Event{Type: EventRead, Users: []int64{a.UserID},
			Frame: ReadFrame{Type: EventRead, RoomID: roomID, LastReadSeq: st.LastReadSeq, Unread: st.Unread}})
	}
	return st, nil
}

// Typing announces that the actor is typing; members only, and at most one
// event per TypingInterval (extra ones are dropped silently).
func (s *Service) Typing(ctx context.Context, a Actor, roomID int64) error {
	_, m, err := s.access(ctx, a, roomID)
	if err != nil {
		return err
	}
	if m == nil {
		return errNotMember
	}
	if ok, _ := s.typing.Allow(strconv.FormatInt(a.UserID, 10) + ":" + strconv.FormatInt(roomID, 10)); !ok {
		return nil
	}
	s.publish(ctx, Event{Type: EventTyping, RoomID: roomID, ExceptUser: a.UserID,
		Frame: TypingFrame{Type: EventTyping, RoomID: roomID, UserID: a.UserID, Username: a.Username}})
	return nil
}

// OnlineCursor is a position in a room's online list, ordered by
// (username, user_id).
type OnlineCursor = UserRef

// Online pages through the users with a live subscription to the room on
// any replica, in (username, user_id) order after the cursor (nil: from
// the first): the page, whether more follow, and how many are online.
func (s *Service) Online(ctx context.Context, a Actor, roomID int64, after *OnlineCursor, limit int) ([]UserRef, bool, int, error) {
	if _, _, err := s.access(ctx, a, roomID); err != nil {
		return nil, false, 0, err
	}
	if s.presence == nil {
		return []UserRef{}, false, 0, nil
	}
	users, more, count := s.presence.OnlinePage(roomID, after, limit)
	return users, more, count, nil
}

// OnlineAmong tells which of the given users are online in the room, and
// how many are online.
func (s *Service) OnlineAmong(ctx context.Context, a Actor, roomID int64, ids []int64) ([]UserRef, int, error) {
	if _, _, err := s.access(ctx, a, roomID); err != nil {
		return nil, 0, err
	}
	if s.presence == nil {
		return []UserRef{}, 0, nil
	}
	users, count := s.presence.OnlineAmong(roomID, ids)
	return users, count, nil
}

// Search finds messages in the rooms the actor can read, newest first.
func (s *Service) Search(ctx context.Context, a Actor, q string, roomID, beforeID int64, limit int) ([]SearchHit, *int64, error) {
	words, err := SearchWords(q)
	if err != nil {
		return nil, nil, err
	}
	if roomID != 0 {
		if _, _, err := s.access(ctx, a, roomID); err != nil {
			return nil, nil, err
		}
	}
	hits, err := s.store.Search(ctx, SearchFilter{UserID: a.UserID, Words: words, RoomID: roomID, BeforeID: beforeID, Limit: limit + 1})
	if err != nil {
		return nil, nil, err
	}
	hits, next := page(hits, limit, func(x SearchHit) int64 { return x.ID })
	return hits, next, nil
}

// Stats summarises a user's chat activity. Users chat-service never saw get
// zeros, not 404: it does not own the user list.
func (s *Service) Stats(ctx context.Context, userID int64) (Stats, error) {
	if userID <= 0 {
		return Stats{}, apperr.NotFound("user_not_found", "user not found")
	}
	return s.store.Stats(ctx, userID)
}

// page trims a list read with limit+1 rows to limit and returns the cursor
// of the next page (key of the last item kept), or nil when there is none.
func page[T any](items []T, limit int, key func(T) int64) ([]T, *int64) {
	if len(items) <= limit {
		return items, nil
	}
	items = items[:limit]
	next := key(items[limit-1])
	return items, &next
}
