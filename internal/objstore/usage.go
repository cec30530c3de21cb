package objstore

import (
	"context"
	"fmt"

	"github.com/minio/minio-go/v7"
)

// Usage sums the sizes of the objects of a bucket under prefix ("" all of them).
func (s *Store) Usage(ctx context.Context, kind, prefix string) (bytes int64, objects int, err error) {
	for o := range s.c.ListObjects(ctx, s.bucket(kind), minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			if minio.ToErrorResponse(o.Err).Code == "NoSuchBucket" {
				return 0, 0, nil
			}
			return 0, 0, fmt.Errorf("unable to list %s/%s: %w", kind, prefix, o.Err)
		}
		bytes += o.Size
		objects++
	}
	return bytes, objects, nil
}
