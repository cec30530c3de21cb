package activities

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/extract"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/internal/safehttp"
	"github.com/remotegpu/remotegpu/store"
)

// Datasets are the steps of a dataset's ingest (workflows/dataset_ingest.go,
// docs/datasets.md): fetch a URL, verify the uploaded files, extract
// archives, and record the end (available or failed). Each can run again.
type Datasets struct {
	Store   *store.Store
	Objects *objstore.Store
	Config  config.Datasets
}

// ErrTypeDatasetRefused is an ingest that cannot succeed; its details are a
// DatasetRefusal, the reason the dataset failed.
const ErrTypeDatasetRefused = "DatasetRefused"

// DatasetRefusal is why a dataset failed: Reason is the key of a
// uploads.reason.* code.
type DatasetRefusal struct {
	Reason string
	Params map[string]any
}

func refused(reason string, params map[string]any) error {
	if params == nil {
		params = map[string]any{}
	}
	// figures in bytes also as text (the console shows "3.2 GiB")
	for k, v := range params {
		if n, ok := v.(int64); ok && strings.HasSuffix(k, "Bytes") {
			params[strings.TrimSuffix(k, "Bytes")] = humanize.IBytes(uint64(max(n, 0)))
		}
	}
	return temporal.NewNonRetryableApplicationError("the dataset is refused: "+reason, ErrTypeDatasetRefused, nil,
		DatasetRefusal{Reason: reason, Params: params})
}

// Reasons the ingest gives (uploads.reason.<key>); the archive ones are extract's.
const (
	IngestReasonMD5Mismatch   = "md5Mismatch"
	IngestReasonMissing       = "fileMissing"
	IngestReasonQuota         = "quotaExceeded"
	IngestReasonImportTooBig  = "importTooLarge"
	IngestReasonURLForbidden  = "urlForbidden"
	IngestReasonURLStatus     = "urlStatus"
	IngestReasonURLFetch      = "urlFetch"
	IngestReasonEmpty         = "empty"
	IngestReasonInternal      = "internal"
	IngestReasonMachineImport = "machineImport"
	IngestReasonAbandoned     = "abandoned"
)

func (a *Datasets) cfg() config.Datasets { return a.Config.WithDefaults() }

func (a *Datasets) processing(ctx context.Context, id string) (*store.Dataset, error) {
	d, err := a.Store.IngestDataset(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, temporal.NewNonRetryableApplicationError("dataset not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	if d.Status != store.DatasetProcessing {
		return nil, temporal.NewNonRetryableApplicationError("the dataset is "+d.Status+", not processing", ErrTypeEnded, nil)
	}
	return d, nil
}

// room is what the dataset may still take: the company's free quota (none
// for a public dataset) and a cap.
func (a *Datasets) room(ctx context.Context, d *store.Dataset, cap int64) (int64, store.StorageUse, error) {
	if d.TenantID == "" {
		return cap, store.StorageUse{}, nil
	}
	u, err := a.Store.TenantStorage(ctx, d.TenantID, a.cfg().DefaultQuota, false)
	if err != nil {
		return 0, u, err
	}
	return min(cap, max(u.Free(), 0)), u, nil
}

// reserveOrRefuse raises the dataset's reservation by n, or refuses the dataset.
func (a *Datasets) reserveOrRefuse(ctx context.Context, tx pgx.Tx, d *store.Dataset, n int64) error {
	u, err := store.New(tx).ReserveStorage(ctx, d.ID, d.TenantID, n, a.cfg().DefaultQuota)
	if errors.Is(err, store.ErrQuotaExceeded) {
		return refused(IngestReasonQuota, map[string]any{"needBytes": n, "freeBytes": max(u.Free(), 0), "quotaBytes": u.QuotaBytes})
	}
	return err
}

// DatasetArchive is an archive the ingest extracts into the dataset.
type DatasetArchive struct {
	ObjectKey string
	Name      string // its path in the dataset (or file name): the format and the folder it unpacks into
	Dir       string // the folder it unpacks into ("" the root)
}

// DatasetPrepared is the dataset's owner and its uploaded archives.
type DatasetPrepared struct {
	TenantID string
	Archives []DatasetArchive
}

// DatasetVerify reads back every uploaded file of the dataset that is not
// verified yet and checks its size and MD5 against the uploader's claim
// (a mismatch refuses the dataset, naming the file), and lists the
// uploaded archives.
func (a *Datasets) DatasetVerify(ctx context.Context, datasetID string) (DatasetPrepared, error) {
	d, err := a.processing(ctx, datasetID)
	if err != nil {
		return DatasetPrepared{}, err
	}
	out := DatasetPrepared{TenantID: d.TenantID}
	done, err := a.Store.DatasetUploads(ctx, d.ID, store.UploadCompleted)
	if err != nil {
		return out, err
	}
	uploads := map[string]store.DatasetUpload{}
	for _, u := range done {
		if u.Archive {
			dir := path.Dir(u.Path)
			if dir == "." {
				dir = ""
			}
			out.Archives = append(out.Archives, DatasetArchive{ObjectKey: u.ObjectKey, Name: u.Path, Dir: dir})
			continue
		}
		uploads[u.ID] = u
	}
	blobs, err := a.Store.UnverifiedDatasetBlobs(ctx, d.ID)
	if err != nil {
		return out, err
	}
	var check []store.DatasetBlob
	for _, b := range blobs {
		if _, ok := uploads[b.ID]; ok { // others were written by the ingest itself, which hashed what it stored
			check = append(check, b)
		}
	}
	// read back several at once: small files are latency-bound
	var mu sync.Mutex
	var first error
	next := make(chan store.DatasetBlob)
	var wg sync.WaitGroup
	for range min(verifyWorkers, len(check)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				err := a.verifyBlob(ctx, d.ID, b)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	for i, b := range check {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			break
		}
		if i%100 == 0 {
			activity.RecordHeartbeat(ctx, i)
		}
		next <- b
	}
	close(next)
	wg.Wait()
	if first != nil {
		return out, first
	}
	return out, nil
}

// verifyWorkers is how many blobs DatasetVerify reads back at once.
const verifyWorkers = 8

func (a *Datasets) verifyBlob(ctx context.Context, datasetID string, b store.DatasetBlob) error {
	sum, n, err := a.hashObject(ctx, b.ObjectKey)
	if errors.Is(err, objstore.ErrNotFound) {
		p, _ := a.Store.IngestBlobPath(ctx, datasetID, b.ID)
		return refused(IngestReasonMissing, map[string]any{"path": p})
	}
	if err != nil {
		return err
	}
	if n != b.Size || sum != b.MD5 {
		p, _ := a.Store.IngestBlobPath(ctx, datasetID, b.ID)
		return refused(IngestReasonMD5Mismatch, map[string]any{"path": p})
	}
	return nil
}

func (a *Datasets) hashObject(ctx context.Context, key string) (string, int64, error) {
	obj, err := a.Objects.GetRange(ctx, objstore.BucketDatasets, key, 0, -1) // one GET, no HEAD before it
	if err != nil {
		return "", 0, err
	}
	defer obj.Close()
	h := md5.New()
	n, err := io.Copy(h, &heartbeatReader{ctx: ctx, r: obj})
	if objstore.IsNotFound(err) {
		return "", 0, objstore.ErrNotFound
	}
	if err != nil {
		return "", 0, fmt.Errorf("unable to read %s: %w", key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// heartbeatReader heartbeats (with the bytes read) at most every 5 s and,
// with progress, records them.
type heartbeatReader struct {
	ctx      context.Context
	r        io.Reader
	n        int64
	last     time.Time
	progress func(int64)
}

func (h *heartbeatReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.n += int64(n)
	if time.Since(h.last) > 5*time.Second {
		h.last = time.Now()
		activity.RecordHeartbeat(h.ctx, h.n)
		if h.progress != nil {
			h.progress(h.n)
		}
	}
	if err == nil {
		err = h.ctx.Err()
	}
	return n, err
}

// DatasetFetchURLInput downloads a URL import.
type DatasetFetchURLInput struct {
	DatasetID string
	URL       string
}

// DatasetFetchURL downloads the URL with the safe client, bounded by
// DATASET_IMPORT_MAX and the quota left: an archive into the dataset's
// imports (returned, to be extracted), any other file as the dataset's one
// file. Progress goes to the dataset's progress_bytes.
func (a *Datasets) DatasetFetchURL(ctx context.Context, in DatasetFetchURLInput) ([]DatasetArchive, error) {
	d, err := a.processing(ctx, in.DatasetID)
	if err != nil {
		return nil, err
	}
	cfg := a.cfg()
	u, err := url.Parse(in.URL)
	if err != nil || safehttp.CheckScheme(u) != nil {
		return nil, refused(IngestReasonURLForbidden, nil)
	}
	limit, use, err := a.room(ctx, d, cfg.ImportMaxBytes)
	if err != nil {
		return nil, err
	}
	tooBig := func(n int64) error {
		if d.TenantID != "" && limit < cfg.ImportMaxBytes {
			return refused(IngestReasonQuota, map[string]any{"needBytes": n, "freeBytes": limit, "quotaBytes": use.QuotaBytes})
		}
		return refused(IngestReasonImportTooBig, map[string]any{"maxBytes": cfg.ImportMaxBytes})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, refused(IngestReasonURLForbidden, nil)
	}
	resp, err := safehttp.NewClient(safehttp.Options{AllowPrivate: cfg.ImportAllowPrivate}).Do(req)
	if err != nil {
		if errors.Is(err, safehttp.ErrForbidden) {
			return nil, refused(IngestReasonURLForbidden, nil)
		}
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, refused(IngestReasonURLFetch, map[string]any{"error": trimErr(err)})
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return nil, fmt.Errorf("the server answered %d", resp.StatusCode) // retried
		}
		return nil, refused(IngestReasonURLStatus, map[string]any{"status": resp.StatusCode})
	}
	if resp.ContentLength > limit {
		return nil, tooBig(resp.ContentLength)
	}
	name := fileNameOf(resp, u)
	_, isArchive := extract.FormatOf(name)
	key := objstore.ImportKey(d.ID, "url")
	if !isArchive {
		key = objstore.BlobKey(d.TenantID, d.ID) // the dataset's one blob
	}
	h := md5.New()
	body := &heartbeatReader{ctx: ctx, r: resp.Body, progress: func(n int64) { _ = a.Store.IngestSetProgress(ctx, d.ID, n) }}
	counted := &capReader{r: io.TeeReader(body, h), limit: limit}
	if _, err := a.Objects.PutStream(ctx, objstore.BucketDatasets, key, counted, resp.ContentLength, "application/octet-stream"); err != nil {
		if counted.over {
			return nil, tooBig(counted.n)
		}
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, refused(IngestReasonURLFetch, map[string]any{"error": trimErr(err)})
	}
	n := counted.n
	_ = a.Store.IngestSetProgress(ctx, d.ID, n)
	err = a.Store.InTx(ctx, func(tx pgx.Tx) error {
		// a retry finds its reservation already taken
		if err := a.reserveOrRefuse(ctx, tx, d, n-d.ReservedBytes); err != nil {
			return err
		}
		if isArchive {
			return nil
		}
		q := store.New(tx)
		sum := hex.EncodeToString(h.Sum(nil))
		if err := q.InsertDatasetBlob(ctx, store.DatasetBlob{ID: d.ID, TenantID: d.TenantID, MD5: sum, Size: n, ObjectKey: key}); err != nil {
			return err
		}
		return q.IngestPutFile(ctx, d.ID, name, d.ID, n, sum)
	})
	if err != nil {
		return nil, err
	}
	if isArchive {
		return []DatasetArchive{{ObjectKey: key, Name: name}}, nil
	}
	return nil, nil
}

func trimErr(err error) string {
	s := err.Error()
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// fileNameOf is the downloaded file's name: Content-Disposition's, or the
// URL path's last segment, cleaned ("download" when there is none).
func fileNameOf(resp *http.Response, u *url.URL) string {
	name := ""
	if _, p, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		name = p["filename"]
	}
	if name == "" {
		name = path.Base(resp.Request.URL.Path)
	}
	if name == "" || name == "/" || name == "." {
		name = path.Base(u.Path)
	}
	name = strings.ReplaceAll(path.Base(strings.ReplaceAll(name, `\`, "/")), "\x00", "")
	if c, err := extract.CleanPath(name); err == nil && c != "" && len(c) <= 255 {
		return c
	}
	return "download"
}

// capReader counts what it reads and fails past limit.
type capReader struct {
	r     io.Reader
	limit int64
	n     int64
	over  bool
}

func (c *capReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.limit {
		c.over = true
		return n, errors.New("the download is larger than allowed")
	}
	return n, err
}

// DatasetExtractInput is one archive to unpack into a dataset.
type DatasetExtractInput struct {
	DatasetID string
	Archive   DatasetArchive
	Format    string // extract.Format; empty: by the archive's name
}

// DatasetExtract unpacks an archive into the dataset, safely (see
// internal/extract), bounded by DATASET_EXTRACT_* and the quota left; the
// extracted bytes are reserved, then the archive is removed. A refused
// archive refuses the dataset (its files are removed by DatasetFail).
func (a *Datasets) DatasetExtract(ctx context.Context, in DatasetExtractInput) (extract.Stats, error) {
	d, err := a.processing(ctx, in.DatasetID)
	if err != nil {
		return extract.Stats{}, err
	}
	cfg := a.cfg()
	f := extract.Format(in.Format)
	if f == "" {
		var ok bool
		if f, ok = extract.FormatOf(in.Archive.Name); !ok {
			return extract.Stats{}, refused(extract.ReasonCorrupt, map[string]any{"path": in.Archive.Name})
		}
	}
	obj, size, err := a.Objects.Open(ctx, objstore.BucketDatasets, in.Archive.ObjectKey)
	if errors.Is(err, objstore.ErrNotFound) {
		// a retry after the archive was unpacked and removed
		return extract.Stats{}, nil
	}
	if err != nil {
		return extract.Stats{}, err
	}
	defer obj.Close()
	room, use, err := a.room(ctx, d, cfg.ExtractMaxBytes)
	if err != nil {
		return extract.Stats{}, err
	}
	if d.TenantID != "" {
		room = min(cfg.ExtractMaxBytes, room+size) // the archive's own bytes go when it is unpacked
	}
	lim := extract.Limits{MaxBytes: room, MaxFiles: cfg.ExtractMaxFiles, MaxRatio: cfg.ExtractMaxRatio}
	clean := func(name string) (string, error) {
		p, err := extract.CleanPath(name)
		if err != nil {
			return "", err
		}
		if in.Archive.Dir != "" {
			return extract.CleanPath(in.Archive.Dir + "/" + p)
		}
		return p, nil
	}
	files := 0
	put := func(ctx context.Context, p string, r io.Reader, hint int64) error {
		files++
		if files%100 == 0 {
			activity.RecordHeartbeat(ctx, files)
		}
		return a.putExtracted(ctx, d, p, r, hint)
	}
	st, err := extract.Extract(ctx, f, obj, size, lim, clean, put)
	var xe *extract.Error
	if errors.As(err, &xe) {
		if xe.Reason == extract.ReasonTooLarge && d.TenantID != "" && room < cfg.ExtractMaxBytes {
			return st, refused(IngestReasonQuota, map[string]any{"freeBytes": room, "quotaBytes": use.QuotaBytes})
		}
		params := xe.Params
		params["archive"] = in.Archive.Name
		return st, refused(xe.Reason, params)
	}
	if err != nil {
		return st, err
	}
	err = a.Store.InTx(ctx, func(tx pgx.Tx) error {
		return a.reserveOrRefuse(ctx, tx, d, st.Bytes-size)
	})
	if err != nil {
		return st, err
	}
	if err := a.Objects.Remove(ctx, objstore.BucketDatasets, in.Archive.ObjectKey); err != nil {
		slog.WarnContext(ctx, "unable to remove an extracted archive", "key", in.Archive.ObjectKey, "err", err)
	}
	return st, nil
}

// putExtracted stores one extracted file as a new blob of the dataset's
// owner; the file row exists before the object, so a failure finds it.
func (a *Datasets) putExtracted(ctx context.Context, d *store.Dataset, p string, r io.Reader, hint int64) error {
	id := uuid.NewString()
	key := objstore.BlobKey(d.TenantID, id)
	err := a.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		if err := q.InsertDatasetBlob(ctx, store.DatasetBlob{ID: id, TenantID: d.TenantID, MD5: "", Size: 0, ObjectKey: key}); err != nil {
			return err
		}
		return q.IngestPutFile(ctx, d.ID, p, id, 0, "")
	})
	if err != nil {
		return err
	}
	h := md5.New()
	cr := &countReader{r: io.TeeReader(&heartbeatReader{ctx: ctx, r: r}, h)}
	if _, err := a.Objects.PutStream(ctx, objstore.BucketDatasets, key, cr, hint, "application/octet-stream"); err != nil {
		if cr.err != nil && cr.err != io.EOF {
			return cr.err // the archive's own error (corrupt, over the limits)
		}
		if cr.n != hint {
			return &extract.Error{Reason: extract.ReasonCorrupt, Params: map[string]any{"path": p}}
		}
		return err
	}
	return a.recordHashed(ctx, d.ID, p, id, cr.n, h)
}

func (a *Datasets) recordHashed(ctx context.Context, datasetID, p, blobID string, n int64, h hash.Hash) error {
	sum := hex.EncodeToString(h.Sum(nil))
	return a.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		if err := q.InsertDatasetBlob(ctx, store.DatasetBlob{ID: blobID, MD5: sum, Size: n}); err != nil {
			return err
		}
		return q.IngestPutFile(ctx, datasetID, p, blobID, n, sum)
	})
}

type countReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

// DatasetFinalize ends a successful ingest in one transaction: the blobs
// verified (or merged into equal ones the owner has), size and file count,
// the reservation released, status available. Then the merged duplicates
// and the dataset's leftovers (archives, imports) are removed.
func (a *Datasets) DatasetFinalize(ctx context.Context, datasetID string) error {
	d, err := a.Store.IngestDataset(ctx, datasetID)
	if err != nil {
		return err
	}
	if d.Status == store.DatasetAvailable {
		return nil
	}
	var dups []string
	err = a.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		dups, err = store.New(tx).VerifiedIngest(ctx, datasetID)
		return err
	})
	if err != nil {
		return err
	}
	for _, k := range dups {
		if err := a.Objects.Remove(ctx, objstore.BucketDatasets, k); err != nil {
			slog.WarnContext(ctx, "unable to remove a merged duplicate", "key", k, "err", err)
		}
	}
	a.removeLeftovers(ctx, datasetID)
	return nil
}

func (a *Datasets) removeLeftovers(ctx context.Context, datasetID string) {
	for _, p := range []string{"uploads/" + datasetID + "/", "imports/" + datasetID + "/"} {
		if err := a.Objects.RemovePrefix(ctx, objstore.BucketDatasets, p); err != nil {
			slog.WarnContext(ctx, "unable to remove a dataset's leftovers", "prefix", p, "err", err)
		}
	}
}

// DatasetFailInput fails a dataset with a reason (a uploads.reason.* code).
type DatasetFailInput struct {
	DatasetID string
	Reason    string
	Params    map[string]any
}

// DatasetFail marks the dataset failed with its reason, removes its files,
// their unverified blobs and its leftovers, aborts its open uploads and
// releases its reservation: nothing of it stays half-written.
func (a *Datasets) DatasetFail(ctx context.Context, in DatasetFailInput) error {
	var keys []string
	var open []store.DatasetUpload
	err := a.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		keys, open, err = store.New(tx).FailedIngest(ctx, in.DatasetID, in.Reason, in.Params)
		return err
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := a.Objects.Remove(ctx, objstore.BucketDatasets, k); err != nil {
			return err
		}
	}
	for _, u := range open {
		if u.S3UploadID != "" {
			if err := a.Objects.AbortMultipartUpload(ctx, objstore.BucketDatasets, u.ObjectKey, u.S3UploadID); err != nil {
				return err
			}
		} else if err := a.Objects.Remove(ctx, objstore.BucketDatasets, u.ObjectKey); err != nil {
			return err
		}
	}
	a.removeLeftovers(ctx, in.DatasetID)
	return nil
}

// UploadsCleanupInput: OlderThan overrides the setting (0: DATASET_UPLOAD_ABANDON_AFTER).
type UploadsCleanupInput struct {
	OlderThan time.Duration
	// Prefix narrows the search for leftover multipart uploads (tests; '' the whole bucket).
	Prefix string
}

// UploadsCleanupResult counts what the cleanup did.
type UploadsCleanupResult struct {
	UploadsAborted int
	DatasetsFailed int
	// LeftoversAborted: multipart uploads in the store that no open upload
	// uses (an api that stopped between starting one and recording it).
	LeftoversAborted int
}

// DatasetAbandonUploads aborts the open uploads untouched for the abandon
// window (their parts removed from the store), then fails the datasets
// still uploading with nothing touched in that window.
func (a *Datasets) DatasetAbandonUploads(ctx context.Context, in UploadsCleanupInput) (UploadsCleanupResult, error) {
	var res UploadsCleanupResult
	after := in.OlderThan
	if after <= 0 {
		after = a.cfg().AbandonAfter
	}
	before := time.Now().Add(-after)
	for {
		stale, err := a.Store.StaleDatasetUploads(ctx, before, 200)
		if err != nil {
			return res, err
		}
		for _, u := range stale {
			if u.S3UploadID != "" {
				if err := a.Objects.AbortMultipartUpload(ctx, objstore.BucketDatasets, u.ObjectKey, u.S3UploadID); err != nil {
					return res, err
				}
			} else if err := a.Objects.Remove(ctx, objstore.BucketDatasets, u.ObjectKey); err != nil {
				return res, err
			}
			if err := a.Store.AbortDatasetUpload(ctx, u.ID); err != nil {
				return res, err
			}
			res.UploadsAborted++
			activity.RecordHeartbeat(ctx, res)
		}
		if len(stale) < 200 {
			break
		}
	}
	if err := a.abortLeftovers(ctx, in.Prefix, before, &res); err != nil {
		return res, err
	}
	ids, err := a.Store.StaleUploadingDatasets(ctx, before, 1000)
	if err != nil {
		return res, err
	}
	for _, id := range ids {
		var keys []string
		var open []store.DatasetUpload
		failed := false
		err := a.Store.InTx(ctx, func(tx pgx.Tx) error {
			q := store.New(tx)
			d, err := q.IngestLockDataset(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil || d.Status != store.DatasetUploading || d.UpdatedAt.After(before) {
				return err // finished or touched meanwhile
			}
			keys, open, err = q.FailedIngest(ctx, id, "uploads.reason."+IngestReasonAbandoned, nil)
			failed = err == nil
			return err
		})
		if err != nil {
			return res, err
		}
		if !failed {
			continue
		}
		for _, k := range keys {
			_ = a.Objects.Remove(ctx, objstore.BucketDatasets, k)
		}
		for _, u := range open {
			if u.S3UploadID != "" {
				_ = a.Objects.AbortMultipartUpload(ctx, objstore.BucketDatasets, u.ObjectKey, u.S3UploadID)
			}
		}
		a.removeLeftovers(ctx, id)
		res.DatasetsFailed++
		activity.RecordHeartbeat(ctx, res)
	}
	return res, nil
}

// abortLeftovers aborts the store's multipart uploads started before
// before that no open upload uses.
func (a *Datasets) abortLeftovers(ctx context.Context, prefix string, before time.Time, res *UploadsCleanupResult) error {
	// MinIO lists multipart uploads for the whole bucket or one exact key,
	// not by a partial prefix: list them all and filter here
	all, err := a.Objects.ListIncompleteUploads(ctx, objstore.BucketDatasets, "")
	if err != nil {
		return err
	}
	var old []objstore.Incomplete
	ids := []string{}
	for _, u := range all {
		if u.Started.Before(before) && strings.HasPrefix(u.Key, prefix) {
			old, ids = append(old, u), append(ids, u.UploadID)
		}
	}
	if len(old) == 0 {
		return nil
	}
	known, err := a.Store.KnownS3Uploads(ctx, ids)
	if err != nil {
		return err
	}
	for _, u := range old {
		if known[u.UploadID] {
			continue
		}
		if err := a.Objects.AbortMultipartUpload(ctx, objstore.BucketDatasets, u.Key, u.UploadID); err != nil {
			return err
		}
		res.LeftoversAborted++
	}
	return nil
}
