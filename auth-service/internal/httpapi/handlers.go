package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/auth-service/internal/auth"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/httpx"
)

// noStore marks answers that carry tokens or account data (RFC 6749 §5.1).
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
}

func register(svc *auth.Service, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		var in auth.RegisterInput
		if err := httpx.BindJSON(c, &in); err != nil {
			httpx.Error(c, err)
			return
		}
		s, err := svc.Register(c.Request.Context(), in, c.ClientIP())
		m.observe("register", err)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		noStore(c)
		c.JSON(http.StatusCreated, s)
	}
}

func login(svc *auth.Service, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		var in auth.LoginInput
		if err := httpx.BindJSON(c, &in); err != nil {
			httpx.Error(c, err)
			return
		}
		s, err := svc.Login(c.Request.Context(), in, c.ClientIP())
		m.observe("login", err)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		noStore(c)
		c.JSON(http.StatusOK, s)
	}
}

func refresh(svc *auth.Service, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		var in auth.RefreshInput
		if err := httpx.BindJSON(c, &in); err != nil {
			httpx.Error(c, err)
			return
		}
		s, err := svc.Refresh(c.Request.Context(), in.RefreshToken)
		m.observe("refresh", err)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		noStore(c)
		c.JSON(http.StatusOK, s)
	}
}

// logout needs no access token: holding the refresh token is the right to
// end its login, and a client whose access token expired must still be able
// to log out.
func logout(svc *auth.Service, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		var in auth.RefreshInput
		if err := httpx.BindJSON(c, &in); err != nil {
			httpx.Error(c, err)
			return
		}
		err := svc.Logout(c.Request.Context(), in.RefreshToken)
		m.observe("logout", err)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

type verifyInput struct {
	Token string `json:"token"`
}

// verify is kept for clients of the original service: the token comes in
// the body ({"token"}) or, failing that, the Authorization header. A good
// token of an existing, enabled user answers {valid: true, user}; anything
// else answers the error envelope plus "valid": false.
func verify(svc *auth.Service, v authn.TokenVerifier, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		noStore(c)
		var in verifyInput
		if c.Request.ContentLength != 0 {
			if err := httpx.BindJSON(c, &in); err != nil {
				httpx.Error(c, err)
				return
			}
		}
		raw := strings.TrimSpace(in.Token)
		if raw == "" {
			raw, _ = authn.BearerToken(c.GetHeader("Authorization"))
		}
		if raw == "" {
			err := apperr.Unauthenticated("missing_token", `give the token as {"token": ...} or an Authorization: Bearer header`)
			m.observe("verify", err)
			invalid(c, err)
			return
		}
		id, err := v.Verify(raw)
		if err == nil {
			var u auth.User
			if u, err = svc.ActiveUser(c.Request.Context(), id.UserID); err == nil {
				m.observe("verify", nil)
				c.JSON(http.StatusOK, gin.H{"valid": true, "user": u})
				return
			}
		}
		m.observe("verify", err)
		invalid(c, err)
	}
}

func invalid(c *gin.Context, err error) {
	e, ok := apperr.From(err)
	if !ok {
		httpx.Error(c, err) // not the token's fault: logged, 500/503
		return
	}
	c.AbortWithStatusJSON(e.Status(), gin.H{"valid": false, "error": apperr.ToBody(e).Error})
}

func jwks(doc []byte, maxAge int) gin.HandlerFunc {
	cache := "public, max-age=" + strconv.Itoa(maxAge)
	return func(c *gin.Context) {
		c.Header("Cache-Control", cache)
		c.Data(http.StatusOK, "application/json", doc)
	}
}

const userKey = "auth.user"

// activeUser loads the caller from the database: a disabled or deleted
// account is refused here even while its access token is still valid.
func activeUser(svc *auth.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := authn.MustIdentity(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		u, err := svc.ActiveUser(c.Request.Context(), id.UserID)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		c.Set(userKey, u)
		c.Next()
	}
}

// requireAdmin lets through enabled admins only, by the database's current
// role rather than the token's claim, so a demotion takes effect at once.
func requireAdmin(svc *auth.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := authn.MustIdentity(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		u, err := svc.Admin(c.Request.Context(), id.UserID)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		c.Set(userKey, u)
		c.Next()
	}
}

func caller(c *gin.Context) auth.User {
	u, _ := c.MustGet(userKey).(auth.User)
	return u
}

func me() gin.HandlerFunc {
	return func(c *gin.Context) {
		noStore(c)
		c.JSON(http.StatusOK, caller(c))
	}
}

func changePassword(svc *auth.Service, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		var in auth.PasswordInput
		if err := httpx.BindJSON(c, &in); err != nil {
			httpx.Error(c, err)
			return
		}
		err := svc.ChangePassword(c.Request.Context(), caller(c), in)
		m.observe("password", err)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// userList is the GET /users collection.
type userList struct {
	Users      []auth.User `json:"users"`
	NextCursor *int64      `json:"next_cursor"`
}

func listUsers(svc *auth.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		limit, err := httpx.Limit(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		cursor, err := httpx.QueryInt(c, "cursor", 0)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		if cursor < 0 {
			httpx.Error(c, apperr.Invalid("invalid_query", "query parameter cursor must not be negative"))
			return
		}
		page, err := svc.ListUsers(c.Request.Context(), auth.UserFilter{AfterID: cursor, Prefix: c.Query("q"), Limit: limit})
		if err != nil {
			httpx.Error(c, err)
			return
		}
		out := userList{Users: page.Users}
		if page.NextCursor != 0 {
			out.NextCursor = &page.NextCursor
		}
		noStore(c)
		c.JSON(http.StatusOK, out)
	}
}

func updateUser(svc *auth.Service, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			httpx.Error(c, auth.ErrUserNotFound)
			return
		}
		var p auth.UserPatch
		if err := httpx.BindJSON(c, &p); err != nil {
			httpx.Error(c, err)
			return
		}
		u, err := svc.UpdateUser(c.Request.Context(), caller(c), id, p)
		m.observe("user_update", err)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		noStore(c)
		c.JSON(http.StatusOK, u)
	}
}
