package sshkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestParse(t *testing.T) {
	t.Parallel()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spk, _ := ssh.NewPublicKey(pub)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(spk))) + " alice@laptop"

	k, err := Parse("  " + line + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if k.Type != "ssh-ed25519" || k.Comment != "alice@laptop" || k.Fingerprint != ssh.FingerprintSHA256(spk) || !strings.HasPrefix(k.Fingerprint, "SHA256:") {
		t.Fatalf("parsed %+v", k)
	}
	for _, bad := range []string{"", "hello", "ssh-ed25519 AAAAnotbase64", "-----BEGIN OPENSSH PRIVATE KEY-----", line + "\n" + line, `command="x" ` + line} {
		if _, err := Parse(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
