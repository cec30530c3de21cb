// Package safehttp fetches URLs given by customers without letting them
// reach the platform's own network: every connection's address is checked
// when it is dialled (so DNS answers and redirects are checked too), only
// http and https are followed, at most MaxRedirects times (docs/datasets.md).
package safehttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// MaxRedirects is how many redirects one fetch follows.
const MaxRedirects = 5

// ErrForbidden is a URL or an address a fetch may not reach.
var ErrForbidden = errors.New("forbidden address")

// ForbiddenError names what was refused.
type ForbiddenError struct{ What string }

func (e *ForbiddenError) Error() string   { return "refused: " + e.What }
func (e *ForbiddenError) Is(t error) bool { return t == ErrForbidden }

var refused = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",      // this network, unspecified
		"10.0.0.0/8",     // private
		"100.64.0.0/10",  // CGNAT
		"127.0.0.0/8",    // loopback
		"169.254.0.0/16", // link-local, 169.254.169.254 (metadata)
		"172.16.0.0/12",  // private
		"192.0.0.0/24",   // IETF protocol assignments
		"192.168.0.0/16", // private
		"198.18.0.0/15",  // benchmarking
		"224.0.0.0/4",    // multicast
		"240.0.0.0/4",    // reserved, broadcast
		"::/128",         // unspecified
		"::1/128",        // loopback
		"64:ff9b::/96",   // NAT64 (embeds IPv4)
		"64:ff9b:1::/48", // local NAT64
		"fc00::/7",       // unique local
		"fe80::/10",      // link-local
		"fec0::/10",      // site-local (deprecated)
		"ff00::/8",       // multicast
		"2002::/16",      // 6to4 (embeds IPv4)
		"2001::/32",      // Teredo
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Allowed reports whether a fetch may connect to ip.
func Allowed(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() ||
		ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range refused {
		if p.Contains(ip) {
			return false
		}
	}
	// IPv4-compatible ::a.b.c.d
	if ip.Is6() {
		b := ip.As16()
		zero := true
		for _, x := range b[:12] {
			if x != 0 {
				zero = false
			}
		}
		if zero {
			return Allowed(netip.AddrFrom4([4]byte(b[12:])))
		}
	}
	return true
}

// Control is the dialer's check of the address it is about to connect to.
func Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &ForbiddenError{What: address}
	}
	if !Allowed(ap.Addr()) {
		return &ForbiddenError{What: ap.Addr().String()}
	}
	return nil
}

// Options of a client.
type Options struct {
	// AllowPrivate lifts the address check (tests and dev only).
	AllowPrivate bool
	// Timeout bounds the connection and the response's headers (default 30 s);
	// the body is bounded by the caller's context.
	Timeout time.Duration
}

// NewClient is an http.Client that refuses the forbidden addresses.
func NewClient(o Options) *http.Client {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	d := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
	if !o.AllowPrivate {
		d.Control = Control
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, unchecked
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
		MaxIdleConns:          10,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true, // the bytes as served (a .tar.gz stays one)
	}
	return &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > MaxRedirects {
			return fmt.Errorf("more than %d redirects", MaxRedirects)
		}
		if err := CheckScheme(req.URL); err != nil {
			return err
		}
		return nil
	}}
}

// CheckScheme refuses anything but http and https with a host.
func CheckScheme(u *url.URL) error {
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return &ForbiddenError{What: u.Scheme + "://" + u.Host}
	}
	return nil
}

// Check validates a URL up front: http or https, and a host whose
// addresses (resolved now) are all allowed. The dial-time check still
// applies when it is fetched.
func Check(ctx context.Context, raw string, allowPrivate bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &ForbiddenError{What: "not a URL"}
	}
	if err := CheckScheme(u); err != nil {
		return nil, err
	}
	if allowPrivate {
		return u, nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !Allowed(ip) {
			return nil, &ForbiddenError{What: ip.String()}
		}
		return u, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		// unresolvable now: the fetch decides (and checks what it dials)
		return u, nil
	}
	for _, ip := range ips {
		if !Allowed(ip) {
			return nil, &ForbiddenError{What: host}
		}
	}
	return u, nil
}
