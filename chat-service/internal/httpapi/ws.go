package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/chat-service/internal/hub"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/httpx"
	"github.com/parleychat/parley/platform/tracing"
)

// WSOptions tunes the WebSocket protocol; zero fields get defaults.
type WSOptions struct {
	// AuthTimeout is how long a connection may stay unauthenticated.
	AuthTimeout time.Duration
	// ReadLimit is the largest frame a client may send (64 KiB).
	ReadLimit int64
	// PongWait is how long the server waits for any frame or pong.
	PongWait time.Duration
	// FrameRate and FrameBurst limit all frames of one connection (flood
	// protection; sends are further limited per user by the service).
	FrameRate  float64
	FrameBurst int
	// OpTimeout bounds the work one frame may cause.
	OpTimeout time.Duration
	// Admission of new sockets (admission.go): AdmitRate/AdmitBurst is a
	// token bucket of admissions per second (WS_ADMIT_RATE,
	// WS_ADMIT_BURST), AdmitMaxPending bounds the sockets still in their
	// auth and subscribe phase (WS_ADMIT_MAX_PENDING), MaxConns the open
	// sockets of the replica (WS_MAX_CONNS; 0: no cap). A socket past any
	// of them is accepted and closed with 1013 overloaded and a retry hint.
	AdmitRate       float64
	AdmitBurst      int
	AdmitMaxPending int
	MaxConns        int
}

func (o *WSOptions) defaults() {
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = 10 * time.Second
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = 64 << 10
	}
	if o.PongWait <= 0 {
		o.PongWait = 60 * time.Second
	}
	if o.FrameRate <= 0 {
		o.FrameRate = 50
	}
	if o.FrameBurst <= 0 {
		o.FrameBurst = 100
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 10 * time.Second
	}
	if o.AdmitRate <= 0 {
		o.AdmitRate = DefaultAdmitRate
	}
	if o.AdmitBurst <= 0 {
		o.AdmitBurst = DefaultAdmitBurst
	}
	if o.AdmitMaxPending <= 0 {
		o.AdmitMaxPending = DefaultAdmitMaxPending
	}
	o.MaxConns = max(o.MaxConns, 0)
}

type wsServer struct {
	svc      *chat.Service
	hub      *hub.Hub
	verifier authn.TokenVerifier
	revs     *authn.Revocations
	log      *slog.Logger
	opts     WSOptions
	anyOrig  bool
	origins  map[string]bool
	upgrader websocket.Upgrader
	adm      *admission
}

func newWSServer(d Deps) *wsServer {
	d.WS.defaults()
	w := &wsServer{svc: d.Service, hub: d.Hub, verifier: d.Verifier, revs: d.Revocations, log: d.Logger, opts: d.WS, origins: map[string]bool{}}
	w.adm = newAdmission(d.WS, d.Registry)
	for _, o := range d.AllowedOrigins {
		if o == "*" {
			w.anyOrig = true
		}
		w.origins[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	w.upgrader = websocket.Upgrader{
		// Origin is checked in handle, answering a JSON 403.
		CheckOrigin: func(*http.Request) bool { return true },
		// Data frames are written by the hub straight to the socket, so
		// gorilla needs no per-connection write buffer. Clients send small
		// frames, so a 1 KiB read buffer (instead of reusing net/http's
		// 4 KiB one) keeps idle connections cheap.
		WriteBufferPool: &sync.Pool{},
		ReadBufferSize:  1024,
	}
	return w
}

// originAllowed accepts listed origins. A request without Origin is not a
// browser (browsers always send it on WebSocket handshakes), so it cannot be
// a cross-site hijack; it is allowed and still has to authenticate.
func (w *wsServer) originAllowed(origin string) bool {
	if origin == "" || w.anyOrig {
		return true
	}
	return w.origins[strings.ToLower(strings.TrimRight(origin, "/"))]
}

func (w *wsServer) handle(c *gin.Context) {
	if !websocket.IsWebSocketUpgrade(c.Request) {
		httpx.Error(c, apperr.Invalid("websocket_required", "this endpoint speaks WebSocket only"))
		return
	}
	if !w.originAllowed(c.GetHeader("Origin")) {
		httpx.Error(c, apperr.Forbidden("origin_not_allowed", "this origin may not open a WebSocket"))
		return
	}
	// Admission is decided before the handshake answers, so a client whose
	// handshake completed holds its slot (or knows it is shed) at once.
	t, why, load := w.adm.admit()
	ws, err := w.upgrader.Upgrade(c.Writer, c.Request, nil)
	if err != nil {
		if t != nil {
			t.done()
		}
		return // gorilla answered the handshake error
	}
	if t == nil {
		w.adm.shed(ws, why, load)
		return
	}
	conn, err := w.hub.Accept(ws)
	if err != nil {
		t.done()
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(hub.CloseServiceRestart, "server restart"), time.Now().Add(time.Second))
		_ = ws.Close()
		return
	}
	// The session runs on its own goroutine so the HTTP handler's stack and
	// buffers are released while the connection idles.
	go w.session(conn, t, tracing.FromContext(c.Request.Context()))
}

// clientFrame is every field any client frame may carry.
type clientFrame struct {
	Type        string  `json:"type"`
	Ref         string  `json:"ref"`
	Token       string  `json:"token"`
	RoomID      int64   `json:"room_id"`
	AfterSeq    *int64  `json:"after_seq"`
	Body        *string `json:"body"`
	ClientMsgID string  `json:"client_msg_id"`
	Seq         *int64  `json:"seq"`
	// ThreadRootID makes a send a reply (null or absent: top-level).
	ThreadRootID *int64 `json:"thread_root_id"`
	// FileIDs attach uploads to a send (POST /rooms/:id/files).
	FileIDs []int64 `json:"file_ids"`
}

// Server frames answered to one client.
type (
	readyFrame struct {
		Type      string    `json:"type"`
		User      wsUser    `json:"user"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	wsUser struct {
		ID       int64  `json:"id"`
		Username string `json:"username"`
		Role     string `json:"role"`
	}
	ackFrame struct {
		Type        string       `json:"type"`
		ClientMsgID string       `json:"client_msg_id"`
		Message     chat.Message `json:"message"`
	}
	pongFrame struct {
		Type string `json:"type"`
		Ref  string `json:"ref,omitempty"`
	}
	errorFrame struct {
		Type         string `json:"type"`
		Code         string `json:"code"`
		Message      string `json:"message"`
		Ref          string `json:"ref,omitempty"`
		RetryAfterMS int64  `json:"retry_after_ms,omitempty"`
	}
)

type session struct {
	w       *wsServer
	conn    *hub.Conn
	limiter *rate.Limiter
	// ticket is the socket's admission, settled after its first frame
	// past auth (normally the subscribe) or at the auth timeout.
	ticket *ticket

	authed atomic.Bool
	// identity and expiry are touched only by the reader goroutine.
	identity authn.Identity
	expiry   *time.Timer
	// tp starts a trace per send frame (browsers send no trace context
	// over a socket); nil when tracing is off.
	tp *tracing.Provider
}

func (w *wsServer) session(conn *hub.Conn, t *ticket, tp *tracing.Provider) {
	defer t.done()
	s := &session{w: w, conn: conn, ticket: t, limiter: rate.NewLimiter(rate.Limit(w.opts.FrameRate), w.opts.FrameBurst), tp: tp}
	ws := conn.WS()
	ws.SetReadLimit(w.opts.ReadLimit)
	_ = ws.SetReadDeadline(time.Now().Add(w.opts.PongWait))
	ws.SetPongHandler(func(string) error {
		if !conn.Closing() {
			_ = ws.SetReadDeadline(time.Now().Add(w.opts.PongWait))
		}
		return nil
	})
	authTimer := time.AfterFunc(w.opts.AuthTimeout, func() {
		t.settled()
		if !s.authed.Load() {
			conn.CloseWith(hub.CloseUnauthenticated, "authentication timeout")
		}
	})
	code, text, drain := s.readLoop()
	authTimer.Stop()
	if s.expiry != nil {
		s.expiry.Stop()
	}
	if drain {
		conn.FinishDraining(code, text)
		return
	}
	conn.Finish(code, text)
}

// readLoop reads frames until the connection fails or closes, and says how
// to close it.
func (s *session) readLoop() (code int, text string, drain bool) {
	ws := s.conn.WS()
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				// gorilla already sent 1009; the rest of the frame is unread.
				return hub.CloseMessageTooBig, "frame too large", true
			}
			return websocket.CloseNormalClosure, "", false
		}
		if s.conn.Closing() {
			continue // wait for the close reply; do not act on more frames
		}
		_ = ws.SetReadDeadline(time.Now().Add(s.w.opts.PongWait))
		if mt != websocket.TextMessage {
			s.sendError("invalid_frame", "frames must be JSON text", "", 0)
			continue
		}
		// The frame's work (token checks, database reads and writes) runs
		// on a short-lived goroutine while the reader waits, so frames are
		// still handled in order but the deep stacks of that work do not
		// stay with the reader, which idles for most of a connection's life.
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.handle(data)
		}()
		<-done
	}
}

func (s *session) sendError(code, message, ref string, retryAfter time.Duration) {
	s.conn.PushJSON(errorFrame{Type: "error", Code: code, Message: message, Ref: ref, RetryAfterMS: retryAfter.Milliseconds()})
}

// fail turns a service error into an error frame.
func (s *session) fail(err error, ref string) {
	if errors.Is(err, hub.ErrClosing) || errors.Is(err, context.Canceled) {
		return
	}
	e, ok := apperr.From(err)
	if !ok {
		s.w.log.Error("websocket frame failed", "user_id", s.identity.UserID, "error", err)
	}
	s.sendError(e.Code, e.Message, ref, time.Duration(e.RetryAfter)*time.Second)
}

var knownTypes = map[string]bool{"auth": true, "subscribe": true, "unsubscribe": true, "send": true, "typing": true, "read": true, "ping": true}

func (s *session) handle(data []byte) {
	var f clientFrame
	if err := json.Unmarshal(data, &f); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			s.sendError("invalid_frame", "field "+typeErr.Field+" has the wrong type", "", 0)
			return
		}
		s.sendError("invalid_json", "frame is not a JSON object", "", 0)
		return
	}
	if !s.limiter.Allow() {
		s.sendError("rate_limited", "too many frames; slow down", f.Ref, time.Second)
		return
	}
	if !knownTypes[f.Type] {
		s.sendError("unknown_type", "unknown frame type "+quote(f.Type), f.Ref, 0)
		return
	}
	switch f.Type {
	case "ping":
		s.conn.PushJSON(pongFrame{Type: "pong", Ref: f.Ref})
		return
	case "auth":
		s.auth(f)
		return
	}
	if !s.authed.Load() {
		s.sendError("unauthenticated", "send an auth frame first", f.Ref, 0)
		return
	}
	// The first frame past auth (a subscribe, normally) ends the socket's
	// admission phase once it has been handled.
	defer s.ticket.settled()
	// The identity as it stands now: the socket closes when its session is
	// revoked (the follower's listener), and a frame already read when that
	// happens is refused here; a changed role applies to the next frame.
	id, err := s.w.revs.Check(s.identity)
	if err != nil {
		e, _ := apperr.From(err)
		s.conn.CloseWith(authn.CloseCode(err), e.Code)
		return
	}
	ctx, cancel := context.WithTimeout(s.conn.Ctx, s.w.opts.OpTimeout)
	defer cancel()
	a := actorOf(id)
	switch f.Type {
	case "subscribe":
		s.subscribe(ctx, a, f)
	case "unsubscribe":
		if f.RoomID <= 0 {
			s.sendError("invalid_frame", "room_id is required", f.Ref, 0)
			return
		}
		s.w.hub.Unsubscribe(s.conn, f.RoomID)
	case "send":
		ref := f.Ref
		if ref == "" {
			ref = f.ClientMsgID
		}
		if f.Body == nil && len(f.FileIDs) == 0 {
			s.sendError("empty_body", "message body must not be empty", ref, 0)
			return
		}
		o := chat.Outgoing{RoomID: f.RoomID, ClientMsgID: f.ClientMsgID, FileIDs: f.FileIDs}
		if f.Body != nil {
			o.Body = *f.Body
		}
		if f.ThreadRootID != nil {
			if *f.ThreadRootID == 0 {
				s.fail(chat.ErrInvalidThread, ref)
				return
			}
			o.ThreadRootID = *f.ThreadRootID
		}
		if s.tp != nil {
			var span trace.Span
			ctx, span = s.tp.Tracer().Start(ctx, "ws send", trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.Int64("parley.room_id", f.RoomID)))
			defer span.End()
		}
		msg, _, err := s.w.svc.Send(ctx, a, o)
		if err != nil {
			s.fail(err, ref)
			return
		}
		s.conn.PushJSON(ackFrame{Type: "ack", ClientMsgID: f.ClientMsgID, Message: msg})
	case "typing":
		if err := s.w.svc.Typing(ctx, a, f.RoomID); err != nil {
			s.fail(err, f.Ref)
		}
	case "read":
		if f.Seq == nil {
			s.sendError("invalid_seq", "seq is required", f.Ref, 0)
			return
		}
		if _, err := s.w.svc.MarkRead(ctx, a, f.RoomID, *f.Seq); err != nil {
			s.fail(err, f.Ref)
		}
	}
}

func quote(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// auth handles the first auth frame (failure closes with 4401) and
// renewals (failure is an error frame; the old token keeps the connection
// open until it expires; another user's token closes with 4403).
func (s *session) auth(f clientFrame) {
	id, err := s.w.verifier.Verify(strings.TrimSpace(f.Token))
	if !s.authed.Load() {
		if err != nil {
			e, _ := apperr.From(err)
			s.conn.CloseWith(hub.CloseUnauthenticated, e.Code)
			return
		}
		if err := s.w.hub.Authenticate(s.conn, id.UserID, id.Username, id.SID); err != nil {
			s.conn.CloseWith(hub.CloseTooManyConns, "too_many_connections")
			return
		}
		s.identity = id
		s.authed.Store(true)
		ctx, cancel := context.WithTimeout(s.conn.Ctx, s.w.opts.OpTimeout)
		if err := s.w.svc.SeeUser(ctx, actorOf(id)); err != nil {
			s.w.log.Warn("record user", "user_id", id.UserID, "error", err)
		}
		cancel()
		// An authenticated socket makes its user active today (admin usage).
		s.w.svc.MarkActive(id.UserID)
	} else {
		if err != nil {
			s.fail(err, f.Ref)
			return
		}
		if id.UserID != s.identity.UserID {
			s.conn.CloseWith(hub.CloseForbidden, "token belongs to another user")
			return
		}
		s.identity = id
		s.conn.SetSession(id.SID)
	}
	if s.expiry != nil {
		s.expiry.Stop()
	}
	conn := s.conn
	s.expiry = time.AfterFunc(time.Until(id.ExpiresAt), func() {
		conn.CloseWith(hub.CloseUnauthenticated, "token_expired")
	})
	s.conn.PushJSON(readyFrame{Type: "ready", User: wsUser{ID: id.UserID, Username: id.Username, Role: id.Role}, ExpiresAt: id.ExpiresAt.UTC()})
}

func (s *session) subscribe(ctx context.Context, a chat.Actor, f clientFrame) {
	if f.RoomID <= 0 {
		s.sendError("invalid_frame", "room_id is required", f.Ref, 0)
		return
	}
	room, err := s.w.svc.ReadableRoom(ctx, a, f.RoomID)
	if err != nil {
		s.fail(err, f.Ref)
		return
	}
	var after *int64
	if f.AfterSeq != nil {
		v := *f.AfterSeq
		if v < 0 {
			s.sendError("invalid_frame", "after_seq must not be negative", f.Ref, 0)
			return
		}
		// A client cannot have seen past the room's end; clamping keeps a
		// bogus after_seq from hiding future messages.
		v = min(v, room.LastSeq)
		after = &v
	}
	load := func(ctx context.Context, afterSeq int64, limit int) ([]chat.Message, error) {
		return s.w.svc.Replay(ctx, room.ID, afterSeq, limit)
	}
	// Replays are paced by the client's reading, not by OpTimeout.
	err = s.w.hub.Subscribe(s.conn.Ctx, s.conn, room.ID, after, room.LastSeq, load)
	switch {
	case errors.Is(err, hub.ErrTooManySubscriptions):
		s.sendError("too_many_subscriptions", "unsubscribe from a room first", f.Ref, 0)
	case err != nil:
		s.fail(err, f.Ref)
	}
}
