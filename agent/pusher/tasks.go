package pusher

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// PostTaskLogs sends a batch of an attempt's log lines (none: asks where
// to go on) and returns the offset the api expects next.
func (c *Client) PostTaskLogs(ctx context.Context, taskID string, batch agentproto.TaskLogBatch) (agentproto.TaskLogAck, error) {
	var ack agentproto.TaskLogAck
	path := strings.Replace(agentproto.PathTaskLogs, "{id}", url.PathEscape(taskID), 1)
	err := c.do(ctx, "post task logs", http.MethodPost, path, true, batch, &ack)
	return ack, err
}

// PostImages reports the images present on the host.
func (c *Client) PostImages(ctx context.Context, report agentproto.ImagesReport) error {
	return c.do(ctx, "post images", http.MethodPost, agentproto.PathImages, true, report, nil)
}
