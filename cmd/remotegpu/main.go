// Command remotegpu is the control plane: `serve` (api + worker), `api`,
// `worker`, `migrate`, `openapi`, `dev` (the whole stack for development)
// and `testenv` (a throwaway stack around a test command).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/remotegpu/remotegpu/api"
	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/store"
)

const usage = `usage: remotegpu <command>

  serve     run the api and the worker in one process
  api       run the HTTP api only
  worker    run the Temporal worker only
  migrate   apply the database migrations
  openapi   print the OpenAPI document (YAML)
  seed      create the demo data (idempotent)
  rotate-secrets  re-encrypt stored secrets with SECRETS_KEY (see README)
  dev       start the whole stack for development (what make run runs)
  testenv   run a command against a throwaway stack: testenv -- <cmd...>

Configuration is read from the environment; see README.md.`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		err = serve(ctx, "all")
	case "api", "worker":
		err = serve(ctx, cmd)
	case "migrate":
		err = migrateFromEnv(ctx)
	case "openapi":
		var b []byte
		if b, err = api.OpenAPI(); err == nil {
			_, err = os.Stdout.Write(b)
		}
	case "seed":
		err = seedDemo(ctx)
	case "rotate-secrets":
		err = rotateSecrets(ctx)
	case "dev":
		err = runDev(ctx, args)
	case "testenv":
		err = runTestEnv(ctx, args)
	case "help", "-h", "--help":
		fmt.Println(usage)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\n%s\n", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "remotegpu:", err)
		os.Exit(1)
	}
}

func migrateFromEnv(ctx context.Context) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return fmt.Errorf("DATABASE_URL is not set")
	}
	return migrateUp(ctx, cfg.DatabaseURL)
}

func migrateUp(_ context.Context, dsn string) error {
	return store.Migrate(dsn)
}
