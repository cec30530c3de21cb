package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/sshkey"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/workflows"
)

// sshKeysHandler manages the caller's SSH public keys (requirements 3.1.10.2).
type sshKeysHandler struct{ s *Server }

type CreateSSHKeyInput struct {
	Body struct {
		Name      string `json:"name" minLength:"1" maxLength:"100"`
		PublicKey string `json:"publicKey" minLength:"1" maxLength:"16384" doc:"One key in OpenSSH authorized_keys format"`
	}
}

type SSHKeyIDInput struct {
	ID string `path:"id" format:"uuid"`
}

const maxSSHKeys = 50

func (h *sshKeysHandler) register(api huma.API) {
	const tag = "ssh-keys"
	huma.Register(api, operation(http.MethodGet, "/api/customer/ssh-keys", "list-ssh-keys", tag, "The caller's SSH public keys", roleCustomer), h.list)
	op := operation(http.MethodPost, "/api/customer/ssh-keys", "create-ssh-key", tag, "Add an SSH public key (validated, fingerprinted, no duplicates)",
		roleCustomer, http.StatusConflict, http.StatusUnprocessableEntity)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.create)
	huma.Register(api, operation(http.MethodDelete, "/api/customer/ssh-keys/{id}", "delete-ssh-key", tag, "Remove an SSH public key",
		roleCustomer, http.StatusNotFound), h.delete)
}

func (h *sshKeysHandler) list(ctx context.Context, _ *struct{}) (*Resp[[]store.SSHKey], error) {
	p := principal(ctx)
	keys, err := h.s.Store.ListSSHKeys(ctx, p.TenantID, p.UserID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, keys)
}

func (h *sshKeysHandler) create(ctx context.Context, in *CreateSSHKeyInput) (*Resp[store.SSHKey], error) {
	p := principal(ctx)
	k, err := sshkey.Parse(in.Body.PublicKey)
	if err != nil {
		return nil, apperr.Newf(apperr.Unprocessable, "公钥无效 / %s", err.Error()).AtField("body.publicKey")
	}
	existing, err := h.s.Store.ListSSHKeys(ctx, p.TenantID, p.UserID)
	if err != nil {
		return nil, err
	}
	if len(existing) >= maxSSHKeys {
		return nil, apperr.Conflictf("最多 %d 个密钥 / at most %d keys", maxSSHKeys, maxSSHKeys)
	}
	key := store.SSHKey{Name: strings.TrimSpace(in.Body.Name), KeyType: k.Type, PublicKey: k.Normalized, Comment: k.Comment, Fingerprint: k.Fingerprint}
	if err := h.s.Store.CreateSSHKey(ctx, p.TenantID, p.UserID, &key); err != nil {
		if store.IsUniqueViolation(err, "") {
			return nil, apperr.Conflictf("该公钥已添加过（指纹 %s）/ this key was already added", k.Fingerprint).AtField("body.publicKey")
		}
		return nil, err
	}
	h.s.audit(ctx, nil, auditEntry{Action: "ssh_key.create", TargetType: "ssh_key", TargetID: key.ID, Success: true,
		Detail: map[string]any{"name": key.Name, "fingerprint": key.Fingerprint}})
	h.s.keysChanged(ctx, p.TenantID)
	return ok(ctx, key)
}

func (h *sshKeysHandler) delete(ctx context.Context, in *SSHKeyIDInput) (*Resp[Empty], error) {
	p := principal(ctx)
	k, err := h.s.Store.DeleteSSHKey(ctx, p.TenantID, p.UserID, in.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apperr.NotFoundf("密钥不存在 / key not found")
	}
	if err != nil {
		return nil, err
	}
	h.s.audit(ctx, nil, auditEntry{Action: "ssh_key.delete", TargetType: "ssh_key", TargetID: k.ID, Success: true,
		Detail: map[string]any{"name": k.Name, "fingerprint": k.Fingerprint}})
	h.s.keysChanged(ctx, p.TenantID)
	return ok(ctx, Empty{})
}

// keysChanged tells the tenant's leases to sync their machines' SSH keys. A
// lease that misses the signal is found by the reconciler (its machine's
// keys version lags behind the tenant's), so a failure here is only logged.
func (s *Server) keysChanged(ctx context.Context, tenantID string) {
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
