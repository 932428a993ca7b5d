package httpapi

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/parleychat/parley/platform/apperr"

	"github.com/parleychat/parley/user-service/internal/profile"
)

// Update bodies are decoded strictly: a misspelt field ("displayName") would
// otherwise be ignored and the PUT would answer 200 having changed nothing.
// Fields the resource has but a client cannot change (id, username, …) are
// ignored, so a client may send back an object it read.
//
// UnmarshalJSON never fails on a field: it records the first problem, and
// Validate (called by httpx.BindJSON) reports it as a 422.

// profileRequest is the body of PUT /profiles/:id.
type profileRequest struct {
	patch   profile.ProfilePatch
	problem error
}

var profileReadOnly = []string{"id", "username", "avatar_url", "created_at", "updated_at"}

func (r *profileRequest) UnmarshalJSON(b []byte) error {
	fields, err := objectFields(b, r)
	if err != nil {
		return err
	}
	r.problem = firstProblem(fields, func(name string, raw json.RawMessage) (err error) {
		switch name {
		case "display_name":
			r.patch.DisplayName, err = textField(name, raw)
		case "bio":
			r.patch.Bio, err = textField(name, raw)
		case "status_text":
			r.patch.StatusText, err = textField(name, raw)
		default:
			if !slices.Contains(profileReadOnly, name) {
				err = unknownField(name, "display_name, bio, status_text")
			}
		}
		return err
	})
	return nil
}

// Validate reports the first decoding problem, then the domain's checks.
func (r *profileRequest) Validate() error {
	if r.problem != nil {
		return r.problem
	}
	return r.patch.Normalize().Validate()
}

// settingsRequest is the body of PUT /settings/me.
type settingsRequest struct {
	patch   profile.SettingsPatch
	problem error
}

func (r *settingsRequest) UnmarshalJSON(b []byte) error {
	fields, err := objectFields(b, r)
	if err != nil {
		return err
	}
	r.problem = firstProblem(fields, func(name string, raw json.RawMessage) (err error) {
		switch name {
		case "theme":
			var s string
			if isNull(raw) || json.Unmarshal(raw, &s) != nil {
				err = apperr.Validation("invalid_field", "theme must be one of light, dark, system")
			} else {
				r.patch.Theme = &s
			}
		case "notifications":
			err = r.notifications(raw)
		case "user_id", "updated_at":
			// read-only
		default:
			err = unknownField(name, "theme, notifications")
		}
		return err
	})
	return nil
}

func (r *settingsRequest) notifications(raw json.RawMessage) error {
	var fields map[string]json.RawMessage
	if isNull(raw) || json.Unmarshal(raw, &fields) != nil {
		return apperr.Validation("invalid_field", `field "notifications" must be an object`)
	}
	for _, name := range sortedKeys(fields) {
		var (
			dst **bool
			v   bool
		)
		switch name {
		case "desktop":
			dst = &r.patch.Desktop
		case "sound":
			dst = &r.patch.Sound
		case "mentions_only":
			dst = &r.patch.MentionsOnly
		default:
			return unknownField("notifications."+name, "notifications.desktop, notifications.sound, notifications.mentions_only")
		}
		if isNull(fields[name]) || json.Unmarshal(fields[name], &v) != nil {
			return apperr.Validation("invalid_field", strconv.Quote("notifications."+name)+" must be true or false")
		}
		*dst = &v
	}
	return nil
}

// Validate reports the first decoding problem, then the domain's checks.
func (r *settingsRequest) Validate() error {
	if r.problem != nil {
		return r.problem
	}
	return r.patch.Validate()
}

// objectFields splits a JSON object into its fields. Anything else (an
// array, a string, null) is answered like any non-object body: 400.
func objectFields(b []byte, dst any) (map[string]json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if isNull(b) {
		return nil, &json.UnmarshalTypeError{Value: "null", Type: reflect.TypeOf(dst)}
	}
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	return fields, nil
}

// firstProblem decodes every field with decode, in name order so that a
// body with several problems always reports the same one, and returns the
// first problem.
func firstProblem(fields map[string]json.RawMessage, decode func(name string, raw json.RawMessage) error) error {
	var first error
	for _, name := range sortedKeys(fields) {
		if err := decode(name, fields[name]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// textField decodes a text field. null clears the field, like "".
func textField(name string, raw json.RawMessage) (*string, error) {
	var s string
	if isNull(raw) {
		return &s, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, apperr.Validation("invalid_field", "field "+strconv.Quote(name)+" must be a string")
	}
	return &s, nil
}

func unknownField(name, allowed string) error {
	return apperr.Validation("unknown_field", "unknown field "+strconv.Quote(name)+"; the fields that can be changed are "+allowed)
}

func isNull(raw []byte) bool { return strings.TrimSpace(string(raw)) == "null" }

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// parseIDs reads the ids query parameter of a batch lookup: 1 to 200
// positive integers separated by commas.
func parseIDs(s string) ([]int64, error) {
	bad := apperr.Invalid("invalid_ids", "ids must be a comma-separated list of 1 to 200 user ids, like ids=1,2,3")
	parts := strings.Split(s, ",")
	if strings.TrimSpace(s) == "" || len(parts) > profile.MaxBatch {
		return nil, bad
	}
	ids := make([]int64, 0, len(parts))
	for _, p := range parts {
		id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil || id <= 0 {
			return nil, bad
		}
		ids = append(ids, id)
	}
	return ids, nil
}
