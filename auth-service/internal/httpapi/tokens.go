package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/auth-service/internal/auth"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/httpx"
)

// noPAT refuses requests made with a personal access token (403
// pat_not_allowed): they manage credentials.
func noPAT(c *gin.Context) {
	id, err := authn.MustIdentity(c)
	if err == nil {
		err = authn.RefusePAT(id)
	}
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.Next()
}

// tokenOwner is whose tokens a route manages: the caller's own, or (forBot,
// admins only) the bot in the path.
func tokenOwner(c *gin.Context, svc *auth.Service, forBot bool) (auth.User, error) {
	if !forBot {
		return caller(c), nil
	}
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		return auth.User{}, auth.ErrBotNotFound
	}
	return svc.Bot(c.Request.Context(), id)
}

type tokenList struct {
	Tokens []auth.AccessToken `json:"tokens"`
}

func createToken(svc *auth.Service, m *metrics, forBot bool) gin.HandlerFunc {
	return httpx.HandleAs(http.StatusCreated, func(c *gin.Context) (any, error) {
		owner, err := tokenOwner(c, svc, forBot)
		if err != nil {
			return nil, err
		}
		var in auth.TokenInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return nil, err
		}
		t, err := svc.CreateToken(c.Request.Context(), owner, in)
		m.observe("token_create", err)
		return uncached(c, t, err)
	})
}

func listTokens(svc *auth.Service, forBot bool) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		owner, err := tokenOwner(c, svc, forBot)
		if err != nil {
			return nil, err
		}
		ts, err := svc.Tokens(c.Request.Context(), owner.ID)
		return uncached(c, tokenList{Tokens: ts}, err)
	})
}

func revokeToken(svc *auth.Service, m *metrics, forBot bool) gin.HandlerFunc {
	param := "id"
	if forBot {
		param = "tid"
	}
	return httpx.HandleAs(http.StatusNoContent, func(c *gin.Context) (any, error) {
		owner, err := tokenOwner(c, svc, forBot)
		if err != nil {
			return nil, err
		}
		id, err := httpx.ParamID(c, param)
		if err != nil {
			return nil, auth.ErrTokenNotFound
		}
		err = svc.RevokeToken(c.Request.Context(), owner.ID, id)
		m.observe("token_revoke", err)
		return nil, err
	})
}

type botList struct {
	Bots []auth.User `json:"bots"`
}

func listBots(svc *auth.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		bots, err := svc.Bots(c.Request.Context())
		return uncached(c, botList{Bots: bots}, err)
	})
}

func createBot(svc *auth.Service, m *metrics) gin.HandlerFunc {
	return httpx.HandleAs(http.StatusCreated, func(c *gin.Context) (any, error) {
		var in auth.BotInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return nil, err
		}
		u, err := svc.CreateBot(c.Request.Context(), in)
		m.observe("bot_create", err)
		return uncached(c, u, err)
	})
}

// introspect answers for a personal access token on behalf of the other
// services (POST /internal/tokens/introspect {"token"}); the gateway does
// not publish /internal.
func introspect(svc *auth.Service, m *metrics) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		var in verifyInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return nil, err
		}
		raw := strings.TrimSpace(in.Token)
		if raw == "" {
			return nil, apperr.Unauthenticated("missing_token", `give the token as {"token": ...}`)
		}
		out, err := svc.IntrospectToken(c.Request.Context(), raw)
		m.observe("introspect", err)
		return uncached(c, out, err)
	})
}
