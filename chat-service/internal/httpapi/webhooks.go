package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/httpx"
)

// MaxWebhookBodyBytes caps a webhook post: the longest text (4,000 code
// points) fits even with every character JSON-escaped.
const MaxWebhookBodyBytes = 64 << 10

// WebhookPath is where the gateway publishes a webhook's URL (the token
// follows).
const WebhookPath = "/api/chat/hooks/"

// createdWebhook is a new webhook as its creator sees it, the only time
// its URL is shown.
type createdWebhook struct {
	chat.Webhook
	URL string `json:"url"`
}

// webhookURL is the secret URL of token: absolute under publicURL
// (API_BASE_URL) when it is set, else the gateway path for the client to
// put under the API's origin.
func webhookURL(publicURL, token string) string {
	return strings.TrimRight(publicURL, "/") + WebhookPath + token
}

type createWebhookRequest struct {
	Name string `json:"name"`
}

func createWebhook(svc *chat.Service, publicURL string) gin.HandlerFunc {
	return httpx.HandleAs(http.StatusCreated, func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		var req createWebhookRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return nil, err
		}
		w, token, err := svc.CreateWebhook(c.Request.Context(), caller(c), id, req.Name)
		if err != nil {
			return nil, err
		}
		// The URL is a credential: no cache may keep the answer.
		c.Header("Cache-Control", "no-store")
		return createdWebhook{Webhook: w, URL: webhookURL(publicURL, token)}, nil
	})
}

func listWebhooks(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		ws, err := svc.ListWebhooks(c.Request.Context(), caller(c), id)
		if err != nil {
			return nil, err
		}
		return gin.H{"webhooks": ws}, nil
	})
}

func deleteWebhook(svc *chat.Service) gin.HandlerFunc {
	return httpx.HandleAs(http.StatusNoContent, func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, chat.ErrWebhookNotFound
		}
		return nil, svc.DeleteWebhook(c.Request.Context(), caller(c), id)
	})
}

// webhookPosted is the answer to a webhook post: where the message went.
type webhookPosted struct {
	ID        int64     `json:"id"`
	RoomID    int64     `json:"room_id"`
	Seq       int64     `json:"seq"`
	CreatedAt time.Time `json:"created_at"`
}

// postWebhook is POST /hooks/:token, which needs no other credential: the
// token is checked (404) and rate-limited (429) before the body is read,
// then the post goes through the send path. 201 for a new message, 200
// for a retry of an id already posted.
func postWebhook(svc *chat.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		ctx := c.Request.Context()
		w, err := svc.FindWebhook(ctx, c.Param("token"))
		if err != nil {
			return nil, err
		}
		var p chat.WebhookPost
		if err := httpx.BindJSON(c, &p); err != nil {
			return nil, err
		}
		msg, created, err := svc.PostWebhook(ctx, w, p)
		if err != nil {
			return nil, err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return httpx.Reply{Status: status, Body: webhookPosted{ID: msg.ID, RoomID: msg.RoomID, Seq: msg.Seq, CreatedAt: msg.CreatedAt}}, nil
	})
}
