// Package hostchan is the one channel through which work reaches a GPU host.
//
// A workflow's host activity calls Issuer.Issue: it records a host command
// (machine, kind, arguments without secrets, and the activity's task token)
// and returns activity.ErrResultPending, so the activity stays open while
// the host works, with Temporal's retries, timeouts and visibility. The
// machine's agent long-polls the api (Service.Poll) for its own machine's
// commands only, fetches a command's secret once (Service.Secret), reports
// progress (Service.Heartbeat, relayed as activity heartbeats, whose answer
// carries cancellation back) and the result (Service.Finish), which records
// what the host did and then completes the activity. Agents hold no
// Temporal credentials and never learn its address.
package hostchan

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"

	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/store"
)

// DefaultHeartbeat is how often the agent heartbeats a command whose
// activity has no heartbeat timeout: often enough to learn of a
// cancellation soon.
const DefaultHeartbeat = 15 * time.Second

// Issuer records host commands from inside activities.
type Issuer struct {
	Store   *store.Store
	Secrets *secrets.Box
}

// Request is one command for a host.
type Request struct {
	MachineID string
	Kind      string
	Args      any
	// Serial: commands with the same serial run one after another on the
	// host, in the order they were issued.
	Serial string
	// Secret makes the command's secret (a password, a key) when the
	// command needs a fresh one; OnSecret then runs in the transaction
	// that stores the command with it (e.g. to record a pending key).
	Secret   func() (string, error)
	OnSecret func(ctx context.Context, tx pgx.Tx, secret string) error
}

// Issue records the command of the calling activity attempt. It returns
// activity.ErrResultPending while the host has to act (the api completes the
// activity when the agent reports), or the host's result at once when an
// earlier attempt already got it.
func (i *Issuer) Issue(ctx context.Context, r Request) (json.RawMessage, error) {
	info := activity.GetInfo(ctx)
	args, err := json.Marshal(r.Args)
	if err != nil {
		return nil, fmt.Errorf("unable to encode the command's arguments: %w", err)
	}
	var plain string
	var sealed []byte
	if r.Secret != nil {
		if plain, err = r.Secret(); err != nil {
			return nil, fmt.Errorf("unable to make the command's secret: %w", err)
		}
		if sealed, err = i.Secrets.Seal(plain); err != nil {
			return nil, fmt.Errorf("unable to seal the command's secret: %w", err)
		}
	}
	every := DefaultHeartbeat
	if hb := info.HeartbeatTimeout; hb > 0 {
		every = max(hb/3, time.Second)
	}
	var c *store.HostCommand
	err = i.Store.InTx(ctx, func(tx pgx.Tx) error {
		var fresh bool
		var err error
		c, fresh, err = store.New(tx).IssueHostCommand(ctx, store.HostCommandIssue{MachineID: r.MachineID, Kind: r.Kind, Args: args,
			Serial: r.Serial, WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID, ActivityID: info.ActivityID,
			Attempt: int(info.Attempt), TaskToken: info.TaskToken, HeartbeatS: int(every / time.Second), NewSecret: sealed})
		if err != nil {
			return err
		}
		if fresh && r.OnSecret != nil && sealed != nil {
			return r.OnSecret(ctx, tx, plain)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("unable to record the host command: %w", err)
	}
	if c.Status == "succeeded" {
		// The host did it for an earlier attempt; this one completes now.
		if err := i.Store.SettleHostCommand(ctx, c.ID); err != nil {
			return nil, fmt.Errorf("unable to settle the host command: %w", err)
		}
		return c.Result, nil
	}
	activity.GetLogger(ctx).Debug("host command waiting for the agent", "command", c.ID, "machine", r.MachineID, "kind", r.Kind)
	return nil, activity.ErrResultPending
}
