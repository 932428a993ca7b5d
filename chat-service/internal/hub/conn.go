package hub

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Close codes (ARCHITECTURE.md, Contract: WebSocket).
const (
	CloseUnauthenticated = 4401
	CloseForbidden       = 4403
	// CloseTooManyConns refuses a socket past Options.MaxConnsPerUser.
	CloseTooManyConns   = 4429
	CloseServiceRestart = websocket.CloseServiceRestart // 1012
	CloseTryAgainLater  = websocket.CloseTryAgainLater  // 1013, too slow
	CloseMessageTooBig  = websocket.CloseMessageTooBig  // 1009
)

// ErrClosing is returned when a frame is queued on a connection that is
// closing.
var ErrClosing = errors.New("hub: connection closing")

// textFrame encodes payload as one unmasked, unfragmented WebSocket text
// frame (the server→client form), so one event is encoded once and the same
// bytes are written to every connection.
func textFrame(payload []byte) []byte {
	var hdr [10]byte
	hdr[0] = 0x80 | websocket.TextMessage // FIN + text
	n, h := len(payload), 2
	switch {
	case n < 126:
		hdr[1] = byte(n)
	case n <= 0xffff:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
		h = 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
		h = 10
	}
	out := make([]byte, h+n)
	copy(out, hdr[:h])
	copy(out[h:], payload)
	return out
}

// JSONFrame marshals v and encodes it as a text frame.
func JSONFrame(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return textFrame(b), nil
}

// pending is a room event held back while its subscription replays history.
type pending struct {
	frame []byte
	isMsg bool
	seq   int64
}

type subState struct {
	// replaying is true while history is read from the database; live
	// events wait in buf.
	replaying bool
	buf       []pending
	// replayedMax is the highest message seq sent from the database; live
	// message events at or below it are duplicates and are skipped.
	replayedMax int64
}

// Conn is one WebSocket connection. Only its writer goroutine writes data
// frames; everyone else queues. The queue is bounded: a connection that
// cannot keep up is closed with 1013 instead of slowing anybody down.
//
// The writer runs only while there is something to write (frames, a due
// ping, the close): kickLocked starts it, and it ends when it finds the
// queue empty. An idle connection therefore holds one goroutine, its
// reader, and a ping timer — not a second goroutine blocked in a select
// with its stack and a ticker (docs/BENCHMARKS.md, Big rooms: idle memory).
type Conn struct {
	hub *Hub
	ws  *websocket.Conn
	nc  net.Conn

	// Ctx ends when the connection is finished.
	Ctx    context.Context
	cancel context.CancelFunc
	// opened is when the hub accepted it, on the hub's clock.
	opened int64

	mu         sync.Mutex
	queue      [][]byte
	queueBytes int
	subs       map[int64]*subState
	userID     int64
	username   string
	sid        string // the session of the token it authenticated with
	closing    bool
	closeCode  int
	closeText  string
	// flushPending: the hub's flusher will wake the writer (WriteDelay).
	flushPending bool
	// lastWrite is when the writer last took frames off the queue, on the
	// hub's clock.
	lastWrite int64
	// writing: a writer goroutine is running, or has finished for good
	// (closed writerDone); either way nobody starts another.
	writing bool
	// pingDue: the ping timer fired; the writer sends a ping.
	pingDue bool
	pinger  *time.Timer

	drained    chan struct{}
	writerDone chan struct{}
}

// kickLocked makes sure a writer will take what is queued. c.mu must be
// held.
func (c *Conn) kickLocked() {
	if c.writing {
		return
	}
	c.writing = true
	go c.writeLoop()
}

// pingTick is the ping timer's function: every PingPeriod it has the writer
// send a ping (the reader's deadline expects the pong).
func (c *Conn) pingTick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.pingDue = true
	c.kickLocked()
	c.pinger.Reset(c.hub.o.PingPeriod)
}

// SetSession records the session of a renewed token.
func (c *Conn) SetSession(sid string) {
	c.mu.Lock()
	c.sid = sid
	c.mu.Unlock()
}

// WS is the underlying gorilla connection, for reading.
func (c *Conn) WS() *websocket.Conn { return c.ws }

// User is the authenticated user id (0 before auth).
func (c *Conn) User() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.userID
}

// Closing reports whether a close was started.
func (c *Conn) Closing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

func (c *Conn) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// pushLocked queues a frame without blocking; a full queue closes the
// connection as too slow. c.mu must be held.
func (c *Conn) pushLocked(frame []byte) bool { return c.enqueueLocked(frame, false, 0) }

// enqueueLocked queues a frame. Coalescing is adaptive: a deferred frame (a
// room broadcast) wakes the writer at once when the connection has not
// written within the last WriteDelay, so a quiet room pays no delay; on a
// busy connection it is left for the hub's flusher, which wakes the writer
// within WriteDelay, so one write carries every frame that arrived in
// between. now is the hub's clock (0 for a frame that is never deferred).
// c.mu must be held.
func (c *Conn) enqueueLocked(frame []byte, deferred bool, now int64) bool {
	if c.closing {
		return false
	}
	if len(c.queue) >= c.hub.o.QueueSize || c.queueBytes+len(frame) > c.hub.o.QueueBytes {
		c.hub.m.slow.Inc()
		c.closeLocked(CloseTryAgainLater, "too slow")
		return false
	}
	c.queue = append(c.queue, frame)
	c.queueBytes += len(frame)
	if deferred && c.hub.o.WriteDelay > 0 {
		if c.flushPending {
			return true
		}
		if now-c.lastWrite < int64(c.hub.o.WriteDelay) {
			c.flushPending = true
			c.hub.scheduleFlush(c)
			return true
		}
	}
	c.kickLocked()
	return true
}

// Push queues a frame for this connection only.
func (c *Conn) Push(frame []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pushLocked(frame)
}

// PushJSON marshals v and queues it.
func (c *Conn) PushJSON(v any) bool {
	f, err := JSONFrame(v)
	if err != nil {
		return false
	}
	return c.Push(f)
}

// pushWait queues a frame, waiting for room in the queue (replays use it:
// they come from the connection's own reader, never from the hub). A
// consumer that makes no room within WriteWait is too slow.
func (c *Conn) pushWait(ctx context.Context, frame []byte) error {
	timer := time.NewTimer(c.hub.o.WriteWait)
	defer timer.Stop()
	for {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			return ErrClosing
		}
		if len(c.queue) < c.hub.o.QueueSize && c.queueBytes+len(frame) <= c.hub.o.QueueBytes {
			c.queue = append(c.queue, frame)
			c.queueBytes += len(frame)
			c.kickLocked()
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		select {
		case <-c.drained:
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			c.hub.m.slow.Inc()
			c.CloseWith(CloseTryAgainLater, "too slow")
			return ErrClosing
		}
	}
}

// deliverRoom hands a room event to this connection's subscription.
func (c *Conn) deliverRoom(room int64, isMsg bool, seq int64, frame []byte, now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.subs[room]
	if s == nil || (isMsg && seq <= s.replayedMax) {
		return
	}
	if s.replaying {
		if len(s.buf) >= c.hub.o.ReplayBuffer {
			c.hub.m.slow.Inc()
			c.closeLocked(CloseTryAgainLater, "too slow")
			return
		}
		s.buf = append(s.buf, pending{frame: frame, isMsg: isMsg, seq: seq})
		return
	}
	c.enqueueLocked(frame, true, now)
}

// CloseWith starts closing: the writer sends what is queued (nothing when
// the connection is too slow), then a close frame with code.
func (c *Conn) CloseWith(code int, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(code, text)
}

func (c *Conn) closeLocked(code int, text string) {
	if c.closing {
		return
	}
	c.closing, c.closeCode, c.closeText = true, code, text
	if code == CloseTryAgainLater {
		clear(c.queue)
		c.queue, c.queueBytes = nil, 0
	}
	c.pinger.Stop()
	c.kickLocked()
}

// writeLoop is the connection's only writer of data frames. It writes
// every queued frame in one writev (after a due ping), and ends when the
// queue is empty — or for good after the close handshake or a failed write,
// closing writerDone.
func (c *Conn) writeLoop() {
	var batch [][]byte
	for {
		c.mu.Lock()
		batch, c.queue = c.queue, batch[:0]
		c.queueBytes = 0
		ping := c.pingDue
		c.pingDue = false
		closing, code, text := c.closing, c.closeCode, c.closeText
		if len(batch) == 0 && !ping && !closing {
			c.queue = nil // an idle connection keeps no buffer
			c.writing = false
			c.mu.Unlock()
			return
		}
		if len(batch) > 0 {
			c.lastWrite = c.hub.clock()
		}
		if cap(c.queue) > 64 {
			c.queue = nil // let a burst's buffer go
		}
		c.mu.Unlock()
		c.signal(c.drained)
		if ping {
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.hub.o.WriteWait)); err != nil {
				c.abort()
				return
			}
		}
		if len(batch) > 0 {
			// Writing the shared frame bytes straight to the socket batches
			// many frames per syscall; gorilla's own writes (control frames)
			// are whole frames too, and net.Conn serialises whole writes.
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.hub.o.WriteWait))
			bufs := net.Buffers(batch)
			_, err := bufs.WriteTo(c.nc)
			c.hub.m.delivered.Add(float64(len(batch)))
			c.hub.fm.batch.Observe(float64(len(batch)))
			clear(batch)
			batch = batch[:0]
			if err != nil {
				c.abort()
				return
			}
		}
		if closing {
			_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(c.hub.o.WriteWait))
			// The reader ends on the peer's close reply, EOF, or this deadline.
			_ = c.nc.SetReadDeadline(time.Now().Add(c.hub.o.CloseGrace))
			close(c.writerDone)
			return
		}
	}
}

// abort marks the connection closed after a write failure, unblocks the
// reader and ends the writer for good.
func (c *Conn) abort() {
	c.mu.Lock()
	c.closing = true
	c.queue, c.queueBytes = nil, 0
	c.pinger.Stop()
	c.mu.Unlock()
	_ = c.nc.SetReadDeadline(time.Now())
	close(c.writerDone)
}

// Finish is called once by the reader when it is done: it completes the
// close, releases the socket and unregisters the connection.
func (c *Conn) Finish(code int, text string) { c.finish(code, text, false) }

// FinishDraining is Finish for a connection whose input is out of step (an
// oversize frame was cut short): it reads and discards what the peer still
// sends until it closes or CloseGrace passes, so closing the socket does not
// reset it before the peer has read the close frame.
func (c *Conn) FinishDraining(code int, text string) { c.finish(code, text, true) }

func (c *Conn) finish(code int, text string, drain bool) {
	c.CloseWith(code, text)
	select {
	case <-c.writerDone:
	case <-time.After(c.hub.o.CloseGrace):
	}
	if drain {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.hub.o.CloseGrace))
		_, _ = io.Copy(io.Discard, c.nc)
	}
	_ = c.nc.Close()
	<-c.writerDone
	c.cancel()
	c.hub.unregister(c)
}
