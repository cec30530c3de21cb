package accounts

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/audit"
	"github.com/remotegpu/remotegpu/internal/caller"
	"github.com/remotegpu/remotegpu/internal/sshkey"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// MaxSSHKeys is the most SSH keys one user keeps.
const MaxSSHKeys = 50

type AddSSHKeyInput struct {
	Name      string
	PublicKey string // one key in OpenSSH authorized_keys format
}

// AddSSHKey validates, fingerprints and stores one of the caller's SSH
// public keys (no duplicates), then tells the customer's leases.
func (s *Service) AddSSHKey(ctx context.Context, in AddSSHKeyInput) (*store.SSHKey, error) {
	p := caller.From(ctx)
	k, err := sshkey.Parse(in.PublicKey)
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "accounts.invalidSSHKey", "invalid public key: {reason}",
			apperr.P{"reason": strings.TrimPrefix(err.Error(), sshkey.ErrInvalid.Error()+": ")}).AtField("body.publicKey")
	}
	key := store.SSHKey{Name: strings.TrimSpace(in.Name), KeyType: k.Type, PublicKey: k.Normalized, Comment: k.Comment, Fingerprint: k.Fingerprint}
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		// parallel adds of one user count one after the other
		if err := store.New(tx).LockUser(ctx, p.UserID); err != nil {
			return err
		}
		n, err := store.New(tx).CountSSHKeys(ctx, p.TenantID, p.UserID)
		if err != nil {
			return err
		}
		if n >= MaxSSHKeys {
			return apperr.New(apperr.Conflict, "accounts.tooManySSHKeys", "at most {max} keys", apperr.P{"max": MaxSSHKeys})
		}
		if err := store.New(tx).CreateSSHKey(ctx, p.TenantID, p.UserID, &key); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "ssh_key.create", TargetType: "ssh_key", TargetID: key.ID, Success: true,
			Detail: map[string]any{"name": key.Name, "fingerprint": key.Fingerprint}})
	})
	if store.IsUniqueViolation(err, "") {
		return nil, apperr.New(apperr.Conflict, "accounts.duplicateSSHKey", "this key was already added (fingerprint {fingerprint})",
			apperr.P{"fingerprint": k.Fingerprint}).AtField("body.publicKey")
	}
	if err != nil {
		return nil, err
	}
	s.keysChanged(ctx, p.TenantID)
	return &key, nil
}

// DeleteSSHKey removes one of the caller's SSH keys, then tells the customer's leases.
func (s *Service) DeleteSSHKey(ctx context.Context, id string) error {
	p := caller.From(ctx)
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		k, err := store.New(tx).DeleteSSHKey(ctx, p.TenantID, p.UserID, id)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "ssh_key.delete", TargetType: "ssh_key", TargetID: k.ID, Success: true,
			Detail: map[string]any{"name": k.Name, "fingerprint": k.Fingerprint}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return apperr.New(apperr.NotFound, "accounts.sshKeyNotFound", "key not found")
	}
	if err != nil {
		return err
	}
	s.keysChanged(ctx, p.TenantID)
	return nil
}

// keysChanged tells the tenant's leases to sync their machines' SSH keys. A
// lease that misses the signal is found by the reconciler (its machine's
// keys version lags behind the tenant's), so a failure here is only logged.
func (s *Service) keysChanged(ctx context.Context, tenantID string) {
	if s.Temporal == nil {
		return
	}
	ids, err := s.Store.ActiveAllocationIDs(ctx, tenantID)
	if err != nil {
		slog.WarnContext(ctx, "unable to list the leases whose keys changed", "tenant", tenantID, "err", err)
		return
	}
	for _, id := range ids {
		if err := s.Temporal.SignalWorkflow(ctx, workflows.AllocationWorkflowID(id), "", workflows.AllocationKeysChangedSignal, nil); err != nil {
			slog.WarnContext(ctx, "unable to tell a lease that the SSH keys changed; the reconciler will", "allocation", id, "err", err)
		}
	}
}
