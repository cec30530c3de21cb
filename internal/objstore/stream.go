package objstore

import (
	"context"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
)

// StreamPartSize is the part size of a stream of unknown length (one
// part's buffer is what it holds in memory).
const StreamPartSize = 16 << 20

// PutUnknownSize stores a stream whose length is not known beforehand (a
// multipart upload of StreamPartSize parts) and returns its size.
func (s *Store) PutUnknownSize(ctx context.Context, kind, key string, r io.Reader, contentType string) (int64, error) {
	info, err := s.c.PutObject(ctx, s.bucket(kind), key, r, -1, minio.PutObjectOptions{ContentType: contentType, PartSize: StreamPartSize})
	if err != nil {
		return 0, fmt.Errorf("unable to store %s/%s: %w", kind, key, err)
	}
	return info.Size, nil
}
