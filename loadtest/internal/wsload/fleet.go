// Package wsload drives many WebSocket clients against a chat server —
// Parley's chat-service, or gorilla/websocket's examples/chat hub as a
// baseline — and measures what they receive: deliveries per second,
// latency from the send time carried in each message body to each
// recipient, and whether every message reached every recipient exactly
// once.
package wsload

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/loadtest/internal/stats"
)

// Protocols.
const (
	// Parley: auth, subscribe, send with client_msg_id; the server acks
	// every send and wraps each message in a JSON frame.
	Parley = "parley"
	// Gorilla: the examples/chat hub. No auth, one room; a text frame is
	// broadcast to every client, several queued messages joined by '\n'
	// in one frame.
	Gorilla = "gorilla"
)

// Member is one client's identity (Parley needs a token; gorilla none).
type Member struct {
	UserID int64
	Token  string
}

// Config describes a fleet of clients.
type Config struct {
	Protocol string
	// URLs are WebSocket endpoints. Senders connect to URLs[0]; the other
	// clients are spread over all of them in turn.
	URLs []string
	// RemoteReceivers spreads the clients that do not send over URLs[1:]
	// only, so that every delivery but the senders' own crosses from the
	// senders' endpoint to another.
	RemoteReceivers bool
	// Members, one per client.
	Members []Member
	// RoomIDs: client i is in RoomIDs[i % len(RoomIDs)] (Parley).
	RoomIDs []int64
	// Subscribe each Parley client to its room (an idle population may
	// only authenticate).
	Subscribe bool
	// MaxSenders is how many of the first clients may send (they must be
	// members of their rooms on Parley).
	MaxSenders int
	// BodySize is the message body length in bytes.
	BodySize int
	// ConnectConcurrency bounds handshakes in flight.
	ConnectConcurrency int
	// HandshakeTimeout bounds one client's auth and subscribe (20 s).
	HandshakeTimeout time.Duration
	// Progress, when set, is called about once a second with a status line.
	Progress func(line string)
	// MaxBackoff caps the reconnect backoff of a resuming fleet
	// (ConnectResuming; 30 s, the SPA's).
	MaxBackoff time.Duration
	// ReadIdle: a resuming client drops a connection silent this long
	// (60 s, the server's WS_PONG_WAIT; the server pings every 25 s).
	ReadIdle time.Duration
}

// Fleet is a set of connected clients.
type Fleet struct {
	cfg     Config
	tag     string
	clients []*client
	// rooms lists client indexes by room index.
	rooms [][]int

	epochs   [64]atomic.Pointer[epoch]
	nextID   atomic.Int32
	closing  atomic.Bool
	late     atomic.Int64
	badFrame atomic.Int64
	// presence frames and their payload bytes received by all clients;
	// sheds counts handshakes the server closed with 1013 overloaded (each
	// retried after its hint).
	presenceFrames atomic.Int64
	presenceBytes  atomic.Int64
	sheds          atomic.Int64
	// retried counts subscribes answered database_unavailable and retried.
	retried atomic.Int64

	mu          sync.Mutex
	disconnects map[string]int
}

type client struct {
	f      *Fleet
	id     int
	room   int // index into cfg.RoomIDs
	roomID int64
	conn   *websocket.Conn
	urlIdx int // the client's endpoint in Config.URLs

	gone atomic.Bool

	mu     sync.Mutex
	inbox  map[int]*recvState
	sent   map[int]*stats.SenderLog
	wbuf   []byte
	closed chan struct{}
	// answer is signalled when one of this client's sends is answered
	// (closed-loop phases wait on it).
	answer chan struct{}
}

type recvState struct {
	inbox stats.Inbox
	hist  stats.Histogram
	// ack is send-to-answer latency of this client's own sends.
	ack stats.Histogram
}

// Connect dials every client, authenticates and subscribes it (Parley),
// and starts its reader.
func Connect(ctx context.Context, cfg Config) (*Fleet, error) {
	if cfg.Protocol != Parley && cfg.Protocol != Gorilla {
		return nil, fmt.Errorf("unknown protocol %q", cfg.Protocol)
	}
	if len(cfg.URLs) == 0 || len(cfg.Members) == 0 {
		return nil, errors.New("no URLs or no clients")
	}
	if cfg.Protocol == Parley && len(cfg.RoomIDs) == 0 {
		return nil, errors.New("parley clients need a room")
	}
	if cfg.Protocol == Gorilla {
		cfg.RoomIDs = []int64{0}
	}
	cfg.ConnectConcurrency = max(cfg.ConnectConcurrency, 1)
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 20 * time.Second
	}
	f := &Fleet{cfg: cfg, tag: newTag(), rooms: make([][]int, len(cfg.RoomIDs)), disconnects: map[string]int{}}
	for i := range cfg.Members {
		r := i % len(cfg.RoomIDs)
		u := 0
		switch {
		case i < cfg.MaxSenders:
		case cfg.RemoteReceivers && len(cfg.URLs) > 1:
			u = 1 + i%(len(cfg.URLs)-1)
		default:
			u = i % len(cfg.URLs)
		}
		f.clients = append(f.clients, &client{f: f, id: i, room: r, roomID: cfg.RoomIDs[r], urlIdx: u,
			inbox: map[int]*recvState{}, sent: map[int]*stats.SenderLog{}, closed: make(chan struct{}), answer: make(chan struct{}, 1)})
		f.rooms[r] = append(f.rooms[r], i)
	}
	dialer := &websocket.Dialer{
		HandshakeTimeout: 20 * time.Second,
		ReadBufferSize:   4096,
		WriteBufferSize:  1024,
		WriteBufferPool:  &sync.Pool{},
		NetDialContext:   (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	}
	var (
		wg       sync.WaitGroup
		done     atomic.Int64
		errMu    sync.Mutex
		firstErr error
	)
	jobs := make(chan *client)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopProgress := f.ticker(func() string {
		return fmt.Sprintf("connecting %d/%d (%d shed and retried, %d presence KiB)", done.Load(), len(f.clients), f.sheds.Load(), f.presenceBytes.Load()>>10)
	})
	for range cfg.ConnectConcurrency {
		wg.Go(func() {
			for c := range jobs {
				err := c.connect(cctx, dialer)
				done.Add(1)
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("client %d: %w", c.id, err)
						cancel()
					}
					errMu.Unlock()
				}
			}
		})
	}
feed:
	for _, c := range f.clients {
		select {
		case jobs <- c:
		case <-cctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	stopProgress()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		f.Close()
		return nil, firstErr
	}
	return f, nil
}

// ticker calls line once a second and hands it to Progress until stopped.
func (f *Fleet) ticker(line func() string) (stop func()) {
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

// maxShedRetries bounds how often one client retries after 1013
// overloaded.
const maxShedRetries = 50

// connect dials and (Parley) authenticates and subscribes, retrying after
// the server's hint whenever it sheds the socket with 1013 overloaded.
func (c *client) connect(ctx context.Context, d *websocket.Dialer) error {
	for attempt := 0; ; attempt++ {
		err := c.connectOnce(ctx, d)
		wait, shed := overloaded(err)
		if !shed || attempt >= maxShedRetries {
			return err
		}
		c.f.sheds.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// overloaded reads the retry hint of a 1013 {"code":"overloaded"} close.
func overloaded(err error) (time.Duration, bool) {
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseTryAgainLater {
		return 0, false
	}
	code, wait, ok := closeHint(ce)
	return wait, ok && code == "overloaded"
}

func (c *client) connectOnce(ctx context.Context, d *websocket.Dialer) error {
	url := c.f.cfg.URLs[c.urlIdx]
	conn, resp, err := d.DialContext(ctx, url, http.Header{})
	if err != nil {
		if resp != nil {
			return fmt.Errorf("dial %s: %w (status %d)", url, err, resp.StatusCode)
		}
		return fmt.Errorf("dial %s: %w", url, err)
	}
	c.conn = conn
	if c.f.cfg.Protocol == Parley {
		if err := c.handshake(ctx); err != nil {
			conn.Close()
			// No reader runs on it: Close must not wait for one.
			c.conn = nil
			return err
		}
	}
	go c.readLoop()
	return nil
}

// handshake authenticates and subscribes, waiting for ready and subscribed.
func (c *client) handshake(ctx context.Context) error {
	deadline := time.Now().Add(c.f.cfg.HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.conn.SetReadDeadline(deadline)
	defer c.conn.SetReadDeadline(time.Time{})
	m := c.f.cfg.Members[c.id]
	// A shed socket may be closed before the auth frame is written: the
	// close frame (and its retry hint) is still read below.
	werr := c.conn.WriteJSON(map[string]string{"type": "auth", "token": m.Token})
	if err := c.await(kindReady); err != nil {
		if werr != nil {
			if _, shed := overloaded(err); !shed {
				return fmt.Errorf("auth: %w", werr)
			}
		}
		return fmt.Errorf("auth: %w", err)
	}
	if !c.f.cfg.Subscribe {
		return nil
	}
	// A replica short of CPU or database may answer a subscribe with
	// database_unavailable ("try again shortly"): retry it a few times, as
	// the SPA does, rather than fail the whole fleet.
	for attempt := 1; ; attempt++ {
		if err := c.conn.WriteJSON(map[string]any{"type": "subscribe", "room_id": c.roomID}); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		err := c.await(kindSubscribed)
		if err == nil {
			return nil
		}
		if !strings.Contains(err.Error(), `"code":"database_unavailable"`) || attempt >= 5 {
			return fmt.Errorf("subscribe to room %d: %w", c.roomID, err)
		}
		c.f.retried.Add(1)
		t := time.NewTimer(time.Duration(attempt) * 500 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

func (c *client) await(want frameKind) error {
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return err
		}
		switch classify(data) {
		case want:
			return nil
		case kindError:
			return fmt.Errorf("server error %s", data)
		case kindPresence:
			c.f.countPresence(data)
		}
	}
}

// readLoop is the client's only reader.
func (c *client) readLoop() {
	defer close(c.closed)
	var buf []byte
	for {
		_, r, err := c.conn.NextReader()
		if err != nil {
			c.lost(err)
			return
		}
		buf, err = readAll(r, buf[:0])
		if err != nil {
			c.lost(err)
			return
		}
		c.frame(buf, time.Now())
	}
}

func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// lost records why a connection ended, unless the harness closed it.
func (c *client) lost(err error) {
	c.gone.Store(true)
	if c.f.closing.Load() {
		return
	}
	reason := "read error"
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		reason = "close " + strconv.Itoa(ce.Code)
	} else if errors.Is(err, io.ErrUnexpectedEOF) {
		reason = "eof"
	}
	c.f.mu.Lock()
	c.f.disconnects[reason]++
	c.f.mu.Unlock()
}

func (c *client) frame(data []byte, now time.Time) {
	if c.f.cfg.Protocol == Gorilla {
		// The hub joins queued messages with '\n' in one frame.
		for len(data) > 0 {
			line := data
			if i := indexByte(data, '\n'); i >= 0 {
				line, data = data[:i], data[i+1:]
			} else {
				data = nil
			}
			if p, err := parseBody(line); err == nil {
				c.deliver(p, now)
			} else {
				c.f.badFrame.Add(1)
			}
		}
		return
	}
	switch classify(data) {
	case kindPresence:
		c.f.countPresence(data)
	case kindMessage:
		if p, err := probeIn(data); err == nil {
			c.deliver(p, now)
		} else {
			c.f.badFrame.Add(1)
		}
	case kindAck:
		if p, err := probeIn(data); err == nil && p.sender == c.id {
			c.answered(p, stats.Accepted, "")
		} else {
			c.f.badFrame.Add(1)
		}
	case kindError:
		var e struct {
			Code string `json:"code"`
			Ref  string `json:"ref"`
		}
		_ = json.Unmarshal(data, &e)
		if p, ok := parseClientMsgID(e.Ref, c.f.tag); ok && p.sender == c.id {
			c.answered(p, stats.Refused, e.Code)
			return
		}
		c.f.countError(e.Code)
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func (c *client) deliver(p probe, now time.Time) {
	ep := c.f.epoch(p.epoch)
	if ep == nil || ep.closed.Load() {
		c.f.late.Add(1)
		return
	}
	c.mu.Lock()
	rs := c.inbox[p.epoch]
	if rs == nil {
		rs = &recvState{}
		c.inbox[p.epoch] = rs
	}
	dup := rs.inbox.Receive(p.sender, p.seq)
	lat := time.Duration(now.UnixNano() - p.sentNS)
	if !dup {
		rs.hist.Record(lat)
	}
	c.mu.Unlock()
	if dup {
		ep.dups.Add(1)
		return
	}
	ep.unique.Add(1)
	ep.lastNS.Store(now.UnixNano())
	for {
		m := ep.secMax.Load()
		if int64(lat) <= m || ep.secMax.CompareAndSwap(m, int64(lat)) {
			break
		}
	}
}

func (c *client) answered(p probe, o stats.Outcome, code string) {
	ep := c.f.epoch(p.epoch)
	if ep == nil {
		c.f.late.Add(1)
		return
	}
	now := time.Now()
	c.mu.Lock()
	log := c.sent[p.epoch]
	prev := stats.Unsent
	if log != nil {
		prev = log.Get(p.seq)
		log.Set(p.seq, o)
	}
	if prev == stats.Pending && o == stats.Accepted && p.sentNS > 0 {
		rs := c.inbox[p.epoch]
		if rs == nil {
			rs = &recvState{}
			c.inbox[p.epoch] = rs
		}
		rs.ack.Record(time.Duration(now.UnixNano() - p.sentNS))
	}
	c.mu.Unlock()
	select {
	case c.answer <- struct{}{}:
	default:
	}
	if prev != stats.Pending {
		return // a second answer to one send
	}
	if o == stats.Accepted {
		ep.accepted.Add(1)
		ep.acceptedRoom[c.room].Add(1)
	} else {
		ep.refused.Add(1)
		ep.countError(code)
	}
}

func (f *Fleet) countError(code string) {
	if ep := f.epoch(int(f.nextID.Load()) - 1); ep != nil {
		ep.countError(code)
	}
}

func (f *Fleet) epoch(id int) *epoch {
	if id < 0 || id >= len(f.epochs) {
		return nil
	}
	return f.epochs[id].Load()
}

func (f *Fleet) countPresence(data []byte) {
	f.presenceFrames.Add(1)
	f.presenceBytes.Add(int64(len(data)))
}

// Presence is the presence frames (presence and presence_delta) all
// clients have received so far, and their payload bytes.
func (f *Fleet) Presence() (frames, bytes int64) {
	return f.presenceFrames.Load(), f.presenceBytes.Load()
}

// Sheds is how many handshakes the server closed with 1013 overloaded
// (each was retried after the server's hint).
func (f *Fleet) Sheds() int64 { return f.sheds.Load() }

// SubscribeRetries is how many subscribes were answered
// database_unavailable and sent again.
func (f *Fleet) SubscribeRetries() int64 { return f.retried.Load() }

// Size is the number of clients.
func (f *Fleet) Size() int { return len(f.clients) }

// Connected is the number of clients still connected.
func (f *Fleet) Connected() int {
	n := 0
	for _, c := range f.clients {
		if !c.gone.Load() {
			n++
		}
	}
	return n
}

// Disconnects counts connections the server ended, by reason.
func (f *Fleet) Disconnects() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return copyCounts(f.disconnects)
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Close closes every connection with a normal close and waits for the
// readers.
func (f *Fleet) Close() {
	f.closing.Store(true)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, c := range f.clients {
		if c.conn == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			select {
			case <-c.closed:
			case <-time.After(2 * time.Second):
			}
			_ = c.conn.Close()
			<-c.closed
		})
	}
	wg.Wait()
}

// epoch is one measured phase: its messages carry its id, so frames of an
// earlier phase that arrive late are told apart.
type epoch struct {
	id           int
	startNS      int64
	unique       atomic.Int64
	dups         atomic.Int64
	lastNS       atomic.Int64
	secMax       atomic.Int64
	sent         atomic.Int64
	writeErrs    atomic.Int64
	accepted     atomic.Int64
	refused      atomic.Int64
	acceptedRoom []atomic.Int64
	closed       atomic.Bool
	lagMax       atomic.Int64
	lateAtStart  int64
	badAtStart   int64

	mu     sync.Mutex
	errors map[string]int64
}

func (e *epoch) countError(code string) {
	if code == "" {
		code = "unknown"
	}
	e.mu.Lock()
	e.errors[code]++
	e.mu.Unlock()
}

// Phase is one run of senders at a rate.
type Phase struct {
	Rate     float64       // messages per second, all senders together
	Duration time.Duration // sending time
	Senders  int
	// Drain is how long to wait after sending for the last deliveries.
	Drain time.Duration
	Label string
	// ClosedLoop: each sender waits for the answer to a send before the
	// next, and sends at most Rate/Senders per second (to stay under the
	// server's per-connection frame limit). Measures how fast the server
	// persists, not how it fans out.
	ClosedLoop bool
}

// Result is what a phase measured.
type Result struct {
	Label       string  `json:"label,omitempty"`
	Rate        float64 `json:"offered_rate"`
	Senders     int     `json:"senders"`
	Recipients  int     `json:"recipients"`
	Duration    float64 `json:"duration_s"`
	Sent        int64   `json:"sent"`
	SendRate    float64 `json:"send_rate"`
	Accepted    int64   `json:"accepted"`
	Refused     int64   `json:"refused"`
	WriteErrors int64   `json:"write_errors"`
	Unanswered  int64   `json:"unanswered"`
	// SendErrors is Refused + WriteErrors.
	SendErrors int64            `json:"send_errors"`
	ErrorCodes map[string]int64 `json:"error_codes,omitempty"`
	stats.Tally
	// Late deliveries arrived after their phase was accounted.
	Late int64 `json:"late"`
	// DeliveriesPerSec is unique deliveries over the time from the first
	// send to the last delivery.
	DeliveriesPerSec float64       `json:"deliveries_per_s"`
	Latency          stats.Summary `json:"latency"`
	// LatencyByURL splits Latency by the endpoint each recipient is
	// connected to, in Config.URLs order, when there are several (replicas:
	// the senders' own first, then the others).
	LatencyByURL []URLLatency `json:"latency_by_url,omitempty"`
	// AckLatency is send to ack (Parley), the persistence round trip.
	AckLatency     stats.Summary    `json:"ack_latency"`
	SenderLagMaxMS float64          `json:"sender_lag_max_ms"`
	Disconnects    map[string]int   `json:"disconnects,omitempty"`
	DrainTimedOut  bool             `json:"drain_timed_out"`
	BadFrames      int64            `json:"bad_frames"`
	hist           *stats.Histogram `json:"-"`
}

// URLLatency is the latency of the recipients connected to one URL.
type URLLatency struct {
	URL string `json:"url"`
	stats.Summary
}

// Clean reports whether nothing was lost, duplicated, refused or dropped.
func (r Result) Clean() bool {
	return r.Lost == 0 && r.Duplicates == 0 && r.Unexpected == 0 && r.SendErrors == 0 && r.Late == 0 &&
		len(r.Disconnects) == 0 && r.BadFrames == 0 && r.Unanswered == 0
}

// Histogram is the phase's merged latency histogram.
func (r Result) Histogram() *stats.Histogram { return r.hist }

// Run sends at a rate for a duration from the first p.Senders clients and
// accounts every delivery.
func (f *Fleet) Run(ctx context.Context, p Phase) (Result, error) {
	p.Senders = min(max(p.Senders, 1), f.cfg.MaxSenders, len(f.clients))
	if p.Rate <= 0 || p.Duration <= 0 {
		return Result{}, errors.New("rate and duration must be positive")
	}
	id := int(f.nextID.Add(1)) - 1
	if id >= len(f.epochs) {
		return Result{}, errors.New("too many phases on one fleet")
	}
	ep := &epoch{id: id, startNS: time.Now().UnixNano(), acceptedRoom: make([]atomic.Int64, len(f.rooms)), errors: map[string]int64{},
		lateAtStart: f.late.Load(), badAtStart: f.badFrame.Load()}
	f.epochs[id].Store(ep)
	interval := time.Duration(float64(p.Senders) / p.Rate * float64(time.Second))
	start := time.Now().Add(50 * time.Millisecond)
	end := start.Add(p.Duration)

	stop := f.ticker(progressLine(f, ep, p))
	var wg sync.WaitGroup
	for _, c := range f.clients[:p.Senders] {
		c.mu.Lock()
		c.sent[id] = &stats.SenderLog{}
		c.mu.Unlock()
		phase := time.Duration(rand.Int64N(int64(interval)))
		wg.Go(func() { c.sendLoop(ctx, ep, start.Add(phase), end, interval, p.ClosedLoop) })
	}
	wg.Wait()
	sendEnd := time.Now()

	// Drain: wait until every accepted message reached every connected
	// recipient of its room and every send was answered.
	drain := p.Drain
	if drain <= 0 {
		drain = 10 * time.Second
	}
	timedOut := true
	deadline := time.Now().Add(drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if f.drained(ep) {
			timedOut = false
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	ep.closed.Store(true)
	res := f.account(ep, p)
	res.DrainTimedOut = timedOut
	res.SendRate = float64(res.Sent) / sendEnd.Sub(start).Seconds()
	return res, ctx.Err()
}

func progressLine(f *Fleet, ep *epoch, p Phase) func() string {
	var lastN int64
	lastT := time.Now()
	return func() string {
		n := ep.unique.Load()
		now := time.Now()
		rate := float64(n-lastN) / now.Sub(lastT).Seconds()
		lastN, lastT = n, now
		secMax := time.Duration(ep.secMax.Swap(0))
		disc := 0
		for _, v := range f.Disconnects() {
			disc += v
		}
		return fmt.Sprintf("%s t=%4.1fs rate=%.0f/s sent=%d acked=%d refused=%d deliveries=%d (%.0f/s) dup=%d max-lat(1s)=%v disconnects=%d",
			p.Label, time.Duration(now.UnixNano()-ep.startNS).Seconds(), p.Rate, ep.sent.Load(), ep.accepted.Load(), ep.refused.Load(),
			n, rate, ep.dups.Load(), secMax.Round(time.Millisecond), disc)
	}
}

// drained reports whether the expected deliveries have all arrived.
func (f *Fleet) drained(ep *epoch) bool {
	if f.cfg.Protocol == Parley && ep.accepted.Load()+ep.refused.Load() < ep.sent.Load() {
		return false
	}
	if f.cfg.Protocol == Parley && !f.cfg.Subscribe {
		return true // nobody receives
	}
	var want int64
	for r, members := range f.rooms {
		connected := int64(0)
		for _, i := range members {
			if !f.clients[i].gone.Load() {
				connected++
			}
		}
		want += ep.acceptedRoom[r].Load() * connected
	}
	return ep.unique.Load() >= want
}

func (c *client) sendLoop(ctx context.Context, ep *epoch, start, end time.Time, interval time.Duration, closed bool) {
	parley := c.f.cfg.Protocol == Parley
	due := start
	for seq := 0; ; seq++ {
		if seq > 0 {
			due = due.Add(interval)
		}
		if !due.Before(end) || ctx.Err() != nil || c.gone.Load() {
			return
		}
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		} else if lag := int64(-d); lag > ep.lagMax.Load() {
			ep.lagMax.Store(lag) // racy max, good enough for a diagnostic
		}
		p := probe{epoch: ep.id, sender: c.id, seq: seq, sentNS: time.Now().UnixNano()}
		c.mu.Lock()
		log := c.sent[ep.id]
		log.Set(seq, stats.Pending)
		c.mu.Unlock()
		if parley {
			c.wbuf = appendSendFrame(c.wbuf[:0], c.f.tag, c.roomID, p, c.f.cfg.BodySize)
		} else {
			c.wbuf = appendBody(c.wbuf[:0], p, c.f.cfg.BodySize)
		}
		_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		err := c.conn.WriteMessage(websocket.TextMessage, c.wbuf)
		ep.sent.Add(1)
		if err != nil {
			c.mu.Lock()
			log.Set(seq, stats.Unsent)
			c.mu.Unlock()
			ep.writeErrs.Add(1)
			ep.sent.Add(-1)
			ep.countError("write: " + err.Error())
			return
		}
		if closed && parley {
			if !c.awaitAnswer(ctx, log, seq, end.Add(10*time.Second)) {
				return
			}
			// The next send is due one interval after this one, or at
			// once if the answer took longer than that; a closed loop
			// never catches up on sends it could not make.
			if now := time.Now(); now.Sub(due) > interval {
				due = now.Add(-interval)
			}
			continue
		}
		if !parley {
			// No acks: a written message is one the hub must deliver.
			c.mu.Lock()
			log.Set(seq, stats.Accepted)
			c.mu.Unlock()
			ep.accepted.Add(1)
			ep.acceptedRoom[c.room].Add(1)
		}
	}
}

// awaitAnswer waits until seq is answered; false when the connection or
// the run ended first.
func (c *client) awaitAnswer(ctx context.Context, log *stats.SenderLog, seq int, deadline time.Time) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		c.mu.Lock()
		o := log.Get(seq)
		c.mu.Unlock()
		if o != stats.Pending {
			return true
		}
		select {
		case <-c.answer:
		case <-c.closed:
			return false
		case <-ctx.Done():
			return false
		case <-timer.C:
			return false
		}
	}
}

// account merges every recipient's view of the phase.
func (f *Fleet) account(ep *epoch, p Phase) Result {
	res := Result{Label: p.Label, Rate: p.Rate, Senders: p.Senders, Recipients: len(f.clients), Duration: p.Duration.Seconds(),
		Sent: ep.sent.Load(), Accepted: ep.accepted.Load(), Refused: ep.refused.Load(), WriteErrors: ep.writeErrs.Load(),
		hist: &stats.Histogram{}}
	res.SendErrors = res.Refused + res.WriteErrors
	res.Unanswered = res.Sent - res.Accepted - res.Refused
	// Senders of each room, by client id.
	roomSenders := make([]map[int]*stats.SenderLog, len(f.rooms))
	for r := range roomSenders {
		roomSenders[r] = map[int]*stats.SenderLog{}
	}
	for _, c := range f.clients[:p.Senders] {
		c.mu.Lock()
		if log := c.sent[ep.id]; log != nil {
			roomSenders[c.room][c.id] = log
		}
		c.mu.Unlock()
	}
	var ack stats.Histogram
	var byURL []stats.Histogram
	if len(f.cfg.URLs) > 1 {
		byURL = make([]stats.Histogram, len(f.cfg.URLs))
	}
	for _, c := range f.clients {
		c.mu.Lock()
		rs := c.inbox[ep.id]
		delete(c.inbox, ep.id)
		c.mu.Unlock()
		if rs == nil {
			rs = &recvState{}
		}
		if f.cfg.Protocol == Gorilla || f.cfg.Subscribe {
			res.Tally.Add(stats.Account(&rs.inbox, roomSenders[c.room]))
		}
		res.hist.Merge(&rs.hist)
		if byURL != nil {
			byURL[c.urlIdx].Merge(&rs.hist)
		}
		ack.Merge(&rs.ack)
	}
	res.AckLatency = ack.Summarize()
	for i := range byURL {
		res.LatencyByURL = append(res.LatencyByURL, URLLatency{URL: f.cfg.URLs[i], Summary: byURL[i].Summarize()})
	}
	for _, c := range f.clients[:p.Senders] {
		c.mu.Lock()
		delete(c.sent, ep.id)
		c.mu.Unlock()
	}
	if last := ep.lastNS.Load(); last > ep.startNS {
		res.DeliveriesPerSec = float64(res.Delivered) / (float64(last-ep.startNS) / 1e9)
	}
	res.Latency = res.hist.Summarize()
	res.SenderLagMaxMS = float64(ep.lagMax.Load()) / 1e6
	ep.mu.Lock()
	if len(ep.errors) > 0 {
		res.ErrorCodes = map[string]int64{}
		for k, v := range ep.errors {
			res.ErrorCodes[k] = v
		}
	}
	ep.mu.Unlock()
	res.Disconnects = f.Disconnects()
	if len(res.Disconnects) == 0 {
		res.Disconnects = nil
	}
	res.Late = f.late.Load() - ep.lateAtStart
	res.BadFrames = f.badFrame.Load() - ep.badAtStart
	return res
}

// Rooms lists the client indexes of each room, sorted.
func (f *Fleet) Rooms() [][]int {
	out := make([][]int, len(f.rooms))
	for i, r := range f.rooms {
		out[i] = slices.Clone(r)
	}
	return out
}

func newTag() string {
	var b [4]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
