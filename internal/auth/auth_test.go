package auth

import (
	"errors"
	"testing"
	"time"
)

func TestPolicy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pw, user string
		ok       bool
	}{
		{"short1A", "", false},
		{"alllowercase", "", false},
		{"lower1234", "", false},
		{"Lower1234", "", true},
		{"lower-1234", "", true},
		{"Alice-2026x", "alice", false},
		{"has space 1A", "", false},
		{"密码Abc12345", "", true},
	}
	for _, c := range cases {
		err := CheckPolicy(c.pw, c.user)
		if (err == nil) != c.ok {
			t.Errorf("CheckPolicy(%q, %q) = %v, want ok=%v", c.pw, c.user, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrWeakPassword) {
			t.Errorf("policy error %v is not ErrWeakPassword", err)
		}
	}
}

func TestGeneratedPasswordsPassPolicy(t *testing.T) {
	t.Parallel()
	for i := 0; i < 200; i++ {
		if pw := GeneratePassword(); CheckPolicy(pw, "") != nil {
			t.Fatalf("generated %q fails the policy", pw)
		}
	}
}

func TestHashAndCheck(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("Secret-123")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword("Secret-123", h) || CheckPassword("secret-123", h) || CheckPassword("Secret-123", "") {
		t.Fatal("password check is wrong")
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	iss := NewIssuer([]byte("0123456789abcdef0123456789abcdef"), time.Minute)
	tok, err := iss.Issue("u1", "s1", "owner", "t1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := iss.Parse(tok)
	if err != nil || c.Subject != "u1" || c.SessionID != "s1" || c.Role != "owner" || c.TenantID != "t1" {
		t.Fatalf("parse = %+v, %v", c, err)
	}
	old, _ := iss.Issue("u1", "s1", "owner", "t1", time.Now().Add(-2*time.Minute))
	if _, err := iss.Parse(old); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired token accepted: %v", err)
	}
	other := NewIssuer([]byte("another-secret-another-secret-xx"), time.Minute)
	if _, err := other.Parse(tok); err == nil {
		t.Fatal("token signed with another key accepted")
	}
	if code := GenerateCode(); len(code) != 6 {
		t.Fatalf("code %q", code)
	}
	a, ha := NewRefreshToken()
	if string(HashToken(a)) != string(ha) {
		t.Fatal("refresh hash mismatch")
	}
}
