package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/platform/apperr"
)

// Validator is implemented by request types that check their own fields.
type Validator interface {
	Validate() error
}

// BindJSON decodes the request body into dst and validates it. Every failure
// is an *apperr.Error: 400 for unparsable JSON, 413 for an oversize body,
// 422 for a field of the wrong type or a failed Validate.
func BindJSON(c *gin.Context, dst any) error {
	if c.Request.Body == nil || c.Request.Body == http.NoBody {
		return apperr.Invalid("invalid_json", "request body must be a JSON object")
	}
	dec := json.NewDecoder(c.Request.Body)
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	// One object per body: trailing garbage means the client sent something else.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decodeError(err)
		}
		return apperr.Invalid("invalid_json", "request body must hold exactly one JSON object")
	}
	if v, ok := dst.(Validator); ok {
		return v.Validate()
	}
	return nil
}

func decodeError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return apperr.TooLarge("body_too_large", "request body is larger than "+strconv.FormatInt(mbe.Limit, 10)+" bytes")
	case errors.Is(err, io.EOF):
		return apperr.Invalid("invalid_json", "request body must be a JSON object")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Invalid("invalid_json", "request body is not valid JSON")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return apperr.Invalid("invalid_json", "request body must be a JSON object")
		}
		return apperr.Validation("invalid_field", fmt.Sprintf("field %q must be of type %s", typ.Field, jsonType(typ.Type.Kind().String())))
	default:
		return apperr.Invalid("invalid_json", "request body is not valid JSON")
	}
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	default:
		return "number"
	}
}

// ParamID parses the path parameter name as a positive int64, or answers
// 404 not_found: an id that cannot exist names nothing.
func ParamID(c *gin.Context, name string) (int64, error) {
	n, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || n <= 0 {
		return 0, apperr.NotFound("not_found", name+" "+strconv.Quote(c.Param(name))+" does not exist")
	}
	return n, nil
}

// QueryInt parses an optional integer query parameter; absent gives def.
func QueryInt(c *gin.Context, name string, def int64) (int64, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, apperr.Invalid("invalid_query", "query parameter "+name+" must be an integer")
	}
	return n, nil
}

// Limit reads the list "limit" parameter: default 50, clamped to [1, 200].
func Limit(c *gin.Context) (int, error) {
	n, err := QueryInt(c, "limit", 50)
	if err != nil {
		return 0, err
	}
	return ClampLimit(n), nil
}

// ClampLimit clamps a list limit to [1, 200], 0 or less meaning the default 50.
func ClampLimit(n int64) int {
	switch {
	case n <= 0:
		return 50
	case n > 200:
		return 200
	default:
		return int(n)
	}
}
