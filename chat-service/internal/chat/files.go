package chat

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/text"
)

// File limits (docs/ARCHITECTURE.md, Files).
const (
	// DefaultFileMaxBytes is FILE_MAX_BYTES when it is not set.
	DefaultFileMaxBytes = 25 << 20
	// MaxFilesPerMessage caps the file_ids of one send.
	MaxFilesPerMessage = 10
	// MaxImagePixels refuses images that would take too much memory to
	// decode (a decompression bomb is small on the wire).
	MaxImagePixels = 50_000_000
	// ThumbnailMax is the long side of a thumbnail, in pixels.
	ThumbnailMax = 400
	// MaxFileNameRunes caps a file's name.
	MaxFileNameRunes = 200
	// FileChunkBytes is the size of one stored chunk.
	FileChunkBytes = 1 << 20
	// UnattachedFileTTL is how long an upload waits for a message.
	UnattachedFileTTL = 24 * time.Hour
)

// Parts of a stored file.
const (
	PartFile      = 0
	PartThumbnail = 1
)

// File is an uploaded file as clients see it. URL and ThumbnailURL are
// signed capability URLs (FileURLs); Width, Height and ThumbnailURL are nil
// for anything but PNG, JPEG, GIF and WebP images.
type File struct {
	ID           int64   `json:"id"`
	Name         string  `json:"name"`
	Size         int64   `json:"size"`
	ContentType  string  `json:"content_type"`
	Width        *int    `json:"width"`
	Height       *int    `json:"height"`
	URL          string  `json:"url"`
	ThumbnailURL *string `json:"thumbnail_url"`

	RoomID     int64     `json:"-"`
	UploaderID int64     `json:"-"`
	MessageID  int64     `json:"-"` // 0 while not attached
	ThumbSize  int64     `json:"-"` // 0 without a thumbnail
	Complete   bool      `json:"-"`
	CreatedAt  time.Time `json:"-"`
}

// NewFile is an upload about to be stored.
type NewFile struct {
	RoomID     int64
	UploaderID int64
	Name       string
	At         time.Time
}

// FileMeta is what an upload learned once every byte was stored.
type FileMeta struct {
	Size          int64
	ContentType   string
	Width, Height int
	ThumbSize     int64
}

// FileContent reads one part of a stored file, one chunk at a time.
type FileContent interface {
	io.ReadSeeker
	Size() int64
}

// FileStore persists files and their bytes.
type FileStore interface {
	// CreateFile records an upload that is starting (not complete).
	CreateFile(ctx context.Context, f NewFile) (int64, error)
	// WriteFileChunk stores chunk n of a part, in a write of its own.
	WriteFileChunk(ctx context.Context, fileID int64, part, n int, data []byte) error
	// CompleteFile records meta and marks the file complete.
	CompleteFile(ctx context.Context, fileID int64, meta FileMeta) (File, error)
	// DeleteFile removes a file and its bytes.
	DeleteFile(ctx context.Context, fileID int64) error
	// File loads a file's row (404 file_not_found when there is none).
	File(ctx context.Context, fileID int64) (File, error)
	// OpenFile reads a part of a complete file.
	OpenFile(ctx context.Context, fileID int64, part int, size int64) FileContent
	// SweepFiles deletes files never attached to a message created
	// before before; it returns how many.
	SweepFiles(ctx context.Context, before time.Time) (int, error)
	// FileKey returns the key that signs file URLs, made once.
	FileKey(ctx context.Context) ([]byte, error)
}

// Errors of files.
var (
	ErrInvalidFiles  = apperr.Validation("invalid_files", "file_ids must name at most 10 of your own uploads in this room that no message carries yet")
	ErrFileTooLarge  = apperr.TooLarge("file_too_large", "the file is larger than the limit")
	ErrImageTooLarge = apperr.Validation("image_too_large", "the image has more than 50 megapixels")
	ErrFileNotFound  = apperr.NotFound("file_not_found", "file not found")
	ErrNoFile        = apperr.Invalid("missing_file", "send the file as the multipart field \"file\"")
	ErrBadSignature  = apperr.Forbidden("invalid_signature", "the link's signature is not valid")
	ErrLinkExpired   = apperr.Forbidden("link_expired", "the link has expired; reload the message for a new one")
)

// CleanFileName makes a client's file name safe to show and store: the
// base name only (no directories), control, bidi and other format
// characters dropped, NFC, at most MaxFileNameRunes code points (the
// extension kept), "file" when nothing is left.
func CleanFileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.ToValidUTF8(name, "")
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || text.IsBidiControl(r) || unicode.Is(unicode.Cf, r) && r != '\u200d' {
			return -1
		}
		if unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, name)
	name = strings.TrimSpace(text.NFC(name))
	name = strings.Trim(name, ".")
	if n := utf8.RuneCountInString(name); n > MaxFileNameRunes {
		ext := ""
		if i := strings.LastIndexByte(name, '.'); i > 0 && utf8.RuneCountInString(name[i:]) <= 16 {
			ext = name[i:]
		}
		r := []rune(strings.TrimSuffix(name, ext))
		name = string(r[:MaxFileNameRunes-utf8.RuneCountInString(ext)]) + ext
	}
	if text.Blank(name) {
		return "file"
	}
	return name
}

// ValidateFileIDs checks a send's file_ids: at most MaxFilesPerMessage,
// positive, no repeats.
func ValidateFileIDs(ids []int64) error {
	if len(ids) > MaxFilesPerMessage {
		return ErrInvalidFiles
	}
	seen := make(map[int64]bool, len(ids))
	for _, id := range ids {
		if id <= 0 || seen[id] {
			return ErrInvalidFiles
		}
		seen[id] = true
	}
	return nil
}

// IsInlineImage says whether a sniffed type is served inline and
// thumbnailed: PNG, JPEG, GIF and WebP only (never SVG).
func IsInlineImage(contentType string) bool {
	switch contentType {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return true
	}
	return false
}

// FileURLs signs and checks file URLs. A URL is
// /api/chat/files/{id}?exp={unix seconds}&sig={HMAC-SHA256 of
// "{id}/{part}/{exp}", base64url}; the thumbnail's path ends in
// /thumbnail. Expiry is bucketed: every URL made within one Bucket of time
// names the same exp (the end of the next bucket), so a file keeps one URL
// for Bucket and browsers cache it; a URL is valid for Bucket to 2×Bucket
// after it was made.
type FileURLs struct {
	Key    []byte
	Now    func() time.Time
	Bucket time.Duration
	// Prefix is the public path before /files (default /api/chat).
	Prefix string
}

// DefaultURLBucket is FileURLs.Bucket by default.
const DefaultURLBucket = 6 * time.Hour

func (u *FileURLs) bucket() time.Duration {
	if u.Bucket <= 0 {
		return DefaultURLBucket
	}
	return u.Bucket
}

func (u *FileURLs) sig(id int64, part int, exp int64) string {
	m := hmac.New(sha256.New, u.Key)
	fmt.Fprintf(m, "%d/%d/%d", id, part, exp)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Sign fills f's URL and, for a file with a thumbnail, ThumbnailURL.
func (u *FileURLs) Sign(f *File) {
	if u == nil {
		return
	}
	b := int64(u.bucket() / time.Second)
	exp := (u.Now().Unix()/b + 2) * b
	prefix := u.Prefix
	if prefix == "" {
		prefix = "/api/chat"
	}
	base := prefix + "/files/" + strconv.FormatInt(f.ID, 10)
	f.URL = base + "?exp=" + strconv.FormatInt(exp, 10) + "&sig=" + u.sig(f.ID, PartFile, exp)
	if f.ThumbSize > 0 {
		t := base + "/thumbnail?exp=" + strconv.FormatInt(exp, 10) + "&sig=" + u.sig(f.ID, PartThumbnail, exp)
		f.ThumbnailURL = &t
	}
}

// Check verifies a URL's exp and sig for a file part: ErrBadSignature for
// a forged or malformed one, ErrLinkExpired for one past its exp.
func (u *FileURLs) Check(id int64, part int, exp, sig string) error {
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || u == nil {
		return ErrBadSignature
	}
	if !hmac.Equal([]byte(sig), []byte(u.sig(id, part, e))) {
		return ErrBadSignature
	}
	if u.Now().Unix() >= e {
		return ErrLinkExpired
	}
	return nil
}
