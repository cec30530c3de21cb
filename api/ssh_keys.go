package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/accounts"
	"github.com/remotegpu/remotegpu/store"
)

// sshKeysHandler manages the caller's SSH public keys (requirements 3.1.10.2).
type sshKeysHandler struct{ s *Server }

type ListSSHKeysInput struct{ ListParams }

type CreateSSHKeyInput struct {
	Body struct {
		Name      string `json:"name" minLength:"1" maxLength:"100"`
		PublicKey string `json:"publicKey" minLength:"1" maxLength:"16384" doc:"One key in OpenSSH authorized_keys format"`
	}
}

type SSHKeyIDInput struct {
	ID string `path:"id" format:"uuid"`
}

func (h *sshKeysHandler) register(api huma.API) {
	const tag = "ssh-keys"
	huma.Register(api, operation(http.MethodGet, "/api/customer/ssh-keys", "list-ssh-keys", tag,
		"The caller's SSH public keys, newest first", roleCustomer, http.StatusBadRequest), h.list)
	op := operation(http.MethodPost, "/api/customer/ssh-keys", "create-ssh-key", tag, "Add an SSH public key (validated, fingerprinted, no duplicates)",
		roleCustomer, http.StatusConflict, http.StatusBadRequest)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, h.create)
	huma.Register(api, operation(http.MethodDelete, "/api/customer/ssh-keys/{id}", "delete-ssh-key", tag, "Remove an SSH public key",
		roleCustomer, http.StatusNotFound), h.delete)
}

func (h *sshKeysHandler) list(ctx context.Context, in *ListSSHKeysInput) (*Resp[Page[store.SSHKey]], error) {
	p := principal(ctx)
	keys, total, err := h.s.Store.ListSSHKeys(ctx, p.TenantID, p.UserID, in.ListParams.store())
	if err != nil {
		return nil, err
	}
	return okPage(ctx, keys, total, in.ListParams)
}

func (h *sshKeysHandler) create(ctx context.Context, in *CreateSSHKeyInput) (*Resp[store.SSHKey], error) {
	k, err := h.s.accounts.AddSSHKey(ctx, accounts.AddSSHKeyInput{Name: in.Body.Name, PublicKey: in.Body.PublicKey})
	if err != nil {
		return nil, err
	}
	return ok(ctx, *k)
}

func (h *sshKeysHandler) delete(ctx context.Context, in *SSHKeyIDInput) (*Resp[Empty], error) {
	if err := h.s.accounts.DeleteSSHKey(ctx, in.ID); err != nil {
		return nil, err
	}
	return ok(ctx, Empty{})
}
