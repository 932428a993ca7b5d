package httpapi

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/httpx"
)

func actorOf(id authn.Identity) chat.Actor {
	return chat.Actor{UserID: id.UserID, Username: id.Username, Admin: id.IsAdmin()}
}

// seeUser makes the caller who the verified token speaks for and records
// them (name cache, first-time join of General). A failure to record is
// logged, not fatal: the request itself will say whether the database
// works.
func seeUser(svc *chat.Service, log *slog.Logger) gin.HandlerFunc {
	return httpx.Caller(func(c *gin.Context) (chat.Actor, error) {
		id, err := authn.MustIdentity(c)
		if err != nil {
			return chat.Actor{}, err
		}
		a := actorOf(id)
		if err := svc.SeeUser(c.Request.Context(), a); err != nil {
			log.WarnContext(c.Request.Context(), "record user", "user_id", a.UserID, "error", err)
		}
		return a, nil
	})
}

// caller is the actor seeUser found.
func caller(c *gin.Context) chat.Actor { return httpx.CallerOf[chat.Actor](c) }

// cursor reads the optional "cursor" query parameter (an id).
func cursor(c *gin.Context) (int64, error) {
	n, err := httpx.QueryInt(c, "cursor", 0)
	if err != nil || n < 0 {
		return 0, apperr.Invalid("invalid_query", "cursor must be a non-negative integer")
	}
	return n, nil
}

func listRooms(svc *chat.Service) gin.HandlerFunc { return roomPage(svc.ListRooms) }

// roomPage answers {rooms, next_cursor} from fn with ?cursor= (the last id
// of the previous page) and ?limit=.
func roomPage[T any](fn func(context.Context, chat.Actor, int64, int) ([]T, *int64, error)) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		after, err := cursor(c)
		if err != nil {
			return nil, err
		}
		limit, err := httpx.Limit(c)
		if err != nil {
			return nil, err
		}
		rooms, next, err := fn(c.Request.Context(), caller(c), after, limit)
		if err != nil {
			return nil, err
		}
		return gin.H{"rooms": rooms, "next_cursor": next}, nil
	})
}

type createRoomRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Kind        string `json:"kind"`
}

func createRoom(svc *chat.Service) gin.HandlerFunc {
	return httpx.HandleAs(http.StatusCreated, func(c *gin.Context) (any, error) {
		var req createRoomRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return nil, err
		}
		return svc.CreateRoom(c.Request.Context(), caller(c), req.Name, req.Description, req.Kind)
	})
}

func getRoom(svc *chat.Service) gin.HandlerFunc { return byID(svc.GetRoom) }

func updateRoom(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		var p chat.RoomPatch
		if err := httpx.BindJSON(c, &p); err != nil {
			return nil, err
		}
		return svc.UpdateRoom(c.Request.Context(), caller(c), id, p)
	})
}

func deleteRoom(svc *chat.Service) gin.HandlerFunc {
	return httpx.HandleAs(http.StatusNoContent, func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		return nil, svc.DeleteRoom(c.Request.Context(), caller(c), id)
	})
}

func joinRoom(svc *chat.Service) gin.HandlerFunc { return byID(svc.JoinRoom) }

func leaveRoom(svc *chat.Service) gin.HandlerFunc {
	return httpx.HandleAs(http.StatusNoContent, func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		return nil, svc.LeaveRoom(c.Request.Context(), caller(c), id)
	})
}

func listMembers(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		after, err := cursor(c)
		if err != nil {
			return nil, err
		}
		limit, err := httpx.Limit(c)
		if err != nil {
			return nil, err
		}
		ms, next, err := svc.ListMembers(c.Request.Context(), caller(c), id, after, limit)
		if err != nil {
			return nil, err
		}
		return gin.H{"members": ms, "next_cursor": next}, nil
	})
}

type userRequest struct {
	UserID   int64  `json:"user_id"`
	Username string `json:"username"`
	// UserIDs opens a group DM (POST /dms only).
	UserIDs []int64 `json:"user_ids"`
}

func addMember(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		var req userRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return nil, err
		}
		m, created, err := svc.AddMember(c.Request.Context(), caller(c), id, req.UserID, req.Username)
		if created {
			return httpx.Reply{Status: http.StatusCreated, Body: m}, err
		}
		return m, err
	})
}

func removeMember(svc *chat.Service) gin.HandlerFunc {
	return httpx.HandleAs(http.StatusNoContent, func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		uid, err := httpx.ParamID(c, "uid")
		if err != nil {
			return nil, err
		}
		return nil, svc.RemoveMember(c.Request.Context(), caller(c), id, uid)
	})
}

func openDM(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		var req userRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return nil, err
		}
		if req.UserIDs != nil {
			if req.UserID != 0 {
				return nil, apperr.Validation("invalid_request", "send user_id (a DM) or user_ids (a group DM), not both")
			}
			room, created, err := svc.OpenGroup(c.Request.Context(), caller(c), req.UserIDs, c.GetHeader("Authorization"))
			if created {
				return httpx.Reply{Status: http.StatusCreated, Body: room}, err
			}
			return room, err
		}
		room, created, err := svc.OpenDM(c.Request.Context(), caller(c), req.UserID, req.Username, c.GetHeader("Authorization"))
		if created {
			return httpx.Reply{Status: http.StatusCreated, Body: room}, err
		}
		return room, err
	})
}

func listMessages(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		before, err := httpx.QueryInt(c, "before_seq", 0)
		if err != nil {
			return nil, err
		}
		// after_seq=0 means "from the start"; only its absence means
		// "the newest page".
		var after *int64
		if v, ok := c.GetQuery("after_seq"); ok && v != "" {
			v, err := httpx.QueryInt(c, "after_seq", 0)
			if err != nil {
				return nil, err
			}
			after = &v
		}
		limit, err := httpx.Limit(c)
		if err != nil {
			return nil, err
		}
		topLevel := false
		switch c.Query("top_level") {
		case "", "false":
		case "true":
			topLevel = true
		default:
			return nil, apperr.Invalid("invalid_query", "top_level must be true or false")
		}
		var (
			msgs []chat.Message
			next *int64
		)
		if v, ok := c.GetQuery("around_seq"); ok && v != "" {
			var around int64
			if around, err = httpx.QueryInt(c, "around_seq", 0); err != nil {
				return nil, err
			}
			if before != 0 || after != nil {
				return nil, apperr.Invalid("invalid_query", "around_seq cannot be combined with before_seq or after_seq")
			}
			msgs, next, err = svc.ListMessagesAround(c.Request.Context(), caller(c), id, around, topLevel, limit)
		} else {
			msgs, next, err = svc.ListMessages(c.Request.Context(), caller(c), chat.MessageFilter{RoomID: id, BeforeSeq: before, AfterSeq: after, Limit: limit, TopLevel: topLevel})
		}
		if err != nil {
			return nil, err
		}
		return gin.H{"messages": msgs, "next_cursor": next}, nil
	})
}

type sendRequest struct {
	Body         string  `json:"body"`
	ClientMsgID  string  `json:"client_msg_id"`
	ThreadRootID *int64  `json:"thread_root_id"`
	FileIDs      []int64 `json:"file_ids"`
}

func sendMessage(svc *chat.Service) gin.HandlerFunc {
	return httpx.HandleAs(http.StatusCreated, func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		var req sendRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return nil, err
		}
		o := chat.Outgoing{RoomID: id, Body: req.Body, ClientMsgID: req.ClientMsgID, FileIDs: req.FileIDs}
		if req.ThreadRootID != nil {
			if *req.ThreadRootID == 0 {
				// 0 names no message; null (or no field) is a top-level send.
				return nil, chat.ErrInvalidThread
			}
			o.ThreadRootID = *req.ThreadRootID
		}
		msg, created, err := svc.Send(c.Request.Context(), caller(c), o)
		if err == nil && !created {
			// Same answer as the original request; the header tells a
			// curious client it was a replay.
			c.Header("Idempotent-Replayed", "true")
		}
		return msg, err
	})
}

func getMessage(svc *chat.Service) gin.HandlerFunc { return byID(svc.GetMessage) }

func getThread(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		after, err := httpx.QueryInt(c, "after_seq", 0)
		if err != nil {
			return nil, err
		}
		limit, err := httpx.Limit(c)
		if err != nil {
			return nil, err
		}
		root, msgs, next, err := svc.Thread(c.Request.Context(), caller(c), id, after, limit)
		if err != nil {
			return nil, err
		}
		return gin.H{"root": root, "messages": msgs, "next_cursor": next}, nil
	})
}

func listThreads(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		before, err := cursor(c)
		if err != nil {
			return nil, err
		}
		limit, err := httpx.Limit(c)
		if err != nil {
			return nil, err
		}
		ts, next, err := svc.Threads(c.Request.Context(), caller(c), before, limit)
		if err != nil {
			return nil, err
		}
		return gin.H{"threads": ts, "next_cursor": next}, nil
	})
}

func listMentions(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		before, err := httpx.QueryInt(c, "before_id", 0)
		if err != nil || before < 0 {
			return nil, apperr.Invalid("invalid_query", "before_id must be a non-negative integer")
		}
		limit, err := httpx.Limit(c)
		if err != nil {
			return nil, err
		}
		msgs, next, err := svc.Mentions(c.Request.Context(), caller(c), before, limit)
		if err != nil {
			return nil, err
		}
		return gin.H{"messages": msgs, "next_cursor": next}, nil
	})
}

func markThreadRead(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		var req readRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return nil, err
		}
		if req.Seq == nil {
			return nil, apperr.Validation("invalid_seq", "seq is required")
		}
		return svc.MarkThreadRead(c.Request.Context(), caller(c), id, *req.Seq)
	})
}

type editRequest struct {
	Body *string `json:"body"`
}

func editMessage(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		var req editRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return nil, err
		}
		body := ""
		if req.Body != nil {
			body = *req.Body
		}
		return svc.EditMessage(c.Request.Context(), caller(c), id, body)
	})
}

func deleteMessage(svc *chat.Service) gin.HandlerFunc { return byID(svc.DeleteMessage) }

func react(svc *chat.Service, add bool) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		return svc.React(c.Request.Context(), caller(c), id, c.Param("emoji"), add)
	})
}

type readRequest struct {
	Seq *int64 `json:"seq"`
}

func markRead(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		var req readRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return nil, err
		}
		if req.Seq == nil {
			return nil, apperr.Validation("invalid_seq", "seq is required")
		}
		return svc.MarkRead(c.Request.Context(), caller(c), id, *req.Seq)
	})
}

// Paging of GET /rooms/:id/online (DESIGN.md §14).
const (
	onlineDefaultLimit = 100
	onlineMaxLimit     = 500
	onlineMaxUserIDs   = 200
)

// online answers a room's online users: one page in (username, user_id)
// order (limit, cursor), or, with user_ids, which of those users are online.
func online(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		if raw, ok := c.GetQuery("user_ids"); ok {
			if c.Query("limit") != "" || c.Query("cursor") != "" {
				return nil, apperr.Invalid("invalid_query", "user_ids cannot be combined with limit or cursor")
			}
			ids, err := parseUserIDs(raw)
			if err != nil {
				return nil, err
			}
			users, count, err := svc.OnlineAmong(c.Request.Context(), caller(c), id, ids)
			if err != nil {
				return nil, err
			}
			return gin.H{"online": users, "count": count}, nil
		}
		limit := onlineDefaultLimit
		if v := c.Query("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > onlineMaxLimit {
				return nil, apperr.Invalid("invalid_limit", "limit must be an integer from 1 to "+strconv.Itoa(onlineMaxLimit))
			}
			limit = n
		}
		var after *chat.OnlineCursor
		if v := c.Query("cursor"); v != "" {
			cur, ok := decodeOnlineCursor(v)
			if !ok {
				return nil, apperr.Invalid("invalid_cursor", "cursor is not one this endpoint returned")
			}
			after = &cur
		}
		users, more, count, err := svc.Online(c.Request.Context(), caller(c), id, after, limit)
		if err != nil {
			return nil, err
		}
		out := gin.H{"online": users, "count": count}
		if more && len(users) > 0 {
			out["next_cursor"] = encodeOnlineCursor(users[len(users)-1])
		}
		return out, nil
	})
}

// parseUserIDs reads "1,2,3": at most onlineMaxUserIDs positive ids.
func parseUserIDs(raw string) ([]int64, error) {
	bad := apperr.Invalid("invalid_user_ids", "user_ids must be 1 to "+strconv.Itoa(onlineMaxUserIDs)+" comma-separated positive user ids")
	parts := strings.Split(raw, ",")
	if raw == "" || len(parts) > onlineMaxUserIDs {
		return nil, bad
	}
	ids := make([]int64, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil || n <= 0 {
			return nil, bad
		}
		ids[i] = n
	}
	return ids, nil
}

// An online cursor is the last user of a page, opaque to clients:
// base64url of "<user_id>:<username>".
func encodeOnlineCursor(u chat.UserRef) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(u.UserID, 10) + ":" + u.Username))
}

func decodeOnlineCursor(s string) (chat.OnlineCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return chat.OnlineCursor{}, false
	}
	idText, name, ok := strings.Cut(string(b), ":")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil || id <= 0 || !utf8.ValidString(name) {
		return chat.OnlineCursor{}, false
	}
	return chat.OnlineCursor{UserID: id, Username: name}, true
}

func search(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		roomID, err := httpx.QueryInt(c, "room_id", 0)
		if err != nil || roomID < 0 {
			return nil, apperr.Invalid("invalid_query", "room_id must be a positive integer")
		}
		before, err := cursor(c)
		if err != nil {
			return nil, err
		}
		limit, err := httpx.Limit(c)
		if err != nil {
			return nil, err
		}
		hits, next, err := svc.Search(c.Request.Context(), caller(c), c.Query("q"), roomID, before, limit)
		if err != nil {
			return nil, err
		}
		return gin.H{"messages": hits, "next_cursor": next}, nil
	})
}

func userStats(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		return svc.Stats(c.Request.Context(), id)
	})
}

// byID is a handler that calls fn with the caller and the :id parameter and
// answers what it returns.
func byID[T any](fn func(context.Context, chat.Actor, int64) (T, error)) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		return fn(c.Request.Context(), caller(c), id)
	})
}
