package datasets

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dustin/go-humanize"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/extract"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// Upload limits (docs/datasets.md, Upload).
const (
	ChunkSize       = 5 << 20
	MaxBatchFiles   = 1000
	MaxNameRunes    = 100
	MaxDescRunes    = 2000
	MaxTags         = 20
	MaxTagRunes     = 30
	MaxParts        = 10000                       // S3's limit of parts per upload
	maxUploadFileSz = int64(MaxParts) * ChunkSize // about 48.8 GiB in 5 MiB chunks
)

// Upload states of a file (InitUploads).
const (
	StateDone = "done"
	StateOpen = "open"
)

var md5Hex = regexp.MustCompile(`^[0-9a-f]{32}$`)

// DatasetMeta is what a new dataset is described with.
type DatasetMeta struct {
	Name        string
	Type        string
	Description string
	Tags        []string
	Access      string
}

// UploadStart starts an upload: the dataset and the bytes to reserve.
type UploadStart struct {
	DatasetMeta
	TotalBytes int64
}

func invalid(field, code, msg string, p apperr.P) error {
	return apperr.New(apperr.Invalid, code, msg, p).AtField(field)
}

// checkMeta validates the description of a new dataset; admin: a public
// dataset (access public or private), otherwise private or team.
func checkMeta(m DatasetMeta, admin bool) (DatasetMeta, error) {
	m.Name = strings.TrimSpace(m.Name)
	if n := utf8.RuneCountInString(m.Name); n < 1 || n > MaxNameRunes {
		return m, invalid("body.name", "uploads.nameLength", "the name must be 1 to {max} characters", apperr.P{"max": MaxNameRunes})
	}
	if !slices.Contains(DatasetTypes, m.Type) {
		return m, invalid("body.type", "uploads.typeInvalid", "the type must be image, text, audio, video or other", nil)
	}
	m.Description = strings.TrimSpace(m.Description)
	if utf8.RuneCountInString(m.Description) > MaxDescRunes {
		return m, invalid("body.description", "uploads.descriptionTooLong", "the description must be at most {max} characters",
			apperr.P{"max": MaxDescRunes})
	}
	tags := []string{}
	for _, t := range m.Tags {
		t = strings.TrimSpace(t)
		if t == "" || slices.Contains(tags, t) {
			continue
		}
		if utf8.RuneCountInString(t) > MaxTagRunes {
			return m, invalid("body.tags", "uploads.tagTooLong", "a tag must be at most {max} characters", apperr.P{"max": MaxTagRunes})
		}
		tags = append(tags, t)
	}
	if len(tags) > MaxTags {
		return m, invalid("body.tags", "uploads.tagsTooMany", "at most {max} tags", apperr.P{"max": MaxTags})
	}
	m.Tags = tags
	switch {
	case m.Access == "":
		m.Access = store.AccessPrivate
	case admin && m.Access != store.AccessPublic && m.Access != store.AccessPrivate,
		!admin && m.Access != store.AccessPrivate && m.Access != store.AccessTeam:
		allowed := "private or team"
		if admin {
			allowed = "public or private"
		}
		return m, invalid("body.access", "uploads.accessInvalid", "the access must be {allowed}", apperr.P{"allowed": allowed})
	}
	return m, nil
}

func (s *Service) objectsReady() error {
	if s.Objects == nil {
		return apperr.UnavailableErr("uploads.storeDown", "the object store is not configured; uploads are unavailable")
	}
	return nil
}

// creator is the caller's tenant (” for an admin: a public dataset), ID and shown name.
func creator(ctx context.Context) (tenant, id, name string) {
	p := caller.From(ctx)
	name = p.Name
	if name == "" {
		name = p.Username
	}
	if p.IsAdmin() {
		return "", p.UserID, name
	}
	return p.TenantID, p.UserID, name
}

// StartUpload creates a dataset in status uploading with totalBytes
// reserved under the company's quota (409 uploads.quotaExceeded, nothing
// created, when it has no room); an admin's is a public dataset, without quota.
func (s *Service) StartUpload(ctx context.Context, in UploadStart) (*store.Dataset, error) {
	if err := s.objectsReady(); err != nil {
		return nil, err
	}
	tenant, by, byName := creator(ctx)
	meta, err := checkMeta(in.DatasetMeta, tenant == "")
	if err != nil {
		return nil, err
	}
	if in.TotalBytes < 0 {
		return nil, invalid("body.totalBytes", "uploads.totalBytesInvalid", "the total size must be 0 or more bytes", nil)
	}
	var id string
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		var err error
		id, err = q.CreateDataset(ctx, store.NewDataset{TenantID: tenant, CreatedBy: by, CreatedByName: byName, Name: meta.Name, Type: meta.Type,
			Description: meta.Description, Tags: meta.Tags, Access: meta.Access, Source: "upload"})
		if err != nil {
			return err
		}
		if err := s.reserve(ctx, tx, id, tenant, in.TotalBytes); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "dataset.create", TargetType: "dataset", TargetID: id, Success: true,
			Detail: map[string]any{"name": meta.Name, "type": meta.Type, "access": meta.Access, "source": "upload", "totalBytes": in.TotalBytes}})
	})
	if err != nil {
		return nil, err
	}
	return s.Store.GetDataset(ctx, scope(ctx), id)
}

// UploadFile is a file the caller is about to send.
type UploadFile struct {
	Path    string
	Size    int64
	MD5     string // hex
	Archive bool
}

// UploadSlot is what the caller does with a file: nothing (done, instant
// upload) or send the parts not confirmed yet (open).
type UploadSlot struct {
	Path           string `json:"path"`
	UploadID       string `json:"uploadId" doc:"Empty when the state is done"`
	State          string `json:"state" enum:"done,open" doc:"done: instant upload (秒传), nothing to send; open: send the parts not in confirmedParts"`
	Archive        bool   `json:"archive"`
	Size           int64  `json:"size"`
	MD5            string `json:"md5"`
	ChunkSize      int    `json:"chunkSize"`
	ChunkCount     int    `json:"chunkCount"`
	ConfirmedParts []int  `json:"confirmedParts"`
}

func slotOf(u *store.DatasetUpload) UploadSlot {
	parts := u.ConfirmedParts
	if parts == nil {
		parts = []int{}
	}
	return UploadSlot{Path: u.Path, UploadID: u.ID, State: StateOpen, Archive: u.Archive, Size: u.Size, MD5: u.MD5, ChunkSize: u.ChunkSize,
		ChunkCount: u.ChunkCount(), ConfirmedParts: parts}
}

// InitUploads answers, for each file, how it is uploaded: instantly (a
// verified blob of the company's or the platform's has the content), by
// resuming its open upload (same path, MD5 and size), or by a new upload
// (an open one with other content is aborted). Growing past the dataset's
// reservation is checked against the quota; nothing changes when it fails.
func (s *Service) InitUploads(ctx context.Context, datasetID string, files []UploadFile) ([]UploadSlot, error) {
	if len(files) == 0 || len(files) > MaxBatchFiles {
		return nil, invalid("body.files", "uploads.batchSize", "send 1 to {max} files at a time", apperr.P{"max": MaxBatchFiles})
	}
	seen := map[string]bool{}
	for i := range files {
		f := &files[i]
		field := fmt.Sprintf("body.files[%d]", i)
		p, err := CleanPath(f.Path, field+".path")
		if err != nil {
			return nil, err
		}
		if seen[p] {
			return nil, invalid(field+".path", "uploads.pathTwice", "{path} is given twice", apperr.P{"path": p})
		}
		seen[p] = true
		f.Path = p
		f.MD5 = strings.ToLower(f.MD5)
		if !md5Hex.MatchString(f.MD5) {
			return nil, invalid(field+".md5", "uploads.md5Invalid", "the MD5 must be 32 hexadecimal digits", nil)
		}
		if f.Size < 0 || f.Size > maxUploadFileSz {
			return nil, invalid(field+".size", "uploads.sizeInvalid", "a file must be at most {max} (pack larger data into several files)",
				apperr.P{"max": humanize.IBytes(uint64(maxUploadFileSz)), "maxBytes": maxUploadFileSz})
		}
		if f.Archive {
			if _, ok := extract.FormatOf(p); !ok {
				return nil, invalid(field+".archive", "uploads.archiveFormat", "{path} is not a zip, tar, tar.gz or tgz archive", apperr.P{"path": p})
			}
		}
	}
	slots := make([]UploadSlot, len(files))
	var fresh []*store.DatasetUpload // new multi-part uploads: their S3 upload starts after commit
	var aborted []store.DatasetUpload
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		fresh, aborted = nil, nil
		d, err := s.writableDataset(ctx, tx, datasetID, true)
		if err != nil {
			return err
		}
		if err := s.objectsReady(); err != nil {
			return err
		}
		if d.Status != store.DatasetUploading {
			return errNotUploading(d.Status)
		}
		q := store.New(tx)
		paths := make([]string, len(files))
		var contents []store.ContentKey
		for i, f := range files {
			paths[i] = f.Path
			if !f.Archive {
				contents = append(contents, store.ContentKey{MD5: f.MD5, Size: f.Size})
			}
		}
		opens, err := q.OpenDatasetUploadsByPath(ctx, d.ID, paths)
		if err != nil {
			return err
		}
		instant, err := q.InstantBlobs(ctx, d.TenantID, contents)
		if err != nil {
			return err
		}
		var abort []string
		var done []store.IngestFile
		created := make([]store.DatasetUpload, 0, len(files)) // no reallocation: fresh points into it
		for i, f := range files {
			open := opens[f.Path]
			if open != nil && open.MD5 == f.MD5 && open.Size == f.Size && open.Archive == f.Archive {
				slots[i] = slotOf(open)
				continue
			}
			if open != nil {
				abort = append(abort, open.ID)
				aborted = append(aborted, *open)
			}
			if b := instant[store.ContentKey{MD5: f.MD5, Size: f.Size}]; b != nil && !f.Archive {
				done = append(done, store.IngestFile{Path: f.Path, BlobID: b.ID, Size: b.Size, MD5: b.MD5})
				slots[i] = UploadSlot{Path: f.Path, State: StateDone, Size: f.Size, MD5: f.MD5, ChunkSize: ChunkSize,
					ChunkCount: chunks(f.Size), ConfirmedParts: []int{}}
				continue
			}
			u := store.DatasetUpload{ID: uuid.NewString(), DatasetID: d.ID, TenantID: d.TenantID, Path: f.Path, Size: f.Size, MD5: f.MD5,
				Archive: f.Archive, ChunkSize: ChunkSize}
			u.ObjectKey = objstore.BlobKey(d.TenantID, u.ID)
			if f.Archive {
				u.ObjectKey = objstore.UploadKey(d.ID, u.ID)
			}
			created = append(created, u)
			if u.ChunkCount() > 1 {
				fresh = append(fresh, &created[len(created)-1])
			}
			slots[i] = slotOf(&u)
		}
		if err := q.AbortDatasetUploads(ctx, abort); err != nil {
			return err
		}
		if err := q.IngestPutFiles(ctx, d.ID, done); err != nil {
			return err
		}
		if err := q.CreateDatasetUploads(ctx, created); err != nil {
			return err
		}
		held, err := q.DatasetUploadedBytes(ctx, d.ID)
		if err != nil {
			return err
		}
		if grow := held - d.ReservedBytes; grow > 0 {
			if err := s.reserve(ctx, tx, d.ID, d.TenantID, grow); err != nil {
				return err
			}
		}
		return q.IngestTouchDataset(ctx, d.ID)
	})
	if err != nil {
		return nil, err
	}
	for _, u := range aborted {
		s.abortObject(ctx, u)
	}
	for _, u := range fresh {
		id, err := s.Objects.NewMultipartUpload(ctx, objstore.BucketDatasets, u.ObjectKey)
		if err == nil {
			err = s.Store.SetDatasetUploadS3ID(ctx, u.ID, id)
		}
		if err != nil {
			slog.ErrorContext(ctx, "unable to start a multipart upload", "upload", u.ID, "err", err)
			for _, v := range fresh {
				_, _ = s.Store.SetDatasetUploadStatus(ctx, v.ID, store.UploadAborted)
			}
			return nil, apperr.UnavailableErr("uploads.storeDown", "the object store is unavailable; try again later")
		}
	}
	return slots, nil
}

func chunks(size int64) int {
	return store.DatasetUpload{Size: size, ChunkSize: ChunkSize}.ChunkCount()
}

// abortObject removes what an aborted upload stored (best effort; the
// abandoned-uploads cleanup finds what is left).
func (s *Service) abortObject(ctx context.Context, u store.DatasetUpload) {
	var err error
	if u.S3UploadID != "" {
		err = s.Objects.AbortMultipartUpload(ctx, objstore.BucketDatasets, u.ObjectKey, u.S3UploadID)
	} else if len(u.ConfirmedParts) > 0 {
		err = s.Objects.Remove(ctx, objstore.BucketDatasets, u.ObjectKey)
	}
	if err != nil {
		slog.WarnContext(ctx, "unable to remove an aborted upload", "upload", u.ID, "err", err)
	}
}

// OpenUploads lists a dataset's open uploads with their confirmed parts
// (the console's resume after a reload).
func (s *Service) OpenUploads(ctx context.Context, datasetID string) ([]UploadSlot, error) {
	d, err := s.writableDataset(ctx, s.Store.Pool, datasetID, false)
	if err != nil {
		return nil, err
	}
	list, err := s.Store.DatasetUploads(ctx, d.ID, store.UploadOpen)
	if err != nil {
		return nil, err
	}
	out := make([]UploadSlot, len(list))
	for i := range list {
		out[i] = slotOf(&list[i])
	}
	return out, nil
}

// PartInput is one chunk of an upload.
type PartInput struct {
	DatasetID  string
	UploadID   string
	N          int
	ContentMD5 string // base64, required
	Body       io.Reader
	Length     int64 // Content-Length, -1 unknown
}

// PartResult confirms a part.
type PartResult struct {
	PartNumber int  `json:"partNumber"`
	Confirmed  bool `json:"confirmed"`
	Completed  bool `json:"completed" doc:"A file of one chunk is completed by its part: complete need not be called (it answers the same)"`
}

// countingReader counts the bytes read and keeps the reader's error.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = err
	}
	return n, err
}

func errUploadNotFound() error {
	return apperr.NotFoundErr("uploads.uploadNotFound", "the upload does not exist")
}

// PutPart stores chunk n of an open upload after checking its size and
// MD5 (nothing is stored when either is wrong); a part sent again
// replaces itself.
func (s *Service) PutPart(ctx context.Context, in PartInput) (*PartResult, error) {
	d, err := s.writableDataset(ctx, s.Store.Pool, in.DatasetID, false)
	if err != nil {
		return nil, err
	}
	if err := s.objectsReady(); err != nil {
		return nil, err
	}
	want, err := base64.StdEncoding.DecodeString(strings.TrimSpace(in.ContentMD5))
	if err != nil || len(want) != md5.Size {
		return nil, invalid("header.Content-MD5", "uploads.contentMd5Required", "the Content-MD5 header (base64 of the chunk's MD5) is required", nil)
	}
	if d.Status != store.DatasetUploading {
		return nil, errNotUploading(d.Status)
	}
	u, err := s.Store.GetDatasetUpload(ctx, d.ID, in.UploadID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUploadNotFound()
	}
	if err != nil {
		return nil, err
	}
	if u.Status != store.UploadOpen {
		return nil, apperr.ConflictErr("uploads.uploadNotOpen", "the upload of {path} is {status}", apperr.P{"path": u.Path, "status": u.Status})
	}
	if in.N < 1 || in.N > u.ChunkCount() {
		return nil, invalid("path.n", "uploads.partNumberInvalid", "the part number must be 1 to {max}", apperr.P{"max": u.ChunkCount()})
	}
	size := u.PartSize(in.N)
	errSize := invalid("body", "uploads.partSizeInvalid", "part {n} must be {size} bytes", apperr.P{"n": in.N, "size": size})
	if in.Length >= 0 && in.Length != size {
		return nil, errSize
	}
	// The chunk is streamed to the object store, which checks its
	// Content-MD5 and keeps nothing that does not match (S3's BadDigest):
	// nothing is buffered, receiving overlaps storing, and the api does not
	// hash the bytes a second time. A store that ignored Content-MD5 would
	// still be caught: the ingest reads every file back and checks its MD5.
	body := &countingReader{r: io.LimitReader(in.Body, size)}
	b64 := base64.StdEncoding.EncodeToString(want)
	var etag string
	if u.ChunkCount() == 1 {
		etag, err = s.Objects.PutWithMD5(ctx, objstore.BucketDatasets, u.ObjectKey, body, size, b64)
	} else {
		if u.S3UploadID == "" {
			return nil, apperr.UnavailableErr("uploads.storeDown", "the object store is unavailable; try again later")
		}
		etag, err = s.Objects.PutPart(ctx, objstore.BucketDatasets, u.ObjectKey, u.S3UploadID, in.N, body, size, b64)
	}
	errMismatch := invalid("header.Content-MD5", "uploads.chunkMd5Mismatch", "part {n} does not match its Content-MD5: it was not stored",
		apperr.P{"n": in.N})
	switch {
	case body.n < size || body.err != nil && !errors.Is(body.err, io.EOF):
		return nil, errSize
	case err != nil && objstore.IsBadDigest(err):
		return nil, errMismatch
	case err != nil:
		slog.ErrorContext(ctx, "unable to store a part", "upload", u.ID, "part", in.N, "err", err)
		return nil, apperr.UnavailableErr("uploads.storeDown", "the object store is unavailable; try again later")
	}
	if extra, _ := in.Body.Read(make([]byte, 1)); extra > 0 {
		return nil, errSize // more than the part: not recorded
	}
	ok, err := s.Store.RecordUploadPart(ctx, u.ID, store.UploadPart{N: in.N, Size: size, MD5: hex.EncodeToString(want), ETag: etag})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apperr.ConflictErr("uploads.uploadNotOpen", "the upload of {path} is {status}", apperr.P{"path": u.Path, "status": "closed"})
	}
	if u.ChunkCount() == 1 {
		// a file of one chunk is whole now: completed without another request
		if err := s.checkArchive(ctx, u); err != nil {
			return nil, err
		}
		if err := s.recordCompleted(ctx, d, u); err != nil {
			return nil, err
		}
		return &PartResult{PartNumber: in.N, Confirmed: true, Completed: true}, nil
	}
	return &PartResult{PartNumber: in.N, Confirmed: true}, nil
}

// UploadDone is a completed upload.
type UploadDone struct {
	Path     string `json:"path"`
	UploadID string `json:"uploadId"`
	Size     int64  `json:"size"`
	Archive  bool   `json:"archive" doc:"An archive is extracted when the dataset is finished"`
}

// CompleteUpload joins the parts: the file (an unverified blob, verified
// by the ingest) is recorded. Missing parts: 409 uploads.partsMissing with
// their numbers. Completing it again answers the same.
func (s *Service) CompleteUpload(ctx context.Context, datasetID, uploadID string) (*UploadDone, error) {
	d, err := s.writableDataset(ctx, s.Store.Pool, datasetID, false)
	if err != nil {
		return nil, err
	}
	if err := s.objectsReady(); err != nil {
		return nil, err
	}
	u, err := s.Store.GetDatasetUpload(ctx, d.ID, uploadID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUploadNotFound()
	}
	if err != nil {
		return nil, err
	}
	done := &UploadDone{Path: u.Path, UploadID: u.ID, Size: u.Size, Archive: u.Archive}
	if u.Status == store.UploadCompleted {
		return done, nil
	}
	if u.Status != store.UploadOpen {
		return nil, apperr.ConflictErr("uploads.uploadNotOpen", "the upload of {path} is {status}", apperr.P{"path": u.Path, "status": u.Status})
	}
	if d.Status != store.DatasetUploading {
		return nil, errNotUploading(d.Status)
	}
	parts, err := s.Store.UploadParts(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	have := map[int]bool{}
	for _, p := range parts {
		have[p.N] = true
	}
	var missing []string
	for n := 1; n <= u.ChunkCount() && u.Size > 0; n++ {
		if !have[n] {
			missing = append(missing, strconv.Itoa(n))
		}
	}
	if len(missing) > 0 {
		shown := missing
		if len(shown) > 50 {
			shown = append(shown[:50:50], "…")
		}
		return nil, apperr.ConflictErr("uploads.partsMissing", "parts {parts} of {path} have not been sent",
			apperr.P{"parts": strings.Join(shown, ","), "path": u.Path, "missing": len(missing)})
	}
	if u.ChunkCount() > 1 {
		op := make([]objstore.Part, len(parts))
		for i, p := range parts {
			op[i] = objstore.Part{N: p.N, ETag: p.ETag}
		}
		if err := s.Objects.CompleteMultipartUpload(ctx, objstore.BucketDatasets, u.ObjectKey, u.S3UploadID, op); err != nil {
			// completed by an earlier try whose record was lost?
			if sz, serr := s.Objects.Stat(ctx, objstore.BucketDatasets, u.ObjectKey); serr != nil || sz != u.Size {
				slog.ErrorContext(ctx, "unable to complete a multipart upload", "upload", u.ID, "err", err)
				return nil, apperr.UnavailableErr("uploads.storeDown", "the object store is unavailable; try again later")
			}
		}
	} else if u.Size == 0 && len(parts) == 0 {
		if _, err := s.Objects.PutWithMD5(ctx, objstore.BucketDatasets, u.ObjectKey, bytes.NewReader(nil), 0, ""); err != nil {
			return nil, apperr.UnavailableErr("uploads.storeDown", "the object store is unavailable; try again later")
		}
	}
	if err := s.checkArchive(ctx, u); err != nil {
		return nil, err
	}
	if err := s.recordCompleted(ctx, d, u); err != nil {
		return nil, err
	}
	return done, nil
}

// recordCompleted closes a stored upload: completed, and (not an archive)
// its unverified blob and file row.
func (s *Service) recordCompleted(ctx context.Context, d *store.Dataset, u *store.DatasetUpload) error {
	return s.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		lu, err := q.LockDatasetUpload(ctx, d.ID, u.ID)
		if err != nil {
			return err
		}
		if lu.Status == store.UploadCompleted {
			return nil
		}
		if lu.Status != store.UploadOpen {
			return apperr.ConflictErr("uploads.uploadNotOpen", "the upload of {path} is {status}", apperr.P{"path": u.Path, "status": lu.Status})
		}
		if _, err := q.SetDatasetUploadStatus(ctx, u.ID, store.UploadCompleted); err != nil {
			return err
		}
		if u.Archive {
			return nil
		}
		if err := q.InsertDatasetBlob(ctx, store.DatasetBlob{ID: u.ID, TenantID: u.TenantID, MD5: u.MD5, Size: u.Size, ObjectKey: u.ObjectKey}); err != nil {
			return err
		}
		return q.IngestPutFile(ctx, d.ID, u.Path, u.ID, u.Size, u.MD5)
	})
}

// FinishUpload ends the uploading: the dataset goes processing and its
// DatasetIngest starts (verify, extract, index). Refused while uploads are
// open; undone when the workflow cannot start.
func (s *Service) FinishUpload(ctx context.Context, datasetID string) (*store.Dataset, error) {
	var d *store.Dataset
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if d, err = s.writableDataset(ctx, tx, datasetID, true); err != nil {
			return err
		}
		if d.Status != store.DatasetUploading {
			return errNotUploading(d.Status)
		}
		q := store.New(tx)
		open, err := q.DatasetUploads(ctx, d.ID, store.UploadOpen)
		if err != nil {
			return err
		}
		if len(open) > 0 {
			paths := make([]string, 0, 5)
			for i := 0; i < len(open) && i < 5; i++ {
				paths = append(paths, open[i].Path)
			}
			return apperr.ConflictErr("uploads.uploadsOpen", "{count} files are still being uploaded (e.g. {paths})",
				apperr.P{"count": len(open), "paths": strings.Join(paths, ", ")})
		}
		if has, err := q.DatasetHasContent(ctx, d.ID); err != nil {
			return err
		} else if !has {
			return apperr.ConflictErr("uploads.nothingUploaded", "no file has been uploaded to the dataset yet")
		}
		if _, err := q.IngestSetStatus(ctx, d.ID, store.DatasetUploading, store.DatasetProcessing); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "dataset.upload.finish", TargetType: "dataset", TargetID: d.ID, TenantID: d.TenantID,
			Success: true, Detail: map[string]any{"name": d.Name}})
	})
	if err != nil {
		return nil, err
	}
	if err := s.startIngest(ctx, workflows.DatasetIngestInput{DatasetID: d.ID, Source: workflows.IngestUpload}); err != nil {
		_, _ = s.Store.IngestSetStatus(ctx, d.ID, store.DatasetProcessing, store.DatasetUploading)
		_ = audit.Record(ctx, s.Store.Pool, audit.Entry{Action: "dataset.upload.finish", TargetType: "dataset", TargetID: d.ID, TenantID: d.TenantID,
			Success: false, Detail: map[string]any{"name": d.Name, "error": "the workflow could not start"}})
		return nil, err
	}
	return s.Store.GetDataset(ctx, scope(ctx), d.ID)
}
