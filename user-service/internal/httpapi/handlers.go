package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/httpx"

	"github.com/parleychat/parley/user-service/internal/avatar"
	"github.com/parleychat/parley/user-service/internal/profile"
)

// profileJSON is a profile as clients see it.
type profileJSON struct {
	ID          int64     `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Bio         string    `json:"bio"`
	StatusText  string    `json:"status_text"`
	AvatarURL   string    `json:"avatar_url"`
	IsBot       bool      `json:"is_bot"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func toProfileJSON(p profile.Profile) profileJSON {
	return profileJSON{
		ID: p.ID, Username: p.Username, DisplayName: p.DisplayName, Bio: p.Bio, StatusText: p.StatusText,
		AvatarURL: p.AvatarURL(), IsBot: p.IsBot, CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
	}
}

// profilesJSON is a collection of profiles, shaped like every list in the
// API: the items and the cursor of the next page.
type profilesJSON struct {
	Profiles   []profileJSON `json:"profiles"`
	NextCursor *int64        `json:"next_cursor"`
}

type settingsJSON struct {
	UserID        int64             `json:"user_id"`
	Theme         string            `json:"theme"`
	Notifications notificationsJSON `json:"notifications"`
	// UpdatedAt is null until the user first saves settings.
	UpdatedAt *time.Time `json:"updated_at"`
}

type notificationsJSON struct {
	Desktop      bool `json:"desktop"`
	Sound        bool `json:"sound"`
	MentionsOnly bool `json:"mentions_only"`
}

func toSettingsJSON(s profile.Settings) settingsJSON {
	out := settingsJSON{
		UserID: s.UserID, Theme: s.Theme,
		Notifications: notificationsJSON{Desktop: s.Notifications.Desktop, Sound: s.Notifications.Sound, MentionsOnly: s.Notifications.MentionsOnly},
	}
	if !s.UpdatedAt.IsZero() {
		t := s.UpdatedAt.UTC()
		out.UpdatedAt = &t
	}
	return out
}

type statsJSON struct {
	UserID       int64      `json:"user_id"`
	MessagesSent int64      `json:"messages_sent"`
	RoomsCreated int64      `json:"rooms_created"`
	RoomsJoined  int64      `json:"rooms_joined"`
	LastActiveAt *time.Time `json:"last_active_at"`
	Degraded     bool       `json:"degraded"`
}

// private answers v, on success, marked so that shared caches do not store
// it. An error is returned as it is, so its answer stays the bare error
// envelope.
func private(c *gin.Context, v any, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	c.Header("Cache-Control", "private, no-store")
	return v, nil
}

// privateProfile is private for a profile the service returned; the JSON
// view is built only on success, as it renders a default avatar's version.
func privateProfile(c *gin.Context, p profile.Profile, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return private(c, toProfileJSON(p), nil)
}

// ensureCaller makes the caller who the verified token speaks for and
// creates their profile on their first request, so registration needs no
// call from auth-service.
func ensureCaller(svc *profile.Service) gin.HandlerFunc {
	return httpx.Caller(func(c *gin.Context) (profile.Actor, error) {
		id, err := authn.MustIdentity(c)
		if err != nil {
			return profile.Actor{}, err
		}
		a := profile.Actor{UserID: id.UserID, Username: id.Username, Admin: id.IsAdmin(), Bot: id.Bot}
		return a, svc.EnsureProfile(c.Request.Context(), a)
	})
}

// caller is the actor ensureCaller found.
func caller(c *gin.Context) profile.Actor { return httpx.CallerOf[profile.Actor](c) }

func getMe(svc *profile.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		p, err := svc.Me(c.Request.Context(), caller(c))
		return privateProfile(c, p, err)
	})
}

func getProfile(svc *profile.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := profileID(c)
		if err != nil {
			return nil, err
		}
		p, err := svc.Profile(c.Request.Context(), id, c.GetHeader("Authorization"))
		return privateProfile(c, p, err)
	})
}

// profileID reads the :id path parameter of an authenticated route: a user
// id, or "me" for the caller. An id that cannot exist names no profile.
func profileID(c *gin.Context) (int64, error) {
	return userID(c, "profile_not_found")
}

func userID(c *gin.Context, notFoundCode string) (int64, error) {
	raw := c.Param("id")
	if raw == "me" {
		return caller(c).UserID, nil
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.NotFound(notFoundCode, "no user with id "+strconv.Quote(raw))
	}
	return id, nil
}

// listProfiles answers a batch lookup (?ids=1,2,3) or, without ids, a
// paginated directory (?q=&limit=&cursor=).
func listProfiles(svc *profile.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		var (
			ps   []profile.Profile
			next *int64
			err  error
		)
		if raw, ok := c.GetQuery("ids"); ok {
			var ids []int64
			if ids, err = parseIDs(raw); err == nil {
				ps, err = svc.Profiles(c.Request.Context(), ids, c.GetHeader("Authorization"))
			}
		} else {
			var f profile.ProfileFilter
			f, err = directoryFilter(c)
			if err == nil {
				ps, next, err = svc.FindProfiles(c.Request.Context(), f, c.GetHeader("Authorization"))
			}
		}
		if err != nil {
			return nil, err
		}
		out := profilesJSON{Profiles: make([]profileJSON, 0, len(ps)), NextCursor: next}
		for _, p := range ps {
			out.Profiles = append(out.Profiles, toProfileJSON(p))
		}
		return private(c, out, nil)
	})
}

func directoryFilter(c *gin.Context) (profile.ProfileFilter, error) {
	limit, err := httpx.Limit(c)
	if err != nil {
		return profile.ProfileFilter{}, err
	}
	cursor, err := httpx.QueryInt(c, "cursor", 0)
	if err != nil || cursor < 0 {
		return profile.ProfileFilter{}, apperr.Invalid("invalid_query", "cursor must be the next_cursor of a previous page")
	}
	return profile.ProfileFilter{Query: c.Query("q"), AfterID: cursor, Limit: limit}, nil
}

// editableID is the :id of a profile the caller may change. It is checked
// before the body is read, so a stranger learns nothing from validation
// errors.
func editableID(c *gin.Context, svc *profile.Service) (int64, error) {
	id, err := profileID(c)
	if err != nil {
		return 0, err
	}
	return id, svc.CanEdit(caller(c), id)
}

func putProfile(svc *profile.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := editableID(c, svc)
		if err != nil {
			return nil, err
		}
		var req profileRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return nil, err
		}
		p, err := svc.UpdateProfile(c.Request.Context(), caller(c), id, req.patch)
		return privateProfile(c, p, err)
	})
}

func putAvatar(svc *profile.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := editableID(c, svc)
		if err != nil {
			return nil, err
		}
		data, err := readAvatarPart(c.Request)
		if err != nil {
			return nil, err
		}
		p, err := svc.SetAvatar(c.Request.Context(), caller(c), id, data)
		return privateProfile(c, p, err)
	})
}

// readAvatarPart streams the multipart body to the part named "avatar" and
// reads at most avatar.MaxBytes of it; nothing touches the disk. The part's
// declared content type is ignored: the bytes are sniffed later.
func readAvatarPart(r *http.Request) ([]byte, error) {
	tooLarge := apperr.TooLarge("avatar_too_large", "avatar must be at most "+strconv.Itoa(avatar.MaxBytes)+" bytes (1 MiB)")
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, apperr.Invalid("invalid_multipart", `the body must be multipart/form-data with the image in a field named "avatar"`)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, apperr.Validation("missing_avatar", `multipart field "avatar" is missing`)
		}
		if err != nil {
			if isMaxBytes(err) {
				return nil, tooLarge
			}
			return nil, apperr.Invalid("invalid_multipart", "the multipart body is malformed")
		}
		if part.FormName() != "avatar" {
			continue
		}
		var buf bytes.Buffer
		_, err = io.Copy(&buf, io.LimitReader(part, avatar.MaxBytes+1))
		switch {
		case isMaxBytes(err):
			return nil, tooLarge
		case err != nil:
			return nil, apperr.Invalid("invalid_multipart", "the multipart body is malformed")
		case buf.Len() > avatar.MaxBytes:
			return nil, tooLarge
		}
		return buf.Bytes(), nil
	}
}

func isMaxBytes(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func deleteAvatar(svc *profile.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := profileID(c)
		if err != nil {
			return nil, err
		}
		p, err := svc.DeleteAvatar(c.Request.Context(), caller(c), id)
		return privateProfile(c, p, err)
	})
}

// getAvatar serves the uploaded image or the generated default, with a
// strong ETag. A request naming the current version (?v=, as in a
// profile's avatar_url) may be cached for a year, since a new picture gets
// a new URL; any other is revalidated on each use (a cheap 304).
func getAvatar(svc *profile.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			httpx.Error(c, err)
			return
		}
		img, err := svc.AvatarImage(c.Request.Context(), id)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		h := c.Writer.Header()
		h.Set("Content-Type", img.ContentType)
		h.Set("ETag", img.ETag())
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", avatar.DefaultCSP)
		// The SPA is served from another origin than the API.
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		if c.Query("v") == img.Version() {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "public, no-cache")
		}
		// ServeContent answers If-None-Match with 304, HEAD and ranges.
		http.ServeContent(c.Writer, c.Request, "", time.Time{}, bytes.NewReader(img.Data))
	}
}

func getSettings(svc *profile.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		s, err := svc.Settings(c.Request.Context(), caller(c))
		return private(c, toSettingsJSON(s), err)
	})
}

func putSettings(svc *profile.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		var req settingsRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			return nil, err
		}
		s, err := svc.UpdateSettings(c.Request.Context(), caller(c), req.patch)
		return private(c, toSettingsJSON(s), err)
	})
}

// getStats answers 200 even when chat-service cannot: the numbers are then
// zeros and "degraded" is true.
func getStats(svc *profile.Service) gin.HandlerFunc {
	return httpx.Handle(func(c *gin.Context) (any, error) {
		id, err := userID(c, "not_found")
		if err != nil {
			return nil, err
		}
		st := svc.Stats(c.Request.Context(), id, c.GetHeader("Authorization"))
		return private(c, statsJSON{
			UserID: st.UserID, MessagesSent: st.MessagesSent, RoomsCreated: st.RoomsCreated,
			RoomsJoined: st.RoomsJoined, LastActiveAt: st.LastActiveAt, Degraded: st.Degraded,
		}, nil)
	})
}
