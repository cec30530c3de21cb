package hostops

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// ServiceURL is where the agent probes a task's service: task containers
// use the host's network, so the service port is the host's.
func ServiceURL(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) + "/" }

// probeClient follows no redirect: any HTTP answer means the service is up.
var probeClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// ProbeService asks url once, within timeout: any HTTP answer is up, a
// refused connection, a timeout or a broken answer is down.
func ProbeService(ctx context.Context, url string, timeout time.Duration) agentproto.ServiceProbe {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p := agentproto.ServiceProbe{CheckedAt: time.Now().UTC()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		p.Error = err.Error()
		return p
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		p.Error = err.Error()
		return p
	}
	_, _ = io.CopyN(io.Discard, resp.Body, 4096)
	_ = resp.Body.Close()
	p.Up, p.Status = true, resp.StatusCode
	return p
}

// WatchService probes url at once and then every `every` until ctx ends,
// handing each probe to report.
func WatchService(ctx context.Context, url string, every, timeout time.Duration, report func(agentproto.ServiceProbe)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		p := ProbeService(ctx, url, timeout)
		if ctx.Err() != nil {
			return
		}
		report(p)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
