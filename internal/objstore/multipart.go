package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
)

// Keys in BucketDatasets (docs/datasets.md).

// BlobKey is where a dataset blob lives: <tenant or "public">/blobs/<blob id>.
func BlobKey(tenantID, blobID string) string {
	if tenantID == "" {
		tenantID = "public"
	}
	return tenantID + "/blobs/" + blobID
}

// UploadKey is where a file being uploaded goes until the ingest verifies it.
func UploadKey(datasetID, uploadID string) string { return "uploads/" + datasetID + "/" + uploadID }

// ImportKey is where a URL or machine import is fetched to.
func ImportKey(datasetID, id string) string { return "imports/" + datasetID + "/" + id }

func (s *Store) core() minio.Core { return minio.Core{Client: s.c} }

// NewMultipartUpload starts an S3 multipart upload of key and returns its upload ID.
func (s *Store) NewMultipartUpload(ctx context.Context, kind, key string) (string, error) {
	id, err := s.core().NewMultipartUpload(ctx, s.bucket(kind), key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return "", fmt.Errorf("unable to start the multipart upload of %s/%s: %w", kind, key, err)
	}
	return id, nil
}

// PutPart stores part n (1-based) of a multipart upload; md5Base64 is the
// part's MD5, which the object store checks again. It returns the part's ETag.
func (s *Store) PutPart(ctx context.Context, kind, key, uploadID string, n int, r io.Reader, size int64, md5Base64 string) (string, error) {
	p, err := s.core().PutObjectPart(ctx, s.bucket(kind), key, uploadID, n, r, size,
		minio.PutObjectPartOptions{Md5Base64: md5Base64, DisableContentSha256: true})
	if err != nil {
		return "", fmt.Errorf("unable to store part %d of %s/%s: %w", n, kind, key, err)
	}
	return p.ETag, nil
}

// PutWithMD5 stores a whole object whose MD5 the object store checks.
func (s *Store) PutWithMD5(ctx context.Context, kind, key string, r io.Reader, size int64, md5Base64 string) (string, error) {
	info, err := s.core().PutObject(ctx, s.bucket(kind), key, r, size, md5Base64, "",
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableContentSha256: true})
	if err != nil {
		return "", fmt.Errorf("unable to store %s/%s: %w", kind, key, err)
	}
	return info.ETag, nil
}

// Part is a stored part of a multipart upload.
type Part struct {
	N    int
	ETag string
}

// CompleteMultipartUpload joins the parts (in order of N) into the object.
func (s *Store) CompleteMultipartUpload(ctx context.Context, kind, key, uploadID string, parts []Part) error {
	cp := make([]minio.CompletePart, len(parts))
	for i, p := range parts {
		cp[i] = minio.CompletePart{PartNumber: p.N, ETag: p.ETag}
	}
	if _, err := s.core().CompleteMultipartUpload(ctx, s.bucket(kind), key, uploadID, cp, minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("unable to complete the multipart upload of %s/%s: %w", kind, key, err)
	}
	return nil
}

// AbortMultipartUpload removes an upload's parts; an upload already gone is not an error.
func (s *Store) AbortMultipartUpload(ctx context.Context, kind, key, uploadID string) error {
	err := s.core().AbortMultipartUpload(ctx, s.bucket(kind), key, uploadID)
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchUpload" {
		return fmt.Errorf("unable to abort the multipart upload of %s/%s: %w", kind, key, err)
	}
	return nil
}

// Incomplete is a multipart upload that was started and never completed nor aborted.
type Incomplete struct {
	Key      string
	UploadID string
	Started  time.Time
}

// ListIncompleteUploads lists the multipart uploads under prefix (leftovers).
// MinIO answers for the whole bucket (prefix "") or one exact key only.
func (s *Store) ListIncompleteUploads(ctx context.Context, kind, prefix string) ([]Incomplete, error) {
	var out []Incomplete
	for u := range s.c.ListIncompleteUploads(ctx, s.bucket(kind), prefix, true) {
		if u.Err != nil {
			return nil, fmt.Errorf("unable to list the uploads of %s/%s: %w", kind, prefix, u.Err)
		}
		out = append(out, Incomplete{Key: u.Key, UploadID: u.UploadID, Started: u.Initiated})
	}
	return out, nil
}

// Stat is an object's size (ErrNotFound when it does not exist).
func (s *Store) Stat(ctx context.Context, kind, key string) (int64, error) {
	info, err := s.c.StatObject(ctx, s.bucket(kind), key, minio.StatObjectOptions{})
	if err != nil {
		if c := minio.ToErrorResponse(err).Code; c == "NoSuchKey" || c == "NotFound" {
			return 0, ErrNotFound
		}
		return 0, fmt.Errorf("unable to stat %s/%s: %w", kind, key, err)
	}
	return info.Size, nil
}

// Object is an opened object: read it in order or at offsets (io.ReaderAt,
// which zip needs). The caller closes it.
type Object interface {
	io.Reader
	io.ReaderAt
	io.Seeker
	io.Closer
}

// Open opens an object with its size (ErrNotFound when it does not exist).
func (s *Store) Open(ctx context.Context, kind, key string) (Object, int64, error) {
	obj, err := s.c.GetObject(ctx, s.bucket(kind), key, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("unable to read %s/%s: %w", kind, key, err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		if c := minio.ToErrorResponse(err).Code; c == "NoSuchKey" || c == "NotFound" {
			return nil, 0, ErrNotFound
		}
		return nil, 0, fmt.Errorf("unable to stat %s/%s: %w", kind, key, err)
	}
	return obj, st.Size, nil
}

// GetRange streams length bytes of an object from offset (length < 0: to its end).
func (s *Store) GetRange(ctx context.Context, kind, key string, offset, length int64) (io.ReadCloser, error) {
	opts := minio.GetObjectOptions{}
	if offset > 0 || length >= 0 {
		end := int64(0)
		if length >= 0 {
			end = offset + length - 1
		}
		if err := opts.SetRange(offset, end); err != nil {
			return nil, err
		}
	}
	obj, err := s.c.GetObject(ctx, s.bucket(kind), key, opts)
	if err != nil {
		return nil, fmt.Errorf("unable to read %s/%s: %w", kind, key, err)
	}
	return obj, nil
}

// Copy copies an object inside the store (server side; objects up to 5 GiB).
func (s *Store) Copy(ctx context.Context, kind, from, to string) error {
	_, err := s.c.CopyObject(ctx, minio.CopyDestOptions{Bucket: s.bucket(kind), Object: to},
		minio.CopySrcOptions{Bucket: s.bucket(kind), Object: from})
	if err != nil {
		return fmt.Errorf("unable to copy %s/%s to %s: %w", kind, from, to, err)
	}
	return nil
}

// IsBadDigest reports the store refusing bytes that do not match their Content-MD5.
func IsBadDigest(err error) bool {
	var e minio.ErrorResponse
	return errors.As(err, &e) && (e.Code == "BadDigest" || e.Code == "InvalidDigest" || e.Code == "XAmzContentChecksumMismatch")
}

// IsNotFound reports an object that does not exist (from a read).
func IsNotFound(err error) bool {
	if errors.Is(err, ErrNotFound) {
		return true
	}
	var e minio.ErrorResponse
	return errors.As(err, &e) && (e.Code == "NoSuchKey" || e.Code == "NotFound")
}
