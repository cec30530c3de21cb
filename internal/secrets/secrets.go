// Package secrets encrypts small secrets at rest (SSH passwords) with
// AES-256-GCM. Each ciphertext names its key by a short ID, so the key can
// be rotated: set the new key as SECRETS_KEY, keep the old one in
// SECRETS_KEY_PREVIOUS, run `remotegpu rotate-secrets`, then drop the old key.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

const version = 1

type Box struct {
	current []byte
	keys    map[[4]byte]cipher.AEAD
	id      [4]byte
}

var ErrUnknownKey = errors.New("secret was encrypted with a key that is not configured")

// New takes the current key and any previous ones (32 bytes each).
func New(current []byte, previous ...[]byte) (*Box, error) {
	b := &Box{current: current, keys: map[[4]byte]cipher.AEAD{}}
	for i, k := range append([][]byte{current}, previous...) {
		if len(k) != 32 {
			return nil, fmt.Errorf("secrets key %d must be 32 bytes, got %d", i, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := keyID(k)
		if i == 0 {
			b.id = id
		}
		b.keys[id] = aead
	}
	return b, nil
}

func keyID(k []byte) [4]byte {
	h := sha256.Sum256(append([]byte("remotegpu-key-id:"), k...))
	return [4]byte{h[0], h[1], h[2], h[3]}
}

// Seal encrypts with the current key: version | key id | nonce | ciphertext.
func (b *Box) Seal(plain string) ([]byte, error) {
	aead := b.keys[b.id]
	out := make([]byte, 1+4+aead.NonceSize(), 1+4+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = version
	copy(out[1:5], b.id[:])
	if _, err := rand.Read(out[5:]); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[5:], []byte(plain), out[:5]), nil
}

// Open decrypts with whichever configured key sealed it.
func (b *Box) Open(sealed []byte) (string, error) {
	if len(sealed) < 5 || sealed[0] != version {
		return "", errors.New("malformed secret")
	}
	var id [4]byte
	copy(id[:], sealed[1:5])
	aead, ok := b.keys[id]
	if !ok {
		return "", ErrUnknownKey
	}
	ns := aead.NonceSize()
	if len(sealed) < 5+ns {
		return "", errors.New("malformed secret")
	}
	plain, err := aead.Open(nil, sealed[5:5+ns], sealed[5+ns:], sealed[:5])
	if err != nil {
		return "", fmt.Errorf("unable to decrypt secret: %w", err)
	}
	return string(plain), nil
}

// KeyID names the current key (hex of the ID every ciphertext carries).
func (b *Box) KeyID() string { return KeyID(b.current) }

// KeyID is the short public name of a key, as its ciphertexts carry it.
func KeyID(key []byte) string {
	id := keyID(key)
	return fmt.Sprintf("%x", id[:])
}

// Current reports whether sealed uses the current key (rotation skips those).
func (b *Box) Current(sealed []byte) bool {
	return len(sealed) >= 5 && [4]byte(sealed[1:5]) == b.id
}
