package wsload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/loadtest/internal/stats"
)

// A resuming fleet is the fleet option for runs across replica restarts
// (Config.Reconnect): every Parley client keeps its connection up through
// closes, as docs/PROTOCOL.md's Reconnecting section tells a client to —
// it reconnects with jittered exponential backoff (or after the server's
// retry_after_ms), authenticates, subscribes again with after_seq = the
// highest seq up to which it holds every message, and re-sends every send
// not yet acknowledged with the same client_msg_id (chat-service stores a
// message at most once per (user, client_msg_id)). Deliveries are
// deduplicated by seq (one id per seq, checked), so the accounting counts
// what a client would show, not what crossed the wire.

// Backoff bounds (docs/PROTOCOL.md, Reconnecting).
const (
	backoffBase = 500 * time.Millisecond
	backoffCap  = 30 * time.Second
	// shortMin/shortSpan: a 1012 or 1013 without a hint waits 100 ms–1.1 s.
	shortMin  = 100 * time.Millisecond
	shortSpan = time.Second
)

// ResumingFleet is a fleet whose clients reconnect and resume.
type ResumingFleet struct {
	cfg     Config
	tag     string
	dialer  *websocket.Dialer
	clients []*rclient
	rooms   []*stats.RoomLedger
	origin  time.Time
	sem     chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closing atomic.Bool
	sending atomic.Bool

	sheds     atomic.Int64
	badFrames atomic.Int64
	retries   atomic.Int64 // sends written again (after a close, a rate limit)

	mu        sync.Mutex
	closes    map[string]int
	windows   []*ackWindow
	ackAll    stats.Histogram
	ackDirect stats.Histogram
	refused   map[string]int64
	events    []resumeEvent
	fatal     map[string]int
}

// ackWindow is one second of acknowledged sends, by the second they were
// first written in.
type ackWindow struct {
	all   stats.Histogram
	byURL []*stats.Histogram
}

// resumeEvent is one client's outage: from the close (or failed
// handshake) of a live connection to the next subscribed, gap filled.
type resumeEvent struct {
	client   int
	url      int // the URL of the connection that closed
	downNS   int64
	resumeNS int64 // 0 while not resumed
}

type rclient struct {
	f      *ResumingFleet
	id     int
	room   int
	roomID int64
	member Member
	sender bool

	wmu  sync.Mutex
	conn *websocket.Conn // nil while down
	url  int             // index into cfg.URLs of conn (or the next dial)

	firstLive chan struct{}
	fatalErr  error // set before firstLive closes when the client gave up

	mu          sync.Mutex
	subscribed  bool
	seqs        stats.SeqSet
	redelivered int64
	reconnects  int
	event       int // index into f.events of the open outage, -1 if none
	live        bool
	pending     map[int32]*sendState
	nextN       int32
	gaveUp      bool
}

type sendState struct {
	firstNS int64
	url     int
	writes  int
}

// ConnectResuming connects cfg's clients (Parley only) with reconnect and
// resume on, and returns once every one is subscribed. Client i connects
// to URLs[i % len(URLs)] and moves to the next URL after a failed dial, as
// the SPA does; the first MaxSenders clients may send.
func ConnectResuming(ctx context.Context, cfg Config) (*ResumingFleet, error) {
	if cfg.Protocol != Parley {
		return nil, errors.New("reconnect and resume need the parley protocol")
	}
	if len(cfg.URLs) == 0 || len(cfg.Members) == 0 || len(cfg.RoomIDs) == 0 {
		return nil, errors.New("no URLs, clients or rooms")
	}
	cfg.ConnectConcurrency = max(cfg.ConnectConcurrency, 1)
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 20 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = backoffCap
	}
	if cfg.ReadIdle <= 0 {
		cfg.ReadIdle = 60 * time.Second
	}
	lctx, cancel := context.WithCancel(context.Background())
	f := &ResumingFleet{cfg: cfg, tag: newTag(), origin: time.Now(), sem: make(chan struct{}, cfg.ConnectConcurrency),
		ctx: lctx, cancel: cancel, closes: map[string]int{}, refused: map[string]int64{}, fatal: map[string]int{},
		rooms: make([]*stats.RoomLedger, len(cfg.RoomIDs))}
	for i := range f.rooms {
		f.rooms[i] = &stats.RoomLedger{}
	}
	f.dialer = &websocket.Dialer{
		HandshakeTimeout: 20 * time.Second,
		ReadBufferSize:   4096,
		WriteBufferSize:  1024,
		WriteBufferPool:  &sync.Pool{},
		NetDialContext:   (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	}
	for i, m := range cfg.Members {
		r := i % len(cfg.RoomIDs)
		c := &rclient{f: f, id: i, room: r, roomID: cfg.RoomIDs[r], member: m, sender: i < cfg.MaxSenders,
			url: i % len(cfg.URLs), firstLive: make(chan struct{}), event: -1, pending: map[int32]*sendState{}}
		f.clients = append(f.clients, c)
	}
	stop := f.ticker(func() string {
		s := f.Snapshot()
		return fmt.Sprintf("connecting: %d/%d live (%d shed and retried)", s.Live, s.Clients, f.sheds.Load())
	})
	defer stop()
	for _, c := range f.clients {
		f.wg.Go(c.run)
	}
	for _, c := range f.clients {
		select {
		case <-c.firstLive:
			if c.fatalErr != nil {
				f.Close()
				return nil, fmt.Errorf("client %d: %w", c.id, c.fatalErr)
			}
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("connect: %d of %d clients subscribed: %w", f.Snapshot().Live, len(f.clients), ctx.Err())
		}
	}
	return f, nil
}

func (f *ResumingFleet) ticker(line func() string) (stop func()) {
	if f.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				f.cfg.Progress(line())
			case <-done:
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// errFatal marks a handshake answer that retrying will not change (a
// refused token, a room the user may not read).
type errFatal struct{ err error }

func (e errFatal) Error() string { return e.err.Error() }
func (e errFatal) Unwrap() error { return e.err }

// run keeps the client connected until the fleet closes.
func (c *rclient) run() {
	f := c.f
	attempt := 0
	for !f.closing.Load() {
		conn, err := c.connect()
		if err != nil {
			if f.closing.Load() {
				return
			}
			var fe errFatal
			if errors.As(err, &fe) {
				c.giveUp(err)
				return
			}
			reason := closeReason(err, true)
			f.countClose(reason)
			if strings.Contains(reason, "overloaded") {
				f.sheds.Add(1)
			}
			wait, exponential := retryDelay(err, attempt, f.cfg.MaxBackoff)
			if exponential {
				attempt++
			}
			// A failed attempt moves to the next replica (a dead one is
			// skipped); the 1013 shed hint says "or try another".
			c.wmu.Lock()
			c.url = (c.url + 1) % len(f.cfg.URLs)
			c.wmu.Unlock()
			if !f.sleep(wait) {
				return
			}
			continue
		}
		attempt = 0
		c.resend(conn)
		err = c.readLoop(conn)
		c.down(conn)
		if f.closing.Load() {
			return
		}
		f.countClose(closeReason(err, false))
		wait, _ := retryDelay(err, 0, f.cfg.MaxBackoff)
		if !f.sleep(wait) {
			return
		}
	}
}

func (f *ResumingFleet) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-f.ctx.Done():
		return false
	}
}

func (c *rclient) giveUp(err error) {
	f := c.f
	f.mu.Lock()
	f.fatal[err.Error()]++
	f.mu.Unlock()
	c.mu.Lock()
	c.gaveUp = true
	first := !c.subscribed
	c.mu.Unlock()
	if first {
		c.fatalErr = err
		close(c.firstLive)
	}
}

// connect dials, authenticates and subscribes (resuming after the last
// contiguous seq held), reading the replay; it returns the connection
// once the gap is filled.
func (c *rclient) connect() (*websocket.Conn, error) {
	f := c.f
	select {
	case f.sem <- struct{}{}:
	case <-f.ctx.Done():
		return nil, f.ctx.Err()
	}
	defer func() { <-f.sem }()
	c.wmu.Lock()
	url := c.url
	c.wmu.Unlock()
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.HandshakeTimeout)
	defer cancel()
	conn, resp, err := f.dialer.DialContext(ctx, f.cfg.URLs[url], http.Header{})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: %w (status %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetReadDeadline(deadline)
	if err := c.handshake(conn); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Time{})
	c.wmu.Lock()
	c.conn = conn
	c.url = url
	c.wmu.Unlock()
	c.mu.Lock()
	first := !c.subscribed
	c.subscribed, c.live = true, true
	if c.event >= 0 {
		f.mu.Lock()
		f.events[c.event].resumeNS = time.Now().UnixNano()
		f.mu.Unlock()
		c.event = -1
		c.reconnects++
	}
	c.mu.Unlock()
	if first {
		close(c.firstLive)
	}
	return conn, nil
}

func (c *rclient) handshake(conn *websocket.Conn) error {
	// A shed socket may be closed before auth is written: the close frame
	// (and its hint) is still read below.
	_ = conn.WriteJSON(map[string]string{"type": "auth", "token": c.member.Token})
	if _, err := c.awaitFrame(conn, kindReady); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	for tries := 0; ; tries++ {
		frame := map[string]any{"type": "subscribe", "room_id": c.roomID}
		c.mu.Lock()
		if c.subscribed {
			frame["after_seq"] = c.seqs.Contig
		}
		c.mu.Unlock()
		if err := conn.WriteJSON(frame); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		data, err := c.awaitFrame(conn, kindSubscribed)
		if err != nil {
			var se serverError
			if errors.As(err, &se) && se.code == "database_unavailable" && tries < 5 {
				if !c.f.sleep(time.Duration(tries+1) * 500 * time.Millisecond) {
					return c.f.ctx.Err()
				}
				continue
			}
			return fmt.Errorf("subscribe to room %d: %w", c.roomID, err)
		}
		var sub struct {
			LastSeq int64 `json:"last_seq"`
			More    bool  `json:"more"`
		}
		if err := json.Unmarshal(data, &sub); err != nil {
			return fmt.Errorf("subscribed: %w", err)
		}
		c.mu.Lock()
		if !c.subscribed {
			c.seqs.Reset(sub.LastSeq)
		}
		c.mu.Unlock()
		// A replay stops at WS_MAX_REPLAY with more: subscribing again
		// from where it stopped replays the next page (instead of the
		// SPA's HTTP paging: the same messages, one code path here).
		if !sub.More || tries > 1000 {
			return nil
		}
	}
}

type serverError struct{ code, raw string }

func (e serverError) Error() string { return "server error " + e.raw }

// awaitFrame reads until a frame of kind want, handling replayed
// messages (and anything else) on the way.
func (c *rclient) awaitFrame(conn *websocket.Conn, want frameKind) ([]byte, error) {
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return nil, err
		}
		k := classify(data)
		if k == want {
			return data, nil
		}
		if k == kindError {
			var e struct {
				Code string `json:"code"`
				Ref  string `json:"ref"`
			}
			_ = json.Unmarshal(data, &e)
			if e.Ref == "" {
				se := serverError{code: e.Code, raw: string(data)}
				if e.Code != "database_unavailable" && e.Code != "unavailable" {
					return nil, errFatal{se}
				}
				return nil, se
			}
		}
		c.frame(conn, data, k)
	}
}

// readLoop is the connection's only reader once it is live. A connection
// from which nothing (a frame or the server's ping, every 25 s) arrives
// for ReadIdle is dropped: a replica killed without closing its sockets
// (a pod deleted with --force) may never send a FIN.
func (c *rclient) readLoop(conn *websocket.Conn) error {
	idle := c.f.cfg.ReadIdle
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(idle))
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	})
	var buf []byte
	for {
		_ = conn.SetReadDeadline(time.Now().Add(idle))
		_, r, err := conn.NextReader()
		if err != nil {
			return err
		}
		buf, err = readAll(r, buf[:0])
		if err != nil {
			return err
		}
		c.frame(conn, buf, classify(buf))
	}
}

// down marks the client down from now and opens its outage.
func (c *rclient) down(conn *websocket.Conn) {
	_ = conn.Close()
	c.wmu.Lock()
	url := c.url
	if c.conn == conn {
		c.conn = nil
	}
	c.wmu.Unlock()
	if c.f.closing.Load() {
		return
	}
	now := time.Now().UnixNano()
	c.mu.Lock()
	c.live = false
	f := c.f
	f.mu.Lock()
	c.event = len(f.events)
	f.events = append(f.events, resumeEvent{client: c.id, url: url, downNS: now})
	f.mu.Unlock()
	c.mu.Unlock()
}

func (c *rclient) frame(conn *websocket.Conn, data []byte, k frameKind) {
	switch k {
	case kindMessage:
		head, ok := messageHead(data, prefixMessage)
		p, err := probeIn(data)
		if !ok || err != nil {
			c.f.badFrames.Add(1)
			return
		}
		if !c.f.rooms[c.room].Note(head.seq, head.id, p.sender, p.seq, false) {
			return // one seq with two ids: counted by the ledger
		}
		c.mu.Lock()
		if c.seqs.Add(head.seq) {
			c.redelivered++
		}
		c.mu.Unlock()
	case kindAck:
		head, ok := messageHead(data, prefixAck)
		p, pok := ackProbe(data, c.f.tag)
		if !ok || !pok || p.sender != c.id {
			c.f.badFrames.Add(1)
			return
		}
		c.f.rooms[c.room].Note(head.seq, head.id, p.sender, p.seq, true)
		now := time.Now().UnixNano()
		c.mu.Lock()
		st := c.pending[int32(p.seq)]
		delete(c.pending, int32(p.seq))
		c.mu.Unlock()
		if st != nil {
			c.f.recordAck(st, time.Duration(now-st.firstNS))
		}
	case kindError:
		var e struct {
			Code         string `json:"code"`
			Ref          string `json:"ref"`
			RetryAfterMS int64  `json:"retry_after_ms"`
		}
		_ = json.Unmarshal(data, &e)
		p, ok := parseClientMsgID(e.Ref, c.f.tag)
		if !ok || p.sender != c.id {
			c.f.countRefused("frame error " + e.Code)
			return
		}
		switch e.Code {
		case "rate_limited", "database_unavailable", "unavailable", "internal":
			// Not stored (or not known to be): the same client_msg_id again
			// after the hint.
			wait := time.Duration(min(max(e.RetryAfterMS, 100), 10_000)) * time.Millisecond
			go func() {
				if c.f.sleep(wait) {
					c.resendOne(conn, int32(p.seq))
				}
			}()
		default:
			c.mu.Lock()
			delete(c.pending, int32(p.seq))
			c.mu.Unlock()
			c.f.countRefused(e.Code)
		}
	}
}

// head is the start of a message as chat-service encodes it: id, room_id,
// seq, in that order (chat.Message's first fields).
type head struct{ id, room, seq int64 }

var (
	keyMessageID = []byte(`"message":{"id":`)
	keyRoomID    = []byte(`,"room_id":`)
	keySeq       = []byte(`,"seq":`)
)

func messageHead(f, prefix []byte) (head, bool) {
	var h head
	i := bytes.Index(f[len(prefix)-1:], keyMessageID)
	if i < 0 {
		return h, false
	}
	b := f[len(prefix)-1+i+len(keyMessageID):]
	var ok bool
	if h.id, b, ok = intThen(b, keyRoomID); !ok {
		return h, false
	}
	if h.room, b, ok = intThen(b, keySeq); !ok {
		return h, false
	}
	if h.seq, _, ok = intThen(b, []byte{','}); !ok {
		return h, false
	}
	return h, h.id > 0 && h.seq > 0
}

// intThen reads a decimal number followed by sep.
func intThen(b, sep []byte) (int64, []byte, bool) {
	j := 0
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	v, ok := atoi(b[:j])
	if !ok || !bytes.HasPrefix(b[j:], sep) {
		return 0, nil, false
	}
	return v, b[j+len(sep):], true
}

var keyClientMsgID = []byte(`"client_msg_id":"`)

// ackProbe reads the client_msg_id an ack answers.
func ackProbe(f []byte, tag string) (probe, bool) {
	i := bytes.Index(f, keyClientMsgID)
	if i < 0 {
		return probe{}, false
	}
	b := f[i+len(keyClientMsgID):]
	j := bytes.IndexByte(b, '"')
	if j < 0 {
		return probe{}, false
	}
	return parseClientMsgID(string(b[:j]), tag)
}

// closeReason names why a connection (or an attempt) ended, for the
// disconnects-by-code count.
func closeReason(err error, handshake bool) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		s := strconv.Itoa(ce.Code)
		if code, _, ok := closeHint(ce); ok {
			s += " " + code
		}
		if handshake {
			s += " (handshake)"
		}
		return s
	}
	switch {
	case handshake && isDialError(err):
		return "dial failed"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "1006 eof"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	if handshake {
		return "handshake failed"
	}
	return "1006 read error"
}

func isDialError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial" || errors.Is(err, websocket.ErrBadHandshake)
}

// closeHint reads a JSON close reason {"code":…,"retry_after_ms":N}
// (1013 overloaded, 1012 rebalance).
func closeHint(ce *websocket.CloseError) (code string, wait time.Duration, ok bool) {
	var hint struct {
		Code         string `json:"code"`
		RetryAfterMS int64  `json:"retry_after_ms"`
	}
	if json.Unmarshal([]byte(ce.Text), &hint) != nil || hint.Code == "" {
		return "", 0, false
	}
	return hint.Code, time.Duration(min(max(hint.RetryAfterMS, 0), 60_000)) * time.Millisecond, true
}

// retryDelay is how long to wait before the next attempt after err, per
// docs/PROTOCOL.md: the server's retry_after_ms when a close carries one;
// 100 ms–1.1 s after a 1012 or 1013 without; else exponential backoff with
// equal jitter (attempt n waits step/2 + rand×step/2, step = min(cap,
// 500 ms × 2ⁿ)). exponential reports the last case: only those failures
// count as attempts, since a shed or a restart is the server pacing its
// clients, not a sign that it is unreachable (counting them put clients
// shed a few times in a storm into 30 s waits).
func retryDelay(err error, attempt int, maxBackoff time.Duration) (d time.Duration, exponential bool) {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		if _, wait, ok := closeHint(ce); ok && wait > 0 {
			return wait, false
		}
		if ce.Code == websocket.CloseServiceRestart || ce.Code == websocket.CloseTryAgainLater {
			return shortMin + rand.N(shortSpan), false
		}
	}
	step := backoffBase << min(attempt, 16)
	step = min(step, maxBackoff)
	return step/2 + rand.N(step/2+1), true
}

// resend writes every send still unacknowledged, oldest first, on a new
// connection.
func (c *rclient) resend(conn *websocket.Conn) {
	c.mu.Lock()
	ns := make([]int32, 0, len(c.pending))
	for n := range c.pending {
		ns = append(ns, n)
	}
	c.mu.Unlock()
	slices.Sort(ns)
	for _, n := range ns {
		c.resendOne(conn, n)
	}
}

func (c *rclient) resendOne(conn *websocket.Conn, n int32) {
	c.mu.Lock()
	st := c.pending[n]
	if st == nil {
		c.mu.Unlock()
		return
	}
	st.writes++
	first := st.firstNS
	c.mu.Unlock()
	c.f.retries.Add(1)
	c.write(conn, probe{sender: c.id, seq: int(n), sentNS: first})
}

// write writes one send frame on conn if it is still the client's live
// connection; a failed write leaves the send pending for the next one.
func (c *rclient) write(conn *websocket.Conn, p probe) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if conn == nil || c.conn != conn {
		return false
	}
	buf := appendSendFrame(nil, c.f.tag, c.roomID, p, c.f.cfg.BodySize)
	_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return conn.WriteMessage(websocket.TextMessage, buf) == nil
}

// send starts one new message: pending from now, written at once when the
// client is live, else on its next connection. It is pending before it is
// written, so a connection that comes up meanwhile re-sends it (twice
// written, stored once).
func (c *rclient) send() {
	now := time.Now().UnixNano()
	c.wmu.Lock()
	url := c.url
	c.wmu.Unlock()
	c.mu.Lock()
	n := c.nextN
	c.nextN++
	c.pending[n] = &sendState{firstNS: now, url: url, writes: 1}
	c.mu.Unlock()
	c.wmu.Lock()
	conn := c.conn
	c.wmu.Unlock()
	c.write(conn, probe{sender: c.id, seq: int(n), sentNS: now})
}

func (f *ResumingFleet) recordAck(st *sendState, d time.Duration) {
	w := int((st.firstNS - f.origin.UnixNano()) / int64(time.Second))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ackAll.Record(d)
	if st.writes > 1 {
		return // its latency includes an outage: not the replica's
	}
	f.ackDirect.Record(d)
	if w < 0 || w > int(maxDurationWindows) {
		return
	}
	for len(f.windows) <= w {
		f.windows = append(f.windows, &ackWindow{byURL: make([]*stats.Histogram, len(f.cfg.URLs))})
	}
	aw := f.windows[w]
	aw.all.Record(d)
	if aw.byURL[st.url] == nil {
		aw.byURL[st.url] = &stats.Histogram{}
	}
	aw.byURL[st.url].Record(d)
}

// maxDurationWindows bounds the per-second windows kept (an hour).
const maxDurationWindows = 3600

func (f *ResumingFleet) countClose(reason string) {
	f.mu.Lock()
	f.closes[reason]++
	f.mu.Unlock()
}

func (f *ResumingFleet) countRefused(code string) {
	f.mu.Lock()
	f.refused[code]++
	f.mu.Unlock()
}

// Close stops reconnecting and closes every connection.
func (f *ResumingFleet) Close() {
	if f.closing.Swap(true) {
		return
	}
	f.cancel()
	for _, c := range f.clients {
		c.wmu.Lock()
		if c.conn != nil {
			_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			_ = c.conn.Close()
		}
		c.wmu.Unlock()
	}
	f.wg.Wait()
}

// Snapshot is the fleet's state now.
type Snapshot struct {
	Clients    int
	Live       int
	Reconnects int
	Pending    int
}

// Snapshot counts live clients and pending sends.
func (f *ResumingFleet) Snapshot() Snapshot {
	s := Snapshot{Clients: len(f.clients)}
	for _, c := range f.clients {
		c.mu.Lock()
		if c.live {
			s.Live++
		}
		s.Reconnects += c.reconnects
		s.Pending += len(c.pending)
		c.mu.Unlock()
	}
	return s
}

// SoakPhase is a soak: senders at a total rate for a duration, then a
// bounded wait until every client is live and has caught up.
type SoakPhase struct {
	Rate     float64
	Duration time.Duration
	Senders  int
	// CatchUp bounds the wait after sending for every send to be
	// acknowledged and every client to be live with every acknowledged
	// message of its room (60 s).
	CatchUp time.Duration
}

// SoakResult is what a soak measured. Lost and Duplicates should be 0.
type SoakResult struct {
	Clients  int     `json:"clients"`
	Senders  int     `json:"senders"`
	Rate     float64 `json:"offered_rate"`
	Duration float64 `json:"duration_s"`
	// Sent counts distinct messages (client_msg_ids) started; Acked those
	// acknowledged; Unacked those never acknowledged by the end of the
	// catch-up; Refused those answered an error other than a retryable one.
	Sent    int64 `json:"sent"`
	Acked   int64 `json:"acked"`
	Unacked int64 `json:"unacked"`
	Refused int64 `json:"refused"`
	// Resends are sends written again with the same client_msg_id.
	Resends int64 `json:"resends"`
	// Expected is acked messages × the clients subscribed to their room
	// when they were sent; Lost is those never delivered.
	Expected int64 `json:"expected"`
	Lost     int64 `json:"lost"`
	// LostClients are clients missing at least one acked message.
	LostClients int `json:"lost_clients"`
	// Duplicates are messages a resend created twice (distinct ids or
	// seqs sharing one client_msg_id, or one seq seen with two ids).
	// Deliveries of one id to one client are deduplicated: Redelivered
	// counts them (replays overlapping what was already held).
	Duplicates  int64 `json:"duplicates"`
	Redelivered int64 `json:"redelivered"`
	// Reconnected clients had at least one connection close; Resumed of
	// them are live with their room's gap filled at the end; NotResumed
	// are the others (down, or gave up).
	Reconnected int `json:"reconnected"`
	Resumed     int `json:"resumed"`
	NotResumed  int `json:"not_resumed"`
	Reconnects  int `json:"reconnects"`
	// ResumeMS: close to resumed (subscribed, gap filled), over every
	// outage of every client.
	ResumeMS    stats.Summary `json:"resume_ms"`
	CaughtUp    bool          `json:"caught_up"`
	CatchUpS    float64       `json:"catch_up_s"`
	Ack         stats.Summary `json:"ack_ms"`
	AckDirect   stats.Summary `json:"ack_direct_ms"`
	AckWindows  []AckWindow   `json:"ack_windows,omitempty"`
	Outages     []Outage      `json:"outages,omitempty"`
	BaselineP99 float64       `json:"baseline_ack_p99_ms"`
	// Disconnects counts closes and failed attempts by close code.
	Disconnects map[string]int   `json:"disconnects,omitempty"`
	ErrorCodes  map[string]int64 `json:"error_codes,omitempty"`
	GaveUp      map[string]int   `json:"gave_up,omitempty"`
	Sheds       int64            `json:"shed"`
	BadFrames   int64            `json:"bad_frames"`
}

// AckWindow is send→ack of the sends first written in one second (not
// resent), overall and by the URL they were written to.
type AckWindow struct {
	At    int       `json:"t"`
	N     int64     `json:"n"`
	P99   float64   `json:"p99_ms"`
	URLs  []float64 `json:"p99_ms_by_url"`
	URLNs []int64   `json:"n_by_url"`
}

// Outage is the closes of one URL's clients that came together (a replica
// restarting): when the first closed (seconds since the fleet connected),
// how many, how long until the last of them resumed, and the send→ack p99
// of the sends written to the other URLs meanwhile.
type Outage struct {
	URL        string  `json:"url"`
	AtS        float64 `json:"at_s"`
	Clients    int     `json:"clients"`
	Resumed    int     `json:"resumed"`
	AllS       float64 `json:"all_resumed_s"`
	MaxMS      float64 `json:"max_resume_ms"`
	P99MS      float64 `json:"p99_resume_ms"`
	OtherP99MS float64 `json:"other_ack_p99_ms"`
	OtherN     int64   `json:"other_acks"`
}

// Soak sends for p.Duration from the first p.Senders clients (evenly paced
// over the total rate), then waits for every send to be acknowledged and
// every client to be live and caught up, and accounts for everything.
func (f *ResumingFleet) Soak(ctx context.Context, p SoakPhase) (SoakResult, error) {
	p.Senders = min(max(p.Senders, 1), f.cfg.MaxSenders, len(f.clients))
	if p.Rate <= 0 || p.Duration <= 0 {
		return SoakResult{}, errors.New("rate and duration must be positive")
	}
	if p.CatchUp <= 0 {
		p.CatchUp = time.Minute
	}
	if f.sending.Swap(true) {
		return SoakResult{}, errors.New("one soak at a time")
	}
	defer f.sending.Store(false)
	stop := f.ticker(func() string {
		s := f.Snapshot()
		return fmt.Sprintf("soak t=%.0fs live %d/%d reconnects %d pending sends %d resends %d disconnects %v",
			time.Since(f.origin).Seconds(), s.Live, s.Clients, s.Reconnects, s.Pending, f.retries.Load(), f.disconnects())
	})
	defer stop()
	interval := time.Duration(float64(p.Senders) / p.Rate * float64(time.Second))
	start := time.Now().Add(50 * time.Millisecond)
	end := start.Add(p.Duration)
	var wg sync.WaitGroup
	for _, c := range f.clients[:p.Senders] {
		offset := time.Duration(rand.Int64N(int64(interval) + 1))
		wg.Go(func() {
			due := start.Add(offset)
			for due.Before(end) && ctx.Err() == nil {
				if d := time.Until(due); d > 0 {
					t := time.NewTimer(d)
					select {
					case <-t.C:
					case <-ctx.Done():
						t.Stop()
						return
					}
				}
				c.send()
				due = due.Add(interval)
			}
		})
	}
	wg.Wait()
	// Catch-up: every send answered, every client live and holding its
	// room's acknowledged messages.
	caughtStart := time.Now()
	deadline := caughtStart.Add(p.CatchUp)
	caught := false
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if f.caughtUp() {
			caught = true
			break
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	res := f.account(p)
	res.CaughtUp = caught
	res.CatchUpS = time.Since(caughtStart).Seconds()
	return res, ctx.Err()
}

func (f *ResumingFleet) disconnects() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.closes {
		n += v
	}
	return n
}

func (f *ResumingFleet) caughtUp() bool {
	maxAcked := make([]int64, len(f.rooms))
	for i, r := range f.rooms {
		maxAcked[i] = r.MaxAcked()
	}
	for _, c := range f.clients {
		c.mu.Lock()
		ok := c.gaveUp || (c.live && len(c.pending) == 0 && c.seqs.Contig >= maxAcked[c.room])
		c.mu.Unlock()
		if !ok {
			return false
		}
	}
	return true
}

func (f *ResumingFleet) account(p SoakPhase) SoakResult {
	res := SoakResult{Clients: len(f.clients), Senders: p.Senders, Rate: p.Rate, Duration: p.Duration.Seconds(),
		Resends: f.retries.Load(), Sheds: f.sheds.Load(), BadFrames: f.badFrames.Load()}
	acked := make([][]int64, len(f.rooms))
	for i, r := range f.rooms {
		acked[i] = r.AckedSeqs()
		res.Acked += int64(len(acked[i]))
		res.Duplicates += r.Duplicates()
	}
	for _, c := range f.clients {
		c.mu.Lock()
		if c.sender {
			res.Sent += int64(c.nextN)
			res.Unacked += int64(len(c.pending))
		}
		res.Redelivered += c.redelivered
		res.Reconnects += c.reconnects
		lost := int64(0)
		for _, seq := range acked[c.room] {
			if seq > c.seqs.Base {
				res.Expected++
				if !c.seqs.Has(seq) {
					lost++
				}
			}
		}
		res.Lost += lost
		if lost > 0 {
			res.LostClients++
		}
		hadOutage := c.reconnects > 0 || c.event >= 0
		if hadOutage {
			res.Reconnected++
			if c.live && !c.gaveUp && c.event < 0 && c.seqs.Contig >= maxSeq(acked[c.room]) {
				res.Resumed++
			} else {
				res.NotResumed++
			}
		}
		c.mu.Unlock()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	res.Ack, res.AckDirect = f.ackAll.Summarize(), f.ackDirect.Summarize()
	for _, v := range f.refused {
		res.Refused += v
	}
	if len(f.refused) > 0 {
		res.ErrorCodes = maps(f.refused)
	}
	if len(f.closes) > 0 {
		res.Disconnects = copyCounts(f.closes)
	}
	if len(f.fatal) > 0 {
		res.GaveUp = copyCounts(f.fatal)
	}
	var resume stats.Histogram
	for _, e := range f.events {
		if e.resumeNS > 0 {
			resume.Record(time.Duration(e.resumeNS - e.downNS))
		}
	}
	res.ResumeMS = resume.Summarize()
	for i, w := range f.windows {
		aw := AckWindow{At: i, N: w.all.Count(), P99: ms(w.all.Quantile(0.99))}
		for _, h := range w.byURL {
			if h == nil {
				aw.URLs, aw.URLNs = append(aw.URLs, 0), append(aw.URLNs, 0)
				continue
			}
			aw.URLs, aw.URLNs = append(aw.URLs, ms(h.Quantile(0.99))), append(aw.URLNs, h.Count())
		}
		res.AckWindows = append(res.AckWindows, aw)
	}
	res.Outages = f.outages()
	// Baseline: sends first written before the first outage.
	var base stats.Histogram
	firstOutage := int(maxDurationWindows)
	if len(res.Outages) > 0 {
		firstOutage = int(res.Outages[0].AtS)
	}
	for i, w := range f.windows {
		if i < firstOutage {
			base.Merge(&w.all)
		}
	}
	res.BaselineP99 = ms(base.Quantile(0.99))
	return res
}

func maxSeq(s []int64) int64 {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

func maps(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// outageGap separates two outages of one URL: closes further apart than
// this are two restarts.
const outageGap = 5 * time.Second

// outages groups the clients' outages by URL and time (f.mu held).
func (f *ResumingFleet) outages() []Outage {
	evs := slices.Clone(f.events)
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].url != evs[j].url {
			return evs[i].url < evs[j].url
		}
		return evs[i].downNS < evs[j].downNS
	})
	var out []Outage
	for i := 0; i < len(evs); {
		j := i + 1
		for j < len(evs) && evs[j].url == evs[i].url && evs[j].downNS-evs[j-1].downNS <= int64(outageGap) {
			j++
		}
		group := evs[i:j]
		o := Outage{URL: f.cfg.URLs[group[0].url], AtS: float64(group[0].downNS-f.origin.UnixNano()) / 1e9, Clients: len(group)}
		var h stats.Histogram
		lastNS := group[0].downNS
		for _, e := range group {
			if e.resumeNS == 0 {
				continue
			}
			o.Resumed++
			h.Record(time.Duration(e.resumeNS - e.downNS))
			lastNS = max(lastNS, e.resumeNS)
		}
		o.AllS = float64(lastNS-group[0].downNS) / 1e9
		o.MaxMS, o.P99MS = ms(h.Max()), ms(h.Quantile(0.99))
		// Sends written to the other URLs while this one's clients were
		// coming back.
		var other stats.Histogram
		from := int(o.AtS)
		to := int(o.AtS + o.AllS)
		for w := from; w <= to && w < len(f.windows); w++ {
			for u, bh := range f.windows[w].byURL {
				if u != group[0].url && bh != nil {
					other.Merge(bh)
				}
			}
		}
		o.OtherP99MS, o.OtherN = ms(other.Quantile(0.99)), other.Count()
		out = append(out, o)
		i = j
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AtS < out[j].AtS })
	return out
}
