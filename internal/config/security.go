package config

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
)

// Security is how the api meets the network: which proxies it trusts, how
// many password checks it runs at once and where /metrics is served.
type Security struct {
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed; empty: none (the peer is the client).
	TrustedProxies []netip.Prefix
	// LoginConcurrency caps the argon2 password checks running at once;
	// requests over it get a quick 429 instead of queueing.
	LoginConcurrency int
	// MetricsAddr, when set, is the only listener that serves /metrics.
	MetricsAddr string
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
}

// DefaultLoginConcurrency is twice the CPUs Go uses (at least 4): argon2
// is CPU-bound, more would only queue inside the process with 19 MiB each.
func DefaultLoginConcurrency() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// loadSecurity reads the security variables, appending problems to errs.
func loadSecurity(errs *[]string) Security {
	s := Security{MetricsAddr: env("METRICS_ADDR", ""), MetricsToken: env("METRICS_TOKEN", "")}
	var err error
	if s.TrustedProxies, err = ParseTrustedProxies(env("TRUSTED_PROXIES", "")); err != nil {
		*errs = append(*errs, "TRUSTED_PROXIES: "+err.Error())
	}
	s.LoginConcurrency = DefaultLoginConcurrency()
	if v := env("LOGIN_CONCURRENCY", ""); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			*errs = append(*errs, "LOGIN_CONCURRENCY: must be a positive number")
		} else {
			s.LoginConcurrency = n
		}
	}
	if s.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(s.MetricsAddr); err != nil {
			*errs = append(*errs, "METRICS_ADDR: must be host:port, e.g. 127.0.0.1:9464")
		}
	}
	if s.MetricsToken != "" && len(s.MetricsToken) < 16 {
		*errs = append(*errs, "METRICS_TOKEN: must be at least 16 characters")
	}
	return s
}

// ParseTrustedProxies reads a comma-separated list of IP addresses and
// CIDR prefixes ("10.0.0.0/8, 192.168.1.10, ::1").
func ParseTrustedProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", item)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", item)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
