// Package apperr is the domain error: a kind and a message meant for the
// user. The api package maps kinds to HTTP statuses in exactly one place.
package apperr

import (
	"errors"
	"fmt"
)

type Kind int

const (
	Internal Kind = iota
	Invalid
	Unauthorized
	Forbidden
	NotFound
	Conflict
	Unprocessable
	TooManyRequests
	Unavailable
)

type Error struct {
	Kind    Kind
	Message string
	Data    any    // extra machine-readable detail for the client (e.g. resetUrl, retryAfter)
	Field   string // body field the error is about, for forms (e.g. "body.publicKey")
}

func (e *Error) Error() string { return e.Message }

func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) WithData(d any) *Error { e.Data = d; return e }

func (e *Error) AtField(f string) *Error { e.Field = f; return e }

// As finds the domain error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

func NotFoundf(format string, args ...any) *Error { return New(NotFound, format, args...) }
func Conflictf(format string, args ...any) *Error { return New(Conflict, format, args...) }
func Invalidf(format string, args ...any) *Error  { return New(Invalid, format, args...) }
func Forbiddenf(format string, args ...any) *Error {
	return New(Forbidden, format, args...)
}
