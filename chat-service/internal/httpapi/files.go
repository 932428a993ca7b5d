package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/httpx"
)

// UploadRoute is the one route whose body may be as large as a file.
const UploadRoute = "/rooms/:id/files"

// MultipartOverhead is what a multipart upload may carry beyond the file:
// boundaries and part headers (a long file name included).
const MultipartOverhead = 64 << 10

// BodyLimit limits request bodies to limit bytes, and the upload route's
// to fileMax plus MultipartOverhead (413 body_too_large / file_too_large
// before the body is read when Content-Length says so).
func BodyLimit(limit, fileMax int64) gin.HandlerFunc {
	if fileMax <= 0 {
		fileMax = chat.DefaultFileMaxBytes
	}
	small, large := httpx.BodyLimit(limit), httpx.BodyLimit(fileMax+MultipartOverhead)
	return func(c *gin.Context) {
		if c.Request.Method == http.MethodPost && c.FullPath() == UploadRoute {
			if c.Request.ContentLength > fileMax+MultipartOverhead {
				httpx.Error(c, chat.ErrFileTooLarge)
				return
			}
			large(c)
			return
		}
		small(c)
	}
}

// uploadFile streams the multipart field "file" into the store: the body
// is read part by part, never buffered whole.
func uploadFile(svc *chat.Service, fileMax int64) gin.HandlerFunc {
	if fileMax <= 0 {
		fileMax = chat.DefaultFileMaxBytes
	}
	return httpx.HandleAs(http.StatusCreated, func(c *gin.Context) (any, error) {
		id, err := httpx.ParamID(c, "id")
		if err != nil {
			return nil, err
		}
		if c.Request.ContentLength > fileMax+MultipartOverhead {
			return nil, chat.ErrFileTooLarge
		}
		mr, err := c.Request.MultipartReader()
		if err != nil {
			return nil, apperr.Invalid("invalid_multipart", "send multipart/form-data with the field \"file\"")
		}
		for {
			part, err := mr.NextPart()
			if err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					return nil, chat.ErrFileTooLarge
				}
				return nil, chat.ErrNoFile
			}
			if part.FormName() != "file" {
				part.Close()
				continue
			}
			f, err := svc.UploadFile(c.Request.Context(), caller(c), id, part.FileName(), part)
			part.Close()
			return f, err
		}
	})
}

// downloadFile serves a file (or its thumbnail) to whoever holds a valid
// signed URL. Only PNG, JPEG, GIF and WebP images are inline; anything
// else, SVG and HTML included, is an attachment, and nothing is sniffed
// or scripted by the browser (nosniff, CSP sandbox).
func downloadFile(svc *chat.Service, thumbnail bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil || id <= 0 {
			httpx.Error(c, chat.ErrFileNotFound)
			return
		}
		f, content, err := svc.FileForDownload(c.Request.Context(), id, thumbnail, c.Query("exp"), c.Query("sig"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "sandbox")
		// The URL changes when it expires; until then its bytes do not.
		h.Set("Cache-Control", "private, max-age="+strconv.Itoa(int(chat.DefaultURLBucket/time.Second))+", immutable")
		inline := chat.IsInlineImage(f.ContentType) && f.Width != nil
		switch {
		case thumbnail:
			h.Set("Content-Type", chat.ThumbnailType(f.ContentType))
			h.Set("Content-Disposition", "inline")
		case inline:
			h.Set("Content-Type", f.ContentType)
			h.Set("Content-Disposition", "inline")
		default:
			// HTML, SVG and the rest are downloaded, never rendered.
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Content-Disposition", AttachmentDisposition(f.Name))
		}
		http.ServeContent(c.Writer, c.Request, "", f.CreatedAt, content)
	}
}

// AttachmentDisposition is "attachment" with name as an ASCII fallback
// (anything but plain printable ASCII, quotes and backslashes made "_")
// and as RFC 5987 filename* (UTF-8, percent-encoded): no byte of the name
// can end the header value or add a parameter.
func AttachmentDisposition(name string) string {
	var ascii, enc strings.Builder
	for _, r := range name {
		if r >= 0x20 && r < 0x7f && r != '"' && r != '\\' && r != '%' {
			ascii.WriteRune(r)
		} else {
			ascii.WriteByte('_')
		}
	}
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(name); i++ {
		b := name[i]
		if b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("!#$&+-.^_`|~", b) >= 0 {
			enc.WriteByte(b)
		} else {
			enc.WriteByte('%')
			enc.WriteByte(hex[b>>4])
			enc.WriteByte(hex[b&15])
		}
	}
	return `attachment; filename="` + ascii.String() + `"; filename*=UTF-8''` + enc.String()
}
