package safehttp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestAllowed(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
		"224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
		"::ffff:10.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1"} {
		if Allowed(netip.MustParseAddr(s)) {
			t.Errorf("%s is allowed", s)
		}
	}
	for _, s := range []string{"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"} {
		if !Allowed(netip.MustParseAddr(s)) {
			t.Errorf("%s is refused", s)
		}
	}
}

func TestControl(t *testing.T) {
	if err := Control("tcp", "127.0.0.1:80", nil); !errors.Is(err, ErrForbidden) {
		t.Fatalf("loopback: %v", err)
	}
	if err := Control("tcp6", "[::ffff:169.254.169.254]:80", nil); !errors.Is(err, ErrForbidden) {
		t.Fatalf("mapped metadata: %v", err)
	}
	if err := Control("tcp", "93.184.216.34:443", nil); err != nil {
		t.Fatalf("public: %v", err)
	}
}

func TestClientRefusesLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	if _, err := NewClient(Options{}).Get(srv.URL); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a loopback server was reached: %v", err)
	}
	resp, err := NewClient(Options{AllowPrivate: true}).Get(srv.URL)
	if err != nil {
		t.Fatalf("AllowPrivate: %v", err)
	}
	resp.Body.Close()
	// "localhost" resolves to loopback: refused up front and when dialled
	if _, err := Check(context.Background(), "http://localhost:1/x", false); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Check(localhost): %v", err)
	}
	for _, u := range []string{"ftp://example.com/x", "file:///etc/passwd", "http://169.254.169.254/latest", "http://[::1]/", "gopher://x", "http://user:pw@example.com/"} {
		if _, err := Check(context.Background(), u, false); err == nil {
			t.Errorf("Check(%s) passed", u)
		}
	}
	if _, err := Check(context.Background(), "https://8.8.8.8/x", false); err != nil {
		t.Errorf("public: %v", err)
	}
}

func TestRedirectsLimitedAndChecked(t *testing.T) {
	n := 0
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		switch r.URL.Path {
		case "/ftp":
			http.Redirect(w, r, "ftp://example.com/", http.StatusFound)
		default:
			http.Redirect(w, r, srv.URL+"/again", http.StatusFound)
		}
	}))
	defer srv.Close()
	c := NewClient(Options{AllowPrivate: true})
	if _, err := c.Get(srv.URL + "/loop"); err == nil || n != MaxRedirects+1 {
		t.Fatalf("redirect loop: %v after %d requests", err, n)
	}
	if _, err := c.Get(srv.URL + "/ftp"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("redirect to ftp: %v", err)
	}
}
