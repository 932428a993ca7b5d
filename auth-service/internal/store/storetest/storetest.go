// Package storetest is the behaviour every auth-service store must have.
// It runs against each SQL dialect on a real database (see
// dialects_test.go), so SQLite and PostgreSQL are held to the same tests.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/auth-service/internal/auth"
	"github.com/parleychat/parley/auth-service/internal/token"
)

// Store is what the suite exercises: the domain's store, the signing key
// store and row counts.
type Store interface {
	auth.Store
	token.KeyStore
	Counts(ctx context.Context) (map[string]int, error)
}

// Opener opens (and migrates) one more handle, with its own connection
// pool, on the same database: several play replicas sharing it.
type Opener func(t *testing.T) Store

// Run runs the suite. newDB makes a fresh, empty database for one subtest.
func Run(t *testing.T, newDB func(t *testing.T) Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"MigrateTwice", testMigrateTwice},
		{"CreateUser", testCreateUser},
		{"ListUsers", testListUsers},
		{"UpdateUser", testUpdateUser},
		{"UpdateUserConcurrentAdmins", testUpdateUserConcurrentAdmins},
		{"UseRefreshToken", testUseRefreshToken},
		{"UseRefreshTokenConcurrent", testUseRefreshTokenConcurrent},
		{"SetPasswordHash", testSetPasswordHash},
		{"PasswordGenerated", testPasswordGenerated},
		{"PruneRefreshTokens", testPruneRefreshTokens},
		{"RevocationFeed", testRevocationFeed},
		{"SigningKeyRace", testSigningKeyRace},
		{"AccessTokens", testAccessTokens},
		{"Bots", testBots},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newDB(t)) })
	}
}

var (
	t0      = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	errPeek = errors.New("peek")
)

func counts(t *testing.T, s Store) map[string]int {
	t.Helper()
	c, err := s.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mkUser(t *testing.T, s Store, name, role string) auth.User {
	t.Helper()
	u, _, err := s.CreateUser(context.Background(), auth.NewUser{
		Username: name, UsernameKey: auth.UsernameKey(name), PasswordHash: "x", Role: role, Now: t0,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func tok(b byte, expires time.Time) auth.NewRefreshToken {
	return auth.NewRefreshToken{Hash: bytes.Repeat([]byte{b}, 32), Now: t0, ExpiresAt: expires}
}

func testMigrateTwice(t *testing.T, open Opener) {
	// Replicas starting at once on a new database, then one more later:
	// nothing to do, no error.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); open(t) }()
	}
	wg.Wait()
	open(t)
}

func testCreateUser(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	sess := tok(1, t0.Add(time.Hour))
	u, _, err := s.CreateUser(ctx, auth.NewUser{
		Username: "Alice", UsernameKey: "alice", Email: "a@example.com", PasswordHash: "h", Role: auth.RoleUser, Now: t0,
	}, &sess)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID <= 0 || u.Username != "Alice" || u.Email != "a@example.com" || u.Role != "user" || u.Disabled || !u.CreatedAt.Equal(t0) {
		t.Fatalf("created %+v", u)
	}
	if c := counts(t, s); c["users"] != 1 || c["refresh_families"] != 1 || c["refresh_tokens"] != 1 {
		t.Fatalf("counts %v", c)
	}

	// Same name in other case: taken, and the session of the failed insert
	// must not be left behind.
	sess2 := tok(2, t0.Add(time.Hour))
	_, _, err = s.CreateUser(ctx, auth.NewUser{Username: "ALICE", UsernameKey: "alice", PasswordHash: "h", Role: auth.RoleUser, Now: t0}, &sess2)
	if !errors.Is(err, auth.ErrUsernameTaken) {
		t.Fatalf("duplicate: %v", err)
	}
	if c := counts(t, s); c["users"] != 1 || c["refresh_families"] != 1 || c["refresh_tokens"] != 1 {
		t.Fatalf("counts after duplicate %v", c)
	}

	got, hash, err := s.Credentials(ctx, "alice")
	if err != nil || got.ID != u.ID || hash != "h" {
		t.Fatalf("credentials %+v %q %v", got, hash, err)
	}
	if _, _, err := s.Credentials(ctx, "nobody"); !errors.Is(err, auth.ErrUserNotFound) {
		t.Fatalf("unknown credentials: %v", err)
	}
	if _, err := s.UserByID(ctx, 999); !errors.Is(err, auth.ErrUserNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	noEmail := mkUser(t, s, "bob", auth.RoleUser)
	if noEmail.Email != "" {
		t.Fatalf("email %q", noEmail.Email)
	}
}

func testListUsers(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	for _, n := range []string{"ann", "a_b", "axb", "bob", "ann2"} {
		mkUser(t, s, n, auth.RoleUser)
	}
	all, err := s.ListUsers(ctx, auth.UserFilter{Limit: 10})
	if err != nil || len(all) != 5 {
		t.Fatalf("all: %d %v", len(all), err)
	}
	page, _ := s.ListUsers(ctx, auth.UserFilter{AfterID: all[1].ID, Limit: 2})
	if len(page) != 2 || page[0].ID != all[2].ID || page[1].ID != all[3].ID {
		t.Fatalf("page %+v", page)
	}
	// '_' is a LIKE wildcard: it must match only itself.
	pre, _ := s.ListUsers(ctx, auth.UserFilter{Prefix: "a_", Limit: 10})
	if len(pre) != 1 || pre[0].Username != "a_b" {
		t.Fatalf("prefix a_: %+v", pre)
	}
	pre, _ = s.ListUsers(ctx, auth.UserFilter{Prefix: "ann", Limit: 10})
	if len(pre) != 2 {
		t.Fatalf("prefix ann: %+v", pre)
	}
}

func testUpdateUser(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	admin := mkUser(t, s, "root", auth.RoleAdmin)
	u := mkUser(t, s, "carol", auth.RoleUser)
	for i := byte(1); i <= 2; i++ {
		if _, err := s.CreateSession(ctx, u.ID, tok(i, t0.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateSession(ctx, admin.ID, tok(9, t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	yes, adminRole := true, auth.RoleAdmin
	later := t0.Add(time.Minute)
	got, err := s.UpdateUser(ctx, u.ID, auth.UserUpdate{Disabled: &yes}, later)
	if err != nil || !got.Disabled || !got.UpdatedAt.Equal(later) {
		t.Fatalf("disable: %+v %v", got, err)
	}
	// Both of carol's logins are revoked, root's is not.
	for i, want := range map[byte]bool{1: true, 2: true, 9: false} {
		var revoked bool
		_, err := s.UseRefreshToken(ctx, tok(i, time.Time{}).Hash, tok(100+i, t0.Add(time.Hour)),
			func(rs auth.RefreshSession) (auth.Verdict, error) {
				revoked = rs.FamilyRevoked
				return auth.Reject, errPeek
			})
		if !errors.Is(err, errPeek) {
			t.Fatalf("token %d: %v", i, err)
		}
		if revoked != want {
			t.Fatalf("token %d revoked=%v, want %v", i, revoked, want)
		}
	}
	got, err = s.UpdateUser(ctx, u.ID, auth.UserUpdate{Role: &adminRole}, later)
	if err != nil || got.Role != "admin" {
		t.Fatalf("promote: %+v %v", got, err)
	}
	if _, err := s.UpdateUser(ctx, 12345, auth.UserUpdate{Role: &adminRole}, later); !errors.Is(err, auth.ErrUserNotFound) {
		t.Fatalf("unknown: %v", err)
	}

	// root is the only enabled admin (carol is a disabled admin): demoting
	// or disabling root would leave none.
	user := auth.RoleUser
	if _, err := s.UpdateUser(ctx, admin.ID, auth.UserUpdate{Role: &user}, later); !errors.Is(err, auth.ErrLastAdmin) {
		t.Fatalf("demote last admin: %v", err)
	}
	if _, err := s.UpdateUser(ctx, admin.ID, auth.UserUpdate{Disabled: &yes}, later); !errors.Is(err, auth.ErrLastAdmin) {
		t.Fatalf("disable last admin: %v", err)
	}
	no := false
	if _, err := s.UpdateUser(ctx, u.ID, auth.UserUpdate{Disabled: &no}, later); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UpdateUser(ctx, admin.ID, auth.UserUpdate{Role: &user}, later); err != nil || got.Role != "user" {
		t.Fatalf("demote with another admin: %+v %v", got, err)
	}
}

func testUseRefreshToken(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	u := mkUser(t, s, "dave", auth.RoleUser)
	if _, err := s.CreateSession(ctx, u.ID, tok(1, t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	rotate := func(rs auth.RefreshSession) (auth.Verdict, error) {
		if rs.Used {
			return auth.RevokeFamily, auth.ErrRefreshReused
		}
		if rs.FamilyRevoked {
			return auth.Reject, auth.ErrRefreshRevoked
		}
		return auth.Rotate, nil
	}
	rs, err := s.UseRefreshToken(ctx, tok(1, time.Time{}).Hash, tok(2, t0.Add(2*time.Hour)), rotate)
	if err != nil || rs.User.ID != u.ID || rs.Used || rs.FamilyRevoked || !rs.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("rotate: %+v %v", rs, err)
	}
	if c := counts(t, s); c["refresh_tokens"] != 2 || c["refresh_families"] != 1 {
		t.Fatalf("counts %v", c)
	}
	// Old token again: reuse; the revocation is committed even though the
	// call fails, and nothing new is stored.
	if _, err := s.UseRefreshToken(ctx, tok(1, time.Time{}).Hash, tok(3, t0.Add(2*time.Hour)), rotate); !errors.Is(err, auth.ErrRefreshReused) {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := s.UseRefreshToken(ctx, tok(2, time.Time{}).Hash, tok(4, t0.Add(2*time.Hour)), rotate); !errors.Is(err, auth.ErrRefreshRevoked) {
		t.Fatalf("successor after reuse: %v", err)
	}
	if c := counts(t, s); c["refresh_tokens"] != 2 {
		t.Fatalf("counts after reuse %v", c)
	}
	if _, err := s.UseRefreshToken(ctx, []byte("nope"), tok(5, t0), rotate); !errors.Is(err, auth.ErrRefreshInvalid) {
		t.Fatalf("unknown: %v", err)
	}

	// Logout revokes the family; unknown tokens are fine.
	if _, err := s.CreateSession(ctx, u.ID, tok(6, t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeFamilyOf(ctx, tok(6, time.Time{}).Hash, "logout", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeFamilyOf(ctx, []byte("unknown"), "logout", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseRefreshToken(ctx, tok(6, time.Time{}).Hash, tok(7, t0), rotate); !errors.Is(err, auth.ErrRefreshRevoked) {
		t.Fatalf("after logout: %v", err)
	}
}

// Concurrent use of one token: exactly one rotation wins, the others see
// reuse (BEGIN IMMEDIATE serializes them on SQLite, a row lock on
// PostgreSQL).
func testUseRefreshTokenConcurrent(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	u := mkUser(t, s, "erin", auth.RoleUser)
	if _, err := s.CreateSession(ctx, u.ID, tok(1, t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	stores := []Store{s, open(t), open(t), open(t)}
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		rotated, reused int
	)
	for i, st := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.UseRefreshToken(ctx, tok(1, time.Time{}).Hash, tok(byte(10+i), t0.Add(time.Hour)),
				func(rs auth.RefreshSession) (auth.Verdict, error) {
					if rs.Used {
						return auth.RevokeFamily, auth.ErrRefreshReused
					}
					return auth.Rotate, nil
				})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				rotated++
			case errors.Is(err, auth.ErrRefreshReused):
				reused++
			default:
				t.Errorf("store %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if rotated != 1 || reused != len(stores)-1 {
		t.Fatalf("rotated %d reused %d", rotated, reused)
	}
}

func testSetPasswordHash(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	u := mkUser(t, s, "fay", auth.RoleUser)
	_, _ = s.CreateSession(ctx, u.ID, tok(1, t0.Add(time.Hour)))
	if err := s.SetPasswordHash(ctx, u.ID, "new", false, 0, t0); err != nil {
		t.Fatal(err)
	}
	var revoked bool
	peek := func(rs auth.RefreshSession) (auth.Verdict, error) {
		revoked = rs.FamilyRevoked
		return auth.Reject, errPeek
	}
	_, _ = s.UseRefreshToken(ctx, tok(1, time.Time{}).Hash, tok(2, t0), peek)
	if revoked {
		t.Fatal("rehash revoked sessions")
	}
	if err := s.SetPasswordHash(ctx, u.ID, "newer", true, 0, t0); err != nil {
		t.Fatal(err)
	}
	_, _ = s.UseRefreshToken(ctx, tok(1, time.Time{}).Hash, tok(2, t0), peek)
	if !revoked {
		t.Fatal("password change kept sessions")
	}
	if _, h, _ := s.Credentials(ctx, "fay"); h != "newer" {
		t.Fatalf("hash %q", h)
	}
	if err := s.SetPasswordHash(ctx, 999, "x", true, 0, t0); !errors.Is(err, auth.ErrUserNotFound) {
		t.Fatalf("unknown: %v", err)
	}
}

// A generated password is flagged until the user chooses one; a rehash of
// the same password keeps the flag.
func testPasswordGenerated(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	u, _, err := s.CreateUser(ctx, auth.NewUser{
		Username: "root", UsernameKey: "root", PasswordHash: "gen", Role: auth.RoleAdmin, Now: t0, PasswordGenerated: true,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !u.MustChangePassword {
		t.Fatalf("created %+v", u)
	}
	other := mkUser(t, s, "plain", auth.RoleUser)
	if other.MustChangePassword {
		t.Fatalf("chosen password flagged: %+v", other)
	}
	check := func(want bool) {
		t.Helper()
		byID, err := s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		cred, _, err := s.Credentials(ctx, "root")
		if err != nil {
			t.Fatal(err)
		}
		list, err := s.ListUsers(ctx, auth.UserFilter{Limit: 10})
		if err != nil || len(list) != 2 {
			t.Fatalf("list %v %v", list, err)
		}
		if byID.MustChangePassword != want || cred.MustChangePassword != want || list[0].MustChangePassword != want || list[1].MustChangePassword {
			t.Fatalf("want %v: by id %+v, credentials %+v, list %+v", want, byID, cred, list)
		}
	}
	check(true)
	// Other changes leave it alone.
	if _, err := s.UpdateUser(ctx, other.ID, auth.UserUpdate{Role: ptr(auth.RoleAdmin)}, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPasswordHash(ctx, u.ID, "rehashed", false, 0, t0); err != nil {
		t.Fatal(err)
	}
	check(true)
	if err := s.SetPasswordHash(ctx, u.ID, "chosen", true, 0, t0); err != nil {
		t.Fatal(err)
	}
	check(false)
}

func ptr[T any](v T) *T { return &v }

func testPruneRefreshTokens(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	u := mkUser(t, s, "gus", auth.RoleUser)
	_, _ = s.CreateSession(ctx, u.ID, tok(1, t0.Add(time.Hour)))
	_, _ = s.CreateSession(ctx, u.ID, tok(2, t0.Add(3*time.Hour)))
	n, err := s.PruneRefreshTokens(ctx, t0.Add(2*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d %v", n, err)
	}
	if c := counts(t, s); c["refresh_tokens"] != 1 || c["refresh_families"] != 1 {
		t.Fatalf("counts %v", c)
	}
}

// Replicas racing to store the first signing key all get the same one.
func testSigningKeyRace(t *testing.T, open Opener) {
	ctx := context.Background()
	stores := make([]Store, 4)
	for i := range stores {
		stores[i] = open(t)
	}
	got := make([][]byte, len(stores))
	var wg sync.WaitGroup
	for i, st := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := st.SigningKey(ctx, "primary", fmt.Sprint("kid", i), []byte(fmt.Sprint("key", i)), t0)
			if err != nil {
				t.Error(err)
			}
			got[i] = k
		}()
	}
	wg.Wait()
	for i := range got {
		if !bytes.Equal(got[i], got[0]) || len(got[i]) == 0 {
			t.Fatalf("replica %d got %q, replica 0 got %q", i, got[i], got[0])
		}
	}
	if c := counts(t, stores[0]); c["signing_keys"] != 1 {
		t.Fatalf("counts %v", c)
	}
}

// Two admins demoting each other at once, each from its own replica: one
// succeeds, the other is refused, and an enabled admin is always left.
func testUpdateUserConcurrentAdmins(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a := mkUser(t, s, "ada", auth.RoleAdmin)
	b := mkUser(t, s, "bea", auth.RoleAdmin)
	user := auth.RoleUser
	for round := 0; round < 5; round++ {
		stores := []Store{open(t), open(t)}
		targets := []int64{a.ID, b.ID}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = stores[i].UpdateUser(ctx, targets[i], auth.UserUpdate{Role: &user}, t0)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, auth.ErrLastAdmin):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d demotions succeeded (%v), want exactly 1", round, ok, errs)
		}
		// Promote both again for the next round.
		admin := auth.RoleAdmin
		for _, id := range targets {
			if _, err := s.UpdateUser(ctx, id, auth.UserUpdate{Role: &admin}, t0); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Every way a session ends or an account changes is recorded in the
// revocation feed, in the same transaction, in order.
func testRevocationFeed(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	admin := mkUser(t, s, "root", auth.RoleAdmin)
	u := mkUser(t, s, "hal", auth.RoleUser)
	var sids []int64
	for i := range 4 {
		sid, err := s.CreateSession(ctx, u.ID, tok(byte(10+i), t0.Add(time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, sid)
	}
	if rs, last, err := s.Revocations(ctx, 0, 100); err != nil || len(rs) != 0 || last != 0 {
		t.Fatalf("empty feed: %v %d %v", rs, last, err)
	}
	// Logout ends one session; logging out again records nothing.
	for range 2 {
		if err := s.RevokeFamilyOf(ctx, tok(10, t0).Hash, "logout", t0); err != nil {
			t.Fatal(err)
		}
	}
	// A password change ends the others but the one that made it.
	if err := s.SetPasswordHash(ctx, u.ID, "new", true, sids[1], t0); err != nil {
		t.Fatal(err)
	}
	// Reuse of a spent token ends its session.
	if _, err := s.UseRefreshToken(ctx, tok(11, t0).Hash, tok(20, t0.Add(time.Hour)), func(auth.RefreshSession) (auth.Verdict, error) {
		return auth.RevokeFamily, errPeek
	}); !errors.Is(err, errPeek) {
		t.Fatalf("reuse: %v", err)
	}
	// A new session, then sign out everywhere.
	sid5, err := s.CreateSession(ctx, u.ID, tok(30, t0.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.RevokeSessions(ctx, u.ID, 0, "signed_out_everywhere", t0); err != nil || n != 1 {
		t.Fatalf("revoke all: %d %v", n, err)
	}
	// Role change and disable: account entries with the state after.
	admin2 := auth.RoleAdmin
	if _, err := s.UpdateUser(ctx, u.ID, auth.UserUpdate{Role: &admin2}, t0); err != nil {
		t.Fatal(err)
	}
	sid6, _ := s.CreateSession(ctx, u.ID, tok(40, t0.Add(time.Hour)))
	yes := true
	if _, err := s.UpdateUser(ctx, u.ID, auth.UserUpdate{Disabled: &yes}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// An update that changes nothing records nothing.
	if _, err := s.UpdateUser(ctx, u.ID, auth.UserUpdate{Disabled: &yes}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}

	type entry struct {
		family   int64
		role     string
		disabled bool
	}
	want := []entry{
		{family: sids[0]}, {family: sids[2]}, {family: sids[3]}, {family: sids[1]}, {family: sid5},
		{role: auth.RoleAdmin}, {role: auth.RoleAdmin, disabled: true}, {family: sid6},
	}
	rs, last, err := s.Revocations(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []entry
	for i, r := range rs {
		if r.UserID != u.ID || (i > 0 && r.Seq <= rs[i-1].Seq) || r.At.IsZero() {
			t.Errorf("entry %d: %+v", i, r)
		}
		got = append(got, entry{r.FamilyID, r.Role, r.Disabled})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("feed\n got %v\nwant %v", got, want)
	}
	if last != rs[len(rs)-1].Seq {
		t.Errorf("last seq %d, want %d", last, rs[len(rs)-1].Seq)
	}
	// Paging: after a seq, at most limit.
	page, _, err := s.Revocations(ctx, rs[2].Seq, 2)
	if err != nil || len(page) != 2 || page[0].Seq != rs[3].Seq {
		t.Fatalf("page after %d: %+v %v", rs[2].Seq, page, err)
	}
	_ = admin
	// Pruning drops what is older than the cut.
	if n, err := s.PruneRevocations(ctx, t0.Add(30*time.Second)); err != nil || n != 6 {
		t.Fatalf("pruned %d %v, want 6", n, err)
	}
	if rest, last2, err := s.Revocations(ctx, 0, 100); err != nil || len(rest) != 2 || last2 != last {
		t.Fatalf("after pruning: %+v %d %v", rest, last2, err)
	}
}
