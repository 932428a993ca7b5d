package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

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

// uncached answers v marked by noStore. An error is returned as it is, so
// its answer stays the bare error envelope.
func uncached(c *gin.Context, v any, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	noStore(c)
	return v, nil
}

func register(svc *auth.Service, m *metrics) gin.HandlerFunc {
	return httpx.HandleAs(http.StatusCreated, func(c *gin.Context) (any, error) {
		var in auth.RegisterInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return nil, err
		}
		s, err := svc.Register(c.Request.Context(), in, c.ClientIP())
		m.observe("register", err)
		return uncached(c, s, err)
	})
}

func login(svc *auth.Service, m *metrics) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		var in auth.LoginInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return nil, err
		}
		s, err := svc.Login(c.Request.Context(), in, c.ClientIP())
		m.observe("login", err)
		return uncached(c, s, err)
	})
}

func refresh(svc *auth.Service, m *metrics) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		var in auth.RefreshInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return nil, err
		}
		s, err := svc.Refresh(c.Request.Context(), in.RefreshToken)
		m.observe("refresh", err)
		return uncached(c, s, err)
	})
}

// logout needs no access token: holding the refresh token is the right to
// end its login, and a client whose access token expired must still be able
// to log out.
func logout(svc *auth.Service, m *metrics) gin.HandlerFunc {
	return httpx.HandleAs(http.StatusNoContent, func(c *gin.Context) (any, error) {
		var in auth.RefreshInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return nil, err
		}
		err := svc.Logout(c.Request.Context(), in.RefreshToken)
		m.observe("logout", err)
		return nil, err
	})
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

// loadCaller makes the caller the user as load finds them in the database,
// not as the token describes them: a disabled or deleted account is refused
// while its access token is still valid, and a demotion takes effect at
// once. load is Service.ActiveUser for any account, Service.Admin for
// enabled admins only.
func loadCaller(load func(ctx context.Context, id int64) (auth.User, error)) gin.HandlerFunc {
	return httpx.Caller(func(c *gin.Context) (auth.User, error) {
		id, err := authn.MustIdentity(c)
		if err != nil {
			return auth.User{}, err
		}
		return load(c.Request.Context(), id.UserID)
	})
}

// caller is the user loadCaller found.
func caller(c *gin.Context) auth.User { return httpx.CallerOf[auth.User](c) }

func me() gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		return uncached(c, caller(c), nil)
	})
}

func changePassword(svc *auth.Service, m *metrics) gin.HandlerFunc {
	return httpx.HandleAs(http.StatusNoContent, func(c *gin.Context) (any, error) {
		var in auth.PasswordInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return nil, err
		}
		id, err := authn.MustIdentity(c)
		if err != nil {
			return nil, err
		}
		err = svc.ChangePassword(c.Request.Context(), caller(c), sessionOf(id), in)
		m.observe("password", err)
		return nil, err
	})
}

// userList is the GET /users collection.
type userList struct {
	Users      []auth.User `json:"users"`
	NextCursor *int64      `json:"next_cursor"`
}

type accountList struct {
	Accounts   []auth.Account `json:"accounts"`
	NextCursor *int64         `json:"next_cursor"`
}

// listAccounts is the directory of accounts for any signed-in user
// (GET /accounts?after=&limit=): user-service pages through it to give
// every account a profile (docs/ARCHITECTURE.md, user-service).
func listAccounts(svc *auth.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		limit, err := httpx.Limit(c)
		if err != nil {
			return nil, err
		}
		after, err := httpx.QueryInt(c, "after", 0)
		if err != nil {
			return nil, err
		}
		if after < 0 {
			return nil, apperr.Invalid("invalid_query", "query parameter after must not be negative")
		}
		accounts, next, err := svc.Accounts(c.Request.Context(), after, limit)
		if err != nil {
			return nil, err
		}
		out := accountList{Accounts: accounts}
		if next != 0 {
			out.NextCursor = &next
		}
		return uncached(c, out, nil)
	})
}

func listUsers(svc *auth.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		limit, err := httpx.Limit(c)
		if err != nil {
			return nil, err
		}
		cursor, err := httpx.QueryInt(c, "cursor", 0)
		if err != nil {
			return nil, err
		}
		if cursor < 0 {
			return nil, apperr.Invalid("invalid_query", "query parameter cursor must not be negative")
		}
		page, err := svc.ListUsers(c.Request.Context(), auth.UserFilter{AfterID: cursor, Prefix: c.Query("q"), Limit: limit})
		if err != nil {
			return nil, err
		}
		out := userList{Users: page.Users}
		if page.NextCursor != 0 {
			out.NextCursor = &page.NextCursor
		}
		return uncached(c, out, nil)
	})
}

func updateUser(svc *auth.Service, m *metrics) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, auth.ErrUserNotFound
		}
		var p auth.UserPatch
		if err := httpx.BindJSON(c, &p); err != nil {
			return nil, err
		}
		u, err := svc.UpdateUser(c.Request.Context(), caller(c), id, p)
		m.observe("user_update", err)
		return uncached(c, u, err)
	})
}

// sessionOf is the session id of a verified token (0 for tokens that name
// none).
func sessionOf(id authn.Identity) int64 {
	sid, _ := strconv.ParseInt(id.SID, 10, 64)
	return sid
}

type signedOut struct {
	SessionsRevoked int `json:"sessions_revoked"`
}

// signOutEverywhere ends every session of the caller, or (forUser, admins
// only) of the user in the path.
func signOutEverywhere(svc *auth.Service, m *metrics, forUser bool) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		target := caller(c).ID
		if forUser {
			id, err := httpx.ParamID(c, "id")
			if err != nil {
				return nil, auth.ErrUserNotFound
			}
			target = id
		}
		n, err := svc.SignOutEverywhere(c.Request.Context(), target)
		m.observe("sign_out_everywhere", err)
		return uncached(c, signedOut{SessionsRevoked: n}, err)
	})
}

// feedPage bounds one answer of the revocation feed.
const feedPage = 1000

// revocations is the revocation feed every service follows
// (GET /internal/revocations?after=N): the entries after seq N, in order.
func revocations(svc *auth.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		after, err := httpx.QueryInt(c, "after", 0)
		if err != nil {
			return nil, err
		}
		if after < 0 {
			return nil, apperr.Invalid("invalid_query", "query parameter after must not be negative")
		}
		rs, last, ttl, err := svc.Revocations(c.Request.Context(), after, feedPage)
		if err != nil {
			return nil, err
		}
		return uncached(c, feedOf(rs, last, ttl), nil)
	})
}

// feedOf is the feed's wire form (authn.Feed).
func feedOf(rs []auth.Revocation, last int64, ttl time.Duration) authn.Feed {
	f := authn.Feed{Revocations: make([]authn.Revocation, len(rs)), LastSeq: last, TokenTTL: int64(ttl / time.Second)}
	for i, r := range rs {
		e := authn.Revocation{Seq: r.Seq, UserID: r.UserID, Role: r.Role, Disabled: r.Disabled, At: r.At}
		switch {
		case r.FamilyID != 0:
			e.SID = strconv.FormatInt(r.FamilyID, 10)
		case r.TokenID != 0:
			e.SID = authn.PATSession(r.TokenID)
		}
		f.Revocations[i] = e
	}
	return f
}

// FeedSource reads the revocation feed straight from the service's own
// store, for auth-service's own follower.
func FeedSource(svc *auth.Service) authn.Source {
	return func(ctx context.Context, after int64) (authn.Feed, error) {
		rs, last, ttl, err := svc.Revocations(ctx, after, feedPage)
		if err != nil {
			return authn.Feed{}, err
		}
		return feedOf(rs, last, ttl), nil
	}
}
