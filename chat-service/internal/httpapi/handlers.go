package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/httpx"
)

func actorOf(id authn.Identity) chat.Actor {
	return chat.Actor{UserID: id.UserID, Username: id.Username, Admin: id.IsAdmin()}
}

func actor(c *gin.Context) (chat.Actor, error) {
	id, err := authn.MustIdentity(c)
	if err != nil {
		return chat.Actor{}, err
	}
	return actorOf(id), nil
}

// seeUser records who called (name cache, first-time join of General).
// A failure here is logged, not fatal: the request itself will say whether
// the database works.
func seeUser(svc *chat.Service, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a, err := actor(c); err == nil {
			if err := svc.SeeUser(c.Request.Context(), a); err != nil {
				log.WarnContext(c.Request.Context(), "record user", "user_id", a.UserID, "error", err)
			}
		}
		c.Next()
	}
}

// handle adapts a handler returning (status, body, error) to gin; a nil body
// with 204 writes nothing.
func handle(fn func(c *gin.Context, a chat.Actor) (int, any, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		a, err := actor(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		status, body, err := fn(c, a)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		if status == http.StatusNoContent {
			c.Status(status)
			return
		}
		c.JSON(status, body)
	}
}

// cursor reads the optional "cursor" query parameter (an id).
func cursor(c *gin.Context) (int64, error) {
	n, err := httpx.QueryInt(c, "cursor", 0)
	if err != nil || n < 0 {
		return 0, apperr.Invalid("invalid_query", "cursor must be a non-negative integer")
	}
	return n, nil
}

func listRooms(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		after, err := cursor(c)
		if err != nil {
			return 0, nil, err
		}
		limit, err := httpx.Limit(c)
		if err != nil {
			return 0, nil, err
		}
		rooms, next, err := svc.ListRooms(c.Request.Context(), a, after, limit)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, gin.H{"rooms": rooms, "next_cursor": next}, nil
	})
}

type createRoomRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Kind        string `json:"kind"`
}

func createRoom(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		var req createRoomRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return 0, nil, err
		}
		room, err := svc.CreateRoom(c.Request.Context(), a, req.Name, req.Description, req.Kind)
		return http.StatusCreated, room, err
	})
}

func getRoom(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		room, err := svc.GetRoom(c.Request.Context(), a, id)
		return http.StatusOK, room, err
	})
}

func updateRoom(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		var p chat.RoomPatch
		if err := httpx.BindJSON(c, &p); err != nil {
			return 0, nil, err
		}
		room, err := svc.UpdateRoom(c.Request.Context(), a, id, p)
		return http.StatusOK, room, err
	})
}

func deleteRoom(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, svc.DeleteRoom(c.Request.Context(), a, id)
	})
}

func joinRoom(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		room, err := svc.JoinRoom(c.Request.Context(), a, id)
		return http.StatusOK, room, err
	})
}

func leaveRoom(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, svc.LeaveRoom(c.Request.Context(), a, id)
	})
}

func listMembers(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		after, err := cursor(c)
		if err != nil {
			return 0, nil, err
		}
		limit, err := httpx.Limit(c)
		if err != nil {
			return 0, nil, err
		}
		ms, next, err := svc.ListMembers(c.Request.Context(), a, id, after, limit)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, gin.H{"members": ms, "next_cursor": next}, nil
	})
}

type userRequest struct {
	UserID   int64  `json:"user_id"`
	Username string `json:"username"`
}

func addMember(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		var req userRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return 0, nil, err
		}
		m, created, err := svc.AddMember(c.Request.Context(), a, id, req.UserID, req.Username)
		if created {
			return http.StatusCreated, m, err
		}
		return http.StatusOK, m, err
	})
}

func removeMember(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		uid, err := httpx.ParamID(c, "uid")
		if err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, svc.RemoveMember(c.Request.Context(), a, id, uid)
	})
}

func openDM(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		var req userRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return 0, nil, err
		}
		room, created, err := svc.OpenDM(c.Request.Context(), a, req.UserID, req.Username)
		if created {
			return http.StatusCreated, room, err
		}
		return http.StatusOK, room, err
	})
}

func listMessages(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		before, err := httpx.QueryInt(c, "before_seq", 0)
		if err != nil {
			return 0, nil, err
		}
		after, err := httpx.QueryInt(c, "after_seq", 0)
		if err != nil {
			return 0, nil, err
		}
		limit, err := httpx.Limit(c)
		if err != nil {
			return 0, nil, err
		}
		msgs, next, err := svc.ListMessages(c.Request.Context(), a, chat.MessageFilter{RoomID: id, BeforeSeq: before, AfterSeq: after, Limit: limit})
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, gin.H{"messages": msgs, "next_cursor": next}, nil
	})
}

type sendRequest struct {
	Body        string `json:"body"`
	ClientMsgID string `json:"client_msg_id"`
}

func sendMessage(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		var req sendRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return 0, nil, err
		}
		msg, created, err := svc.SendMessage(c.Request.Context(), a, id, req.Body, req.ClientMsgID)
		if err == nil && !created {
			// Same answer as the original request; the header tells a
			// curious client it was a replay.
			c.Header("Idempotent-Replayed", "true")
		}
		return http.StatusCreated, msg, err
	})
}

type editRequest struct {
	Body *string `json:"body"`
}

func editMessage(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		var req editRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return 0, nil, err
		}
		body := ""
		if req.Body != nil {
			body = *req.Body
		}
		msg, err := svc.EditMessage(c.Request.Context(), a, id, body)
		return http.StatusOK, msg, err
	})
}

func deleteMessage(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		msg, err := svc.DeleteMessage(c.Request.Context(), a, id)
		return http.StatusOK, msg, err
	})
}

func react(svc *chat.Service, add bool) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		msg, err := svc.React(c.Request.Context(), a, id, c.Param("emoji"), add)
		return http.StatusOK, msg, err
	})
}

type readRequest struct {
	Seq *int64 `json:"seq"`
}

func markRead(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		var req readRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return 0, nil, err
		}
		if req.Seq == nil {
			return 0, nil, apperr.Validation("invalid_seq", "seq is required")
		}
		st, err := svc.MarkRead(c.Request.Context(), a, id, *req.Seq)
		return http.StatusOK, st, err
	})
}

func online(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		users, err := svc.Online(c.Request.Context(), a, id)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, gin.H{"online": users}, nil
	})
}

func search(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, a chat.Actor) (int, any, error) {
		roomID, err := httpx.QueryInt(c, "room_id", 0)
		if err != nil || roomID < 0 {
			return 0, nil, apperr.Invalid("invalid_query", "room_id must be a positive integer")
		}
		before, err := cursor(c)
		if err != nil {
			return 0, nil, err
		}
		limit, err := httpx.Limit(c)
		if err != nil {
			return 0, nil, err
		}
		hits, next, err := svc.Search(c.Request.Context(), a, c.Query("q"), roomID, before, limit)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, gin.H{"messages": hits, "next_cursor": next}, nil
	})
}

func userStats(svc *chat.Service) gin.HandlerFunc {
	return handle(func(c *gin.Context, _ chat.Actor) (int, any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return 0, nil, err
		}
		st, err := svc.Stats(c.Request.Context(), id)
		return http.StatusOK, st, err
	})
}
