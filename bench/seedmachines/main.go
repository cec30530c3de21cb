// Command seedmachines fills a database with N synthetic machines (COPY), a
// share of them allocated to the first customer, for the machine-list load
// test. It refuses a database that already holds machines named bench-*.
//
//	DATABASE_URL=... SECRETS_KEY=... go run ./bench/seedmachines -n 10000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/fleet"
	"github.com/remotegpu/remotegpu/internal/secrets"
)

func main() {
	n := flag.Int("n", 10000, "machines to create")
	allocated := flag.Float64("allocated", 0.4, "share of them allocated to the first customer")
	flag.Parse()
	cfg, err := config.Load()
	if err != nil || cfg.DatabaseURL == "" || len(cfg.SecretsKey) != 32 {
		fmt.Fprintln(os.Stderr, "set DATABASE_URL and SECRETS_KEY (as for the api)", err)
		os.Exit(2)
	}
	box, err := secrets.New(cfg.SecretsKey)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		panic(err)
	}
	defer conn.Close(ctx)
	var existing int
	_ = conn.QueryRow(ctx, `SELECT count(*) FROM machines WHERE name LIKE 'bench-%'`).Scan(&existing)
	if existing > 0 {
		fmt.Printf("%d bench machines already there; nothing done\n", existing)
		return
	}
	enc, _ := box.Seal("Bench-Passw0rd!")
	regions, models := fleet.DefaultCatalog.Regions, fleet.DefaultCatalog.GPUModels
	start := time.Now()
	rows := make([][]any, *n)
	for i := range rows {
		r := regions[i%len(regions)]
		status := []string{"online", "online", "online", "offline", "maintenance"}[i%5]
		name := fmt.Sprintf("bench-%05d", i)
		rows[i] = []any{name, r.Name, models[i%len(models)], 24 + (i%4)*16, 1 + i%8, 64, 512, 4000,
			name + "." + r.Code + ".ssh.bench.local", 22, "root", enc, status}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"machines"}, []string{"name", "region", "gpu_model", "gpu_memory_gb", "gpu_count",
		"cpu_cores", "memory_gb", "disk_gb", "ssh_host", "ssh_port", "ssh_user", "ssh_password_enc", "status"}, pgx.CopyFromRows(rows)); err != nil {
		panic(err)
	}
	tag, err := conn.Exec(ctx, `INSERT INTO allocations (tenant_id, machine_id, status, months, start_at, end_at, created_by_name)
		SELECT (SELECT id FROM tenants ORDER BY created_at LIMIT 1), id, 'active', 6, now() - interval '30 days',
		       now() + (row_number() OVER ())::int % 180 * interval '1 day', 'bench'
		FROM machines WHERE name LIKE 'bench-%' AND status = 'online' AND random() < $1`, *allocated/0.6)
	if err != nil {
		panic(err)
	}
	_, _ = conn.Exec(ctx, `ANALYZE machines; ANALYZE allocations`)
	fmt.Printf("created %d machines, %d allocated, in %s\n", *n, tag.RowsAffected(), time.Since(start).Round(time.Millisecond))
}
