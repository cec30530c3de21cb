package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/ldapauth"
	"github.com/remotegpu/remotegpu/internal/logging"
	"github.com/remotegpu/remotegpu/internal/mail"
	"github.com/remotegpu/remotegpu/internal/mailsink"
	"github.com/remotegpu/remotegpu/internal/objstore"
	"github.com/remotegpu/remotegpu/internal/payloadcodec"
	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/worker"
)

// serve runs mode "api", "worker" or "all" (both, plus the dev mail sink
// when DEV_MAIL_SINK is set) until ctx ends.
func serve(ctx context.Context, mode string) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if err := cfg.RequireServer(); err != nil {
		return err
	}
	logger := logging.New(os.Stderr, cfg.LogFormat, cfg.LogLevel)
	slog.SetDefault(logger)

	box, err := secrets.New(cfg.SecretsKey, cfg.SecretsKeyPrevious...)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()

	var mounts map[string]http.Handler
	if cfg.DevMailSink != "" && mode == "all" {
		sink, err := mailsink.Start(cfg.DevMailSink)
		if err != nil {
			return fmt.Errorf("unable to start the dev mail sink: %w", err)
		}
		defer sink.Close()
		mounts = map[string]http.Handler{"/dev": sink.Handler()}
		slog.Info("dev mail sink listening", "addr", sink.Addr())
	}
	mailCfg := mail.Config{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
		From: cfg.SMTPFrom, TLS: cfg.SMTPTLS}
	if err := mailCfg.Validate(); err != nil {
		return err
	}
	sender := mail.New(mailCfg)

	copts, err := payloadcodec.ClientOptions(cfg, logger.With("component", "temporal"))
	if err != nil {
		return err
	}
	var objects *objstore.Store
	if cfg.S3Endpoint != "" {
		objects, err = objstore.New(objstore.Config{Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey,
			SecretKey: cfg.S3SecretKey, UseSSL: cfg.S3UseSSL, BucketPrefix: cfg.S3BucketPrefix})
		if err != nil {
			return err
		}
		if err := objects.EnsureBuckets(ctx, objstore.BucketAvatars, objstore.BucketImports, objstore.BucketTaskOutputs, objstore.BucketDatasets); err != nil {
			return err
		}
	} else {
		slog.Warn("S3_ENDPOINT is not set: avatar uploads, Excel imports and task output downloads are unavailable")
	}
	errc := make(chan error, 2)

	if mode == "worker" || mode == "all" {
		tc, err := dialTemporal(ctx, copts)
		if err != nil {
			return err
		}
		defer tc.Close()
		w := worker.New(tc, cfg.TemporalTaskQueue, worker.Deps{Store: st, Mail: sender, Secrets: box, AlertWebhookURL: cfg.AlertWebhookURL,
			ExpiringNotice: cfg.Fleet.ExpiringNotice, PublicURL: cfg.PublicURL, Objects: objects, Datasets: cfg.Datasets})
		if err := w.Start(); err != nil {
			return fmt.Errorf("unable to start the worker: %w", err)
		}
		defer w.Stop()
		slog.Info("worker polling", "taskQueue", cfg.TemporalTaskQueue)
		if err := worker.EnsureSchedules(ctx, tc, cfg.TemporalTaskQueue, cfg.Monitoring, ""); err != nil {
			return err
		}
		if err := worker.EnsureStorageSchedules(ctx, tc, cfg.TemporalTaskQueue, cfg.Datasets, ""); err != nil {
			return err
		}
	}

	if mode == "api" || mode == "all" {
		// Lazy: the api starts (and /readyz tells) while Temporal is still coming up.
		tc, err := client.NewLazyClient(copts)
		if err != nil {
			return fmt.Errorf("unable to create the Temporal client: %w", err)
		}
		defer tc.Close()
		srv := api.New(api.Deps{Config: cfg, Store: st, Temporal: tc, Objects: objects, Mail: sender,
			LDAP: ldapauth.New(ldapConfig(cfg.LDAP)), Secrets: box, Mounts: mounts})
		srv.Start(ctx) // alert evaluation, monitoring WebSockets
		defer srv.Close()
		hs := &http.Server{Addr: cfg.ListenAddr, Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			slog.Info("api listening", "addr", cfg.ListenAddr)
			if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("api server: %w", err)
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = hs.Shutdown(sctx)
		}()
		if addr := cfg.Security.MetricsAddr; addr != "" {
			mux := http.NewServeMux()
			mux.Handle("/metrics", srv.MetricsHandler())
			ms := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			go func() {
				slog.Info("metrics listening", "addr", addr)
				if err := ms.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
					errc <- fmt.Errorf("metrics server: %w", err)
				}
			}()
			defer ms.Close()
		}
	}

	select {
	case <-ctx.Done():
		slog.Info("shutting down")
		return nil
	case err := <-errc:
		return err
	}
}

// dialTemporal retries for a while: in a fresh stack Temporal may still be starting.
func dialTemporal(ctx context.Context, opts client.Options) (client.Client, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("unable to reach Temporal at %s: %w", opts.HostPort, err)
		}
		slog.Warn("waiting for Temporal", "addr", opts.HostPort, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

func ldapConfig(l config.LDAP) ldapauth.Config {
	return ldapauth.Config{URL: l.URL, BindDN: l.BindDN, BindPassword: l.BindPassword, BaseDN: l.BaseDN,
		UserFilter: l.UserFilter, AttrUsername: l.AttrUsername, AttrEmail: l.AttrEmail, AttrName: l.AttrName,
		AttrPhone: l.AttrPhone, AttrEmployeeID: l.AttrEmployeeID, AttrTenant: l.AttrTenant,
		GroupAdmin: l.GroupAdmin, GroupOwner: strings.TrimSpace(l.GroupOwner), PasswordResetURL: l.PasswordResetURL}
}
