package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/remotegpu/remotegpu/activities"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

type HostPingInput struct {
	MachineID string
	Seq       int
	// Wait bounds how long the ping waits for the agent (default 1 minute).
	Wait time.Duration
}

// HostPing sends one command through the host channel that changes nothing
// on the host, and returns when the agent answered it: a check that the
// machine's agent is connected and a measure of the channel's round trip
// (bench/hostcmd).
func HostPing(ctx workflow.Context, in HostPingInput) (agentproto.PingResult, error) {
	wait := in.Wait
	if wait <= 0 {
		wait = time.Minute
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: wait,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var h *activities.Host
	var res agentproto.PingResult
	if err := workflow.ExecuteActivity(ctx, h.Ping, activities.PingInput{MachineID: in.MachineID, Seq: in.Seq}).Get(ctx, &res); err != nil {
		return res, fmt.Errorf("the host did not answer the ping: %w", err)
	}
	return res, nil
}
