package pusher

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// maxManifestBytes bounds a dataset's manifest (about a million files).
const maxManifestBytes = 512 << 20

// DatasetManifest reads the files of a mount's dataset; no timeout but ctx's.
func (c *Client) DatasetManifest(ctx context.Context, mountID string) (agentproto.DatasetManifest, error) {
	const op = "get dataset manifest"
	var m agentproto.DatasetManifest
	resp, token, err := c.stream(ctx, op, http.MethodGet, strings.Replace(agentproto.PathDatasetMountManifest, "{id}", url.PathEscape(mountID), 1), nil)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return m, c.answer(op, true, token, resp, nil)
	}
	var env struct {
		Data *agentproto.DatasetManifest `json:"data"`
	}
	env.Data = &m
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxManifestBytes)).Decode(&env); err != nil {
		return m, fmt.Errorf("%s: unable to decode the answer: %w", op, err)
	}
	return m, nil
}

// DatasetFile opens one file of a mount's dataset; the caller closes it.
func (c *Client) DatasetFile(ctx context.Context, mountID, filePath string) (io.ReadCloser, error) {
	const op = "get dataset file"
	p := strings.Replace(agentproto.PathDatasetMountFile, "{id}", url.PathEscape(mountID), 1) + "?path=" + url.QueryEscape(filePath)
	resp, token, err := c.stream(ctx, op, http.MethodGet, p, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.answer(op, true, token, resp, nil)
	}
	return resp.Body, nil
}

// PutDatasetImport streams the tar of a dataset_import command (chunked:
// its length is not known beforehand); no timeout but ctx's.
func (c *Client) PutDatasetImport(ctx context.Context, commandID string, r io.Reader) (agentproto.DatasetImportResult, error) {
	const op = "put dataset import"
	var res agentproto.DatasetImportResult
	resp, token, err := c.stream(ctx, op, http.MethodPut,
		strings.Replace(agentproto.PathDatasetImportUpload, "{commandId}", url.PathEscape(commandID), 1), io.NopCloser(r))
	if err != nil {
		return res, err
	}
	return res, c.answer(op, true, token, resp, &res)
}

// stream sends a request with the agent token and returns the answer
// unread (the caller closes its body).
func (c *Client) stream(ctx context.Context, op, method, path string, body io.ReadCloser) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", op, err)
	}
	if body != nil {
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/x-tar")
	}
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
		return nil, "", fmt.Errorf("%s: %w", op, err)
	}
	return resp, token, nil
}
