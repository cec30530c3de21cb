package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/lease"
)

// machineHostHandler is what the admin has done on a machine's host through
// its agent: the password reset (重置密码), which counts only once the host
// applied it, and ending a lease cleanup by reinstalling the host.
type machineHostHandler struct{ s *Server }

// PasswordReset is the latest password reset of a machine.
type PasswordReset = lease.PasswordReset

type ReinstalledInput struct {
	ID   string `path:"id" format:"uuid"`
	Body *struct {
		Note string `json:"note,omitempty" maxLength:"500"`
	}
}

func (h *machineHostHandler) register(api huma.API) {
	const tag = "machines"
	op := operation(http.MethodPost, "/api/admin/machines/{id}/reset-password", "reset-machine-password", tag,
		"Set a new generated SSH password on the host through its agent (audited). 202: the answer says whether the host applied it yet; "+
			"the machine's password changes only once it did", roleAdmin, http.StatusNotFound, http.StatusServiceUnavailable)
	op.DefaultStatus = http.StatusAccepted
	huma.Register(api, op, h.resetPassword)
	huma.Register(api, operation(http.MethodGet, "/api/admin/machines/{id}/password-reset", "get-machine-password-reset", tag,
		"The latest password reset and whether the host applied it", roleAdmin, http.StatusNotFound, http.StatusServiceUnavailable), h.passwordReset)
	huma.Register(api, operation(http.MethodPost, "/api/admin/machines/{id}/reinstalled", "mark-machine-reinstalled", tag,
		"End an unfinished lease cleanup because the host was reinstalled (audited): the steps left are skipped, the agent's keys revoked; "+
			"the machine is offline until its agent registers again with a new bootstrap token", roleAdmin,
		http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable), h.reinstalled)
}

func (h *machineHostHandler) resetPassword(ctx context.Context, in *MachineIDInput) (*Resp[PasswordReset], error) {
	r, err := h.s.lease.ResetPassword(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *r)
}

func (h *machineHostHandler) passwordReset(ctx context.Context, in *MachineIDInput) (*Resp[PasswordReset], error) {
	r, err := h.s.lease.PasswordResetStatus(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(ctx, *r)
}

func (h *machineHostHandler) reinstalled(ctx context.Context, in *ReinstalledInput) (*Resp[Machine], error) {
	note := ""
	if in.Body != nil {
		note = in.Body.Note
	}
	m, err := h.s.lease.MarkReinstalled(ctx, lease.MarkReinstalledInput{MachineID: in.ID, Note: note})
	if err != nil {
		return nil, err
	}
	return ok(ctx, machineOut(m))
}
