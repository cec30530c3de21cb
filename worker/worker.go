// Package worker registers the control-plane workflows and activities on
// the task queue and runs them.
package worker

import (
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/mail"
	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

type Deps struct {
	Store *store.Store
	Mail  mail.Sender
	// AlertWebhookURL receives a JSON POST for every new critical alert (empty: none).
	AlertWebhookURL string
	// Secrets seals the SSH passwords the Allocation workflow rotates.
	Secrets *secrets.Box
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
	registerMonitoring(w, d)
	workflows.RegisterAlertNotify(w, &activities.Alerts{Store: d.Store, Mail: d.Mail, WebhookURL: d.AlertWebhookURL})
	return w
}
