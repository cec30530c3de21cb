package payloadcodec

import (
	"log/slog"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/remotegpu/remotegpu/internal/config"
)

// ClientOptions are the options of every Temporal client the control plane
// makes (api, worker, tests): cfg's address and namespace, payloads sealed
// with cfg's payload key. Failure messages and stack traces are sealed too
// (EncodeCommonAttributes): errors often quote the data they failed on.
// logger may be nil (the SDK's default).
func ClientOptions(cfg config.Config, logger *slog.Logger) (client.Options, error) {
	codec, err := New(cfg.TemporalPayloadKey, cfg.TemporalPayloadKeyPrevious...)
	if err != nil {
		return client.Options{}, err
	}
	dc := DataConverter(codec)
	opts := client.Options{
		HostPort:      cfg.TemporalAddress,
		Namespace:     cfg.TemporalNamespace,
		DataConverter: dc,
		FailureConverter: temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
			DataConverter: dc, EncodeCommonAttributes: true}),
	}
	if logger != nil {
		opts.Logger = tlog.NewStructuredLogger(logger)
	}
	return opts, nil
}
