package tasks

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// WaitProgress takes the progress of a task_wait heartbeat (a
// hostchan.ProgressHook): the health of the attempt's service, which the
// task's reads show. A probe of an attempt that ended, or that runs on
// another machine, is dropped.
func (s *Service) WaitProgress(ctx context.Context, machineID string, args, progress json.RawMessage) error {
	var a agentproto.TaskWaitArgs
	if err := json.Unmarshal(args, &a); err != nil {
		return fmt.Errorf("the task_wait's arguments: %w", err)
	}
	var p agentproto.TaskWaitProgress
	if err := json.Unmarshal(progress, &p); err != nil {
		return fmt.Errorf("the task_wait's progress: %w", err)
	}
	if p.Service == nil || a.ServicePort <= 0 || p.Service.CheckedAt.IsZero() {
		return nil
	}
	status := 0
	if p.Service.Up && p.Service.Status >= 100 && p.Service.Status <= 999 {
		status = p.Service.Status
	}
	_, err := s.Store.SetTaskServiceHealth(ctx, a.TaskID, a.Attempt, machineID, p.Service.Up, status, p.Service.CheckedAt)
	return err
}
