//go:build !cgo

package collect

import "fmt"

// NewNVML fails: NVML is loaded through cgo, and this binary was built without it.
func NewNVML() (*NVML, error) {
	return nil, fmt.Errorf("%w: this remotegpu-agent was built without cgo (rebuild with CGO_ENABLED=1); %s", ErrNoNVML, hintSimulated)
}
