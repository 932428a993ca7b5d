package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/httpx"
)

func listPins(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		msgs, err := svc.Pins(c.Request.Context(), caller(c), id)
		if err != nil {
			return nil, err
		}
		return gin.H{"messages": msgs}, nil
	})
}

// pin pins (POST) or unpins (DELETE) /rooms/:id/pins/:message_id. A
// message id that is not a positive integer names no message: 404
// message_not_found, as for any message the caller cannot pin.
func pin(svc *chat.Service, on bool) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		roomID, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		msgID, err := httpx.ParamID(c, "message_id")
		if err != nil {
			return nil, apperr.NotFound("message_not_found", "message not found")
		}
		return svc.Pin(c.Request.Context(), caller(c), roomID, msgID, on)
	})
}
