package api

import (
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/remotegpu/remotegpu/internal/apperr"
)

// withRetryAfter sends a 429/503 that says when to come back
// (data.params.retryAfter, seconds) in the Retry-After header too.
func withRetryAfter(err error) error {
	e, ok := apperr.As(err)
	if !ok || (e.Kind != apperr.TooManyRequests && e.Kind != apperr.Unavailable) {
		return err
	}
	secs, ok := e.Params["retryAfter"].(int)
	if !ok {
		return err
	}
	return huma.ErrorWithHeaders(err, http.Header{"Retry-After": {strconv.Itoa(max(1, secs))}})
}
