package chat

import (
	"bytes"
	"context"
	"errors"
	"image"
	_ "image/gif" // decoders for image.Decode
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // WebP decoder for image.Decode

	"github.com/parleychat/parley/platform/apperr"
)

// UploadFile stores a file a member uploads to a room, streaming it into
// the store a chunk at a time (never whole in memory): its type is sniffed
// from its bytes, an image (PNG, JPEG, GIF, WebP) is measured before it is
// decoded (over MaxImagePixels: ErrImageTooLarge) and thumbnailed. More
// than the service's FileMaxBytes is ErrFileTooLarge. A refused or failed
// upload leaves nothing behind.
func (s *Service) UploadFile(ctx context.Context, a Actor, roomID int64, name string, r io.Reader) (File, error) {
	if roomID <= 0 {
		return File{}, errRoomNotFound
	}
	room, m, err := s.store.RoomMember(ctx, roomID, a.UserID)
	if err != nil {
		return File{}, err
	}
	if err := sendCheck(room, m); err != nil {
		return File{}, err
	}
	id, err := s.store.CreateFile(ctx, NewFile{RoomID: roomID, UploaderID: a.UserID, Name: CleanFileName(name), At: s.at()})
	if err != nil {
		return File{}, err
	}
	f, err := s.fillFile(ctx, id, r)
	if err != nil {
		// Leave nothing half-written, even when the client went away.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := s.store.DeleteFile(dctx, id); derr != nil {
			s.log.WarnContext(ctx, "delete failed upload", "file_id", id, "error", derr)
		}
		return File{}, err
	}
	return f, nil
}

func (s *Service) fillFile(ctx context.Context, id int64, r io.Reader) (File, error) {
	buf := make([]byte, FileChunkBytes)
	var (
		size  int64
		sniff []byte
	)
	for n := 0; ; n++ {
		k, rerr := io.ReadFull(r, buf)
		if k > 0 {
			if sniff == nil {
				sniff = bytes.Clone(buf[:min(k, 512)])
			}
			size += int64(k)
			if size > s.fileMax {
				return File{}, ErrFileTooLarge
			}
			if err := s.store.WriteFileChunk(ctx, id, PartFile, n, buf[:k]); err != nil {
				return File{}, err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			var tooBig *http.MaxBytesError
			if errors.As(rerr, &tooBig) {
				return File{}, ErrFileTooLarge
			}
			return File{}, apperr.Invalid("upload_failed", "the upload was cut short")
		}
	}
	meta := FileMeta{Size: size, ContentType: "application/octet-stream"}
	if len(sniff) > 0 {
		meta.ContentType = SniffType(sniff)
	}
	if IsInlineImage(meta.ContentType) {
		if err := s.thumbnail(ctx, id, &meta); err != nil {
			return File{}, err
		}
	}
	return s.store.CompleteFile(ctx, id, meta)
}

// thumbnail measures a stored image and, when it is not too large, decodes
// it and stores a thumbnail (part PartThumbnail). Bytes that do not decode
// as the sniffed type are kept as a plain file (served as an attachment).
func (s *Service) thumbnail(ctx context.Context, id int64, meta *FileMeta) error {
	cfg, _, err := image.DecodeConfig(s.store.OpenFile(ctx, id, PartFile, meta.Size))
	if err != nil {
		meta.ContentType = "application/octet-stream"
		return nil
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		meta.ContentType = "application/octet-stream"
		return nil
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return ErrImageTooLarge
	}
	// Decoding takes width×height×4 bytes or more: a few at a time.
	select {
	case s.decoding <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	thumb, err := MakeThumbnail(s.store.OpenFile(ctx, id, PartFile, meta.Size), meta.ContentType)
	<-s.decoding
	if err != nil {
		meta.ContentType = "application/octet-stream"
		return nil
	}
	meta.Width, meta.Height = cfg.Width, cfg.Height
	for n := 0; len(thumb) > 0; n++ {
		k := min(len(thumb), FileChunkBytes)
		if err := s.store.WriteFileChunk(ctx, id, PartThumbnail, n, thumb[:k]); err != nil {
			return err
		}
		meta.ThumbSize += int64(k)
		thumb = thumb[k:]
	}
	return nil
}

// SniffType is the type of a file that starts with head (up to 512
// bytes): http.DetectContentType's answer, and image/svg+xml for text that
// opens an <svg> element (an SVG is never an image here: it can carry
// script, so it is served as an attachment like any other non-image).
func SniffType(head []byte) string {
	t := http.DetectContentType(head)
	if strings.HasPrefix(t, "text/xml") || strings.HasPrefix(t, "text/plain") {
		if bytes.Contains(bytes.ToLower(head), []byte("<svg")) {
			return "image/svg+xml"
		}
	}
	return t
}

// ThumbnailType is the type of a thumbnail of an image of contentType:
// JPEG for photos, PNG (transparency kept) for the rest.
func ThumbnailType(contentType string) string {
	if contentType == "image/jpeg" {
		return "image/jpeg"
	}
	return "image/png"
}

// MakeThumbnail decodes an image and returns it scaled to at most
// ThumbnailMax pixels on its long side (never enlarged), encoded as
// ThumbnailType(contentType).
func MakeThumbnail(r io.Reader, contentType string) ([]byte, error) {
	src, _, err := image.Decode(r)
	if err != nil {
		return nil, err
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil, errors.New("empty image")
	}
	tw, th := w, h
	if w > ThumbnailMax || h > ThumbnailMax {
		if w >= h {
			tw, th = ThumbnailMax, max(1, h*ThumbnailMax/w)
		} else {
			tw, th = max(1, w*ThumbnailMax/h), ThumbnailMax
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	var out bytes.Buffer
	if ThumbnailType(contentType) == "image/jpeg" {
		err = jpeg.Encode(&out, dst, &jpeg.Options{Quality: 80})
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, dst)
	}
	return out.Bytes(), err
}

// FileForDownload checks a signed URL's exp and sig and returns the file
// and a reader of the part asked for (the thumbnail's when thumbnail).
func (s *Service) FileForDownload(ctx context.Context, id int64, thumbnail bool, exp, sig string) (File, FileContent, error) {
	part := PartFile
	if thumbnail {
		part = PartThumbnail
	}
	if err := s.urls.Check(id, part, exp, sig); err != nil {
		return File{}, nil, err
	}
	f, err := s.store.File(ctx, id)
	if err != nil {
		return File{}, nil, err
	}
	if !f.Complete {
		return File{}, nil, ErrFileNotFound
	}
	size := f.Size
	if thumbnail {
		if f.ThumbSize == 0 {
			return File{}, nil, ErrFileNotFound
		}
		size = f.ThumbSize
	}
	return f, s.store.OpenFile(ctx, id, part, size), nil
}

// SweepFiles deletes the uploads never attached to a message within
// UnattachedFileTTL (and uploads that never finished).
func (s *Service) SweepFiles(ctx context.Context) (int, error) {
	return s.store.SweepFiles(ctx, s.now().Add(-UnattachedFileTTL))
}

// FileURLs is the service's URL signer.
func (s *Service) FileURLs() *FileURLs { return s.urls }
