package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/apperr"
	"github.com/remotegpu/remotegpu/internal/logging"
	"github.com/remotegpu/remotegpu/store"
)

// Envelope is the body of every JSON response (requirements 4.5.3).
type Envelope[T any] struct {
	Code    int    `json:"code" doc:"0 on success, else the HTTP status"`
	Message string `json:"message"`
	Data    T      `json:"data"`
	TraceID string `json:"traceId"`
}

// Resp is the output of an operation answering with an envelope.
type Resp[T any] struct {
	Body Envelope[T]
}

// Page is the data of every list response.
type Page[T any] struct {
	List     []T `json:"list"`
	Total    int `json:"total"`
	Page     int `json:"page"`
	PageSize int `json:"pageSize"`
}

// Empty is the data of operations that answer with nothing.
type Empty struct{}

func ok[T any](ctx context.Context, data T) (*Resp[T], error) {
	return &Resp[T]{Body: Envelope[T]{Code: 0, Message: "ok", Data: data, TraceID: logging.TraceID(ctx)}}, nil
}

func okPage[T any](ctx context.Context, list []T, total int, p ListParams) (*Resp[Page[T]], error) {
	return ok(ctx, Page[T]{List: list, Total: total, Page: p.page(), PageSize: p.size()})
}

// ErrorBody is the envelope of an error. Data is never null: it names the
// message by a stable code (reason) with its parameters, which the console
// translates, and for a bad input the problems of each field.
type ErrorBody struct {
	status  int
	Code    int        `json:"code" doc:"The HTTP status"`
	Message string     `json:"message" doc:"English; the console shows data.reason translated"`
	Data    *ErrorData `json:"data"`
	TraceID string     `json:"traceId"`
}

// ErrorData is the data of every error answer.
type ErrorData struct {
	Reason string         `json:"reason" doc:"Stable code of the message (e.g. lease.machineAllocated), the key the console translates"`
	Params map[string]any `json:"params,omitempty" doc:"The figures the message names, and extra detail (retryAfter, resetUrl)"`
	Errors []FieldError   `json:"errors,omitempty" doc:"For a bad input: the problem of each field"`
}

// FieldError is one problem of one input field.
type FieldError struct {
	Location string         `json:"location,omitempty" doc:"Where the problem is, e.g. body.owner.email"`
	Message  string         `json:"message" doc:"English"`
	Value    any            `json:"value,omitempty"`
	Reason   string         `json:"reason,omitempty" doc:"Stable code, as data.reason"`
	Params   map[string]any `json:"params,omitempty"`
}

func (e *ErrorBody) Error() string  { return e.Message }
func (e *ErrorBody) GetStatus() int { return e.status }

var statusOf = map[apperr.Kind]int{
	apperr.Internal:        http.StatusInternalServerError,
	apperr.Invalid:         http.StatusBadRequest,
	apperr.Unauthorized:    http.StatusUnauthorized,
	apperr.Forbidden:       http.StatusForbidden,
	apperr.NotFound:        http.StatusNotFound,
	apperr.Conflict:        http.StatusConflict,
	apperr.TooManyRequests: http.StatusTooManyRequests,
	apperr.Unavailable:     http.StatusServiceUnavailable,
	apperr.TooLarge:        http.StatusRequestEntityTooLarge,
}

// reasonOf names the errors that carry no code of their own.
var reasonOf = map[int]string{
	http.StatusBadRequest:            apperr.CodeBadRequest,
	http.StatusUnauthorized:          apperr.CodeUnauthorized,
	http.StatusForbidden:             apperr.CodeForbidden,
	http.StatusNotFound:              apperr.CodeNotFound,
	http.StatusConflict:              apperr.CodeConflict,
	http.StatusRequestEntityTooLarge: apperr.CodeTooLarge,
	http.StatusTooManyRequests:       apperr.CodeTooMany,
	http.StatusServiceUnavailable:    apperr.CodeUnavailable,
}

func reasonFor(status int) string {
	if r, ok := reasonOf[status]; ok {
		return r
	}
	if status >= 500 {
		return apperr.CodeInternal
	}
	return apperr.CodeBadRequest
}

// errorBody is the envelope of a plain error: its status, English text and reason.
func errorBody(ctx context.Context, status int, reason, msg string) *ErrorBody {
	return &ErrorBody{status: status, Code: status, Message: msg, Data: &ErrorData{Reason: reason}, TraceID: logging.TraceID(ctx)}
}

// newError is the one place where errors become HTTP answers. Domain errors
// keep their code and message; anything else is logged with detail and the
// user only sees "internal error". A bad input answers 400, as requirements
// 4.5.3 list (Huma's own 422 included): the console reads data.errors either way.
func newError(ctx context.Context, status int, msg string, errs ...error) huma.StatusError {
	if status == http.StatusUnprocessableEntity {
		status = http.StatusBadRequest
	}
	body := errorBody(ctx, status, reasonFor(status), msg)
	var details []FieldError
	for _, err := range errs {
		if err == nil {
			continue
		}
		if de, ok := apperr.As(err); ok {
			body.status = statusOf[de.Kind]
			body.Code, body.Message = body.status, de.Message
			body.Data = &ErrorData{Reason: de.Code, Params: de.Params}
			if body.Data.Reason == "" {
				body.Data.Reason = reasonFor(body.status)
			}
			for _, f := range de.Fields {
				body.Data.Errors = append(body.Data.Errors, FieldError{Location: f.Location, Message: f.Message, Reason: f.Code, Params: f.Params})
			}
			return body
		}
		if errors.Is(err, store.ErrNotFound) {
			return errorBody(ctx, http.StatusNotFound, apperr.CodeNotFound, "not found")
		}
		var d huma.ErrorDetailer
		if errors.As(err, &d) {
			ed := d.ErrorDetail()
			details = append(details, FieldError{Location: ed.Location, Message: ed.Message, Value: ed.Value, Reason: apperr.CodeValidation})
			continue
		}
		if status >= 500 {
			slog.ErrorContext(ctx, "internal error", "err", err)
			body.Message = "internal error"
			return body
		}
		details = append(details, FieldError{Message: err.Error(), Reason: apperr.CodeValidation})
	}
	if len(details) > 0 {
		body.Data.Reason = apperr.CodeValidation
		body.Data.Errors = details
		if msg == "validation failed" {
			body.Message = "validation failed: " + details[0].Location + ": " + details[0].Message
		}
	}
	if status >= 500 && body.Message == "unexpected error occurred" {
		body.Message = "internal error"
	}
	return body
}

func init() {
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return newError(context.Background(), status, msg, errs...)
	}
	huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		ctx := context.Background()
		if hctx != nil {
			ctx = hctx.Context()
		}
		return newError(ctx, status, msg, errs...)
	}
}

// answerBadInputAs400 rewrites the 422 that Huma documents for every operation
// with parameters or a body: newError answers a bad input with 400.
func answerBadInputAs400(oapi *huma.OpenAPI) {
	for _, item := range oapi.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
			if op == nil {
				continue
			}
			r, ok := op.Responses["422"]
			if !ok {
				continue
			}
			delete(op.Responses, "422")
			if _, ok := op.Responses["400"]; !ok {
				r.Description = http.StatusText(http.StatusBadRequest)
				op.Responses["400"] = r
			}
		}
	}
}
