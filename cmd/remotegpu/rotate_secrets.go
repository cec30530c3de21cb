package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/remotegpu/remotegpu/internal/config"
	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/store"
)

// sealedColumns are every column holding a secrets.Box ciphertext, with its table's key.
var sealedColumns = []struct{ table, key, column string }{
	{"machines", "id", "ssh_password_enc"},
	{"machine_import_rows", "import_id::text || ':' || row_no", "password_enc"},
}

// rotateSecrets re-encrypts every sealed value with SECRETS_KEY. Run it after
// moving the old key to SECRETS_KEY_PREVIOUS; when it reports 0 left, drop the old key.
func rotateSecrets(ctx context.Context) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if err := cfg.RequireServer(); err != nil {
		return err
	}
	box, err := secrets.New(cfg.SecretsKey, cfg.SecretsKeyPrevious...)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, c := range sealedColumns {
		n := 0
		err := st.InTx(ctx, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT (%s)::text, %s FROM %s WHERE %s IS NOT NULL FOR UPDATE`, c.key, c.column, c.table, c.column))
			if err != nil {
				return err
			}
			type item struct {
				id  string
				enc []byte
			}
			var todo []item
			for rows.Next() {
				var it item
				if err := rows.Scan(&it.id, &it.enc); err != nil {
					return err
				}
				if !box.Current(it.enc) {
					todo = append(todo, it)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, it := range todo {
				plain, err := box.Open(it.enc)
				if err != nil {
					return fmt.Errorf("unable to open %s.%s of %s (is its key in SECRETS_KEY_PREVIOUS?): %w", c.table, c.column, it.id, err)
				}
				enc, err := box.Seal(plain)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET %s = $2 WHERE (%s)::text = $1`, c.table, c.column, c.key), it.id, enc); err != nil {
					return err
				}
			}
			n = len(todo)
			return nil
		})
		if err != nil {
			return fmt.Errorf("unable to rotate %s.%s: %w", c.table, c.column, err)
		}
		fmt.Printf("%s.%s: %d re-encrypted with the current key\n", c.table, c.column, n)
	}
	return nil
}
