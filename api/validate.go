package api

import (
	"github.com/google/uuid"

	"github.com/remotegpu/remotegpu/internal/apperr"
)

// validUUIDs checks optional ID filters, so a malformed one is a 400 rather than a database error.
func validUUIDs(fields map[string]string) error {
	for name, v := range fields {
		if v == "" {
			continue
		}
		if _, err := uuid.Parse(v); err != nil {
			return apperr.New(apperr.Invalid, "invalidUUID", "{name} must be a UUID", apperr.P{"name": name}).AtField("query." + name)
		}
	}
	return nil
}
