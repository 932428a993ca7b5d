package hub

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/google/btree"

	"github.com/parleychat/parley/chat-service/internal/chat"
)

// PresenceListMax is the most users one presence frame lists, and the
// online count above which a room is big (DESIGN.md §14): a big room's
// subscribers get only its count, at most every PresenceBigInterval, and
// its typing events are not fanned out.
const PresenceListMax = 200

// Sizes of what replicas send each other: a delta message carries at most
// presenceDeltaBatch changes, a set answer presenceSetChunk pairs per
// message, so no broker message grows with the number of online users.
const (
	presenceDeltaBatch = 500
	presenceSetChunk   = 1000
)

// presence tracks who is online in which room on every replica and tells
// subscribers about changes.
//
// Between replicas: this replica's own set is authoritative and immediate.
// Every change to it goes to the others as a numbered delta; every
// PresenceHeartbeat it publishes a constant-size digest (its last delta's
// seq, its number of (room, user) pairs and an XOR of per-pair hashes). A
// receiver that sees a seq gap or a digest unlike its view of the sender
// asks that sender alone for its full set (a resync), sent in bounded
// chunks. A starting replica asks everyone for their sets once. A replica
// not heard from for PresenceTTL is dropped, so a crashed replica's users
// go offline within the TTL.
//
// To clients: the union over replicas is kept per room as live users with
// a reference count (the replicas listing them), so a room's count is a
// map length. Every PresenceFlush the changed users of each room are
// compared with what subscribers were last told (the published set, kept
// sorted in a B-tree for snapshots and paging) and one frame per room is
// encoded once and queued to each subscriber: a presence_delta for rooms
// of at most PresenceListMax, a count-only presence for bigger ones. A new
// subscriber's snapshot is likewise the full list or, past
// PresenceListMax, the count-only frame.
type presence struct {
	h *Hub

	// fanMu orders a flush's fan-out against a subscriber's snapshot, so
	// a snapshot is never older than a delta its subscriber already got.
	fanMu sync.Mutex

	mu sync.Mutex
	// local: this replica's sockets, with its pair count and digest hash.
	local     map[int64]map[int64]*localUser
	localN    int
	localHash uint64
	seq       uint64 // of the last delta message sealed
	pending   []presenceChange
	outbox    [][]byte
	answer    map[string]struct{} // replicas waiting for our whole set

	remote map[string]*replicaView
	rooms  map[int64]*roomPresence
	dirty  map[int64]struct{}

	kick chan struct{}
	// dropIn, when set (tests), discards incoming messages it returns true
	// for, as a lossy broker would.
	dropIn func(presenceMsg) bool
}

type localUser struct {
	name string
	n    int // subscribed connections
}

type pairKey struct{ room, user int64 }

// replicaView is what this replica knows of another one's set.
type replicaView struct {
	seen time.Time
	// conns is the replica's socket count from its last heartbeat, taken
	// at connsAt (zero: it sent none).
	conns   int
	connsAt time.Time

	seq   uint64
	pairs map[pairKey]string
	hash  uint64
	// asked is when a resync was last requested (zero: none pending).
	asked time.Time
	// stage collects a set answer's chunks until the last one.
	stage     map[pairKey]string
	stageSeq  uint64
	stageNext int
}

// roomPresence is one room's merged view.
type roomPresence struct {
	live    map[int64]*liveUser
	changed map[int64]struct{}
	// pub is what subscribers were last told, sorted by (username, id).
	pub     *btree.BTreeG[chat.UserRef]
	pubName map[int64]string
	// big: the published count is over PresenceListMax; bigCount and
	// bigAt are the count frame last sent and when.
	big      bool
	bigCount int
	bigAt    time.Time
	snap     []byte // cached snapshot frame of pub
}

type liveUser struct {
	name string
	refs int
}

// presenceMsg is what replicas tell each other on the presence subject.
type presenceMsg struct {
	Kind string           `json:"k"` // d (delta) | hb (digest) | set | sync | rs (resync request) | bye
	Rep  string           `json:"rep"`
	To   string           `json:"to,omitempty"` // set, rs: the one replica meant
	Seq  uint64           `json:"s,omitempty"`
	N    int              `json:"n,omitempty"` // hb: pairs
	Hash uint64           `json:"h,omitempty"` // hb: XOR of pairHash over the set
	Part int              `json:"p,omitempty"` // set: chunk index
	Last bool             `json:"l,omitempty"` // set: final chunk
	Ch   []presenceChange `json:"c,omitempty"` // d: changes; set: pairs
	// Conns (hb) is the sender's open WebSockets, for rebalancing; absent
	// from a replica that predates it.
	Conns *int `json:"w,omitempty"`
}

type presenceChange struct {
	Room int64  `json:"r"`
	User int64  `json:"u"`
	Name string `json:"n,omitempty"`
	On   bool   `json:"on,omitempty"`
}

func lessUser(a, b chat.UserRef) bool { return cmpUser(a, b) < 0 }

func cmpUser(a, b chat.UserRef) int {
	if c := strings.Compare(a.Username, b.Username); c != 0 {
		return c
	}
	return cmp.Compare(a.UserID, b.UserID)
}

// pairHash is one (room, user, name) entry's share of a digest.
func pairHash(room, user int64, name string) uint64 {
	b := make([]byte, 16, 16+len(name))
	binary.LittleEndian.PutUint64(b, uint64(room))
	binary.LittleEndian.PutUint64(b[8:], uint64(user))
	return xxhash.Sum64(append(b, name...))
}

func newPresence(h *Hub) *presence {
	return &presence{
		h: h, local: map[int64]map[int64]*localUser{}, answer: map[string]struct{}{},
		remote: map[string]*replicaView{}, rooms: map[int64]*roomPresence{}, dirty: map[int64]struct{}{},
		kick: make(chan struct{}, 1),
	}
}

func (p *presence) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *presence) room(id int64) *roomPresence {
	rp := p.rooms[id]
	if rp == nil {
		rp = &roomPresence{live: map[int64]*liveUser{}, changed: map[int64]struct{}{},
			pub: btree.NewG(16, lessUser), pubName: map[int64]string{}}
		p.rooms[id] = rp
	}
	return rp
}

// addRef notes one more replica listing user in room. p.mu must be held.
func (p *presence) addRef(room, user int64, name string) {
	rp := p.room(room)
	lu := rp.live[user]
	if lu == nil {
		rp.live[user] = &liveUser{name: name, refs: 1}
	} else {
		lu.refs++
		if lu.name == name {
			return
		}
		lu.name = name
	}
	rp.changed[user] = struct{}{}
	p.dirty[room] = struct{}{}
}

// dropRef notes one replica fewer listing user in room. p.mu must be held.
func (p *presence) dropRef(room, user int64) {
	rp := p.rooms[room]
	if rp == nil {
		return
	}
	lu := rp.live[user]
	if lu == nil {
		return
	}
	if lu.refs--; lu.refs > 0 {
		return
	}
	delete(rp.live, user)
	rp.changed[user] = struct{}{}
	p.dirty[room] = struct{}{}
}

// enqueue queues a control message; run publishes it. Publishing from here
// could re-enter a broker that delivers synchronously, so it never happens
// under p.mu. Pending deltas are sealed first, so m follows them. p.mu
// must be held.
func (p *presence) enqueue(m presenceMsg) {
	p.sealLocked()
	m.Rep = p.h.o.ReplicaID
	if b, err := json.Marshal(m); err == nil {
		p.outbox = append(p.outbox, b)
	}
	p.wake()
}

// sealLocked numbers the pending local changes into delta messages.
func (p *presence) sealLocked() {
	for len(p.pending) > 0 {
		n := min(len(p.pending), presenceDeltaBatch)
		p.seq++
		if b, err := json.Marshal(presenceMsg{Kind: "d", Rep: p.h.o.ReplicaID, Seq: p.seq, Ch: p.pending[:n]}); err == nil {
			p.outbox = append(p.outbox, b)
		}
		p.pending = p.pending[n:]
	}
	p.pending = nil
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
	p.localN++
	p.localHash ^= pairHash(room, user, name)
	p.addRef(room, user, name)
	p.pending = append(p.pending, presenceChange{Room: room, User: user, Name: name, On: true})
	p.wake()
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
	p.localN--
	p.localHash ^= pairHash(room, user, lu.name)
	p.dropRef(room, user)
	p.pending = append(p.pending, presenceChange{Room: room, User: user})
	p.wake()
}

// view is this replica's view of rep, created empty at seq 0.
func (p *presence) view(rep string) *replicaView {
	v := p.remote[rep]
	if v == nil {
		v = &replicaView{pairs: map[pairKey]string{}}
		p.remote[rep] = v
	}
	return v
}

// setPair records rep listing (room, user) as name, or not listing it
// (on false). p.mu must be held.
func (p *presence) setPair(v *replicaView, k pairKey, name string, on bool) {
	old, had := v.pairs[k]
	if on && had && old == name {
		return
	}
	if had {
		v.hash ^= pairHash(k.room, k.user, old)
		delete(v.pairs, k)
	}
	if on {
		v.pairs[k] = name
		v.hash ^= pairHash(k.room, k.user, name)
		p.addRef(k.room, k.user, name)
	}
	if had {
		p.dropRef(k.room, k.user)
	}
}

// askLocked requests rep's whole set, at most once per heartbeat period
// while an answer is outstanding.
func (p *presence) askLocked(rep string, v *replicaView, now time.Time) {
	if !v.asked.IsZero() && now.Sub(v.asked) < p.h.o.PresenceHeartbeat {
		return
	}
	v.asked = now
	v.stage = nil
	p.enqueue(presenceMsg{Kind: "rs", To: rep})
}

// receive handles another replica's announcement (our own are ignored: the
// local set is already exact).
func (p *presence) receive(data []byte) {
	var m presenceMsg
	if err := json.Unmarshal(data, &m); err != nil || m.Rep == "" || m.Rep == p.h.o.ReplicaID {
		return
	}
	me := p.h.o.ReplicaID
	now := p.h.o.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dropIn != nil && p.dropIn(m) {
		return
	}
	switch m.Kind {
	case "d":
		v := p.view(m.Rep)
		v.seen = now
		if m.Seq <= v.seq {
			return // already applied (a resync covered it)
		}
		if m.Seq != v.seq+1 || v.stage != nil {
			p.askLocked(m.Rep, v, now)
		}
		for _, c := range m.Ch {
			p.setPair(v, pairKey{c.Room, c.User}, c.Name, c.On)
		}
		v.seq = m.Seq
	case "hb":
		v := p.view(m.Rep)
		v.seen = now
		if m.Conns != nil {
			v.conns, v.connsAt = *m.Conns, now
		}
		if v.stage != nil {
			return // a resync is arriving
		}
		if m.Seq != v.seq || m.N != len(v.pairs) || m.Hash != v.hash {
			p.askLocked(m.Rep, v, now)
		}
	case "set":
		if m.To != me {
			return
		}
		v := p.view(m.Rep)
		v.seen = now
		if m.Part == 0 {
			v.stage, v.stageSeq, v.stageNext = map[pairKey]string{}, m.Seq, 0
		}
		if v.stage == nil || m.Part != v.stageNext || m.Seq != v.stageSeq {
			v.asked = time.Time{}
			p.askLocked(m.Rep, v, now)
			return
		}
		for _, c := range m.Ch {
			v.stage[pairKey{c.Room, c.User}] = c.Name
		}
		v.stageNext++
		if m.Last {
			next := v.stage
			v.stage, v.asked = nil, time.Time{}
			for k := range v.pairs {
				if _, ok := next[k]; !ok {
					p.setPair(v, k, "", false)
				}
			}
			for k, name := range next {
				p.setPair(v, k, name, true)
			}
			v.seq = m.Seq
		}
	case "sync":
		// A replica started: send it our set without waiting.
		p.answer[m.Rep] = struct{}{}
		p.wake()
	case "rs":
		if m.To == me {
			p.answer[m.Rep] = struct{}{}
			p.wake()
		}
	case "bye":
		p.dropViewLocked(m.Rep)
	}
}

func (p *presence) dropViewLocked(rep string) {
	v := p.remote[rep]
	if v == nil {
		return
	}
	for k := range v.pairs {
		p.dropRef(k.room, k.user)
	}
	delete(p.remote, rep)
}

// answerLocked queues this replica's whole set, in chunks, for rep.
func (p *presence) answerLocked(rep string) {
	p.sealLocked()
	part := 0
	chunk := make([]presenceChange, 0, min(p.localN, presenceSetChunk))
	send := func(last bool) {
		b, err := json.Marshal(presenceMsg{Kind: "set", Rep: p.h.o.ReplicaID, To: rep, Seq: p.seq, Part: part, Last: last, Ch: chunk})
		if err == nil {
			p.outbox = append(p.outbox, b)
		}
		part++
		chunk = chunk[:0]
	}
	for room, users := range p.local {
		for id, lu := range users {
			if len(chunk) == presenceSetChunk {
				send(false)
			}
			chunk = append(chunk, presenceChange{Room: room, User: id, Name: lu.name})
		}
	}
	send(true)
}

// sweep drops replicas not heard from for PresenceTTL.
func (p *presence) sweep() {
	now := p.h.o.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for rep, v := range p.remote {
		if now.Sub(v.seen) > p.h.o.PresenceTTL {
			p.dropViewLocked(rep)
		}
	}
}

// count is the number of users online in room now, across replicas.
func (p *presence) count(room int64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rp := p.rooms[room]; rp != nil {
		return len(rp.live)
	}
	return 0
}

// page lists up to limit published users of room after the given one
// (nil: from the start) in (username, user_id) order, whether more
// follow, and the published count.
func (p *presence) page(room int64, after *chat.UserRef, limit int) ([]chat.UserRef, bool, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []chat.UserRef{}
	rp := p.rooms[room]
	if rp == nil {
		return out, false, 0
	}
	more := false
	visit := func(u chat.UserRef) bool {
		if after != nil && cmpUser(u, *after) <= 0 {
			return true
		}
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, u)
		return true
	}
	if after != nil {
		rp.pub.AscendGreaterOrEqual(*after, visit)
	} else {
		rp.pub.Ascend(visit)
	}
	return out, more, len(rp.pubName)
}

// among returns which of ids are published as online in room, and the
// published count.
func (p *presence) among(room int64, ids []int64) ([]chat.UserRef, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []chat.UserRef{}
	rp := p.rooms[room]
	if rp == nil {
		return out, 0
	}
	seen := map[int64]bool{}
	for _, id := range ids {
		if name, ok := rp.pubName[id]; ok && !seen[id] {
			seen[id] = true
			out = append(out, chat.UserRef{UserID: id, Username: name})
		}
	}
	slices.SortFunc(out, cmpUser)
	return out, len(rp.pubName)
}

// snapshotLocked is the cached snapshot frame of room's published set: its
// users when there are at most PresenceListMax, else the count-only frame
// big rooms get. A list of the alphabetically first 200 of a big room is
// of little use (the SPA asks ?user_ids= for the rows it shows) and would
// cost every subscriber of a reconnect storm about 9 KB.
func (p *presence) snapshotLocked(room int64) []byte {
	rp := p.rooms[room]
	if rp == nil {
		f, _ := JSONFrame(chat.PresenceFrame{Type: chat.EventPresence, RoomID: room, Online: []chat.UserRef{}})
		return f
	}
	if rp.snap != nil {
		return rp.snap
	}
	var f []byte
	var err error
	if count := len(rp.pubName); count > PresenceListMax {
		f, err = JSONFrame(chat.PresenceCountFrame{Type: chat.EventPresence, RoomID: room, Count: count})
	} else {
		online := make([]chat.UserRef, 0, count)
		rp.pub.Ascend(func(u chat.UserRef) bool {
			online = append(online, u)
			return true
		})
		f, err = JSONFrame(chat.PresenceFrame{Type: chat.EventPresence, RoomID: room, Online: online, Count: count})
	}
	if err != nil {
		return nil
	}
	rp.snap = f
	return f
}

// sendSnapshot queues room's snapshot to c, a new subscriber.
func (p *presence) sendSnapshot(c *Conn, room int64) {
	p.fanMu.Lock()
	defer p.fanMu.Unlock()
	p.mu.Lock()
	f := p.snapshotLocked(room)
	p.mu.Unlock()
	if f != nil {
		c.Push(f)
	}
}

// publishLocked folds rp's changed users into its published set and
// returns the frame to send its subscribers, if any.
func (p *presence) publishLocked(room int64, rp *roomPresence, now time.Time) []byte {
	var joined, left []chat.UserRef
	for id := range rp.changed {
		lu := rp.live[id]
		old, was := rp.pubName[id]
		switch {
		case lu != nil && (!was || old != lu.name):
			if was {
				rp.pub.Delete(chat.UserRef{UserID: id, Username: old})
			}
			u := chat.UserRef{UserID: id, Username: lu.name}
			rp.pub.ReplaceOrInsert(u)
			rp.pubName[id] = lu.name
			joined = append(joined, u)
		case lu == nil && was:
			rp.pub.Delete(chat.UserRef{UserID: id, Username: old})
			delete(rp.pubName, id)
			left = append(left, chat.UserRef{UserID: id, Username: old})
		}
	}
	clear(rp.changed)
	if len(joined)+len(left) > 0 {
		rp.snap = nil
	}
	count := len(rp.pubName)
	wasBig, isBig := rp.big, count > PresenceListMax
	rp.big = isBig
	countFrame := func() []byte {
		rp.bigCount, rp.bigAt = count, now
		f, _ := JSONFrame(chat.PresenceCountFrame{Type: chat.EventPresence, RoomID: room, Count: count})
		return f
	}
	switch {
	case isBig && !wasBig:
		return countFrame()
	case isBig:
		if count == rp.bigCount {
			return nil
		}
		if now.Sub(rp.bigAt) < p.h.o.PresenceBigInterval {
			p.dirty[room] = struct{}{} // look again at a later flush
			return nil
		}
		return countFrame()
	case wasBig:
		return p.snapshotLocked(room)
	case len(joined)+len(left) == 0:
		return nil
	case len(joined) > PresenceListMax || len(left) > PresenceListMax:
		return p.snapshotLocked(room)
	}
	slices.SortFunc(joined, cmpUser)
	slices.SortFunc(left, cmpUser)
	f, _ := JSONFrame(chat.PresenceDeltaFrame{Type: chat.EventPresenceDelta, RoomID: room,
		Joined: append([]chat.UserRef{}, joined...), Left: append([]chat.UserRef{}, left...), Count: count})
	return f
}

// flush publishes every changed room and sends its frame, encoded once, to
// its subscribers here.
func (p *presence) flush() {
	p.fanMu.Lock()
	defer p.fanMu.Unlock()
	now := p.h.o.Now()
	type out struct {
		room  int64
		frame []byte
	}
	var outs []out
	p.mu.Lock()
	rooms := slices.Collect(maps.Keys(p.dirty))
	clear(p.dirty)
	for _, room := range rooms {
		rp := p.rooms[room]
		if rp == nil {
			continue
		}
		if f := p.publishLocked(room, rp, now); f != nil {
			outs = append(outs, out{room, f})
		}
		if _, again := p.dirty[room]; !again && len(rp.live) == 0 && len(rp.pubName) == 0 {
			delete(p.rooms, room)
		}
	}
	p.mu.Unlock()
	for _, o := range outs {
		p.h.deliverLocal(o.room, o.frame)
	}
}

func (p *presence) publishOutbox() {
	p.mu.Lock()
	for rep := range p.answer {
		p.answerLocked(rep)
	}
	clear(p.answer)
	p.sealLocked()
	out := p.outbox
	p.outbox = nil
	p.mu.Unlock()
	for _, b := range out {
		if err := p.h.o.Broker.Publish(context.Background(), subjectPresence, b); err != nil {
			p.h.o.Logger.Warn("publish presence", "error", err)
		}
	}
}

// digestLocked is this replica's heartbeat: constant size whatever its set,
// with its socket count (taken before p.mu: the hub's lock is never taken
// under the presence lock).
// A negative count (a replica shutting down) is sent as none, so peers
// stop rebalancing until it is gone rather than move sockets towards it.
func (p *presence) digestLocked(conns int) presenceMsg {
	p.sealLocked()
	m := presenceMsg{Kind: "hb", Seq: p.seq, N: p.localN, Hash: p.localHash}
	if conns >= 0 {
		m.Conns = &conns
	}
	return m
}

// draining tells the peers at once that this replica's socket count no
// longer counts: it is closing them all.
func (p *presence) draining() {
	p.mu.Lock()
	p.enqueue(p.digestLocked(-1))
	p.mu.Unlock()
	p.wake()
}

// peerConns returns the socket counts of the live replicas that announced
// one, and whether every live replica announced one after since (a
// replica that sends no count makes the picture incomplete).
func (p *presence) peerConns(since time.Time) (counts []int, fresh bool) {
	now := p.h.o.Now()
	fresh = true
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, v := range p.remote {
		if now.Sub(v.seen) > p.h.o.PresenceTTL {
			continue
		}
		if v.connsAt.IsZero() {
			fresh = false
			continue
		}
		if !v.connsAt.After(since) {
			fresh = false
		}
		counts = append(counts, v.conns)
	}
	return counts, fresh
}

func (p *presence) run(ctx context.Context) {
	conns := p.h.peerCount()
	p.mu.Lock()
	p.enqueue(presenceMsg{Kind: "sync"})
	p.enqueue(p.digestLocked(conns))
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
		case <-hb.C:
			conns := p.h.peerCount()
			p.mu.Lock()
			p.enqueue(p.digestLocked(conns))
			p.mu.Unlock()
		case <-sweep.C:
			p.sweep()
		case <-flush.C:
			p.flush()
		}
	}
}
