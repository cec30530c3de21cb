// Package objstore is the S3-compatible object store (MinIO in dev), one
// bucket per kind of object, keys prefixed by tenant.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Buckets by kind; the configured prefix is prepended.
const (
	BucketAvatars = "avatars"
	BucketImports = "imports"
	// BucketTaskOutputs holds the task output files customers download
	// (<tenant>/tasks/<task>/outputs/<sha256 of the path>).
	BucketTaskOutputs = "task-outputs"
	// BucketDatasets holds the dataset blobs (<tenant or public>/blobs/<id>),
	// the uploads in progress and the imports being fetched (docs/datasets.md).
	BucketDatasets = "datasets"
)

type Config struct {
	Endpoint, AccessKey, SecretKey, BucketPrefix string
	UseSSL                                       bool
}

type Store struct {
	c      *minio.Client
	prefix string
}

var ErrNotFound = errors.New("object not found")

func New(cfg Config) (*Store, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("S3_ENDPOINT is not set")
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseSSL,
	})
	if err != nil {
		return nil, fmt.Errorf("unable to create S3 client: %w", err)
	}
	return &Store{c: c, prefix: cfg.BucketPrefix}, nil
}

func (s *Store) bucket(kind string) string { return s.prefix + kind }

// EnsureBuckets creates the buckets that do not exist yet.
func (s *Store) EnsureBuckets(ctx context.Context, kinds ...string) error {
	for _, k := range kinds {
		b := s.bucket(k)
		ok, err := s.c.BucketExists(ctx, b)
		if err != nil {
			return fmt.Errorf("unable to check bucket %s: %w", b, err)
		}
		if !ok {
			// another process (a replica, a parallel test) may create it first
			if err := s.c.MakeBucket(ctx, b, minio.MakeBucketOptions{}); err != nil &&
				minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
				return fmt.Errorf("unable to create bucket %s: %w", b, err)
			}
		}
	}
	return nil
}

// Ping checks that the store answers (used by /readyz).
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.c.BucketExists(ctx, s.bucket(BucketAvatars))
	return err
}

func (s *Store) Put(ctx context.Context, kind, key string, r io.Reader, size int64, contentType string) error {
	_, err := s.c.PutObject(ctx, s.bucket(kind), key, r, size, minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		return fmt.Errorf("unable to store %s/%s: %w", kind, key, err)
	}
	return nil
}

// PutStream stores size bytes of r (streamed; -1: unknown) and returns the object's ETag.
// A stream of unknown size goes in parts of StreamPartSize (minio-go's own
// choice then is parts of about 576 MiB, each buffered whole in memory).
func (s *Store) PutStream(ctx context.Context, kind, key string, r io.Reader, size int64, contentType string) (string, error) {
	opts := minio.PutObjectOptions{ContentType: contentType}
	if size < 0 {
		opts.PartSize = StreamPartSize
	}
	info, err := s.c.PutObject(ctx, s.bucket(kind), key, r, size, opts)
	if err != nil {
		return "", fmt.Errorf("unable to store %s/%s: %w", kind, key, err)
	}
	if size >= 0 && info.Size != size {
		return "", fmt.Errorf("unable to store %s/%s: %d bytes stored of %d", kind, key, info.Size, size)
	}
	return info.ETag, nil
}

// Get opens an object; the caller closes it.
func (s *Store) Get(ctx context.Context, kind, key string) (io.ReadCloser, int64, string, error) {
	obj, err := s.c.GetObject(ctx, s.bucket(kind), key, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, "", fmt.Errorf("unable to read %s/%s: %w", kind, key, err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, 0, "", ErrNotFound
		}
		return nil, 0, "", fmt.Errorf("unable to stat %s/%s: %w", kind, key, err)
	}
	return obj, st.Size, st.ContentType, nil
}

func (s *Store) Remove(ctx context.Context, kind, key string) error {
	return s.c.RemoveObject(ctx, s.bucket(kind), key, minio.RemoveObjectOptions{})
}

// RemovePrefix removes every object whose key starts with prefix.
func (s *Store) RemovePrefix(ctx context.Context, kind, prefix string) error {
	objects := s.c.ListObjects(ctx, s.bucket(kind), minio.ListObjectsOptions{Prefix: prefix, Recursive: true})
	for e := range s.c.RemoveObjects(ctx, s.bucket(kind), objects, minio.RemoveObjectsOptions{}) {
		if e.Err != nil {
			return fmt.Errorf("unable to remove %s/%s: %w", kind, e.ObjectName, e.Err)
		}
	}
	return nil
}

// TaskOutputsPrefix is where the output files of a task fetched for
// download are kept in BucketTaskOutputs.
func TaskOutputsPrefix(tenantID, taskID string) string {
	return tenantID + "/tasks/" + taskID + "/outputs/"
}
