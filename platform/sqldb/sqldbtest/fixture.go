package sqldbtest

import (
	"testing/fstest"

	"github.com/parleychat/parley/platform/sqldb"
)

// RoomsSchema is a small service schema in both dialects, written the way
// services write theirs, for the tests of what moves rows between
// databases (copy-db, backup, restore): SQLite integers for booleans, text
// times, BLOBs, AUTOINCREMENT and a WITHOUT ROWID table; PostgreSQL
// booleans, TIMESTAMPTZ, BYTEA, BIGSERIAL and a generated tsvector a copy
// must leave alone. Its tables are rooms, notes (of a room) and members
// (of a room). With seeded, the migration also inserts a room named
// "seeded" and Seeded lists rooms, as a service's default rows are.
// Times are written as text in RoomsTimeLayout.
func RoomsSchema(service string, seeded bool) sqldb.Schema {
	seed := ""
	var seededTables []string
	if seeded {
		seed = "INSERT INTO rooms (name, created_at) VALUES ('seeded', '2025-01-01T00:00:00.000Z');\n"
		seededTables = []string{"rooms"}
	}
	migration := func(ddl string) fstest.MapFS {
		return fstest.MapFS{"migrations/0001_init.sql": {Data: []byte(ddl + seed)}}
	}
	return sqldb.Schema{
		Service:    service,
		SQLite:     migration(roomsSQLite),
		Postgres:   migration(roomsPostgres),
		Tables:     []string{"rooms", "notes", "members"},
		Seeded:     seededTables,
		TimeLayout: RoomsTimeLayout,
	}
}

// RoomsTimeLayout is how RoomsSchema's SQLite tables hold times.
const RoomsTimeLayout = "2006-01-02T15:04:05.000Z"

const roomsSQLite = `
CREATE TABLE rooms (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    archived   INTEGER NOT NULL DEFAULT 0,
    created_at TEXT    NOT NULL
);
CREATE TABLE notes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    body    TEXT    NOT NULL,
    blob    BLOB,
    seen_at TEXT
);
CREATE TABLE members (
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    user_id INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
`

const roomsPostgres = `
CREATE TABLE rooms (
    id         BIGSERIAL   PRIMARY KEY,
    name       TEXT        NOT NULL UNIQUE,
    archived   BOOLEAN     NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE notes (
    id      BIGSERIAL PRIMARY KEY,
    room_id BIGINT    NOT NULL REFERENCES rooms (id),
    body    TEXT      NOT NULL,
    blob    BYTEA,
    seen_at TIMESTAMPTZ,
    search  TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED
);
CREATE TABLE members (
    room_id BIGINT NOT NULL REFERENCES rooms (id),
    user_id BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
`
