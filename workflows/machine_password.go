package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// MachinePasswordWorkflowID is the password reset of a machine: a new reset
// replaces one that is still waiting for the host.
func MachinePasswordWorkflowID(machineID string) string { return "machine-password:" + machineID }

// MachinePasswordWait is how long a reset waits for the host to apply it.
const MachinePasswordWait = 7 * 24 * time.Hour

type MachinePasswordInput struct {
	MachineID string
}

// MachinePassword sets a new generated password on the machine's login
// user through its agent (the admin's 重置密码). The machine's recorded
// password changes only when the host confirmed it applied the new one.
func MachinePassword(ctx workflow.Context, in MachinePasswordInput) (agentproto.SetPasswordResult, error) {
	if in.MachineID == "" {
		return agentproto.SetPasswordResult{}, temporal.NewNonRetryableApplicationError("no machine", "InvalidArgument", nil)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ScheduleToCloseTimeout: MachinePasswordWait,
		StartToCloseTimeout:    HostCommandTimeout,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute},
	})
	var h *activities.Host
	var res agentproto.SetPasswordResult
	if err := workflow.ExecuteActivity(ctx, h.SetPassword, activities.SetPasswordInput{MachineID: in.MachineID}).Get(ctx, &res); err != nil {
		return res, fmt.Errorf("unable to set the password on the host: %w", err)
	}
	return res, nil
}
