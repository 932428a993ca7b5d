package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/httpx"
)

// adminRooms pages through every public and private room by id:
// ?cursor= (the last id of the previous page) and ?limit= (default 50, at
// most 200), as GET /rooms.
func adminRooms(svc *chat.Service) gin.HandlerFunc { return roomPage(svc.AdminRooms) }

type adminRoomPatch struct {
	Archived *bool `json:"archived"`
}

func adminUpdateRoom(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		a := caller(c)
		if err := chat.RequireAdmin(a); err != nil {
			return nil, err
		}
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		var p adminRoomPatch
		if err := httpx.BindJSON(c, &p); err != nil {
			return nil, err
		}
		if p.Archived == nil {
			return nil, apperr.Validation("invalid_archived", "archived (true or false) is required")
		}
		return svc.AdminArchive(c.Request.Context(), a, id, *p.Archived)
	})
}

func adminDeleteRoom(svc *chat.Service) gin.HandlerFunc {
	return httpx.HandleAs(http.StatusNoContent, func(c *gin.Context) (any, error) {
		a := caller(c)
		if err := chat.RequireAdmin(a); err != nil {
			return nil, err
		}
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		return nil, svc.AdminDelete(c.Request.Context(), a, id)
	})
}

func adminUsage(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		return svc.Usage(c.Request.Context(), caller(c))
	})
}
