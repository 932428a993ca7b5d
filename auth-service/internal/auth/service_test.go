package auth_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/parleychat/parley/auth-service/internal/auth"
	"github.com/parleychat/parley/auth-service/internal/store"
	"github.com/parleychat/parley/auth-service/internal/store/sqlstore"
	"github.com/parleychat/parley/platform/sqldb"
)

type fakeTokens struct{}

func (fakeTokens) IssueAccess(id int64, name, role string, sid int64, now time.Time) (string, time.Time, error) {
	return "access", now.Add(15 * time.Minute), nil
}

func newService(t *testing.T, path string, cost int) (*auth.Service, *sqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldb.Target{Dialect: sqldb.SQLite, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := auth.NewService(st, fakeTokens{}, auth.Config{BcryptCost: cost, AccessTTL: 15 * time.Minute, RefreshTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return svc, st
}

// Replicas starting at once create the admin exactly once, and only the
// one that created it has a generated password to show.
func TestEnsureAdminRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	svcs := make([]*auth.Service, 4)
	var st *sqlstore.Store
	for i := range svcs {
		svcs[i], st = newService(t, path, bcrypt.MinCost)
	}
	results := make([]auth.AdminBootstrap, len(svcs))
	var wg sync.WaitGroup
	for i, s := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.EnsureAdmin(context.Background(), "Admin", "")
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	created, shown := 0, 0
	for _, r := range results {
		if r.Created {
			created++
		}
		if r.GeneratedPassword != "" {
			shown++
		}
	}
	if created != 1 || shown != 1 {
		t.Fatalf("created %d, passwords shown %d: %+v", created, shown, results)
	}
	c, _ := st.Counts(context.Background())
	if c["users"] != 1 {
		t.Fatalf("users %d", c["users"])
	}
	// Restart: nothing to do.
	if r, err := svcs[0].EnsureAdmin(context.Background(), "admin", ""); err != nil || r.Created || r.GeneratedPassword != "" || r.NotAdmin {
		t.Fatalf("second start: %+v %v", r, err)
	}
}

// An account registered under the admin name is never promoted.
func TestEnsureAdminExistingUser(t *testing.T) {
	svc, _ := newService(t, filepath.Join(t.TempDir(), "auth.db"), bcrypt.MinCost)
	ctx := context.Background()
	if _, err := svc.Register(ctx, auth.RegisterInput{Username: "boss", Password: "password1"}, "1.2.3.4"); err != nil {
		t.Fatal(err)
	}
	r, err := svc.EnsureAdmin(ctx, "BOSS", "password2")
	if err != nil || r.Created || !r.NotAdmin {
		t.Fatalf("%+v %v", r, err)
	}
}

// Raising the cost rehashes a password at the next successful login.
func TestLoginUpgradesHashCost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	ctx := context.Background()
	low, st := newService(t, path, bcrypt.MinCost)
	if _, err := low.Register(ctx, auth.RegisterInput{Username: "hank", Password: "password1"}, "ip"); err != nil {
		t.Fatal(err)
	}
	high, _ := newService(t, path, bcrypt.MinCost+1)
	if _, err := high.Login(ctx, auth.LoginInput{Username: "hank", Password: "password1"}, "ip"); err != nil {
		t.Fatal(err)
	}
	_, hash, _ := st.Credentials(ctx, "hank")
	if c, _ := bcrypt.Cost([]byte(hash)); c != bcrypt.MinCost+1 {
		t.Fatalf("cost %d", c)
	}
	if _, err := high.Login(ctx, auth.LoginInput{Username: "hank", Password: "password1"}, "ip"); err != nil {
		t.Fatalf("login after rehash: %v", err)
	}
}
