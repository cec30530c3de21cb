package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/remotegpu/remotegpu/internal/secrets"
	"github.com/remotegpu/remotegpu/store"
	"github.com/remotegpu/remotegpu/store/storetest"
)

func TestRotateSecrets(t *testing.T) {
	st, dsn := storetest.New(t)
	ctx := context.Background()
	oldKey, newKey := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(oldKey)
	_, _ = rand.Read(newKey)
	oldBox, _ := secrets.New(oldKey)
	enc, _ := oldBox.Seal("Old-Passw0rd!")
	m := &store.Machine{Name: "rot-1", Region: "北京", GPUModel: "H100", GPUMemoryGB: 80, GPUCount: 8, SSHHost: "h", SSHPort: 22, SSHUser: "root", SSHPasswordEnc: enc}
	if err := st.CreateMachine(ctx, m, ""); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DATABASE_URL", dsn)
	t.Setenv("JWT_SECRET", "0123456789abcdef0123456789abcdef")
	t.Setenv("SECRETS_KEY", base64.StdEncoding.EncodeToString(newKey))
	t.Setenv("SECRETS_KEY_PREVIOUS", base64.StdEncoding.EncodeToString(oldKey))
	t.Setenv("TEMPORAL_PAYLOAD_KEY", base64.StdEncoding.EncodeToString(newKey)) // required of every server command
	if err := rotateSecrets(ctx); err != nil {
		t.Fatal(err)
	}
	var got []byte
	if err := st.Pool.QueryRow(ctx, `SELECT ssh_password_enc FROM machines WHERE id = $1`, m.ID).Scan(&got); err != nil {
		t.Fatal(err)
	}
	newOnly, _ := secrets.New(newKey)
	if pw, err := newOnly.Open(got); err != nil || pw != "Old-Passw0rd!" {
		t.Fatalf("after rotation: %q, %v", pw, err)
	}
	// without the old key, a second run finds nothing left to do
	t.Setenv("SECRETS_KEY_PREVIOUS", "")
	if err := rotateSecrets(ctx); err != nil {
		t.Fatal(err)
	}
}
