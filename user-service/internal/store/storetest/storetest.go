// Package storetest is the behaviour every profile.Store must have. It runs
// against each SQL dialect on a real database (see dialects_test.go), so
// SQLite and PostgreSQL are held to the same tests.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/apperr"

	"github.com/parleychat/parley/user-service/internal/profile"
)

// Run runs the store tests; open returns a fresh, empty, migrated store.
func Run(t *testing.T, open func(t *testing.T) profile.Store) {
	t.Run("EnsureProfile", func(t *testing.T) { testEnsureProfile(t, open(t)) })
	t.Run("EnsureProfileConcurrent", func(t *testing.T) { testEnsureConcurrent(t, open(t)) })
	t.Run("Profiles", func(t *testing.T) { testProfiles(t, open(t)) })
	t.Run("FindProfiles", func(t *testing.T) { testFindProfiles(t, open(t)) })
	t.Run("UpdateProfile", func(t *testing.T) { testUpdateProfile(t, open(t)) })
	t.Run("Avatar", func(t *testing.T) { testAvatar(t, open(t)) })
	t.Run("Settings", func(t *testing.T) { testSettings(t, open(t)) })
	t.Run("ImportAccounts", func(t *testing.T) { testImportAccounts(t, open(t)) })
	t.Run("Bots", func(t *testing.T) { testBots(t, open(t)) })
}

// A bot's profile is marked from its account (imported) or from its own
// token (EnsureProfile with bot), whichever comes first, and stays marked.
func testBots(t *testing.T, s profile.Store) {
	ctx := context.Background()
	accounts := []profile.Account{
		{ID: 1, Username: "ann", CreatedAt: t0},
		{ID: 2, Username: "deploy", CreatedAt: t0, IsBot: true, DisplayName: "Deploy"},
		{ID: 3, Username: "ci", CreatedAt: t0, IsBot: true, DisplayName: "CI"},
	}
	// ci used its token before any import.
	if err := s.EnsureProfile(ctx, 3, "ci", true, t0); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Profile(ctx, 3); !p.IsBot {
		t.Fatalf("EnsureProfile with bot: %+v", p)
	}
	if err := s.ImportAccounts(ctx, accounts, 3, t0); err != nil {
		t.Fatal(err)
	}
	ps, err := s.Profiles(ctx, []int64{1, 2, 3})
	if err != nil || len(ps) != 3 {
		t.Fatalf("profiles %v: %v", ps, err)
	}
	byID := map[int64]profile.Profile{}
	for _, p := range ps {
		byID[p.ID] = p
	}
	if byID[1].IsBot || !byID[2].IsBot || byID[2].DisplayName != "Deploy" || !byID[3].IsBot || byID[3].DisplayName != "CI" {
		t.Fatalf("after the import: %+v", byID)
	}
	// A person's token never clears the mark.
	if err := s.EnsureProfile(ctx, 2, "deploy", false, t0); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Profile(ctx, 2); !p.IsBot {
		t.Fatalf("the mark was cleared: %+v", p)
	}
	if found, err := s.FindProfiles(ctx, profile.ProfileFilter{Query: "depl", Limit: 10}); err != nil || len(found) != 1 || !found[0].IsBot {
		t.Fatalf("directory: %+v %v", found, err)
	}
}

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)

func ptr[T any](v T) *T { return &v }

func wantNotFound(t *testing.T, err error, code string) {
	t.Helper()
	var e *apperr.Error
	if !errors.As(err, &e) || e.Kind != apperr.KindNotFound || e.Code != code {
		t.Fatalf("error = %v, want not found %s", err, code)
	}
}

func mustEnsure(t *testing.T, s profile.Store, id int64, name string, now time.Time) {
	t.Helper()
	if err := s.EnsureProfile(context.Background(), id, name, false, now); err != nil {
		t.Fatalf("EnsureProfile(%d): %v", id, err)
	}
}

func testEnsureProfile(t *testing.T, s profile.Store) {
	ctx := context.Background()
	_, err := s.Profile(ctx, 7)
	wantNotFound(t, err, "profile_not_found")

	mustEnsure(t, s, 7, "alice", t0)
	p, err := s.Profile(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	want := profile.Profile{ID: 7, Username: "alice", CreatedAt: t0, UpdatedAt: t0}
	if p != want {
		t.Fatalf("Profile = %+v, want %+v", p, want)
	}

	// Same claims again: nothing changes.
	mustEnsure(t, s, 7, "alice", t0.Add(time.Hour))
	if p, _ = s.Profile(ctx, 7); p != want {
		t.Fatalf("after second ensure = %+v, want %+v", p, want)
	}

	// A renamed user: the username follows the token, fields stay.
	if _, err := s.UpdateProfile(ctx, 7, profile.ProfilePatch{Bio: ptr("hi")}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	t2 := t0.Add(2 * time.Hour)
	mustEnsure(t, s, 7, "alice2", t2)
	p, _ = s.Profile(ctx, 7)
	if p.Username != "alice2" || p.Bio != "hi" || !p.UpdatedAt.Equal(t2) || !p.CreatedAt.Equal(t0) {
		t.Fatalf("after rename = %+v", p)
	}
}

func testEnsureConcurrent(t *testing.T, s profile.Store) {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.EnsureProfile(context.Background(), 99, "racer", false, t0)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent EnsureProfile: %v", err)
		}
	}
	if p, err := s.Profile(context.Background(), 99); err != nil || p.Username != "racer" {
		t.Fatalf("Profile = %+v, %v", p, err)
	}
}

func testProfiles(t *testing.T, s profile.Store) {
	ctx := context.Background()
	for id := int64(1); id <= 5; id++ {
		mustEnsure(t, s, id, fmt.Sprintf("user%d", id), t0)
	}
	ps, err := s.Profiles(ctx, []int64{4, 2, 1000, 5})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]string{}
	for _, p := range ps {
		got[p.ID] = p.Username
	}
	if len(got) != 3 || got[2] != "user2" || got[4] != "user4" || got[5] != "user5" {
		t.Fatalf("Profiles = %v", got)
	}
	if ps, err := s.Profiles(ctx, nil); err != nil || len(ps) != 0 || ps == nil {
		t.Fatalf("Profiles(nil) = %v, %v", ps, err)
	}
	// The largest batch the service allows fits in one query.
	ids := make([]int64, profile.MaxBatch)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	if ps, err := s.Profiles(ctx, ids); err != nil || len(ps) != 5 {
		t.Fatalf("Profiles(200 ids) = %d, %v", len(ps), err)
	}
}

func testFindProfiles(t *testing.T, s profile.Store) {
	ctx := context.Background()
	names := []string{"alice", "bob", "Alfred", "carol", "al_x", "alpha"}
	for i, n := range names {
		mustEnsure(t, s, int64(i+1), n, t0)
	}
	if _, err := s.UpdateProfile(ctx, 4, profile.ProfilePatch{DisplayName: ptr("Carol Alvarez")}, t0); err != nil {
		t.Fatal(err)
	}
	ids := func(ps []profile.Profile) []int64 {
		out := []int64{}
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    profile.ProfileFilter
		want []int64
	}{
		{"all", profile.ProfileFilter{Limit: 10}, []int64{1, 2, 3, 4, 5, 6}},
		{"page", profile.ProfileFilter{AfterID: 2, Limit: 2}, []int64{3, 4}},
		{"query ignores ASCII case and matches display names", profile.ProfileFilter{Query: "AL", Limit: 10}, []int64{1, 3, 4, 5, 6}},
		{"underscore is literal", profile.ProfileFilter{Query: "l_", Limit: 10}, []int64{5}},
		{"percent is literal", profile.ProfileFilter{Query: "%", Limit: 10}, []int64{}},
		{"query with cursor", profile.ProfileFilter{Query: "al", AfterID: 3, Limit: 2}, []int64{4, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := s.FindProfiles(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(ps); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("FindProfiles = %v, want %v", got, tt.want)
			}
		})
	}
}

func testUpdateProfile(t *testing.T, s profile.Store) {
	ctx := context.Background()
	_, err := s.UpdateProfile(ctx, 1, profile.ProfilePatch{Bio: ptr("x")}, t0)
	wantNotFound(t, err, "profile_not_found")

	mustEnsure(t, s, 1, "dave", t0)
	t1 := t0.Add(time.Minute)
	p, err := s.UpdateProfile(ctx, 1, profile.ProfilePatch{DisplayName: ptr("Dave"), StatusText: ptr("away")}, t1)
	if err != nil {
		t.Fatal(err)
	}
	if p.DisplayName != "Dave" || p.StatusText != "away" || p.Bio != "" || !p.UpdatedAt.Equal(t1) {
		t.Fatalf("first update = %+v", p)
	}
	// Merge: only bio changes; "" clears.
	t2 := t1.Add(time.Minute)
	p, err = s.UpdateProfile(ctx, 1, profile.ProfilePatch{Bio: ptr("line one\nline two"), StatusText: ptr("")}, t2)
	if err != nil {
		t.Fatal(err)
	}
	want := profile.Profile{ID: 1, Username: "dave", DisplayName: "Dave", Bio: "line one\nline two", CreatedAt: t0, UpdatedAt: t2}
	if p != want {
		t.Fatalf("merge update = %+v, want %+v", p, want)
	}
	if got, _ := s.Profile(ctx, 1); got != want {
		t.Fatalf("stored = %+v, want %+v", got, want)
	}
}

func testAvatar(t *testing.T, s profile.Store) {
	ctx := context.Background()
	_, err := s.Avatar(ctx, 1)
	wantNotFound(t, err, "avatar_not_found")
	_, err = s.SetAvatar(ctx, profile.Avatar{UserID: 1, ContentType: "image/png", Data: []byte("x"), Hash: "h", UpdatedAt: t0})
	wantNotFound(t, err, "profile_not_found")
	if _, err := s.Avatar(ctx, 1); err == nil {
		t.Fatal("a failed SetAvatar left an image behind")
	}

	mustEnsure(t, s, 1, "erin", t0)
	data := bytes.Repeat([]byte{0x89, 'P', 'N', 'G', 0}, 1000)
	t1 := t0.Add(time.Minute)
	p, err := s.SetAvatar(ctx, profile.Avatar{UserID: 1, ContentType: "image/png", Data: data, Hash: "hash1", UpdatedAt: t1})
	if err != nil {
		t.Fatal(err)
	}
	if p.AvatarHash != "hash1" || !p.UpdatedAt.Equal(t1) {
		t.Fatalf("SetAvatar profile = %+v", p)
	}
	a, err := s.Avatar(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if a.ContentType != "image/png" || a.Hash != "hash1" || !bytes.Equal(a.Data, data) || !a.UpdatedAt.Equal(t1) {
		t.Fatalf("Avatar = %s %s %d bytes %v", a.ContentType, a.Hash, len(a.Data), a.UpdatedAt)
	}

	// Replace.
	t2 := t1.Add(time.Minute)
	if _, err := s.SetAvatar(ctx, profile.Avatar{UserID: 1, ContentType: "image/gif", Data: []byte("GIF89a"), Hash: "hash2", UpdatedAt: t2}); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Avatar(ctx, 1); a.Hash != "hash2" || string(a.Data) != "GIF89a" {
		t.Fatalf("after replace = %s %q", a.Hash, a.Data)
	}

	// A type the schema does not allow is refused and changes nothing.
	if _, err := s.SetAvatar(ctx, profile.Avatar{UserID: 1, ContentType: "image/svg+xml", Data: []byte("<svg/>"), Hash: "bad", UpdatedAt: t2}); err == nil {
		t.Fatal("svg stored")
	}
	if p, _ := s.Profile(ctx, 1); p.AvatarHash != "hash2" {
		t.Fatalf("failed SetAvatar half-wrote the profile: %+v", p)
	}

	// Delete, twice.
	t3 := t2.Add(time.Minute)
	p, err = s.DeleteAvatar(ctx, 1, t3)
	if err != nil || p.AvatarHash != "" || !p.UpdatedAt.Equal(t3) {
		t.Fatalf("DeleteAvatar = %+v, %v", p, err)
	}
	_, err = s.Avatar(ctx, 1)
	wantNotFound(t, err, "avatar_not_found")
	p, err = s.DeleteAvatar(ctx, 1, t3.Add(time.Hour))
	if err != nil || !p.UpdatedAt.Equal(t3) {
		t.Fatalf("second DeleteAvatar = %+v, %v", p, err)
	}
	_, err = s.DeleteAvatar(ctx, 404, t3)
	wantNotFound(t, err, "profile_not_found")
}

func testSettings(t *testing.T, s profile.Store) {
	ctx := context.Background()
	mustEnsure(t, s, 1, "fay", t0)
	_, err := s.Settings(ctx, 1)
	wantNotFound(t, err, "settings_not_found")

	def := profile.DefaultSettings(1)
	st, err := s.UpdateSettings(ctx, 1, profile.SettingsPatch{Theme: ptr("dark")}, def, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := profile.Settings{UserID: 1, Theme: "dark", Notifications: profile.Notifications{Desktop: true, Sound: true}, UpdatedAt: t0}
	if st != want {
		t.Fatalf("first save = %+v, want %+v", st, want)
	}
	t1 := t0.Add(time.Minute)
	st, err = s.UpdateSettings(ctx, 1, profile.SettingsPatch{Sound: ptr(false), MentionsOnly: ptr(true)}, def, t1)
	if err != nil {
		t.Fatal(err)
	}
	want = profile.Settings{UserID: 1, Theme: "dark", Notifications: profile.Notifications{Desktop: true, Sound: false, MentionsOnly: true}, UpdatedAt: t1}
	if st != want {
		t.Fatalf("merge = %+v, want %+v", st, want)
	}
	if got, _ := s.Settings(ctx, 1); got != want {
		t.Fatalf("stored = %+v, want %+v", got, want)
	}
	// The schema refuses a theme the domain would never send.
	if _, err := s.UpdateSettings(ctx, 1, profile.SettingsPatch{Theme: ptr("neon")}, def, t1); err == nil {
		t.Fatal("invalid theme stored")
	}
	// Settings need a profile.
	_, err = s.UpdateSettings(ctx, 2, profile.SettingsPatch{Theme: ptr("light")}, profile.DefaultSettings(2), t1)
	wantNotFound(t, err, "profile_not_found")
}

func testImportAccounts(t *testing.T, s profile.Store) {
	ctx := context.Background()
	if m, err := s.DirectoryMark(ctx); err != nil || m != 0 {
		t.Fatalf("mark of an empty store = %d, %v", m, err)
	}
	// bob used the app before the import: his profile stays as it is.
	mustEnsure(t, s, 2, "bob", t0)
	if _, err := s.UpdateProfile(ctx, 2, profile.ProfilePatch{DisplayName: ptr("Bob B.")}, t0); err != nil {
		t.Fatal(err)
	}
	reg := t0.Add(-time.Hour)
	accounts := []profile.Account{{ID: 1, Username: "ann", CreatedAt: reg}, {ID: 2, Username: "bob", CreatedAt: reg}, {ID: 3, Username: "cy", CreatedAt: reg}}
	if err := s.ImportAccounts(ctx, accounts, 3, t0); err != nil {
		t.Fatal(err)
	}
	ps, err := s.Profiles(ctx, []int64{1, 2, 3})
	if err != nil || len(ps) != 3 {
		t.Fatalf("after the import: %v, %v", ps, err)
	}
	if ann := ps[0]; ann.Username != "ann" || !ann.CreatedAt.Equal(reg) || !ann.UpdatedAt.Equal(t0) {
		t.Fatalf("imported profile = %+v: created when the account was", ann)
	}
	if ps[1].DisplayName != "Bob B." {
		t.Fatalf("an existing profile was overwritten: %+v", ps[1])
	}
	if m, _ := s.DirectoryMark(ctx); m != 3 {
		t.Fatalf("mark = %d, want 3", m)
	}
	// Again, and with a lower mark: nothing changes, the mark never drops.
	if err := s.ImportAccounts(ctx, accounts[:1], 1, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.DirectoryMark(ctx); m != 3 {
		t.Fatalf("mark dropped to %d", m)
	}
	if p, _ := s.Profile(ctx, 1); !p.UpdatedAt.Equal(t0) {
		t.Fatalf("a repeated import touched the profile: %+v", p)
	}
	// An account imported above the mark (too recent to pass it) is there
	// too, and the mark moves on later.
	if err := s.ImportAccounts(ctx, []profile.Account{{ID: 9, Username: "dee", CreatedAt: t0}}, 3, t0); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Profile(ctx, 9); err != nil || p.Username != "dee" {
		t.Fatalf("recent account: %+v, %v", p, err)
	}
	if err := s.ImportAccounts(ctx, nil, 9, t0); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.DirectoryMark(ctx); m != 9 {
		t.Fatalf("mark = %d, want 9", m)
	}
}
