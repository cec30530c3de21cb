package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestLoadSecurity(t *testing.T) {
	for _, k := range []string{"TRUSTED_PROXIES", "LOGIN_CONCURRENCY", "METRICS_ADDR", "METRICS_TOKEN"} {
		t.Setenv(k, "")
	}
	var errs []string
	s := loadSecurity(&errs)
	if len(errs) != 0 || len(s.TrustedProxies) != 0 || s.LoginConcurrency != DefaultLoginConcurrency() || s.LoginConcurrency < 4 ||
		s.MetricsAddr != "" || s.MetricsToken != "" {
		t.Fatalf("defaults: %+v %v", s, errs)
	}

	t.Setenv("TRUSTED_PROXIES", " 10.0.0.0/8, 192.168.1.10 ,::1, 172.16.5.4/12")
	t.Setenv("LOGIN_CONCURRENCY", "3")
	t.Setenv("METRICS_ADDR", "127.0.0.1:9464")
	t.Setenv("METRICS_TOKEN", "0123456789abcdef")
	errs = nil
	s = loadSecurity(&errs)
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.10/32"),
		netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("172.16.0.0/12")}
	if len(errs) != 0 || !slices.Equal(s.TrustedProxies, want) || s.LoginConcurrency != 3 || s.MetricsAddr != "127.0.0.1:9464" {
		t.Fatalf("set: %+v %v", s, errs)
	}

	for _, c := range []struct{ key, value, msg string }{
		{"TRUSTED_PROXIES", "10.0.0.0/8, proxy.local", "TRUSTED_PROXIES"},
		{"TRUSTED_PROXIES", "10.0.0.0/40", "TRUSTED_PROXIES"},
		{"LOGIN_CONCURRENCY", "0", "LOGIN_CONCURRENCY"},
		{"LOGIN_CONCURRENCY", "many", "LOGIN_CONCURRENCY"},
		{"METRICS_ADDR", "9464", "METRICS_ADDR"},
		{"METRICS_TOKEN", "short", "METRICS_TOKEN"},
	} {
		t.Run(c.key+"="+c.value, func(t *testing.T) {
			t.Setenv(c.key, c.value)
			var errs []string
			loadSecurity(&errs)
			if len(errs) != 1 || !strings.HasPrefix(errs[0], c.msg) {
				t.Fatalf("errors %v, want one about %s", errs, c.msg)
			}
		})
	}
}
