package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/auth-service/internal/auth"
)

func testAccessTokens(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	ann, bob := mkUser(t, s, "ann", auth.RoleUser), mkUser(t, s, "bob", auth.RoleUser)
	seal := func(id int64) ([]byte, string) { return bytes.Repeat([]byte{byte(id)}, 32), "hint" }
	created, err := s.CreateAccessToken(ctx, auth.NewAccessToken{UserID: ann.ID, Name: "ci", Now: t0, ExpiresAt: t0.Add(24 * time.Hour)}, 3, seal)
	if err != nil {
		t.Fatal(err)
	}
	if created.ID <= 0 || created.UserID != ann.ID || created.Name != "ci" || created.Hint != "hint" ||
		!created.CreatedAt.Equal(t0) || !created.ExpiresAt.Equal(t0.Add(24*time.Hour)) || created.LastUsedAt != nil {
		t.Fatalf("created %+v", created)
	}
	got, hash, owner, err := s.AccessTokenByID(ctx, created.ID)
	if err != nil || got != created || owner.ID != ann.ID || !bytes.Equal(hash, bytes.Repeat([]byte{byte(created.ID)}, 32)) {
		t.Fatalf("by id: %+v %x %+v %v", got, hash, owner, err)
	}
	if _, _, _, err := s.AccessTokenByID(ctx, created.ID+100); !errors.Is(err, auth.ErrTokenNotFound) {
		t.Fatalf("unknown id: %v", err)
	}

	// At most max per user, decided inside the transaction even when
	// several are created at once.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := open(t).CreateAccessToken(ctx, auth.NewAccessToken{UserID: ann.ID, Name: "more", Now: t0.Add(time.Second), ExpiresAt: t0.Add(time.Hour)}, 3, seal)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	var ok, full int
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, auth.ErrTooManyTokens):
			full++
		default:
			t.Fatalf("concurrent create: %v", err)
		}
	}
	if ok != 2 || full != 2 {
		t.Fatalf("created %d, refused %d; want 2 and 2", ok, full)
	}
	list, err := s.AccessTokens(ctx, ann.ID)
	if err != nil || len(list) != 3 || list[2].ID != created.ID || list[0].ID < list[1].ID {
		t.Fatalf("list: %+v %v", list, err)
	}
	if list, err := s.AccessTokens(ctx, bob.ID); err != nil || len(list) != 0 || list == nil {
		t.Fatalf("bob's list: %#v %v", list, err)
	}

	// last_used_at is written once per window.
	used := t0.Add(time.Hour)
	if err := s.TouchAccessToken(ctx, created.ID, used, used.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchAccessToken(ctx, created.ID, used.Add(30*time.Second), used.Add(-30*time.Second)); err != nil {
		t.Fatal(err)
	}
	got, _, _, _ = s.AccessTokenByID(ctx, created.ID)
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(used) {
		t.Fatalf("last used %v, want %v", got.LastUsedAt, used)
	}

	// Revoking: only the owner's, once, and the feed says so.
	_, before, err := s.Revocations(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAccessToken(ctx, bob.ID, created.ID, t0); !errors.Is(err, auth.ErrTokenNotFound) {
		t.Fatalf("another user's token: %v", err)
	}
	if err := s.RevokeAccessToken(ctx, ann.ID, created.ID, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAccessToken(ctx, ann.ID, created.ID, t0.Add(2*time.Hour)); !errors.Is(err, auth.ErrTokenNotFound) {
		t.Fatalf("twice: %v", err)
	}
	feed, last, err := s.Revocations(ctx, before, 100)
	if err != nil || len(feed) != 1 || last != feed[0].Seq || feed[0].TokenID != created.ID || feed[0].UserID != ann.ID ||
		feed[0].FamilyID != 0 || !feed[0].At.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("feed %+v last %d: %v", feed, last, err)
	}
	if _, _, _, err := s.AccessTokenByID(ctx, created.ID); !errors.Is(err, auth.ErrTokenNotFound) {
		t.Fatalf("revoked token still found: %v", err)
	}

	// Pruning removes expired tokens only.
	n, err := s.PruneAccessTokens(ctx, t0.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d: %v", n, err)
	}
	if c := counts(t, s); c["access_tokens"] != 0 {
		t.Fatalf("counts %v", c)
	}
}

func testBots(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	mkUser(t, s, "person", auth.RoleUser)
	bot, _, err := s.CreateUser(ctx, auth.NewUser{
		Username: "DeployBot", UsernameKey: "deploybot", Role: auth.RoleUser, Now: t0, Bot: true, DisplayName: "Deploy bot",
	}, nil)
	if err != nil || !bot.IsBot || bot.DisplayName != "Deploy bot" {
		t.Fatalf("bot %+v: %v", bot, err)
	}
	u, hash, err := s.Credentials(ctx, "deploybot")
	if err != nil || hash != "" || !u.IsBot {
		t.Fatalf("credentials %+v %q: %v", u, hash, err)
	}
	bots, err := s.ListUsers(ctx, auth.UserFilter{Bots: true, Limit: 10})
	if err != nil || len(bots) != 1 || bots[0].ID != bot.ID {
		t.Fatalf("bots %+v: %v", bots, err)
	}
	all, err := s.ListUsers(ctx, auth.UserFilter{Limit: 10})
	if err != nil || len(all) != 2 || all[0].IsBot || all[0].DisplayName != "" {
		t.Fatalf("all %+v: %v", all, err)
	}
}
