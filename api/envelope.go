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

// ErrorBody is the envelope of an error; for 400/422 Data holds the field errors.
type ErrorBody struct {
	status  int
	Code    int    `json:"code" doc:"The HTTP status"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty" doc:"For 400/422: {errors: [{location, message, value}]}; otherwise extra detail"`
	TraceID string `json:"traceId"`
}

func (e *ErrorBody) Error() string  { return e.Message }
func (e *ErrorBody) GetStatus() int { return e.status }

// FieldErrors is Data of a validation error.
type FieldErrors struct {
	Errors []*huma.ErrorDetail `json:"errors"`
}

var statusOf = map[apperr.Kind]int{
	apperr.Internal:        http.StatusInternalServerError,
	apperr.Invalid:         http.StatusBadRequest,
	apperr.Unauthorized:    http.StatusUnauthorized,
	apperr.Forbidden:       http.StatusForbidden,
	apperr.NotFound:        http.StatusNotFound,
	apperr.Conflict:        http.StatusConflict,
	apperr.Unprocessable:   http.StatusUnprocessableEntity,
	apperr.TooManyRequests: http.StatusTooManyRequests,
	apperr.Unavailable:     http.StatusServiceUnavailable,
}

// newError is the one place where errors become HTTP answers. Domain errors
// keep their message; anything else is logged with detail and the user only
// sees "internal error".
func newError(ctx context.Context, status int, msg string, errs ...error) huma.StatusError {
	body := &ErrorBody{status: status, Code: status, Message: msg, TraceID: logging.TraceID(ctx)}
	var details []*huma.ErrorDetail
	for _, err := range errs {
		if err == nil {
			continue
		}
		if de, ok := apperr.As(err); ok {
			body.status = statusOf[de.Kind]
			body.Code, body.Message, body.Data = body.status, de.Message, de.Data
			if de.Field != "" {
				body.Data = FieldErrors{Errors: []*huma.ErrorDetail{{Message: de.Message, Location: de.Field}}}
			}
			return body
		}
		if errors.Is(err, store.ErrNotFound) {
			body.status, body.Code, body.Message = http.StatusNotFound, http.StatusNotFound, "not found"
			return body
		}
		var d huma.ErrorDetailer
		if errors.As(err, &d) {
			details = append(details, d.ErrorDetail())
			continue
		}
		if status >= 500 {
			slog.ErrorContext(ctx, "internal error", "err", err)
			body.Message = "internal error"
			return body
		}
		details = append(details, &huma.ErrorDetail{Message: err.Error()})
	}
	if len(details) > 0 {
		body.Data = FieldErrors{Errors: details}
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
