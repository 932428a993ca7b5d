package app_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
	"github.com/parleychat/parley/platform/testkit"
)

// TestReplicaCrash is TestTwoReplicas with a crash instead of a graceful
// stop: two chat-service replicas run as OS processes on one database (a
// SQLite file, then PostgreSQL) and an embedded NATS server, clients on
// both send, and replica B is killed with SIGKILL mid-stream — no close
// frames, no drain, a transaction possibly half done. Then:
//
//   - B's clients see their sockets drop without a close frame (1006, or a
//     reset) and resume on A after the last seq they hold without a gap;
//   - B's users leave presence once B's heartbeats are overdue
//     (PRESENCE_TTL, checked every TTL/4);
//   - the sends B's clients had in flight were not acknowledged: B may or
//     may not have stored them before it died. The client retries each with
//     its client_msg_id on A, which stores it if B had not and otherwise
//     answers with the message B stored, publishing nothing — so it is in
//     history once either way. A retry of a send that was acknowledged (the
//     ack lost to the crash, as far as the client knows) gives back the
//     same message too;
//   - B restarts on the same port and database, serves history and takes
//     sends, and a client moves back to it.
//
// At the end every send any client made is in history exactly once (read
// over HTTP from both replicas), seqs run 1..N with no gap, and every
// client holds every message with no duplicate on any connection. Clients
// on A may have to fetch a gap over HTTP, as the protocol tells clients to
// (docs/ARCHITECTURE.md, "Delivery"): a message B committed but did not
// live to publish is never streamed to anyone. Only such messages — B's
// users', sent before the kill, never acknowledged — may come that way;
// everything acknowledged arrives live or by resume.
func TestReplicaCrash(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, target sqldb.Target) { testReplicaCrash(t, target.URL()) })
}

const (
	crashTTL       = time.Second
	crashHeartbeat = 200 * time.Millisecond
	// sendEvery paces each sender under the WebSocket frame limit (50/s).
	sendEvery = 25 * time.Millisecond
)

func testReplicaCrash(t *testing.T, db string) {
	began := time.Now()
	natsURL := testkit.StartNATS(t)
	is := authntest.New(t)
	env := func() map[string]string {
		return map[string]string{
			"DATABASE_URL": db, "JWKS_URL": is.JWKSURL, "NATS_URL": natsURL, "DATA_DIR": t.TempDir(), "LOG_LEVEL": "info",
			"PORT":      strconv.Itoa(testkit.FreePort(t)),
			"SEND_RATE": "1000", "SEND_BURST": "1000", "USER_RATE_LIMIT_RPS": "100000", "USER_RATE_LIMIT_BURST": "100000",
			"PRESENCE_HEARTBEAT": crashHeartbeat.String(), "PRESENCE_TTL": crashTTL.String(),
		}
	}
	// One after the other: the first creates the schema.
	a := startReplicaProcess(t, "chat-a", env())
	b := startReplicaProcess(t, "chat-b", env())

	names := []string{"alice", "bob", "carol", "dave"}
	senders := make([]*sender, len(names))
	for i, n := range names {
		c := newClient(t, n, is.Token(t, int64(i+1), n, authn.RoleUser, time.Hour))
		senders[i] = &sender{c: c}
		url := a.URL
		if i >= 2 {
			url = b.URL
		}
		c.connect(url, 0)
	}
	onA, onB := senders[:2], senders[2:]
	carol, dave := onB[0], onB[1]
	tok := onA[0].c.tok
	testkit.Eventually(t, "presence across replicas", 10*time.Second, func() bool {
		return onlineNames(t, a.URL, tok) == "alice,bob,carol,dave" && onlineNames(t, b.URL, tok) == "alice,bob,carol,dave"
	})

	// A's clients send at a steady pace from here to the end; B's at the
	// same pace, each send after the last one's ack, until B dies.
	stopA, stopB := make(chan struct{}), make(chan struct{})
	var wgA, wgB sync.WaitGroup
	for _, s := range onA {
		wgA.Add(1)
		go func() { defer wgA.Done(); s.run(stopA, 0) }()
	}
	for _, s := range onB {
		wgB.Add(1)
		go func() { defer wgB.Done(); s.runAcked(stopB) }()
	}
	testkit.Eventually(t, "B's clients mid-stream", 15*time.Second, func() bool {
		return len(carol.c.ackedIDs()) >= 30 && len(dave.c.ackedIDs()) >= 30
	})

	// Kill B at a moment when a send is committed but not acknowledged, if
	// one comes within a few tries: freeze B (SIGSTOP), let what it had
	// already written reach the clients, and look. Otherwise let it run
	// on and look again a little later; after the last try B is killed
	// wherever it is. Either way it is SIGKILL, of a frozen process.
	caught := ""
	for try := 0; try < 60 && caught == ""; try++ {
		b.Signal(syscall.SIGSTOP)
		// Nothing signals that the clients have read all B wrote before
		// it froze; loopback delivers at once, so a short pause does.
		time.Sleep(20 * time.Millisecond)
		page, answered := lookWhileFrozen(t, a.URL, tok)
		if !answered {
			// B froze inside a critical section of the shared SQLite
			// file's WAL index (a killed process's locks go with it; a
			// frozen one keeps them), so A's read waits for B: let B go
			// on, and look at another moment.
			b.Signal(syscall.SIGCONT)
			t.Logf("try %d: A's read waited on frozen B's database lock; B resumed", try)
			<-page
			time.Sleep(time.Duration(10+rand.IntN(30)) * time.Millisecond)
			continue
		}
		caught = committedUnacked(<-page, onB)
		if caught == "" {
			b.Signal(syscall.SIGCONT)
			// Run on for a random while: the next look is at another
			// point of B's send cycle.
			time.Sleep(time.Duration(10+rand.IntN(30)) * time.Millisecond)
		}
	}
	b.Kill()
	killed := time.Now()
	if caught != "" {
		t.Logf("B killed with %s committed and not acknowledged", caught)
	} else {
		t.Logf("B killed with no send caught between commit and ack")
	}
	for _, s := range onB {
		select {
		case code := <-s.c.closed:
			// 1006 is gorilla's (and a browser's) name for a socket that
			// ended without a close frame; -1 is a connection reset (the
			// kernel answers with RST when B died with unread input),
			// which a browser reports as 1006 as well. Anything else
			// would mean B said goodbye, which a killed process cannot.
			if code != websocket.CloseAbnormalClosure && code != -1 {
				t.Errorf("%s: connection ended with %d, want 1006 or a reset", s.c.name, code)
			}
			t.Logf("%s: connection to B ended with %d", s.c.name, code)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: connection to killed B still open", s.c.name)
		}
	}
	close(stopB)
	wgB.Wait()
	// What B's clients had sent and had acknowledged when B died: each had
	// its last send in flight (not acknowledged), perhaps more if B froze
	// just after its ack was written (then still unread by the client).
	type beforeKill struct {
		sent  []string
		acked []int64
	}
	pre := map[*sender]beforeKill{}
	for _, s := range onB {
		pre[s] = beforeKill{s.sentIDs(), s.c.ackedIDs()}
	}

	// Presence: B sent no "bye"; A drops B's users once B's heartbeat is
	// PRESENCE_TTL old, checked every TTL/4. The bound allows that plus
	// scheduling on a busy machine.
	bound := crashTTL + crashTTL/4 + time.Second
	testkit.Eventually(t, "B's users leave presence on A", bound, func() bool { return onlineNames(t, a.URL, tok) == "alice,bob" })
	t.Logf("B's users left presence %v after the kill (TTL %v, heartbeat %v)", time.Since(killed).Round(10*time.Millisecond), crashTTL, crashHeartbeat)

	// B's clients resume on A from the last seq they hold without a gap.
	for _, s := range onB {
		s.c.connect(a.URL, s.c.contiguous())
	}
	// Retry what was in flight, and the last acknowledged send as well.
	hist := indexHistory(fetchHistory(t, a.URL, tok))
	inFlight, storedAnyway := 0, 0
	retried := map[*sender]int{}
	for _, s := range onB {
		ackedCMIDs := map[string]bool{}
		for _, id := range pre[s].acked {
			m, ok := hist.byID[id]
			if !ok {
				t.Fatalf("%s: acknowledged message %d is not in history after the crash", s.c.name, id)
			}
			ackedCMIDs[*m.ClientMsgID] = true
		}
		var retry []string
		for _, cmid := range pre[s].sent {
			if !ackedCMIDs[cmid] {
				retry = append(retry, cmid)
				inFlight++
			}
		}
		lastAcked := *hist.byID[pre[s].acked[len(pre[s].acked)-1]].ClientMsgID
		retry = append(retry, lastAcked)
		retried[s] = len(retry)
		n := len(s.c.ackedIDs())
		for _, cmid := range retry {
			if err := s.c.write(sendFrame(s.c.name, cmid)); err != nil {
				t.Fatalf("%s: retry on A: %v", s.c.name, err)
			}
		}
		// Frames are handled in order on a connection, so the acks come
		// in the order of the retries.
		testkit.Eventually(t, s.c.name+"'s retries acknowledged", 10*time.Second, func() bool { return len(s.c.ackedIDs()) == n+len(retry) })
		got := s.c.ackedIDs()[n:]
		for i, cmid := range retry {
			if m, ok := hist.byCMID[clientKey{s.c.name, cmid}]; ok {
				if cmid != lastAcked {
					storedAnyway++
				}
				if got[i] != m.ID {
					t.Errorf("%s: retry of %s (stored by B as message %d) was answered with message %d", s.c.name, cmid, m.ID, got[i])
				}
			}
		}
		t.Logf("%s: %d acknowledged by B before the kill, retried %v on A", s.c.name, len(pre[s].acked), retry)
	}
	t.Logf("unacknowledged sends at the kill: %d, of which B had stored %d", inFlight, storedAnyway)
	if caught != "" && storedAnyway == 0 {
		t.Errorf("%s was committed before the kill but is not in history", caught)
	}

	// B's clients go on sending on A while B restarts.
	for _, s := range onB {
		wgB.Add(1)
		go func() { defer wgB.Done(); s.run(nil, 20) }()
	}
	restartAt := time.Now()
	b.Restart()
	t.Logf("B restarted and ready in %v", time.Since(restartAt).Round(time.Millisecond))
	wgB.Wait()
	// The restarted B serves history (the same as A's, up to what either
	// has committed since) and takes sends, over HTTP and WebSocket.
	if h := fetchHistory(t, b.URL, tok); len(h) < len(hist.list) {
		t.Fatalf("restarted B serves %d messages of history, A served %d before it restarted", len(h), len(hist.list))
	}
	var viaHTTP struct{ ID int64 }
	mustAPI(t, 201, "POST", b.URL+"/rooms/1/messages", dave.c.tok, map[string]string{"body": "dave via B over HTTP", "client_msg_id": "dave-http"}, &viaHTTP)
	carol.c.connect(b.URL, carol.c.contiguous())
	carol.run(nil, 20)
	close(stopA)
	wgA.Wait()

	// Every send made after the kill is acknowledged.
	for _, s := range senders {
		want := len(s.sentIDs())
		if p, ok := pre[s]; ok {
			want = len(p.acked) + retried[s] + len(s.sentIDs()) - len(p.sent)
		}
		testkit.Eventually(t, s.c.name+"'s sends acknowledged", 15*time.Second, func() bool { return len(s.c.ackedIDs()) == want })
	}

	// History, from both replicas: every send exactly once, seqs 1..N.
	final := fetchHistory(t, a.URL, tok)
	if fromB := fetchHistory(t, b.URL, tok); !slices.EqualFunc(final, fromB, func(x, y histMessage) bool { return x.ID == y.ID && x.Seq == y.Seq }) {
		t.Errorf("A and the restarted B serve different histories: %d and %d messages", len(final), len(fromB))
	}
	h := indexHistory(final)
	for i, m := range final {
		if m.Seq != int64(i+1) {
			t.Fatalf("history seq %d at position %d: seqs are not 1..N", m.Seq, i+1)
		}
	}
	want := 1 // dave-http
	for _, s := range senders {
		want += len(s.sentIDs())
		for _, cmid := range s.sentIDs() {
			if n := h.count[clientKey{s.c.name, cmid}]; n != 1 {
				t.Errorf("%s's send %s is in history %d times", s.c.name, cmid, n)
			}
		}
		for _, id := range s.c.ackedIDs() {
			if _, ok := h.byID[id]; !ok {
				t.Errorf("%s: acknowledged message %d is not in history", s.c.name, id)
			}
		}
	}
	if _, ok := h.byID[viaHTTP.ID]; !ok {
		t.Errorf("the send over HTTP to the restarted B (message %d) is not in history", viaHTTP.ID)
	}
	if len(final) != want {
		t.Errorf("history holds %d messages, clients sent %d", len(final), want)
	}

	// Every client holds every message. What came neither live nor by
	// resume may only be, for a client that never had to resume, a message
	// of B's users sent before the kill that B never acknowledged: B
	// committed it and died before publishing it, and the retry that found
	// it on A publishes nothing (its ack went to the retrying client
	// alone). Resuming clients got it in their replay.
	ackedByB := map[int64]bool{}
	preKillSent := map[clientKey]bool{}
	for s, p := range pre {
		for _, id := range p.acked {
			ackedByB[id] = true
		}
		for _, cmid := range p.sent {
			preKillSent[clientKey{s.c.name, cmid}] = true
		}
	}
	for _, s := range senders {
		c := s.c
		_, resumed := pre[s]
		mayMiss := func(m histMessage) bool {
			return !resumed && m.ClientMsgID != nil && preKillSent[clientKey{m.Username, *m.ClientMsgID}] && !ackedByB[m.ID]
		}
		missing := func() (seqs []int64) {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, m := range final {
				if c.ids[m.ID] == 0 && !mayMiss(m) {
					seqs = append(seqs, m.Seq)
				}
			}
			return seqs
		}
		for deadline := time.Now().Add(15 * time.Second); len(missing()) > 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				for _, seq := range missing() {
					m := final[seq-1]
					t.Errorf("%s never got seq %d (message %d, %s's %s) live or by resume", c.name, seq, m.ID, m.Username, *m.ClientMsgID)
				}
				t.FailNow()
			}
		}
		// The client fetches the gaps it sees, as the SPA does.
		var fetched []int64
		c.mu.Lock()
		for _, m := range final {
			if c.ids[m.ID] == 0 {
				fetched = append(fetched, m.Seq)
				c.ids[m.ID]++
				c.seqs[m.Seq] = true
			}
		}
		c.mu.Unlock()
		if len(fetched) > 0 {
			t.Logf("%s fetched seqs %v over HTTP: committed by B, never published", c.name, fetched)
		}
		if got := c.contiguous(); got != int64(len(final)) {
			t.Errorf("%s: seqs contiguous to %d of %d", c.name, got, len(final))
		}
		if d := c.duplicates(); d != 0 {
			t.Errorf("%s saw %d duplicates", c.name, d)
		}
	}
	testkit.Eventually(t, "everyone back in presence", 5*time.Second, func() bool {
		return onlineNames(t, a.URL, tok) == "alice,bob,carol,dave" && onlineNames(t, b.URL, tok) == "alice,bob,carol,dave"
	})
	t.Logf("%d messages, %s in all", len(final), time.Since(began).Round(10*time.Millisecond))
}

// frozenLookMax bounds the look at history while B is frozen; past it,
// A's read is waiting on a lock the frozen B holds.
const frozenLookMax = 2 * time.Second

// lookWhileFrozen reads the room's history through A. The page arrives on
// the channel; answered says whether it came within frozenLookMax (if
// not, it comes once B runs again).
func lookWhileFrozen(t *testing.T, url, tok string) (<-chan []histMessage, bool) {
	page := make(chan []histMessage, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var p struct {
			Messages []histMessage `json:"messages"`
		}
		status, raw, err := request("GET", url+"/rooms/1/messages?limit=200", tok, nil)
		if err == nil && status == 200 {
			err = json.Unmarshal(raw, &p)
		}
		if err != nil || status != 200 {
			t.Errorf("GET history through A = %d %s (%v), want 200", status, raw, err)
		}
		page <- p.Messages
	}()
	select {
	case <-done:
		return page, true
	case <-time.After(frozenLookMax):
		return page, false
	}
}

// committedUnacked names a client's last send if it is in history (read
// through A) while the client has no ack for it.
func committedUnacked(messages []histMessage, senders []*sender) string {
	h := indexHistory(messages)
	for _, s := range senders {
		sent := s.sentIDs()
		m, ok := h.byCMID[clientKey{s.c.name, sent[len(sent)-1]}]
		if ok && !slices.Contains(s.c.ackedIDs(), m.ID) {
			return s.c.name + "'s " + *m.ClientMsgID
		}
	}
	return ""
}

// sender sends numbered messages through a client and remembers every
// client_msg_id it tried, answered or not.
type sender struct {
	c    *client
	mu   sync.Mutex
	next int
	sent []string
}

// sendNext records and writes the next message.
func (s *sender) sendNext() error {
	s.mu.Lock()
	cmid := fmt.Sprintf("%s-%d", s.c.name, s.next)
	s.next++
	s.sent = append(s.sent, cmid)
	s.mu.Unlock()
	return s.c.write(sendFrame(s.c.name, cmid))
}

// run sends one message every sendEvery until stop is closed, a write
// fails (the replica is gone) or, with n > 0, n messages are sent.
func (s *sender) run(stop <-chan struct{}, n int) {
	tick := time.NewTicker(sendEvery)
	defer tick.Stop()
	for i := 0; n == 0 || i < n; i++ {
		if s.sendNext() != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// runAcked sends the next message once the last is acknowledged (or 2 s
// passed) and sendEvery has passed, until stop is closed or a write fails:
// one send is nearly always somewhere between the client and its ack, so a
// crash finds one in flight on every connection — read, committed,
// published or answered.
func (s *sender) runAcked(stop <-chan struct{}) {
	for {
		next := time.Now().Add(sendEvery)
		n := len(s.c.ackedIDs())
		if s.sendNext() != nil {
			return
		}
		for give := time.Now().Add(2 * time.Second); (len(s.c.ackedIDs()) == n || time.Now().Before(next)) && time.Now().Before(give); {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}
}

func (s *sender) sentIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// sendFrame is the send of one numbered message; a retry repeats it.
func sendFrame(name, cmid string) map[string]any {
	return map[string]any{"type": "send", "room_id": 1, "body": "message " + cmid + " from " + name, "client_msg_id": cmid}
}

type histMessage struct {
	ID          int64   `json:"id"`
	Seq         int64   `json:"seq"`
	Username    string  `json:"username"`
	ClientMsgID *string `json:"client_msg_id"`
}

// fetchHistory reads all of General over HTTP, oldest first, a page at a
// time from after_seq=0.
func fetchHistory(t *testing.T, url, tok string) []histMessage {
	t.Helper()
	var all []histMessage
	after := int64(0)
	for {
		var page struct {
			Messages []histMessage `json:"messages"`
		}
		mustAPI(t, 200, "GET", fmt.Sprintf("%s/rooms/1/messages?after_seq=%d&limit=200", url, after), tok, nil, &page)
		all = append(all, page.Messages...)
		if len(page.Messages) < 200 {
			return all
		}
		after = page.Messages[len(page.Messages)-1].Seq
	}
}

type clientKey struct{ user, cmid string }

type history struct {
	list   []histMessage
	byID   map[int64]histMessage
	byCMID map[clientKey]histMessage
	count  map[clientKey]int
}

func indexHistory(list []histMessage) history {
	h := history{list: list, byID: map[int64]histMessage{}, byCMID: map[clientKey]histMessage{}, count: map[clientKey]int{}}
	for _, m := range list {
		h.byID[m.ID] = m
		if m.ClientMsgID != nil {
			k := clientKey{m.Username, *m.ClientMsgID}
			h.byCMID[k] = m
			h.count[k]++
		}
	}
	return h
}
