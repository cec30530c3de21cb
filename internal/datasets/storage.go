package datasets

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/accounts"
	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
)

// Overview is the object store's capacity and use, with the trend.
type Overview struct {
	CapacityBytes  int64                 `json:"capacityBytes"`
	CapacitySource string                `json:"capacitySource" enum:"config,objectStore" doc:"config: STORAGE_CAPACITY (the object store does not report its capacity)"`
	UsedBytes      int64                 `json:"usedBytes" doc:"Datasets (blobs), uploads in progress (their confirmed parts) and task outputs"`
	FreeBytes      int64                 `json:"freeBytes"`
	UsageRate      float64               `json:"usageRate" doc:"usedBytes / capacityBytes, 0 to 1 (more when over)"`
	DatasetsBytes  int64                 `json:"datasetsBytes"`
	UploadsBytes   int64                 `json:"uploadsBytes"`
	Range          string                `json:"range" enum:"7d,30d"`
	Trend          []store.StorageSample `json:"trend" doc:"Hourly samples over the range, oldest first"`
}

// Overview reads the storage's capacity, use and trend over rng (7d or 30d).
func (s *Service) Overview(ctx context.Context, rng string) (*Overview, error) {
	if _, err := adminScope(ctx); err != nil {
		return nil, err
	}
	days := map[string]int{"": 7, "7d": 7, "30d": 30}[rng]
	if days == 0 {
		return nil, apperr.New(apperr.Invalid, "storage.rangeInvalid", "range must be 7d or 30d").AtField("query.range")
	}
	if rng == "" {
		rng = "7d"
	}
	u, err := activities.MeasureStorage(ctx, s.Store, s.Objects)
	if err != nil {
		return nil, err
	}
	trend, err := s.Store.StorageSamples(ctx, s.Now().AddDate(0, 0, -days))
	if err != nil {
		return nil, err
	}
	o := &Overview{CapacityBytes: s.Config.Capacity, CapacitySource: "config", UsedBytes: u.Total(), DatasetsBytes: u.DatasetsBytes,
		UploadsBytes: u.UploadsBytes, Range: rng, Trend: trend}
	o.FreeBytes = max(o.CapacityBytes-o.UsedBytes, 0)
	if o.CapacityBytes > 0 {
		o.UsageRate = float64(o.UsedBytes) / float64(o.CapacityBytes)
	}
	return o, nil
}

// KindBytes is the storage of one kind of content.
type KindBytes struct {
	Kind      string `json:"kind" enum:"datasets,taskOutputs,images,models"`
	Bytes     int64  `json:"bytes"`
	Available bool   `json:"available" doc:"false: not measured (that content is not kept yet, or the store could not be read); bytes is 0"`
}

// Distribution is where the storage goes.
type Distribution struct {
	ByCustomer   []store.NamedBytes `json:"byCustomer" doc:"The 10 customers storing the most (their blobs)"`
	OtherBytes   int64              `json:"otherCustomersBytes" doc:"The other customers together"`
	PlatformByte int64              `json:"platformBytes" doc:"The public (platform) datasets"`
	ByKind       []KindBytes        `json:"byKind"`
	ByRegion     []store.NamedBytes `json:"byRegion" doc:"Bytes of datasets mounted on machines, by the machine's region"`
}

// Distribution reads the storage by customer, by kind and by region.
func (s *Service) Distribution(ctx context.Context) (*Distribution, error) {
	if _, err := adminScope(ctx); err != nil {
		return nil, err
	}
	var d Distribution
	var err error
	if d.ByCustomer, d.OtherBytes, err = s.Store.StorageByCustomer(ctx, 10); err != nil {
		return nil, err
	}
	if d.PlatformByte, err = s.Store.PlatformBlobBytes(ctx); err != nil {
		return nil, err
	}
	blobs, _, err := s.Store.DatasetStoreBytes(ctx)
	if err != nil {
		return nil, err
	}
	outputs := KindBytes{Kind: "taskOutputs"}
	if s.Objects != nil {
		if n, _, err := s.Objects.Usage(ctx, objstore.BucketTaskOutputs, ""); err == nil {
			outputs.Bytes, outputs.Available = n, true
		}
	}
	d.ByKind = []KindBytes{{Kind: "datasets", Bytes: blobs, Available: true}, outputs, {Kind: "images"}, {Kind: "models"}}
	if d.ByRegion, err = s.Store.MountedBytesByRegion(ctx); err != nil {
		return nil, err
	}
	return &d, nil
}

// Quotas pages the customers with their storage and quota (sortBy
// usedBytes, quotaBytes, usage, company).
func (s *Service) Quotas(ctx context.Context, q string, p store.Page) ([]store.TenantQuota, int, error) {
	if _, err := adminScope(ctx); err != nil {
		return nil, 0, err
	}
	return s.Store.ListTenantQuotas(ctx, s.Config.DefaultQuota, q, p)
}

// CustomerStorage is a customer's storage use and quota, for the admins'
// customer page (2.1.3.2).
func (s *Service) CustomerStorage(ctx context.Context, tenantID string) (store.StorageUse, error) {
	if _, err := adminScope(ctx); err != nil {
		return store.StorageUse{}, err
	}
	use, err := s.Store.TenantStorage(ctx, tenantID, s.Config.DefaultQuota, false)
	if err != nil {
		return store.StorageUse{}, accounts.CustomerNotFound(err)
	}
	return use, nil
}

// SetQuota sets a customer's quota (nil: the default). A quota below the
// current use is allowed: nothing is removed, new uploads are refused
// until the use is under it. Audited.
func (s *Service) SetQuota(ctx context.Context, tenantID string, quota *int64) (store.StorageUse, error) {
	if _, err := adminScope(ctx); err != nil {
		return store.StorageUse{}, err
	}
	if quota != nil && *quota < 0 {
		return store.StorageUse{}, apperr.New(apperr.Invalid, "storage.quotaInvalid", "the quota must be a number of bytes, 0 or more").
			AtField("body.quotaBytes")
	}
	t, err := s.Store.GetTenant(ctx, tenantID)
	if err != nil {
		return store.StorageUse{}, accounts.CustomerNotFound(err)
	}
	var use store.StorageUse
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		q := store.New(tx)
		before, err := q.SetTenantQuota(ctx, t.ID, quota)
		if err != nil {
			return err
		}
		if use, err = q.TenantStorage(ctx, t.ID, s.Config.DefaultQuota, false); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "storage.quota", TargetType: "customer", TargetID: t.ID, TenantID: t.ID, Success: true,
			Detail: map[string]any{"company": t.Company, "before": before, "quotaBytes": quota, "usedBytes": use.UsedBytes}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return use, accounts.CustomerNotFound(err)
	}
	return use, err
}

// Suggestions are what could be cleaned up, each with the bytes it frees.
type Suggestions struct {
	Days             int                      `json:"days" doc:"Unused: not downloaded, mounted or used by a task for this many days"`
	Unused           []store.UnusedDataset    `json:"unused"`
	UnusedCount      int                      `json:"unusedCount"`
	UnusedBytes      int64                    `json:"unusedBytes"`
	Duplicates       []store.DuplicateContent `json:"duplicates" doc:"The same content (MD5 and size) in several blobs, across owners"`
	DuplicateCount   int                      `json:"duplicateCount"`
	DuplicateBytes   int64                    `json:"duplicateBytes" doc:"What keeping one copy of each would save"`
	Abandoned        []store.AbandonedUpload  `json:"abandonedUploads" doc:"Uploads open and untouched for more than 24 hours"`
	AbandonedCount   int                      `json:"abandonedCount"`
	AbandonedBytes   int64                    `json:"abandonedBytes"`
	Failed           []store.UnusedDataset    `json:"failed" doc:"Failed datasets that still hold files or a reservation"`
	FailedCount      int                      `json:"failedCount"`
	FailedBytes      int64                    `json:"failedBytes"`
	TotalBytes       int64                    `json:"totalBytes" doc:"The sum of the four (duplicates may overlap unused datasets)"`
	AbandonedAfterHr int                      `json:"abandonedAfterHours"`
}

// suggestionRows bounds each list.
const suggestionRows = 50

// CleanupSuggestions lists the datasets unused for days (default 90),
// duplicate content, abandoned uploads and failed datasets' leftovers.
func (s *Service) CleanupSuggestions(ctx context.Context, days int) (*Suggestions, error) {
	if _, err := adminScope(ctx); err != nil {
		return nil, err
	}
	if days == 0 {
		days = 90
	}
	if days < 1 || days > 3650 {
		return nil, apperr.New(apperr.Invalid, "storage.daysInvalid", "days must be 1 to 3650").AtField("query.days")
	}
	now := s.Now()
	out := &Suggestions{Days: days, AbandonedAfterHr: 24}
	var err error
	if out.Unused, out.UnusedCount, out.UnusedBytes, err = s.Store.UnusedDatasets(ctx, now.AddDate(0, 0, -days), suggestionRows); err != nil {
		return nil, err
	}
	if out.Duplicates, out.DuplicateCount, out.DuplicateBytes, err = s.Store.DuplicateBlobs(ctx, suggestionRows); err != nil {
		return nil, err
	}
	if out.Abandoned, out.AbandonedCount, out.AbandonedBytes, err = s.Store.AbandonedUploads(ctx, now.Add(-24*time.Hour), suggestionRows); err != nil {
		return nil, err
	}
	if out.Failed, out.FailedCount, out.FailedBytes, err = s.Store.FailedLeftovers(ctx, suggestionRows); err != nil {
		return nil, err
	}
	out.TotalBytes = out.UnusedBytes + out.DuplicateBytes + out.AbandonedBytes + out.FailedBytes
	return out, nil
}
