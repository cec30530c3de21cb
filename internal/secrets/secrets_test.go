package secrets

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func key() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

func TestSealOpenRotate(t *testing.T) {
	t.Parallel()
	old, cur := key(), key()
	b1, err := New(old)
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := b1.Seal("p@ss 密码")
	if bytes.Contains(s1, []byte("p@ss")) {
		t.Fatal("plaintext visible")
	}
	if got, err := b1.Open(s1); err != nil || got != "p@ss 密码" {
		t.Fatalf("open = %q, %v", got, err)
	}
	b2, _ := New(cur, old)
	if got, err := b2.Open(s1); err != nil || got != "p@ss 密码" {
		t.Fatalf("open with previous key = %q, %v", got, err)
	}
	if b2.Current(s1) {
		t.Fatal("old ciphertext reported current")
	}
	s2, _ := b2.Seal("x")
	if !b2.Current(s2) {
		t.Fatal("new ciphertext not current")
	}
	b3, _ := New(cur)
	if _, err := b3.Open(s1); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("dropped key still opens: %v", err)
	}
	s1[len(s1)-1] ^= 1
	if _, err := b2.Open(s1); err == nil {
		t.Fatal("tampered ciphertext opened")
	}
	if _, err := New([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}
