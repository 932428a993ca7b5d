package hub

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
)

// presence tracks who is online in which room on every replica. This
// replica's own set is authoritative and immediate; other replicas announce
// theirs with join/leave deltas as they happen plus a full heartbeat every
// PresenceHeartbeat, and a replica not heard from for PresenceTTL is
// dropped, so a crashed replica's users go offline within the TTL.
type presence struct {
	h *Hub

	mu     sync.Mutex
	local  map[int64]map[int64]*localUser
	remote map[string]*replicaView
	dirty  map[int64]struct{}
	cache  map[int64][]byte
	outbox [][]byte

	kick  chan struct{}
	hbNow chan struct{}
}

type localUser struct {
	name string
	n    int // subscribed connections
}

type replicaView struct {
	seen  time.Time
	rooms map[int64]map[int64]string
}

// presenceMsg is what replicas tell each other on the presence subject.
type presenceMsg struct {
	Kind string         `json:"k"` // delta | hb | bye | sync
	Rep  string         `json:"rep"`
	Room int64          `json:"r,omitempty"`
	User int64          `json:"u,omitempty"`
	Name string         `json:"n,omitempty"`
	On   bool           `json:"on,omitempty"`
	Set  []presenceRoom `json:"set,omitempty"`
}

type presenceRoom struct {
	Room  int64          `json:"r"`
	Users []chat.UserRef `json:"u"`
}

func newPresence(h *Hub) *presence {
	return &presence{
		h: h, local: map[int64]map[int64]*localUser{}, remote: map[string]*replicaView{},
		dirty: map[int64]struct{}{}, cache: map[int64][]byte{},
		kick: make(chan struct{}, 1), hbNow: make(chan struct{}, 1),
	}
}

func (p *presence) markDirty(room int64) {
	p.dirty[room] = struct{}{}
	delete(p.cache, room)
}

// enqueue queues an announcement; run publishes it. Publishing from here
// could re-enter a broker that delivers synchronously, so it never happens
// under p.mu. p.mu must be held.
func (p *presence) enqueue(m presenceMsg) {
	m.Rep = p.h.o.ReplicaID
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	p.outbox = append(p.outbox, b)
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *presence) add(room, user int64, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	users := p.local[room]
	if users == nil {
		users = map[int64]*localUser{}
		p.local[room] = users
	}
	if lu := users[user]; lu != nil {
		lu.n++
		return
	}
	users[user] = &localUser{name: name, n: 1}
	p.markDirty(room)
	p.enqueue(presenceMsg{Kind: "delta", Room: room, User: user, Name: name, On: true})
}

func (p *presence) remove(room, user int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	users := p.local[room]
	lu := users[user]
	if lu == nil {
		return
	}
	if lu.n--; lu.n > 0 {
		return
	}
	delete(users, user)
	if len(users) == 0 {
		delete(p.local, room)
	}
	p.markDirty(room)
	p.enqueue(presenceMsg{Kind: "delta", Room: room, User: user})
}

// receive handles another replica's announcement (our own are ignored: the
// local set is already exact).
func (p *presence) receive(data []byte) {
	var m presenceMsg
	if err := json.Unmarshal(data, &m); err != nil || m.Rep == "" || m.Rep == p.h.o.ReplicaID {
		return
	}
	now := p.h.o.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch m.Kind {
	case "delta":
		v := p.remote[m.Rep]
		if v == nil {
			v = &replicaView{rooms: map[int64]map[int64]string{}}
			p.remote[m.Rep] = v
		}
		v.seen = now
		users := v.rooms[m.Room]
		if m.On {
			if users == nil {
				users = map[int64]string{}
				v.rooms[m.Room] = users
			}
			users[m.User] = m.Name
		} else if users != nil {
			delete(users, m.User)
			if len(users) == 0 {
				delete(v.rooms, m.Room)
			}
		}
		p.markDirty(m.Room)
	case "hb":
		nv := &replicaView{seen: now, rooms: make(map[int64]map[int64]string, len(m.Set))}
		for _, r := range m.Set {
			users := make(map[int64]string, len(r.Users))
			for _, u := range r.Users {
				users[u.UserID] = u.Username
			}
			nv.rooms[r.Room] = users
		}
		if old := p.remote[m.Rep]; old != nil {
			for room, users := range old.rooms {
				if !maps.Equal(users, nv.rooms[room]) {
					p.markDirty(room)
				}
			}
			for room := range nv.rooms {
				if _, ok := old.rooms[room]; !ok {
					p.markDirty(room)
				}
			}
		} else {
			for room := range nv.rooms {
				p.markDirty(room)
			}
		}
		p.remote[m.Rep] = nv
	case "bye":
		if old := p.remote[m.Rep]; old != nil {
			for room := range old.rooms {
				p.markDirty(room)
			}
			delete(p.remote, m.Rep)
		}
	case "sync":
		// A replica started: tell it who is here without waiting a period.
		select {
		case p.hbNow <- struct{}{}:
		default:
		}
	}
}

func (p *presence) heartbeatLocked() presenceMsg {
	m := presenceMsg{Kind: "hb", Set: make([]presenceRoom, 0, len(p.local))}
	for room, users := range p.local {
		r := presenceRoom{Room: room, Users: make([]chat.UserRef, 0, len(users))}
		for id, lu := range users {
			r.Users = append(r.Users, chat.UserRef{UserID: id, Username: lu.name})
		}
		m.Set = append(m.Set, r)
	}
	return m
}

// sweep drops replicas whose heartbeat is overdue.
func (p *presence) sweep() {
	now := p.h.o.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for rep, v := range p.remote {
		if now.Sub(v.seen) > p.h.o.PresenceTTL {
			for room := range v.rooms {
				p.markDirty(room)
			}
			delete(p.remote, rep)
		}
	}
}

// onlineLocked is the union of every replica's users in room, by name.
func (p *presence) onlineLocked(room int64) []chat.UserRef {
	now := p.h.o.Now()
	seen := map[int64]string{}
	for id, lu := range p.local[room] {
		seen[id] = lu.name
	}
	for _, v := range p.remote {
		if now.Sub(v.seen) > p.h.o.PresenceTTL {
			continue
		}
		for id, name := range v.rooms[room] {
			if _, ok := seen[id]; !ok {
				seen[id] = name
			}
		}
	}
	out := make([]chat.UserRef, 0, len(seen))
	for id, name := range seen {
		out = append(out, chat.UserRef{UserID: id, Username: name})
	}
	slices.SortFunc(out, func(a, b chat.UserRef) int {
		if c := strings.Compare(a.Username, b.Username); c != 0 {
			return c
		}
		return int(a.UserID - b.UserID)
	})
	return out
}

func (p *presence) online(room int64) []chat.UserRef {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.onlineLocked(room)
}

// frame is the encoded presence event of a room, cached until it changes.
func (p *presence) frame(room int64) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f := p.cache[room]; f != nil {
		return f
	}
	f, err := JSONFrame(chat.PresenceFrame{Type: chat.EventPresence, RoomID: room, Online: p.onlineLocked(room)})
	if err != nil {
		return nil
	}
	p.cache[room] = f
	return f
}

// flush sends one presence event per changed room to its subscribers here.
func (p *presence) flush() {
	p.mu.Lock()
	if len(p.dirty) == 0 {
		p.mu.Unlock()
		return
	}
	rooms := slices.Collect(maps.Keys(p.dirty))
	clear(p.dirty)
	p.mu.Unlock()
	for _, room := range rooms {
		if !p.h.hasSubscribers(room) {
			continue
		}
		if f := p.frame(room); f != nil {
			p.h.deliverLocal(room, f)
		}
	}
}

func (p *presence) publishOutbox() {
	p.mu.Lock()
	out := p.outbox
	p.outbox = nil
	p.mu.Unlock()
	for _, b := range out {
		if err := p.h.o.Broker.Publish(context.Background(), subjectPresence, b); err != nil {
			p.h.o.Logger.Warn("publish presence", "error", err)
		}
	}
}

func (p *presence) run(ctx context.Context) {
	p.mu.Lock()
	p.enqueue(presenceMsg{Kind: "sync"})
	p.enqueue(p.heartbeatLocked())
	p.mu.Unlock()
	hb := time.NewTicker(p.h.o.PresenceHeartbeat)
	defer hb.Stop()
	sweep := time.NewTicker(min(time.Second, p.h.o.PresenceTTL/4))
	defer sweep.Stop()
	flush := time.NewTicker(p.h.o.PresenceFlush)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			p.mu.Lock()
			p.enqueue(presenceMsg{Kind: "bye"})
			p.mu.Unlock()
			p.publishOutbox()
			return
		case <-p.kick:
			p.publishOutbox()
		case <-p.hbNow:
			p.mu.Lock()
			p.enqueue(p.heartbeatLocked())
			p.mu.Unlock()
		case <-hb.C:
			p.mu.Lock()
			p.enqueue(p.heartbeatLocked())
			p.mu.Unlock()
		case <-sweep.C:
			p.sweep()
		case <-flush.C:
			p.flush()
		}
	}
}
