package chat

import (
	"context"
	"sync"
	"time"

	"github.com/parleychat/parley/platform/apperr"
)

// AdminRoom is a public or private room as the admin page lists it.
type AdminRoom struct {
	Room
	MemberCount int64 `json:"member_count"`
	// MessageCount is every message ever posted in the room, tombstones
	// included: its last seq, since seqs are gap-free and messages are
	// never removed but with their room.
	MessageCount int64 `json:"message_count"`
	// LastMessageAt is when the newest message was posted (nil when none).
	LastMessageAt *time.Time `json:"last_message_at"`
}

// DayCount is a count for one UTC day ("YYYY-MM-DD").
type DayCount struct {
	Day   string `json:"day"`
	Count int64  `json:"count"`
}

// Usage is the admin page's activity summary. Active users are those who
// sent a message or opened an authenticated WebSocket since 00:00 UTC.
type Usage struct {
	Day           string `json:"day"` // today, UTC
	ActiveToday   int64  `json:"active_today"`
	MessagesToday int64  `json:"messages_today"`
	// MessagesPerDay is the last UsageDays UTC days, oldest first, today
	// last, days without messages as 0. Messages of deleted rooms are
	// gone from it; a deleted message's tombstone still counts.
	MessagesPerDay []DayCount `json:"messages_per_day"`
}

// UsageDays is how many days Usage.MessagesPerDay covers, today included.
const UsageDays = 30

// activeRetention is how long daily_active keeps a day.
const activeRetention = 90 * 24 * time.Hour

const dayLayout = "2006-01-02"

var errAdminOnly = apperr.Forbidden("forbidden", "this endpoint is for administrators")

// RequireAdmin is 403 forbidden for anyone but an admin. The admin
// methods check it themselves; transports check it first too, so that a
// non-admin learns nothing from how a request's body is judged.
func RequireAdmin(a Actor) error {
	if !a.Admin {
		return errAdminOnly
	}
	return nil
}

// adminRoom loads a room for an admin action: any public or private room,
// members or not. DMs and group DMs are not the admin's to see (404).
func (s *Service) adminRoom(ctx context.Context, a Actor, roomID int64) (Room, error) {
	if err := RequireAdmin(a); err != nil {
		return Room{}, err
	}
	if roomID <= 0 {
		return Room{}, errRoomNotFound
	}
	room, err := s.store.Room(ctx, roomID)
	if err != nil {
		return Room{}, err
	}
	if IsDirect(room.Kind) {
		return Room{}, errRoomNotFound
	}
	return room, nil
}

// AdminRooms pages through every public and private room by id; admins only.
func (s *Service) AdminRooms(ctx context.Context, a Actor, afterID int64, limit int) ([]AdminRoom, *int64, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, nil, err
	}
	rooms, err := s.store.AdminRooms(ctx, afterID, limit+1)
	if err != nil {
		return nil, nil, err
	}
	rooms, next := page(rooms, limit, func(x AdminRoom) int64 { return x.ID })
	return rooms, next, nil
}

// AdminArchive archives or unarchives any public or private room; admins
// only, members or not. The room's sockets get the room_updated frame an
// owner's change sends. Setting the state it has changes nothing.
func (s *Service) AdminArchive(ctx context.Context, a Actor, roomID int64, archived bool) (AdminRoom, error) {
	room, err := s.adminRoom(ctx, a, roomID)
	if err != nil {
		return AdminRoom{}, err
	}
	if room.Archived != archived {
		if _, err := s.patchRoom(ctx, room, RoomPatch{Archived: &archived}); err != nil {
			return AdminRoom{}, err
		}
	}
	return s.store.AdminRoom(ctx, roomID)
}

// AdminDelete deletes any public or private room with its members,
// messages and reactions, as an owner's delete does; admins only. The
// default room cannot be deleted (409 default_room).
func (s *Service) AdminDelete(ctx context.Context, a Actor, roomID int64) error {
	room, err := s.adminRoom(ctx, a, roomID)
	if err != nil {
		return err
	}
	return s.removeRoom(ctx, room)
}

// Usage is today's activity and the messages of the last UsageDays days;
// admins only.
func (s *Service) Usage(ctx context.Context, a Actor) (Usage, error) {
	if err := RequireAdmin(a); err != nil {
		return Usage{}, err
	}
	now := s.now().UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	since := midnight.AddDate(0, 0, -(UsageDays - 1))
	today := midnight.Format(dayLayout)
	active, err := s.store.ActiveUsers(ctx, today)
	if err != nil {
		return Usage{}, err
	}
	counts, err := s.store.MessagesPerDay(ctx, since)
	if err != nil {
		return Usage{}, err
	}
	byDay := make(map[string]int64, len(counts))
	for _, c := range counts {
		byDay[c.Day] = c.Count
	}
	u := Usage{Day: today, ActiveToday: active, MessagesPerDay: make([]DayCount, UsageDays)}
	for i := range UsageDays {
		d := since.AddDate(0, 0, i).Format(dayLayout)
		u.MessagesPerDay[i] = DayCount{Day: d, Count: byDay[d]}
	}
	u.MessagesToday = u.MessagesPerDay[UsageDays-1].Count
	return u, nil
}

// activity records who is active each UTC day (daily_active), off the
// request's path: MarkActive remembers whom this replica has written
// today, so a user costs one write a day per replica, and queues the rest
// for one writer goroutine, which stores everything queued in one
// transaction and runs only while something is queued.
type activity struct {
	mu      sync.Mutex
	day     string
	written map[int64]bool // today's users, queued or written
	queue   []int64
	prune   bool // the day changed: prune old days with the next write
	running bool
	idle    *sync.Cond // signalled when the writer stops
}

// MarkActive notes that the user is active today (the first message sent
// or WebSocket opened of a day counts; the rest cost a map lookup).
func (s *Service) MarkActive(userID int64) {
	day := s.now().UTC().Format(dayLayout)
	ac := &s.active
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if ac.day != day {
		ac.day, ac.written, ac.queue, ac.prune = day, map[int64]bool{}, nil, true
	}
	if ac.written[userID] {
		return
	}
	ac.written[userID] = true
	ac.queue = append(ac.queue, userID)
	if !ac.running {
		ac.running = true
		go s.writeActivity()
	}
}

// writeActivity stores the queued users until the queue is empty. A failed
// write is logged and its users forgotten, so their next activity tries
// again.
func (s *Service) writeActivity() {
	ac := &s.active
	for {
		ac.mu.Lock()
		day, users, prune := ac.day, ac.queue, ac.prune
		ac.queue, ac.prune = nil, false
		if len(users) == 0 && !prune {
			ac.running = false
			if ac.idle != nil {
				ac.idle.Broadcast()
			}
			ac.mu.Unlock()
			return
		}
		ac.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if prune {
			t, _ := time.Parse(dayLayout, day)
			if err := s.store.PruneActive(ctx, t.Add(-activeRetention).Format(dayLayout)); err != nil {
				s.log.Warn("prune daily activity", "error", err)
			}
		}
		if len(users) > 0 {
			if err := s.store.RecordActive(ctx, day, users); err != nil {
				s.log.Warn("record daily activity", "day", day, "users", len(users), "error", err)
				ac.mu.Lock()
				if ac.day == day {
					for _, u := range users {
						delete(ac.written, u)
					}
				}
				ac.mu.Unlock()
			}
		}
		cancel()
	}
}

// Close waits until the activity writer has stored what was queued (or ctx
// ends): the service's last write before the database closes.
func (s *Service) Close(ctx context.Context) error {
	ac := &s.active
	done := make(chan struct{})
	go func() {
		ac.mu.Lock()
		if ac.idle == nil {
			ac.idle = sync.NewCond(&ac.mu)
		}
		for ac.running {
			ac.idle.Wait()
		}
		ac.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
