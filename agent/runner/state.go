package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// StateFile is the name of the file in the state directory that keeps the
// agent token, so that a restart does not need the one-time bootstrap token.
const StateFile = "agent.json"

// state is what the agent keeps between runs (mode 0600: it holds the token).
type state struct {
	MachineID string `json:"machineId"`
	// BootstrapSHA256 is the hash of the bootstrap token the agent token was
	// exchanged for: a different bootstrap token in the configuration means
	// the admin issued a new one, and the agent registers again.
	BootstrapSHA256 string                      `json:"bootstrapSha256"`
	Register        agentproto.RegisterResponse `json:"register"`
}

func hashToken(t string) string {
	s := sha256.Sum256([]byte(t))
	return hex.EncodeToString(s[:])
}

func loadState(dir string) (*state, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to read the agent state (--state-dir): %w", err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil || s.Register.AgentToken == "" {
		return nil, fmt.Errorf("the agent state %s is damaged; remove it and start again with a new bootstrap token", filepath.Join(dir, StateFile))
	}
	return &s, nil
}

// saveState writes the state atomically, readable by its owner only.
func saveState(dir string, s *state) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("unable to create the state directory: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, StateFile+".*")
	if err != nil {
		return fmt.Errorf("unable to write the agent state: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("unable to write the agent state: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("unable to write the agent state: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("unable to write the agent state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("unable to write the agent state: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, StateFile)); err != nil {
		return fmt.Errorf("unable to write the agent state: %w", err)
	}
	return nil
}

func removeState(dir string) error {
	err := os.Remove(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// checkWritable tells whether the state can be saved in dir.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("unable to create the state directory %s (--state-dir): %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("unable to write in the state directory %s (--state-dir): %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}
