package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/datasets"
	"github.com/remotegpu/remotegpu/store"
)

// storageHandler is the admins' storage management (requirements 2.1.7,
// docs/datasets.md): the object store's capacity, use and trend, where the
// bytes go, the customers' quotas and what could be cleaned up.
type storageHandler struct{ s *Server }

type (
	StorageOverview     = datasets.Overview
	StorageDistribution = datasets.Distribution
	StorageSuggestions  = datasets.Suggestions
	TenantQuota         = store.TenantQuota
)

type StorageOverviewInput struct {
	Range string `query:"range" enum:"7d,30d," default:"7d" doc:"The trend's span"`
}

type ListQuotasInput struct {
	ListParams
	Q string `query:"q" maxLength:"100" doc:"Company, code or contact contains"`
}

type SetQuotaInput struct {
	CustomerID string `path:"customerId" format:"uuid"`
	Body       struct {
		QuotaBytes *int64 `json:"quotaBytes" nullable:"true" doc:"Bytes; null: the default quota. Below the current use is allowed: nothing is removed, new uploads are refused"`
	}
}

type CleanupSuggestionsInput struct {
	Days int `query:"days" minimum:"0" maximum:"3650" default:"90" doc:"Unused for this many days"`
}

func (h *storageHandler) register(api huma.API) {
	const tag = "admin-storage"
	bad, nf := http.StatusBadRequest, http.StatusNotFound
	huma.Register(api, operation(http.MethodGet, "/api/admin/storage/overview", "get-storage-overview", tag,
		"Capacity (capacitySource says where from), used, free, usage rate and the trend (range 7d|30d)", roleAdmin, bad), h.overview)
	huma.Register(api, operation(http.MethodGet, "/api/admin/storage/distribution", "get-storage-distribution", tag,
		"Storage by customer (top 10 and the rest), by kind (datasets, task outputs; images and models not measured yet) and by region (mounted datasets)",
		roleAdmin), h.distribution)
	huma.Register(api, operation(http.MethodGet, "/api/admin/storage/quotas", "list-storage-quotas", tag,
		"The customers with used, reserved and quota (custom or default); q; sortBy usedBytes|quotaBytes|usage|company", roleAdmin, bad), h.quotas)
	huma.Register(api, operation(http.MethodPut, "/api/admin/storage/quotas/{customerId}", "set-storage-quota", tag,
		"Set a customer's quota (null: the default); below its use, new uploads are refused (audited)", roleAdmin, nf, bad), h.setQuota)
	huma.Register(api, operation(http.MethodGet, "/api/admin/storage/cleanup-suggestions", "get-storage-cleanup-suggestions", tag,
		"Datasets unused for days (default 90), duplicate content, abandoned uploads and failed datasets' leftovers, each with the bytes it frees",
		roleAdmin, bad), h.suggestions)
}

func (h *storageHandler) overview(ctx context.Context, in *StorageOverviewInput) (*Resp[StorageOverview], error) {
	o, err := h.s.datasets.Overview(ctx, in.Range)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *o)
}

func (h *storageHandler) distribution(ctx context.Context, _ *struct{}) (*Resp[StorageDistribution], error) {
	d, err := h.s.datasets.Distribution(ctx)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *d)
}

func (h *storageHandler) quotas(ctx context.Context, in *ListQuotasInput) (*Resp[Page[TenantQuota]], error) {
	f, err := in.filters()
	if err != nil {
		return nil, err
	}
	list, total, err := h.s.datasets.Quotas(ctx, pick(in.Q, f, "q"), in.ListParams.store())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, list, total, in.ListParams)
}

func (h *storageHandler) setQuota(ctx context.Context, in *SetQuotaInput) (*Resp[StorageUse], error) {
	u, err := h.s.datasets.SetQuota(ctx, in.CustomerID, in.Body.QuotaBytes)
	if err != nil {
		return nil, err
	}
	return ok(ctx, u)
}

func (h *storageHandler) suggestions(ctx context.Context, in *CleanupSuggestionsInput) (*Resp[StorageSuggestions], error) {
	s, err := h.s.datasets.CleanupSuggestions(ctx, in.Days)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *s)
}
