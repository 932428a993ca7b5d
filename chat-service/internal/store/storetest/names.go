package storetest

import (
	"context"
	"testing"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/chat-service/internal/store"
	"github.com/parleychat/parley/chat-service/internal/store/sqlstore"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/sqldb"
)

// wantNameTaken fails unless err is the 409 room_name_taken.
func wantNameTaken(t *testing.T, what string, err error) {
	t.Helper()
	e, ok := apperr.From(err)
	if err == nil || !ok || e.Kind != apperr.KindConflict || e.Code != "room_name_taken" {
		t.Fatalf("%s: err = %v, want 409 room_name_taken", what, err)
	}
}

// Public room names are unique by text.FoldKey (full case folding and
// compatibility forms), on create and on rename; private rooms may repeat
// a public name.
func testPublicNamesUniqueAfterFolding(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	create := func(name, kind string) (chat.Room, error) {
		return st.CreateRoom(ctx, chat.NewRoom{Name: name, Kind: kind, CreatedBy: 1, CreatorName: "owner", At: t0})
	}
	for _, name := range []string{"general", "GENERAL", "ｇｅｎｅｒａｌ"} {
		_, err := create(name, chat.KindPublic)
		wantNameTaken(t, "public "+name+" beside General", err)
	}
	if _, err := create("general", chat.KindPrivate); err != nil {
		t.Fatalf("a private room named like a public one: %v", err)
	}
	street := mustRoom(t, st, "Straße", chat.KindPublic, 1)
	for _, name := range []string{"STRASSE", "strasse", "Strasse"} {
		_, err := create(name, chat.KindPublic)
		wantNameTaken(t, "public "+name+" beside Straße", err)
	}
	other := mustRoom(t, st, "other", chat.KindPublic, 1)
	rename := func(id int64, name string) error {
		_, err := st.UpdateRoom(ctx, id, chat.RoomPatch{Name: &name}, t0)
		return err
	}
	wantNameTaken(t, "renaming a room to STRASSE", rename(other.ID, "STRASSE"))
	// A room may change the case of its own name.
	if err := rename(street.ID, "STRASSE"); err != nil {
		t.Fatalf("renaming Straße to STRASSE: %v", err)
	}
	if r, _ := st.Room(ctx, street.ID); r.Name != "STRASSE" {
		t.Fatalf("renamed room = %+v", r)
	}
	// The old name is free once renamed away; the new key holds.
	if err := rename(street.ID, "Boulevard"); err != nil {
		t.Fatal(err)
	}
	if _, err := create("straße", chat.KindPublic); err != nil {
		t.Fatalf("the name given up by a rename: %v", err)
	}
	_, err := create("BOULEVARD", chat.KindPublic)
	wantNameTaken(t, "public BOULEVARD after a rename to Boulevard", err)
	// Nothing to refold in a store that wrote every key itself.
	if clashes, err := st.RefoldRoomNames(ctx); err != nil || len(clashes) != 0 {
		t.Fatalf("refold on fresh keys: %v %+v", err, clashes)
	}
}

// A database from before migration 0002 may hold public rooms whose names
// lower() kept apart but FoldKey joins: they are all kept, names unchanged;
// the oldest holds the key and later ones are reported as clashes.
func testMigration0002RefoldsLegacyNames(t *testing.T, target sqldb.Target) {
	ctx := context.Background()
	db := openAtMigration(t, target, 1)
	// lower() never joins these, on any locale: ß and fullwidth letters.
	legacy := []struct{ name, kind string }{
		{"Straße", "public"}, {"STRASSE", "public"}, {"ｇｅｎｅｒａｌ", "public"}, {"strasse", "private"}, {"Quiet", "public"},
	}
	ids := map[string]int64{}
	for _, r := range legacy {
		var id int64
		if err := db.QueryRowContext(ctx, db.Rebind(`INSERT INTO rooms (name, kind, created_by, created_at, updated_at)
			VALUES (?, ?, 1, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z') RETURNING id`), r.name, r.kind).Scan(&id); err != nil {
			t.Fatalf("legacy room %q: %v", r.name, err)
		}
		ids[r.name] = id
	}

	st, err := store.Open(ctx, db) // 0002, then the refold
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range ids {
		if r, err := st.Room(ctx, id); err != nil || r.Name != name {
			t.Fatalf("legacy room %d after migrating: %+v %v, want it kept as %q", id, r, err, name)
		}
	}
	clashes, err := st.RefoldRoomNames(ctx)
	want := []sqlstore.NameClash{
		{RoomID: ids["STRASSE"], SameAsID: ids["Straße"], Name: "STRASSE", SameAsName: "Straße"},
		{RoomID: ids["ｇｅｎｅｒａｌ"], SameAsID: 1, Name: "ｇｅｎｅｒａｌ", SameAsName: "General"},
	}
	if err != nil || len(clashes) != len(want) || clashes[0] != want[0] || clashes[1] != want[1] {
		t.Fatalf("clashes = %+v, %v; want %+v", clashes, err, want)
	}
	// The key is held: no new public room by any of these names.
	for _, name := range []string{"strasse", "GENERAL", "quiet"} {
		_, err := st.CreateRoom(ctx, chat.NewRoom{Name: name, Kind: chat.KindPublic, CreatedBy: 1, At: t0})
		wantNameTaken(t, "public "+name+" after the refold", err)
	}
	// Renaming a clashing room to a name of its own clears the clash.
	name := "Strasse two"
	if _, err := st.UpdateRoom(ctx, ids["STRASSE"], chat.RoomPatch{Name: &name}, t0); err != nil {
		t.Fatal(err)
	}
	if clashes, err := st.RefoldRoomNames(ctx); err != nil || len(clashes) != 1 || clashes[0] != want[1] {
		t.Fatalf("clashes after a rename = %+v, %v", clashes, err)
	}
}

// openAtMigration opens target with only the migrations up to version
// applied: the state an older release left, for upgrade tests.
func openAtMigration(t *testing.T, target sqldb.Target, version int) *sqldb.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fsys := store.Schema.SQLite
	if db.Dialect == sqldb.Postgres {
		fsys = store.Schema.Postgres
	}
	ms, err := sqldb.LoadMigrations(fsys, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	var upTo []sqldb.Migration
	for _, m := range ms {
		if m.Version <= version {
			upTo = append(upTo, m)
		}
	}
	if len(upTo) != version {
		t.Fatalf("migrations up to %d: %+v", version, upTo)
	}
	if err := sqldb.Migrate(ctx, db, upTo); err != nil {
		t.Fatal(err)
	}
	return db
}
