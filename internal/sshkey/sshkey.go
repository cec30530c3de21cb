// Package sshkey validates OpenSSH public keys as users paste them.
package sshkey

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

type Key struct {
	Type        string // e.g. ssh-ed25519
	Comment     string
	Fingerprint string // SHA256:… exactly as ssh-keygen -l prints it
	Normalized  string // "<type> <base64>" without options or comment
}

var ErrInvalid = errors.New("invalid SSH public key")

// allowed excludes DSA and short RSA keys, which OpenSSH itself refuses today.
var allowed = map[string]bool{
	ssh.KeyAlgoED25519: true, ssh.KeyAlgoRSA: true, ssh.KeyAlgoECDSA256: true, ssh.KeyAlgoECDSA384: true,
	ssh.KeyAlgoECDSA521: true, ssh.KeyAlgoSKED25519: true, ssh.KeyAlgoSKECDSA256: true,
}

// Parse accepts one key in authorized_keys format ("type base64 [comment]").
func Parse(text string) (*Key, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalid)
	}
	if strings.Contains(text, "PRIVATE KEY") {
		return nil, fmt.Errorf("%w: this is a private key; paste the .pub file", ErrInvalid)
	}
	if strings.Count(text, "\n") > 0 {
		return nil, fmt.Errorf("%w: paste exactly one key on one line", ErrInvalid)
	}
	pk, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("%w: not in OpenSSH format (ssh-ed25519 AAAA… comment)", ErrInvalid)
	}
	if len(options) > 0 || len(rest) > 0 {
		return nil, fmt.Errorf("%w: options or trailing data are not allowed", ErrInvalid)
	}
	if !allowed[pk.Type()] {
		return nil, fmt.Errorf("%w: key type %s is not allowed", ErrInvalid, pk.Type())
	}
	if pk.Type() == ssh.KeyAlgoRSA {
		if ck, ok := pk.(ssh.CryptoPublicKey); ok {
			if rk, ok := ck.CryptoPublicKey().(interface{ Size() int }); ok && rk.Size()*8 < 2048 {
				return nil, fmt.Errorf("%w: RSA keys must have at least 2048 bits", ErrInvalid)
			}
		}
	}
	return &Key{
		Type:        pk.Type(),
		Comment:     comment,
		Fingerprint: ssh.FingerprintSHA256(pk),
		Normalized:  strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))),
	}, nil
}
