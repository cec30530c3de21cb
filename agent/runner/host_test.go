package runner

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/agent/commands"
	"github.com/remotegpu/remotegpu/internal/agentproto"
	"github.com/remotegpu/remotegpu/internal/testdocker"
	"github.com/remotegpu/remotegpu/internal/testimage"
)

func TestMain(m *testing.M) { os.Exit(testdocker.Main(m)) }

// The agent reports the host's images at start, and again only when they
// change (or after imagesResend).
func TestReportsImages(t *testing.T) {
	testdocker.Client(t) // the daemon has the test image
	api := newFakeAPI(t, "rga_boot1")
	cfg := api.config(filepath.Join(t.TempDir(), "state"), "rga_boot1")
	cfg.HostOps, cfg.DockerHost, cfg.ImagesEvery = commands.ModeSimulated, os.Getenv("DOCKER_HOST"), 20*time.Millisecond
	var samples int
	api.runUntil(t, cfg, "an images report and ten samples after it", func() bool {
		if len(api.images) == 0 {
			return false
		}
		if samples == 0 {
			samples = api.samples["rgt_1"]
		}
		return api.samples["rgt_1"] >= samples+10 // ten image checks at the same pace
	})
	api.mu.Lock()
	defer api.mu.Unlock()
	if len(api.images) != 1 {
		t.Errorf("%d reports of unchanged images", len(api.images))
	}
	if !slices.ContainsFunc(api.images[0].Images, func(im agentproto.HostImage) bool { return im.Ref == testimage.Ref }) {
		t.Errorf("report %+v", api.images[0])
	}
}

// The host check runs a container through the task path and passes on its
// log and exit status.
func TestCheckTask(t *testing.T) {
	testdocker.Client(t)
	var out strings.Builder
	cfg := Config{DockerHost: os.Getenv("DOCKER_HOST"), GPUSource: agentproto.GPUSourceSimulated, Log: quiet()}
	code, err := CheckTask(context.Background(), cfg, testimage.Ref, "echo gpus=$CUDA_VISIBLE_DEVICES; exit 3", []int{0, 1}, &out)
	if err != nil || code != 3 {
		t.Fatalf("exit %d, %v\n%s", code, err, out.String())
	}
	if !strings.Contains(out.String(), "gpus=0,1\n") || !strings.Contains(out.String(), `"gpuDevices": false`) {
		t.Errorf("output:\n%s", out.String())
	}
}
