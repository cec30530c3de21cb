// Package apperr is the domain error: a kind (the api maps kinds to HTTP
// statuses in exactly one place), a stable code with its parameters (the
// console translates the code, in either language), and an English message
// for API clients and logs. No message here is in two languages: the texts a
// person reads live in the console's catalogues, keyed by the code.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
)

type Kind int

const (
	Internal Kind = iota
	Invalid
	Unauthorized
	Forbidden
	NotFound
	Conflict
	TooManyRequests
	Unavailable
	TooLarge
)

// P are the parameters of a message: the figures the text names
// ({machine}, {customer} …), in the console's vue-i18n syntax.
type P = map[string]any

// FieldError is one problem of one input field.
type FieldError struct {
	Location string // "body.machineIds[1]"
	Code     string
	Params   P
	Message  string // English
}

type Error struct {
	Kind    Kind
	Code    string // stable, e.g. "lease.machineAllocated": the console's key errors.<code>
	Params  P      // the figures of the message; also extra machine-readable detail (retryAfter, resetUrl)
	Message string // English, the params filled in
	Fields  []FieldError
}

func (e *Error) Error() string { return e.Message }

// New makes a domain error. message is English with {name} placeholders,
// filled from params (so the code's console text and the English text name
// the same figures).
func New(kind Kind, code, message string, params ...P) *Error {
	e := &Error{Kind: kind, Code: code}
	if len(params) > 0 {
		e.Params = params[0]
	}
	e.Message = Format(message, e.Params)
	return e
}

// AtField says which input field the error is about, so a form shows it there.
func (e *Error) AtField(location string) *Error {
	e.Fields = append(e.Fields, FieldError{Location: location, Code: e.Code, Params: e.Params, Message: e.Message})
	return e
}

// GetHeaders gives an error that says when to come back (params.retryAfter,
// seconds) its Retry-After header; the api writes it with every such answer.
func (e *Error) GetHeaders() http.Header {
	secs, ok := e.Params["retryAfter"].(int)
	if !ok {
		return nil
	}
	return http.Header{"Retry-After": {strconv.Itoa(max(1, secs))}}
}

// As finds the domain error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// The usual kinds, for brevity at the call sites.
func NotFoundErr(code, message string, params ...P) *Error {
	return New(NotFound, code, message, params...)
}
func ConflictErr(code, message string, params ...P) *Error {
	return New(Conflict, code, message, params...)
}
func InvalidErr(code, message string, params ...P) *Error {
	return New(Invalid, code, message, params...)
}
func ForbiddenErr(code, message string, params ...P) *Error {
	return New(Forbidden, code, message, params...)
}
func UnavailableErr(code, message string, params ...P) *Error {
	return New(Unavailable, code, message, params...)
}

var placeholder = regexp.MustCompile(`\{(\w+)\}`)

// Format fills {name} placeholders from params; an unknown name stays as written.
func Format(message string, params P) string {
	if len(params) == 0 {
		return message
	}
	return placeholder.ReplaceAllStringFunc(message, func(m string) string {
		if v, ok := params[m[1:len(m)-1]]; ok {
			return fmt.Sprint(v)
		}
		return m
	})
}

// Codes used across capabilities.
const (
	CodeInternal       = "internal"
	CodeValidation     = "validation"
	CodeBadRequest     = "badRequest"
	CodeUnauthorized   = "unauthorized"
	CodeForbidden      = "forbidden"
	CodeNotFound       = "notFound"
	CodeConflict       = "conflict"
	CodeTooLarge       = "tooLarge"
	CodeTooMany        = "tooManyRequests"
	CodeUnavailable    = "unavailable"
	CodeNoSuchEndpoint = "noSuchEndpoint"
	// CodeWorkflowDown: the workflow service did not take the change; nothing changed.
	CodeWorkflowDown = "workflowUnavailable"
	// CodeInvalidTime: the parameter {name} is not an RFC 3339 time.
	CodeInvalidTime = "invalidTime"
)
