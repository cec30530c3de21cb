// Package caller is who is asking and from where, carried in the context
// from the api's middleware to the services (audit records, sessions, tenant
// checks read it there).
package caller

import "context"

// Principal is a signed-in caller.
type Principal struct {
	UserID    string
	SessionID string
	Username  string
	Name      string
	Role      string
	TenantID  string // empty for platform admins
}

func (p *Principal) IsAdmin() bool { return p.Role == "admin" }

// Request is what audit records and sessions keep about the caller's
// connection. HTTPS: the client reached us over TLS, directly or through a
// trusted proxy that says so.
type Request struct {
	IP, UserAgent string
	HTTPS         bool
}

type principalKey struct{}
type requestKey struct{}

func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// From returns the caller; an empty principal when there is none (anonymous
// endpoints, background work).
func From(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	if p == nil {
		return &Principal{}
	}
	return p
}

func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

func RequestOf(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	return r
}
