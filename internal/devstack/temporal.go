package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

// TemporalNamespace is the namespace the dev server creates and the stack uses.
const TemporalNamespace = "default"

// TemporalCodecPath is where the api serves the Temporal UI's remote codec.
const TemporalCodecPath = "/api/temporal-codec"

// startTemporal runs `temporal server start-dev` and waits until the
// frontend answers and the namespace exists.
func (s *Stack) startTemporal(ctx context.Context) error {
	o := &s.opts
	for _, p := range []struct {
		name string
		port int
	}{{"temporal", o.TemporalPort}, {"temporal ui", o.TemporalUIPort}} {
		if err := checkPortFree(p.name, p.port); err != nil {
			return err
		}
	}
	args := []string{"server", "start-dev",
		"--ip", "127.0.0.1",
		"--port", strconv.Itoa(o.TemporalPort),
		"--ui-port", strconv.Itoa(o.TemporalUIPort),
		"--log-level", "warn",
		// The UI decodes payloads through the api (api/temporal_codec.go); the
		// dev server cannot tell it to send cookies: see README, "Temporal payload encryption".
		"--ui-codec-endpoint", s.PublicURL() + TemporalCodecPath,
	}
	if !o.Ephemeral {
		// A throwaway stack keeps its history in memory, which is faster.
		args = append(args, "--db-filename", filepath.Join(o.Dir, "temporal.db"))
	}
	cmd := exec.Command(s.TemporalBin(), args...)
	cmd.Dir, cmd.Env = o.Dir, childEnv()
	svc, err := startService("temporal", s.logDir(), cmd, syscall.SIGTERM)
	if err != nil {
		return err
	}
	s.addService(svc)

	addr := s.TemporalAddress()
	return svc.waitReady(ctx, 60*time.Second, func(ctx context.Context) error {
		return temporalReady(ctx, addr)
	})
}

// temporalReady dials addr and checks that the namespace is registered.
func temporalReady(ctx context.Context, addr string) error {
	opts := client.Options{
		HostPort:  addr,
		Namespace: TemporalNamespace,
		Logger:    tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	}
	nc, err := client.NewNamespaceClient(opts)
	if err != nil {
		return err
	}
	defer nc.Close()
	desc, err := nc.Describe(ctx, TemporalNamespace)
	if err != nil {
		return fmt.Errorf("namespace %s: %w", TemporalNamespace, err)
	}
	if desc.GetNamespaceInfo().GetName() != TemporalNamespace {
		return errors.New("namespace not registered yet")
	}
	return nil
}
