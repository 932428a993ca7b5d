// Package hub keeps chat-service's WebSocket connections, their room
// subscriptions and presence, and fans events out. Every committed event is
// published to the broker, and every replica — this one included — delivers
// what the broker hands it through the same path (the centrifuge model), so
// local delivery is never a special case.
package hub

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/broker"
)

// Broker subjects.
const (
	subjectPrefix   = "parley.chat."
	subjectRoom     = subjectPrefix + "room."
	subjectUser     = subjectPrefix + "user"
	subjectPresence = subjectPrefix + "presence"
)

// Options configures a Hub; zero fields get defaults.
type Options struct {
	Broker    broker.Broker
	Logger    *slog.Logger
	ReplicaID string
	Registry  *prometheus.Registry
	Now       func() time.Time

	// QueueSize bounds each connection's outgoing queue (frames); QueueBytes
	// bounds its size.
	QueueSize  int
	QueueBytes int
	// ReplayBuffer bounds the live events held while a subscription replays.
	ReplayBuffer int
	// MaxSubscriptions bounds the rooms one connection may subscribe to.
	MaxSubscriptions int
	WriteWait        time.Duration
	PingPeriod       time.Duration
	// CloseGrace is how long a closing connection waits for the peer's
	// close reply.
	CloseGrace time.Duration

	// PresenceHeartbeat is how often the replica announces its whole online
	// set; PresenceTTL is how long another replica's set lives without one.
	PresenceHeartbeat time.Duration
	PresenceTTL       time.Duration
	// PresenceFlush batches presence changes into one event per room.
	PresenceFlush time.Duration
	// PresenceBigInterval is the least time between two count frames of a
	// room with more than PresenceListMax online.
	PresenceBigInterval time.Duration
	// WriteDelay is the write-coalescing window. A room broadcast to a
	// connection that wrote within the last WriteDelay is held until the
	// hub's next flush (at most WriteDelay later), so under heavy fan-out
	// one write carries several frames: fewer system calls and wakeups per
	// delivery. A connection that has been quiet for WriteDelay is written
	// at once, so light traffic pays no delay. Zero (or negative) always
	// writes at once.
	WriteDelay time.Duration
	// MaxReplay caps the messages one subscribe replays (default 1000):
	// a client further behind gets the oldest missed ones, then
	// subscribed {"more": true}, and pages the rest over HTTP, so one
	// reconnect cannot pin a replica streaming a room's whole history.
	MaxReplay int
	// MaxConnsPerUser caps one user's sockets on this replica (default
	// 20): a script opening thousands cannot exhaust the replica's memory.
	MaxConnsPerUser int

	// RebalanceOff disables rebalancing (rebalance.go): this replica then
	// never asks its sockets to move. Every RebalanceInterval a replica
	// holding more than (1+RebalanceSlack) × the live replicas' mean and
	// more than RebalanceMin sockets closes at most RebalanceShare of its
	// sockets with 1012 rebalance and a retry hint of 0..RebalanceRetryMax.
	RebalanceOff      bool
	RebalanceInterval time.Duration
	RebalanceSlack    float64
	RebalanceMin      int
	RebalanceShare    float64
	RebalanceRetryMax time.Duration
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReplicaID == "" {
		o.ReplicaID = NewReplicaID()
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.QueueSize, 256)
	def(&o.QueueBytes, 8<<20)
	def(&o.ReplayBuffer, 4*o.QueueSize)
	def(&o.MaxSubscriptions, 1000)
	def(&o.MaxReplay, 1000)
	def(&o.MaxConnsPerUser, 20)
	defd(&o.WriteWait, 10*time.Second)
	defd(&o.PingPeriod, 25*time.Second)
	defd(&o.CloseGrace, 2*time.Second)
	defd(&o.PresenceHeartbeat, 5*time.Second)
	defd(&o.PresenceTTL, 15*time.Second)
	defd(&o.PresenceFlush, 200*time.Millisecond)
	defd(&o.PresenceBigInterval, 2*time.Second)
	defd(&o.RebalanceInterval, DefaultRebalanceInterval)
	defd(&o.RebalanceRetryMax, DefaultRebalanceRetryMax)
	def(&o.RebalanceMin, DefaultRebalanceMin)
	if o.RebalanceSlack <= 0 {
		o.RebalanceSlack = DefaultRebalanceSlack
	}
	if o.RebalanceShare <= 0 || o.RebalanceShare > 1 {
		o.RebalanceShare = DefaultRebalanceShare
	}
}

// NewReplicaID names this process in presence announcements.
func NewReplicaID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	host, _ := os.Hostname()
	if host == "" {
		host = "chat"
	}
	return host + "-" + hex.EncodeToString(b[:])
}

type metrics struct {
	conns     prometheus.Gauge
	delivered prometheus.Counter
	slow      prometheus.Counter
	published *prometheus.CounterVec
	// connsRefused counts sockets closed at the per-user cap.
	connsRefused prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) metrics {
	m := metrics{
		conns:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "chat_ws_connections", Help: "Open WebSocket connections."}),
		delivered:    prometheus.NewCounter(prometheus.CounterOpts{Name: "chat_ws_frames_written_total", Help: "Frames written to WebSocket clients."}),
		slow:         prometheus.NewCounter(prometheus.CounterOpts{Name: "chat_ws_slow_consumers_total", Help: "Connections closed with 1013 because they could not keep up."}),
		published:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chat_events_published_total", Help: "Events published to the broker."}, []string{"type"}),
		connsRefused: prometheus.NewCounter(prometheus.CounterOpts{Name: "chat_ws_connections_refused_total", Help: "Sockets closed with 4429 because their user was at WS_MAX_CONNS_PER_USER."}),
	}
	if reg != nil {
		reg.MustRegister(m.conns, m.delivered, m.slow, m.published, m.connsRefused)
	}
	return m
}

// Hub is the registry of one replica's connections.
type Hub struct {
	o        Options
	m        metrics
	fm       fanoutMetrics
	rm       rebalanceMetrics
	presence *presence

	mu     sync.RWMutex
	conns  map[*Conn]struct{}
	rooms  map[int64]map[*Conn]struct{}
	users  map[int64]map[*Conn]struct{}
	closed bool
	live   sync.WaitGroup

	unsub func()
	stop  context.CancelFunc
	loops sync.WaitGroup

	epoch     time.Time
	flushMu   sync.Mutex
	flushList []*Conn
	flushKick chan struct{}
}

// clock is the hub's clock (Options.Now, monotonic by default) in
// nanoseconds since the hub started.
func (h *Hub) clock() int64 { return int64(h.o.Now().Sub(h.epoch)) }

// scheduleFlush asks the flusher to wake c's writer at its next flush.
func (h *Hub) scheduleFlush(c *Conn) {
	h.flushMu.Lock()
	h.flushList = append(h.flushList, c)
	first := len(h.flushList) == 1
	h.flushMu.Unlock()
	if first {
		select {
		case h.flushKick <- struct{}{}:
		default:
		}
	}
}

// flushLoop wakes the writers of connections holding deferred frames: it
// sleeps until a connection defers a frame, waits WriteDelay so the other
// busy connections defer theirs too, and wakes them all. An idle hub does
// not tick.
func (h *Hub) flushLoop(ctx context.Context) {
	timer := time.NewTimer(h.o.WriteDelay)
	timer.Stop()
	var list []*Conn
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.flushKick:
		}
		timer.Reset(h.o.WriteDelay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		h.flushMu.Lock()
		list, h.flushList = h.flushList, list[:0]
		h.flushMu.Unlock()
		for _, c := range list {
			c.mu.Lock()
			c.flushPending = false
			c.kickLocked()
			c.mu.Unlock()
		}
		clear(list)
	}
}

// New builds a hub and subscribes it to the broker.
func New(o Options) (*Hub, error) {
	o.defaults()
	h := &Hub{
		o: o, m: newMetrics(o.Registry),
		conns: map[*Conn]struct{}{}, rooms: map[int64]map[*Conn]struct{}{}, users: map[int64]map[*Conn]struct{}{},
		epoch: o.Now(), flushKick: make(chan struct{}, 1),
	}
	h.fm = newFanoutMetrics(o.Registry, h)
	h.presence = newPresence(h)
	h.rm = newRebalanceMetrics(o.Registry, h)
	unsub, err := o.Broker.Subscribe(subjectPrefix+">", h.receive)
	if err != nil {
		return nil, fmt.Errorf("hub subscribe: %w", err)
	}
	h.unsub = unsub
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	h.loops.Add(1)
	go func() {
		defer h.loops.Done()
		h.presence.run(ctx)
	}()
	if !o.RebalanceOff {
		h.loops.Add(1)
		go func() {
			defer h.loops.Done()
			h.rebalanceLoop(ctx)
		}()
	}
	if o.WriteDelay > 0 {
		h.loops.Add(1)
		go func() {
			defer h.loops.Done()
			h.flushLoop(ctx)
		}()
	}
	return h, nil
}

// ReplicaID names this hub in presence.
func (h *Hub) ReplicaID() string { return h.o.ReplicaID }

// envelope is the routing header of an event on the broker. On the wire an
// event is the header's JSON, a newline, then the client frame's JSON, so
// receivers never re-encode the frame.
type envelope struct {
	Type   string  `json:"t"`
	Room   int64   `json:"r,omitempty"`
	Seq    int64   `json:"s,omitempty"`
	Users  []int64 `json:"u,omitempty"`
	Except int64   `json:"x,omitempty"`
	Revoke []int64 `json:"v,omitempty"`
	Drop   bool    `json:"d,omitempty"`
	// Published (Unix ns) and Origin (the publishing replica) time the
	// broker hop: chat_broker_lag_seconds.
	Published int64  `json:"p,omitempty"`
	Origin    string `json:"o,omitempty"`
}

// Publish implements chat.Publisher. Typing in a room with more than
// PresenceListMax online is dropped here, before the broker: nobody can
// follow who types among hundreds (ARCHITECTURE.md, Big rooms).
func (h *Hub) Publish(ctx context.Context, e chat.Event) error {
	if e.Type == chat.EventTyping && e.RoomID != 0 && h.presence.count(e.RoomID) > PresenceListMax {
		return nil
	}
	frame, err := json.Marshal(e.Frame)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", e.Type, err)
	}
	hdr, err := json.Marshal(envelope{Type: e.Type, Room: e.RoomID, Seq: e.Seq, Users: e.Users,
		Except: e.ExceptUser, Revoke: e.RevokeUsers, Drop: e.DropRoom,
		Published: h.o.Now().UnixNano(), Origin: h.o.ReplicaID})
	if err != nil {
		return err
	}
	data := make([]byte, 0, len(hdr)+1+len(frame))
	data = append(append(append(data, hdr...), '\n'), frame...)
	subject := subjectUser
	if e.RoomID != 0 {
		subject = subjectRoom + strconv.FormatInt(e.RoomID, 10)
	}
	h.m.published.WithLabelValues(e.Type).Inc()
	return h.o.Broker.Publish(ctx, subject, data)
}

// receive is the broker handler; it must not block.
func (h *Hub) receive(subject string, data []byte) {
	if subject == subjectPresence {
		h.presence.receive(data)
		return
	}
	if !strings.HasPrefix(subject, subjectRoom) && subject != subjectUser {
		return
	}
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		h.o.Logger.Warn("malformed event on broker", "subject", subject)
		return
	}
	var env envelope
	if err := json.Unmarshal(data[:i], &env); err != nil {
		h.o.Logger.Warn("malformed event on broker", "subject", subject, "error", err)
		return
	}
	h.received(env)
	h.dispatch(env, textFrame(data[i+1:]))
}

// dispatch delivers one encoded frame to this replica's connections.
func (h *Hub) dispatch(env envelope, frame []byte) {
	isMsg := env.Type == chat.EventMessage
	now := h.clock()
	n := 0
	h.mu.RLock()
	if env.Room != 0 {
		for c := range h.rooms[env.Room] {
			if env.Except != 0 && c.userID == env.Except {
				continue
			}
			c.deliverRoom(env.Room, isMsg, env.Seq, frame, now)
			n++
		}
	}
	for _, u := range env.Users {
		for c := range h.users[u] {
			if _, subscribed := h.rooms[env.Room][c]; subscribed && env.Room != 0 {
				continue
			}
			c.Push(frame)
			n++
		}
	}
	h.mu.RUnlock()
	h.fm.deliveries.Add(float64(n))
	if env.Drop || len(env.Revoke) > 0 {
		h.revoke(env)
	}
}

// revoke ends subscriptions after a member lost access or a room went away.
func (h *Hub) revoke(env envelope) {
	type gone struct {
		c    *Conn
		user int64
	}
	var removed []gone
	h.mu.Lock()
	set := h.rooms[env.Room]
	for c := range set {
		if env.Drop || containsID(env.Revoke, c.userID) {
			delete(set, c)
			c.mu.Lock()
			delete(c.subs, env.Room)
			c.mu.Unlock()
			removed = append(removed, gone{c, c.userID})
		}
	}
	if len(set) == 0 {
		delete(h.rooms, env.Room)
	}
	h.mu.Unlock()
	for _, g := range removed {
		h.presence.remove(env.Room, g.user)
	}
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// ErrClosed is returned by Accept after Close.
var ErrClosed = errors.New("hub: closed")

// Accept registers a new WebSocket connection and starts its ping timer
// (its writer starts when there is something to write).
func (h *Hub) Accept(ws *websocket.Conn) (*Conn, error) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		hub: h, ws: ws, nc: ws.NetConn(), Ctx: ctx, cancel: cancel,
		subs: map[int64]*subState{}, opened: h.clock(),
		drained: make(chan struct{}, 1), writerDone: make(chan struct{}),
	}
	// Set before anyone else can see c, so closing always finds the timer.
	c.mu.Lock()
	c.pinger = time.AfterFunc(h.o.PingPeriod, c.pingTick)
	c.mu.Unlock()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		c.pinger.Stop()
		cancel()
		return nil, ErrClosed
	}
	h.conns[c] = struct{}{}
	h.live.Add(1)
	h.mu.Unlock()
	h.m.conns.Inc()
	return c, nil
}

// ErrTooManyConns is returned by Authenticate when the user already has
// Options.MaxConnsPerUser sockets on this replica.
var ErrTooManyConns = errors.New("hub: too many connections for one user")

// Authenticate binds the connection to a user and their session (the
// token's sid), so events addressed to the user reach it and a revocation
// of the session closes it, unless the user is at the connection cap.
func (h *Hub) Authenticate(c *Conn, userID int64, username, sid string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.users[userID]
	if len(set) >= h.o.MaxConnsPerUser {
		h.m.connsRefused.Inc()
		return ErrTooManyConns
	}
	c.mu.Lock()
	c.userID, c.username, c.sid = userID, username, sid
	c.mu.Unlock()
	if set == nil {
		set = map[*Conn]struct{}{}
		h.users[userID] = set
	}
	set[c] = struct{}{}
	return nil
}

// CloseUser closes the user's sockets on this replica with code — only
// those of session sid when sid is not empty — and returns how many.
func (h *Hub) CloseUser(userID int64, sid string, code int, text string) int {
	h.mu.Lock()
	var hit []*Conn
	for c := range h.users[userID] {
		c.mu.Lock()
		if sid == "" || c.sid == sid {
			hit = append(hit, c)
		}
		c.mu.Unlock()
	}
	h.mu.Unlock()
	for _, c := range hit {
		c.CloseWith(code, text)
	}
	return len(hit)
}

func (h *Hub) unregister(c *Conn) {
	h.mu.Lock()
	if _, ok := h.conns[c]; !ok {
		h.mu.Unlock()
		return
	}
	delete(h.conns, c)
	if set := h.users[c.userID]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.users, c.userID)
		}
	}
	c.mu.Lock()
	rooms := make([]int64, 0, len(c.subs))
	for room := range c.subs {
		rooms = append(rooms, room)
	}
	clear(c.subs)
	c.mu.Unlock()
	for _, room := range rooms {
		if set := h.rooms[room]; set != nil {
			delete(set, c)
			if len(set) == 0 {
				delete(h.rooms, room)
			}
		}
	}
	h.mu.Unlock()
	for _, room := range rooms {
		h.presence.remove(room, c.userID)
	}
	h.m.conns.Dec()
	h.live.Done()
}

// Loader reads up to limit messages of a room after a seq, oldest first.
type Loader func(ctx context.Context, afterSeq int64, limit int) ([]chat.Message, error)

// SubscribedFrame confirms a subscription once any replay is done; LastSeq
// is the newest seq replayed (or after_seq when nothing was missed), or the
// room's last seq when no after_seq was given. More says the replay stopped
// at Options.MaxReplay: the client pages the rest over HTTP from LastSeq.
type SubscribedFrame struct {
	Type    string `json:"type"`
	RoomID  int64  `json:"room_id"`
	LastSeq int64  `json:"last_seq"`
	More    bool   `json:"more"`
}

// ErrTooManySubscriptions is returned past Options.MaxSubscriptions.
var ErrTooManySubscriptions = errors.New("hub: too many subscriptions")

const replayPage = 200

// Subscribe adds a room subscription. With afterSeq it replays the messages
// after it from the database, then streams live with no gap and no
// duplicate at the seam: the subscription is registered first, so live
// events arriving during the replay are held; after the replay they are
// released, minus messages the replay already sent.
func (h *Hub) Subscribe(ctx context.Context, c *Conn, room int64, afterSeq *int64, currentSeq int64, load Loader) error {
	h.mu.Lock()
	c.mu.Lock()
	s, already := c.subs[room]
	if !already && len(c.subs) >= h.o.MaxSubscriptions {
		c.mu.Unlock()
		h.mu.Unlock()
		return ErrTooManySubscriptions
	}
	if !already {
		s = &subState{}
		c.subs[room] = s
		set := h.rooms[room]
		if set == nil {
			set = map[*Conn]struct{}{}
			h.rooms[room] = set
		}
		set[c] = struct{}{}
	}
	if afterSeq != nil {
		s.replaying = true
	}
	user, name := c.userID, c.username
	c.mu.Unlock()
	h.mu.Unlock()
	if !already {
		h.presence.add(room, user, name)
	}

	last := currentSeq
	var replayErr error
	more := false
	if afterSeq != nil {
		last = *afterSeq
		for sent := 0; replayErr == nil; {
			want := min(replayPage, h.o.MaxReplay-sent)
			if want == 0 {
				more = last < currentSeq
				break
			}
			var msgs []chat.Message
			msgs, replayErr = load(ctx, last, want)
			for _, m := range msgs {
				f, err := JSONFrame(chat.MessageFrame{Type: chat.EventMessage, Message: m})
				if err == nil {
					err = c.pushWait(ctx, f)
				}
				if err != nil {
					replayErr = err
					break
				}
				last = m.Seq
				sent++
			}
			if len(msgs) < want {
				break
			}
		}
	}

	c.mu.Lock()
	if afterSeq != nil && c.subs[room] == s {
		s.replayedMax = max(s.replayedMax, last)
		held := s.buf
		s.buf, s.replaying = nil, false
		for _, p := range held {
			if p.isMsg && p.seq <= s.replayedMax {
				continue
			}
			if !c.pushLocked(p.frame) {
				break
			}
		}
	}
	c.mu.Unlock()
	if replayErr != nil {
		return replayErr
	}
	c.PushJSON(SubscribedFrame{Type: "subscribed", RoomID: room, LastSeq: last, More: more})
	h.presence.sendSnapshot(c, room)
	return nil
}

// Unsubscribe ends a room subscription.
func (h *Hub) Unsubscribe(c *Conn, room int64) {
	h.mu.Lock()
	c.mu.Lock()
	_, ok := c.subs[room]
	delete(c.subs, room)
	user := c.userID
	c.mu.Unlock()
	if set := h.rooms[room]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.rooms, room)
		}
	}
	h.mu.Unlock()
	if ok {
		h.presence.remove(room, user)
	}
}

// OnlinePage implements chat.Presence.
func (h *Hub) OnlinePage(room int64, after *chat.UserRef, limit int) ([]chat.UserRef, bool, int) {
	return h.presence.page(room, after, limit)
}

// OnlineAmong implements chat.Presence.
func (h *Hub) OnlineAmong(room int64, ids []int64) ([]chat.UserRef, int) {
	return h.presence.among(room, ids)
}

// deliverLocal sends a frame built by this replica (presence) to the room's
// subscribers here.
func (h *Hub) deliverLocal(room int64, frame []byte) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	set := h.rooms[room]
	now := h.clock()
	for c := range set {
		c.deliverRoom(room, false, 0, frame, now)
	}
	return len(set) > 0
}

// peerCount is the socket count the presence heartbeat announces: the
// sockets not closing, or -1 (none) once the hub is closing.
func (h *Hub) peerCount() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return -1
	}
	n := 0
	for c := range h.conns {
		c.mu.Lock()
		if !c.closing {
			n++
		}
		c.mu.Unlock()
	}
	return n
}

// Conns is the number of open connections.
func (h *Hub) Conns() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns)
}

// Close closes every connection with 1012 (so clients reconnect to another
// replica), waits for them until ctx ends, announces that this replica's
// presence is gone and leaves the broker.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	conns := make([]*Conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	// Before any socket closes: a peer that saw this replica emptying
	// would move sockets towards it.
	h.presence.draining()
	for _, c := range conns {
		c.CloseWith(CloseServiceRestart, "server restart")
	}
	done := make(chan struct{})
	go func() { h.live.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("hub: %d connections still open at shutdown", h.Conns())
		for _, c := range conns {
			_ = c.nc.Close()
		}
	}
	h.stop()
	h.loops.Wait()
	h.unsub()
	return err
}
