package pusher

import (
	"context"
	"fmt"
	"io"
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

// PutTaskOutput streams one output file (size bytes of r) to the api for
// the task_output_fetch command commandID; no timeout but ctx's (a file
// may take long).
func (c *Client) PutTaskOutput(ctx context.Context, taskID, commandID string, r io.Reader, size int64) (agentproto.TaskOutputFetchResult, error) {
	const op = "put task output"
	var res agentproto.TaskOutputFetchResult
	path := strings.NewReplacer("{id}", url.PathEscape(taskID), "{commandId}", url.PathEscape(commandID)).Replace(agentproto.PathTaskOutputUpload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, strings.TrimRight(c.BaseURL, "/")+path, io.NopCloser(r))
	if err != nil {
		return res, fmt.Errorf("%s: %w", op, err)
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Accept", "application/json")
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	token := c.bearer()
	req.Header.Set("Authorization", "Bearer "+token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return res, fmt.Errorf("%s: %w", op, err)
	}
	return res, c.answer(op, true, token, resp, &res)
}
