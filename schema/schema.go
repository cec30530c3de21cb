// Package schema holds the database migrations, embedded into the binary.
// Files are NNN_name.up.sql / NNN_name.down.sql; production only runs up.
package schema

import "embed"

//go:embed *.sql
var Migrations embed.FS
