package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/sqldb"
)

// The admin page's rooms: every public and private room, never a DM, with
// member counts, message counts (the last seq) and the newest message's
// time; paged by id.
func testAdminRooms(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	pub := mustRoom(t, st, "pub", chat.KindPublic, 1)
	priv := mustRoom(t, st, "priv", chat.KindPrivate, 2)
	dm, _, err := st.OpenDM(ctx, chat.UserRef{UserID: 1, Username: "a"}, chat.UserRef{UserID: 3, Username: "c"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	// A group DM is no more the admin page's than a 1:1 DM.
	if _, _, err := st.OpenGroup(ctx, 1, []chat.UserRef{{UserID: 1, Username: "a"}, {UserID: 3, Username: "c"}, {UserID: 4, Username: "d"}}, t0); err != nil {
		t.Fatal(err)
	}
	for _, u := range []int64{3, 4} {
		if _, _, err := st.AddMember(ctx, chat.Member{RoomID: pub.ID, UserID: u, Username: "u", Role: chat.RoleMember, JoinedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	last := t0.Add(90 * time.Minute)
	for i, at := range []time.Time{t0, t0.Add(time.Minute), last} {
		m, _, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: pub.ID, UserID: 1, Username: "a", Body: fmt.Sprint("m", i), At: at})
		if err != nil {
			t.Fatal(err)
		}
		if i == 2 { // a tombstone still counts and still dates the room
			if _, err := st.DeleteMessage(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, _, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: dm.ID, UserID: 1, Username: "a", Body: "psst", At: t0}); err != nil {
		t.Fatal(err)
	}

	rooms, err := st.AdminRooms(ctx, 0, 50)
	if err != nil || len(rooms) != 3 {
		t.Fatalf("admin rooms = %+v, %v; want General, pub and priv", rooms, err)
	}
	byName := map[string]chat.AdminRoom{}
	for _, r := range rooms {
		byName[r.Name] = r
	}
	if g := byName["General"]; !g.IsDefault || g.MessageCount != 0 || g.LastMessageAt != nil {
		t.Errorf("General = %+v", g)
	}
	p := byName["pub"]
	if p.ID != pub.ID || p.MemberCount != 3 || p.MessageCount != 3 || p.LastMessageAt == nil || !p.LastMessageAt.Equal(last) {
		t.Errorf("pub = %+v (last message at %v), want 3 members, 3 messages, last at %v", p, p.LastMessageAt, last)
	}
	if q := byName["priv"]; q.ID != priv.ID || q.Kind != chat.KindPrivate || q.MemberCount != 1 || q.CreatedBy != 2 || !q.CreatedAt.Equal(t0) {
		t.Errorf("priv = %+v", q)
	}
	page, err := st.AdminRooms(ctx, rooms[0].ID, 1)
	if err != nil || len(page) != 1 || page[0].ID != rooms[1].ID {
		t.Fatalf("page after %d = %+v, %v", rooms[0].ID, page, err)
	}
	if one, err := st.AdminRoom(ctx, pub.ID); err != nil || one.MemberCount != 3 || one.MessageCount != 3 {
		t.Fatalf("admin room = %+v, %v", one, err)
	}
	for _, id := range []int64{dm.ID, 9999} {
		if _, err := st.AdminRoom(ctx, id); kindOf(err) != apperr.KindNotFound {
			t.Errorf("admin room %d: %v, want not found", id, err)
		}
	}
}

// Daily activity: idempotent per (day, user), on one handle and across
// handles at once; counted per day; pruned by day.
func testDailyActivity(t *testing.T, target sqldb.Target) {
	st, other := Open(t, target), Open(t, target)
	ctx := context.Background()
	if err := st.RecordActive(ctx, "2025-01-02", []int64{1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordActive(ctx, "2025-01-02", []int64{2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordActive(ctx, "2025-01-01", []int64{1}); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordActive(ctx, "2025-01-01", nil); err != nil {
		t.Fatal(err)
	}
	// Two replicas writing the same users at once, more than one insert's
	// worth.
	many := make([]int64, 1200)
	for i := range many {
		many[i] = int64(100 + i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, h := range []interface {
		RecordActive(context.Context, string, []int64) error
	}{st, other} {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- h.RecordActive(ctx, "2025-01-03", many) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent record: %v", err)
		}
	}
	for day, want := range map[string]int64{"2025-01-01": 1, "2025-01-02": 3, "2025-01-03": 1200, "2025-01-04": 0} {
		if n, err := st.ActiveUsers(ctx, day); err != nil || n != want {
			t.Errorf("active on %s = %d, %v; want %d", day, n, err, want)
		}
	}
	if err := st.PruneActive(ctx, "2025-01-02"); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.ActiveUsers(ctx, "2025-01-01"); n != 0 {
		t.Errorf("active on a pruned day = %d", n)
	}
	if n, _ := st.ActiveUsers(ctx, "2025-01-02"); n != 3 {
		t.Errorf("active on a kept day = %d", n)
	}
}

// Messages per UTC day: from since (a midnight) on, whatever the dialect
// stores times as; the boundaries are exact to the millisecond.
func testMessagesPerDay(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	r := mustRoom(t, st, "busy", chat.KindPublic, 1)
	since := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	times := []time.Time{
		since.Add(-time.Millisecond), // the day before: left out
		since,                        // the first instant counts
		since.Add(23*time.Hour + 59*time.Minute + 59*time.Second + 999*time.Millisecond), // the last instant of day 1
		since.Add(24 * time.Hour),           // day 2
		since.Add(24*time.Hour + time.Hour), // day 2
		since.Add(4 * 24 * time.Hour),       // day 5; days 3 and 4 are empty
	}
	for i, at := range times {
		if _, _, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: r.ID, UserID: 1, Username: "a", Body: fmt.Sprint(i), At: at}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.MessagesPerDay(ctx, since)
	want := []chat.DayCount{{Day: "2025-01-02", Count: 2}, {Day: "2025-01-03", Count: 2}, {Day: "2025-01-06", Count: 1}}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("messages per day = %v, %v; want %v", got, err, want)
	}
	if got, err := st.MessagesPerDay(ctx, since.AddDate(0, 0, 10)); err != nil || len(got) != 0 {
		t.Fatalf("messages per day after the last = %v, %v", got, err)
	}
}
