// Package worker registers the control-plane workflows and activities on
// the task queue and runs them.
package worker

import (
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/alerting"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/hostchan"
	"github.com/remotegpu/remotegpu/internal/mail"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/internal/reconcile"
	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

type Deps struct {
	Store *store.Store
	Mail  mail.Sender
	// AlertWebhookURL receives a JSON POST for every new critical alert (empty: none).
	AlertWebhookURL string
	// Secrets seals the secrets of host commands (passwords, agent keys).
	Secrets *secrets.Box
	// ExpiringNotice is the notice window of leases the reconciler restarts.
	ExpiringNotice time.Duration
	// PublicURL is the console's address, linked from the alert notices (optional).
	PublicURL string
	// Objects is the object store (nil when none is configured).
	Objects *objstore.Store
	// Datasets is how dataset storage behaves (quotas, import and extraction limits).
	Datasets config.Datasets
}

// New builds the worker; the caller runs it with Start/Stop or Run.
func New(c client.Client, taskQueue string, d Deps) worker.Worker {
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(workflows.SendNotification)
	w.RegisterActivity(&activities.Notifications{Store: d.Store, Mail: d.Mail})
	w.RegisterWorkflow(workflows.MachineImport)
	w.RegisterActivity(&activities.MachineImports{Store: d.Store})
	w.RegisterWorkflow(workflows.Allocation)
	w.RegisterActivity(&activities.Allocations{Store: d.Store, Secrets: d.Secrets, Client: c})
	w.RegisterWorkflow(workflows.LeaseCleanup)
	w.RegisterActivity(&activities.Cleanups{Store: d.Store})
	w.RegisterWorkflow(workflows.MachinePassword)
	w.RegisterWorkflow(workflows.HostPing)
	w.RegisterActivity(&activities.Host{Store: d.Store, Issuer: &hostchan.Issuer{Store: d.Store, Secrets: d.Secrets}})
	w.RegisterWorkflow(workflows.TaskRun)
	w.RegisterWorkflow(workflows.TaskOutputs)
	w.RegisterWorkflow(workflows.TaskOutputFetch)
	w.RegisterWorkflow(workflows.TaskRemove)
	w.RegisterActivity(&activities.Tasks{Store: d.Store, Client: c, Objects: d.Objects})
	w.RegisterWorkflow(workflows.DatasetMount)
	w.RegisterActivity(&activities.DatasetHost{Store: d.Store, Issuer: &hostchan.Issuer{Store: d.Store, Secrets: d.Secrets}, Objects: d.Objects})
	w.RegisterWorkflow(workflows.DatasetIngest)
	w.RegisterWorkflow(workflows.DatasetUploadsCleanup)
	w.RegisterActivity(&activities.Datasets{Store: d.Store, Objects: d.Objects, Config: d.Datasets})
	w.RegisterWorkflow(workflows.Reconcile)
	(&reconcile.Reconciler{Store: d.Store, Client: c, TaskQueue: taskQueue, ExpiringNotice: d.ExpiringNotice}).Register(w)
	registerMonitoring(w, d)
	workflows.RegisterAlertNotify(w, &activities.Alerts{Store: d.Store, Mail: d.Mail, WebhookURL: d.AlertWebhookURL})
	w.RegisterWorkflow(workflows.AlertSweep)
	alerting.New(d.Store, c, taskQueue, d.PublicURL, 0, nil).Register(w)
	registerStorage(w, d) // storage samples and the dataset cleanup (schedules.go)
	return w
}
