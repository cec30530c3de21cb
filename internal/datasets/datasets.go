// Package datasets is the rules of datasets and their storage
// (docs/datasets.md, requirements 3.1.5, 2.1.7, 4.3.1): the catalog and its
// reads, chunked resumable uploads with instant upload, imports, sharing,
// quotas, mounts onto leased machines, and the admins' storage management.
// The api calls one method per request; a customer sees its own tenant's
// datasets, the public ones and those shared with it, checked in SQL.
package datasets

import (
	"context"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/store"
)

// Service holds what the dataset rules need.
type Service struct {
	Store    *store.Store
	Temporal client.Client
	// TaskQueue is where the dataset workflows run.
	TaskQueue string
	// Objects holds the blobs (nil: uploads and downloads are unavailable).
	Objects *objstore.Store
	Config  config.Datasets
	// Expiring is the lease notice window (the machine reads need it).
	Expiring time.Duration
	// TicketKey signs the short-lived download links (the JWT secret).
	TicketKey []byte
	Now       func() time.Time
}

func New(st *store.Store, tc client.Client, taskQueue string, objects *objstore.Store, cfg config.Datasets,
	expiring time.Duration, ticketKey []byte, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{Store: st, Temporal: tc, TaskQueue: taskQueue, Objects: objects, Config: cfg.WithDefaults(),
		Expiring: expiring, TicketKey: ticketKey, Now: now}
}

// tenantOf is the calling customer's tenant ("" for an admin: public datasets).
func tenantOf(ctx context.Context) string { return caller.From(ctx).TenantID }
