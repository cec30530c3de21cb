package apperr

import "fmt"

// Deprecated shims for the messages not yet given a code. Each capability
// replaces its calls with New(kind, code, message, params); this file goes
// when none is left.

func Newf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}
func NotFoundf(format string, args ...any) *Error { return Newf(NotFound, format, args...) }
func Conflictf(format string, args ...any) *Error { return Newf(Conflict, format, args...) }
func Invalidf(format string, args ...any) *Error  { return Newf(Invalid, format, args...) }
func Forbiddenf(format string, args ...any) *Error {
	return Newf(Forbidden, format, args...)
}

// WithData merges a map into the parameters.
func (e *Error) WithData(d map[string]any) *Error {
	for k, v := range d {
		e.With(k, v)
	}
	return e
}
