package hostops

import (
	"context"
	"errors"
	"strconv"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// StopTenant stops and removes the tenant's containers, then kills the
// processes of the login sessions (processes.go) and removes the tenant's
// dataset mounts (datasets.go). progress is told of each
// container stopped. A host without Docker has no containers to stop; a
// Docker that fails is a failure worth retrying (the sessions are killed
// all the same).
func (o *Ops) StopTenant(ctx context.Context, args agentproto.StopTenantArgs, progress func(agentproto.StopTenantResult)) (agentproto.StopTenantResult, error) {
	var res agentproto.StopTenantResult
	if args.TenantID == "" {
		return res, Permanentf("InvalidArgs", "no tenant given")
	}
	uid := int64(-1)
	if args.User != "" && args.User != "root" {
		if err := checkUserName(args.User); err != nil {
			return res, err
		}
		u, err := o.lookup(args.User)
		if err != nil {
			o.log().Warn("the login user is not on this host: killing the login sessions only", "user", args.User, "error", err)
		} else if n, err := strconv.ParseInt(u.Uid, 10, 64); err == nil && n > 0 {
			uid = n
		}
	}
	n, dockerErr := o.stopContainers(ctx, args.TenantID, func(n int) {
		if progress != nil {
			progress(agentproto.StopTenantResult{Containers: n})
		}
	})
	res.Containers = n
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	var err error
	res.Processes, err = o.killSessions(ctx, uid)
	var mountErr error
	res.DatasetMounts, mountErr = o.RemoveTenantMounts(args.TenantID)
	o.log().Info("stopped the tenant's work", "tenant", args.TenantID, "allocation", args.AllocationID, "user", args.User,
		"containers", res.Containers, "processes", res.Processes, "dataset_mounts", res.DatasetMounts, "docker_error", dockerErr,
		"process_error", err, "mount_error", mountErr)
	return res, errors.Join(dockerErr, err, mountErr)
}

// StopTenantContainers stops and removes the tenant's containers only
// (simulated host ops: the task containers run in the dev stack's own
// Docker daemon, while the login sessions are the developer's).
func (o *Ops) StopTenantContainers(ctx context.Context, tenantID string, progress func(agentproto.StopTenantResult)) (int, error) {
	if tenantID == "" {
		return 0, Permanentf("InvalidArgs", "no tenant given")
	}
	return o.stopContainers(ctx, tenantID, func(n int) {
		if progress != nil {
			progress(agentproto.StopTenantResult{Containers: n, Simulated: true})
		}
	})
}
