// Package benchfleet is what the benches share: checks that they target
// only this machine, and bench machines added straight into the api's
// database, each with a bootstrap token, as the console would add them.
package benchfleet

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Loopback tells whether host names this machine.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LocalDB checks that a DSN points at a database on this machine (TCP
// loopback or a Unix socket).
func LocalDB(dsn string) error {
	if dsn == "" {
		return fmt.Errorf("-db (or DATABASE_URL) is required: the api's database")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("-db: %w", err)
	}
	if !Loopback(cfg.Host) && !strings.HasPrefix(cfg.Host, "/") {
		return fmt.Errorf("-db host %s is not local", cfg.Host)
	}
	return nil
}

// Boot is a bench machine and its one-use bootstrap token.
type Boot struct {
	ID, Token string
}

// AddMachines inserts n machines named <run>-NNNNN with gpus H100s each and
// a bootstrap token valid for an hour, with one COPY.
func AddMachines(ctx context.Context, pool *pgxpool.Pool, run string, n, gpus int) ([]Boot, error) {
	boots := make([]Boot, n)
	rows := make([][]any, n)
	expires := time.Now().Add(time.Hour)
	for i := range boots {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		tok := "rga_" + base64.RawURLEncoding.EncodeToString(b)
		h := sha256.Sum256([]byte(tok))
		id := uuid.New()
		boots[i] = Boot{ID: id.String(), Token: tok}
		name := fmt.Sprintf("%s-%05d", run, i)
		rows[i] = []any{id, name, "北京", "H100", int32(80), int32(gpus), name + ".bench.local", []byte{0}, h[:], expires, "online"}
	}
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"machines"}, []string{"id", "name", "region", "gpu_model", "gpu_memory_gb", "gpu_count",
		"ssh_host", "ssh_password_enc", "agent_token_hash", "agent_token_expires_at", "status"}, pgx.CopyFromRows(rows))
	if err != nil {
		return nil, fmt.Errorf("unable to add the machines: %w", err)
	}
	return boots, nil
}
