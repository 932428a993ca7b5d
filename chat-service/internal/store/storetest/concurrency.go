package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/chat-service/internal/store"
	"github.com/parleychat/parley/chat-service/internal/store/sqlstore"
	"github.com/parleychat/parley/platform/sqldb"
)

// writerEnv carries a writerJob to a re-executed test binary.
const writerEnv = "PARLEY_CHAT_STORETEST_WRITER"

// writerJob is one writer process's share of the cross-process seq test.
type writerJob struct {
	Target sqldb.Target
	Rooms  []int64
	Writer int
	Count  int
	// Batch > 0 sends Count messages in batches of Batch
	// (CreateMessages) rather than one by one.
	Batch int
}

// WriterMain turns this process into one of the writers that
// SeqGapFreeAcrossProcesses starts, when it was started as one; otherwise
// it returns at once. Call it first thing in TestMain of the package that
// calls Run.
func WriterMain() {
	raw := os.Getenv(writerEnv)
	if raw == "" {
		return
	}
	if err := runWriter(raw); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runWriter(raw string) error {
	var job writerJob
	if err := json.Unmarshal([]byte(raw), &job); err != nil {
		return err
	}
	ctx := context.Background()
	// Two handles, as a replica retrying through another would.
	var handles []*sqlstore.Store
	for range 2 {
		db, err := sqldb.Open(ctx, job.Target)
		if err != nil {
			return err
		}
		defer db.Close()
		st, err := store.Open(ctx, db)
		if err != nil {
			return err
		}
		handles = append(handles, st)
	}
	user := int64(1000 + job.Writer)
	if job.Batch > 0 {
		return runBatchWriter(ctx, job, handles, user)
	}
	for i := range job.Count {
		nm := chat.NewMessage{RoomID: job.Rooms[i%len(job.Rooms)], UserID: user, Username: "w", Body: fmt.Sprintf("writer %d message %d", job.Writer, i),
			ClientMsgID: fmt.Sprintf("p%d-%d", job.Writer, i), At: time.Now()}
		m, created, err := handles[0].CreateMessage(ctx, nm)
		if err != nil || !created {
			return fmt.Errorf("writer %d send %d: created=%v %v", job.Writer, i, created, err)
		}
		again, created, err := handles[1].CreateMessage(ctx, nm)
		if err != nil || created || again.ID != m.ID || again.Seq != m.Seq {
			return fmt.Errorf("writer %d retry %d: created=%v %+v vs %+v (%v)", job.Writer, i, created, again, m, err)
		}
	}
	return nil
}

// runBatchWriter sends a writer's messages in batches through one handle
// and each batch again through the other, which must return the same
// messages, created before.
func runBatchWriter(ctx context.Context, job writerJob, handles []*sqlstore.Store, user int64) error {
	for start := 0; start < job.Count; start += job.Batch {
		var nms []chat.NewMessage
		for i := start; i < min(start+job.Batch, job.Count); i++ {
			nms = append(nms, chat.NewMessage{RoomID: job.Rooms[i%len(job.Rooms)], UserID: user, Username: "w",
				Body: fmt.Sprintf("writer %d message %d", job.Writer, i), ClientMsgID: fmt.Sprintf("p%d-%d", job.Writer, i), At: time.Now()})
		}
		first, err := handles[0].CreateMessages(ctx, nms, nil)
		if err != nil {
			return fmt.Errorf("writer %d batch at %d: %v", job.Writer, start, err)
		}
		again, err := handles[1].CreateMessages(ctx, nms, nil)
		if err != nil {
			return fmt.Errorf("writer %d retry at %d: %v", job.Writer, start, err)
		}
		for i := range nms {
			if first[i].Err != nil || !first[i].Created || again[i].Err != nil || again[i].Created ||
				again[i].Message.ID != first[i].Message.ID || again[i].Message.Seq != first[i].Message.Seq {
				return fmt.Errorf("writer %d message %d: %+v, retried %+v", job.Writer, start+i, first[i], again[i])
			}
		}
	}
	return nil
}

// testSeqGapFreeAcrossProcesses starts 8 processes (this test binary again,
// see WriterMain) that send into two rooms at once, each with its own
// connection pools, and checks that every room's seqs are exactly 1..n.
func testSeqGapFreeAcrossProcesses(t *testing.T, target sqldb.Target) {
	seqGapFreeAcrossProcesses(t, target, 0)
}

// testBatchSeqGapFreeAcrossProcesses is the same with every process
// sending batches of 7 (two rooms in each).
func testBatchSeqGapFreeAcrossProcesses(t *testing.T, target sqldb.Target) {
	seqGapFreeAcrossProcesses(t, target, 7)
}

func seqGapFreeAcrossProcesses(t *testing.T, target sqldb.Target, batch int) {
	st := Open(t, target)
	rooms := []chat.Room{mustRoom(t, st, "a", chat.KindPublic, 1), mustRoom(t, st, "b", chat.KindPublic, 1)}
	const writers, perWriter = 8, 30
	type result struct {
		err    error
		stderr string
	}
	results := make([]result, writers)
	var wg sync.WaitGroup
	for w := range writers {
		job, err := json.Marshal(writerJob{Target: target, Rooms: []int64{rooms[0].ID, rooms[1].ID}, Writer: w, Count: perWriter, Batch: batch})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), writerEnv+"="+string(job))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[w] = result{cmd.Wait(), ""}
			results[w].stderr = stderr.String()
		}()
	}
	wg.Wait()
	for w, r := range results {
		if r.err != nil {
			t.Fatalf("writer process %d: %v\n%s", w, r.err, r.stderr)
		}
	}
	checkGapFree(t, st, rooms, writers*perWriter)
}

// testConcurrentRetries sends each message twice at once through two
// handles (a client retrying on another replica before the first answer):
// exactly one is created, both calls return it, and seqs stay gap-free.
func testConcurrentRetries(t *testing.T, target sqldb.Target) {
	handles := []*sqlstore.Store{Open(t, target), Open(t, target)}
	room := mustRoom(t, handles[0], "retries", chat.KindPublic, 1)
	ctx := context.Background()
	const sends = 40
	for i := range sends {
		nm := chat.NewMessage{RoomID: room.ID, UserID: 5, Username: "e", Body: "x", ClientMsgID: fmt.Sprint("c", i), At: t0}
		var (
			wg      sync.WaitGroup
			msgs    [2]chat.Message
			created [2]bool
			errs    [2]error
		)
		for h := range handles {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msgs[h], created[h], errs[h] = handles[h].CreateMessage(ctx, nm)
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("send %d: %v / %v", i, errs[0], errs[1])
		}
		if created[0] == created[1] || msgs[0].ID != msgs[1].ID || msgs[0].Seq != int64(i+1) || msgs[1].Seq != int64(i+1) {
			t.Fatalf("send %d: created %v, messages %+v / %+v", i, created, msgs[0], msgs[1])
		}
	}
	checkGapFree(t, handles[1], []chat.Room{room}, sends)
}

// testConcurrentFirstSight races replicas over things that must exist
// once: a new user joining General, a DM opened by both members.
func testConcurrentFirstSight(t *testing.T, target sqldb.Target) {
	handles := []*sqlstore.Store{Open(t, target), Open(t, target), Open(t, target), Open(t, target)}
	ctx := context.Background()
	for round := range 5 {
		u := chat.UserRef{UserID: int64(100 + round), Username: fmt.Sprint("new", round)}
		other := chat.UserRef{UserID: int64(200 + round), Username: fmt.Sprint("other", round)}
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			joins  int
			dms    = map[int64]bool{}
			opened int
		)
		for h, st := range handles {
			wg.Add(1)
			go func() {
				defer wg.Done()
				joined, err := st.TouchUser(ctx, u, t0)
				if err != nil {
					t.Errorf("touch: %v", err)
					return
				}
				a, b := u, other
				if h%2 == 1 {
					a, b = b, a
				}
				room, created, err := st.OpenDM(ctx, a, b, t0)
				if err != nil {
					t.Errorf("open dm: %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if joined != nil {
					joins++
				}
				if created {
					opened++
				}
				dms[room.ID] = true
			}()
		}
		wg.Wait()
		if joins != 1 || opened != 1 || len(dms) != 1 {
			t.Fatalf("round %d: %d joins of General, %d DMs created, %d distinct DM rooms", round, joins, opened, len(dms))
		}
		for id := range dms {
			ms, err := handles[0].Members(ctx, id, 0, 10)
			if err != nil || len(ms) != 2 {
				t.Fatalf("round %d: DM members %+v %v", round, ms, err)
			}
		}
	}
}

// testOwnersLeavingAtOnce has both owners of rooms leave at the same time
// through two handles: a member is always promoted, never zero owners.
func testOwnersLeavingAtOnce(t *testing.T, target sqldb.Target) {
	handles := []*sqlstore.Store{Open(t, target), Open(t, target)}
	ctx := context.Background()
	for round := range 5 {
		r := mustRoom(t, handles[0], fmt.Sprint("owned", round), chat.KindPrivate, 1)
		if _, _, err := handles[0].AddMember(ctx, chat.Member{RoomID: r.ID, UserID: 2, Role: chat.RoleOwner, JoinedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := handles[0].AddMember(ctx, chat.Member{RoomID: r.ID, UserID: 3, Role: chat.RoleMember, JoinedAt: t0.Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i, st := range handles {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if removed, _, err := st.RemoveMember(ctx, r.ID, int64(i+1)); err != nil || !removed {
					t.Errorf("remove owner %d: %v %v", i+1, removed, err)
				}
			}()
		}
		wg.Wait()
		m, ok, err := handles[1].Member(ctx, r.ID, 3)
		if err != nil || !ok || m.Role != chat.RoleOwner {
			t.Fatalf("round %d: the remaining member is %+v (%v, %v), want owner", round, m, ok, err)
		}
	}
}

// testSearchWords: every word must match, the last as a prefix, and the
// words are literal text, never query syntax.
func testSearchWords(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	r := mustRoom(t, st, "words", chat.KindPublic, 1)
	bodies := []string{
		"The Quick brown fox",
		"quickly now",
		"brown bears OR wolves",
		`she said "hello" to the fox`,
		"deploy to example.com tonight",
	}
	ids := map[string]int64{}
	for _, b := range bodies {
		m, _, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: r.ID, UserID: 1, Username: "a", Body: b, At: t0})
		if err != nil {
			t.Fatal(err)
		}
		ids[b] = m.ID
	}
	cases := []struct {
		words []string
		want  []string // newest first
	}{
		{[]string{"quick"}, []string{"quickly now", "The Quick brown fox"}},
		{[]string{"QUI"}, []string{"quickly now", "The Quick brown fox"}},
		{[]string{"brown", "fo"}, []string{"The Quick brown fox"}},
		{[]string{"fox", "brown"}, []string{"The Quick brown fox"}},
		{[]string{"OR"}, []string{"brown bears OR wolves"}},
		{[]string{"bears", "NOT"}, nil},
		{[]string{`"hello"`}, []string{`she said "hello" to the fox`}},
		{[]string{"example.com"}, []string{"deploy to example.com tonight"}},
		{[]string{"nothing"}, nil},
		{[]string{"*"}, nil},
	}
	for _, c := range cases {
		hits, err := st.Search(ctx, chat.SearchFilter{UserID: 1, Words: c.words, Limit: 10})
		if err != nil {
			t.Fatalf("search %q: %v", c.words, err)
		}
		var got []int64
		for _, h := range hits {
			got = append(got, h.ID)
		}
		var want []int64
		for _, b := range c.want {
			want = append(want, ids[b])
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("search %q = %v, want %v (%q)", c.words, got, want, c.want)
		}
	}
	// Paging: ids below the cursor.
	hits, err := st.Search(ctx, chat.SearchFilter{UserID: 1, Words: []string{"fox"}, BeforeID: ids[`she said "hello" to the fox`], Limit: 10})
	if err != nil || len(hits) != 1 || hits[0].ID != ids["The Quick brown fox"] {
		t.Fatalf("search before cursor: %+v %v", hits, err)
	}
	if hits, err := st.Search(ctx, chat.SearchFilter{UserID: 1, Words: []string{"fox"}, RoomID: r.ID + 1000, Limit: 10}); err != nil || len(hits) != 0 {
		t.Fatalf("search in another room: %+v %v", hits, err)
	}
}
