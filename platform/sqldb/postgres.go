package sqldb

import (
	"context"
	"errors"
)

// PostgreSQL support lands with the scale-out storage work (see the open
// issue); until then a postgres DATABASE_URL is refused at start with one
// clear line rather than half-working.
func openPostgres(context.Context, string) (*DB, error) {
	return nil, errors.New("config: DATABASE_URL: postgres:// is not supported by this build yet; use sqlite:// (the default)")
}

func isPostgresCode(error, string) bool { return false }

func isPostgresUnavailable(error) bool { return false }
