package storetest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/chat-service/internal/store/sqlstore"
	"github.com/parleychat/parley/chat-service/internal/store/storetest"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
)

// The store benchmarks compare the dialects on one machine: persisted
// messages per second with 8 concurrent writers (into 1 room, where every
// send queues for the room's seq, and into 8 rooms), and the latency of a
// 50-message history page in a 10,000-message room. PostgreSQL is the
// TEST_POSTGRES_DSN server:
//
//	go test -run '^$' -bench . -benchtime 5s ./internal/store/storetest/
const benchWriters = 8

func benchDialects(b *testing.B, fn func(b *testing.B, target func() sqldb.Target)) {
	b.Run("sqlite", func(b *testing.B) {
		fn(b, func() sqldb.Target { return sqldbtest.SQLite(b, "bench.db") })
	})
	b.Run("postgres", func(b *testing.B) {
		sqldbtest.PostgresDSN(b)
		fn(b, func() sqldb.Target { return sqldbtest.Postgres(b) })
	})
}

func benchRooms(b *testing.B, st *sqlstore.Store, n int) []int64 {
	b.Helper()
	ids := make([]int64, n)
	for i := range ids {
		r, err := st.CreateRoom(context.Background(), chat.NewRoom{Name: fmt.Sprint("bench", i), Kind: chat.KindPublic, CreatedBy: 1, CreatorName: "b", At: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = r.ID
	}
	return ids
}

// BenchmarkCreateMessage reports persisted messages per second (msgs/s):
// each op is one send with a client id, committed.
func BenchmarkCreateMessage(b *testing.B) {
	benchDialects(b, func(b *testing.B, target func() sqldb.Target) {
		for _, nrooms := range []int{1, 8} {
			b.Run(fmt.Sprintf("rooms=%d/writers=%d", nrooms, benchWriters), func(b *testing.B) {
				st := storetest.Open(b, target())
				rooms := benchRooms(b, st, nrooms)
				var writer atomic.Int64
				b.SetParallelism((benchWriters + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					w := writer.Add(1)
					ctx := context.Background()
					for i := 0; pb.Next(); i++ {
						_, _, err := st.CreateMessage(ctx, chat.NewMessage{
							RoomID: rooms[(int(w)+i)%len(rooms)], UserID: w, Username: "bench",
							Body: "a benchmark message of ordinary length, about sixty chars", ClientMsgID: fmt.Sprintf("w%d-%d", w, i), At: time.Now(),
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	})
}

// BenchmarkCreateMessages reports persisted messages per second (msgs/s)
// when one writer stores batches of concurrent sends in one transaction
// each (Store.CreateMessages, the group commit of chat.Service): 200
// users sending into 8 rooms, each send with a client id, as the persist
// load test does. batch=1 is the cost of a send on an idle server.
func BenchmarkCreateMessages(b *testing.B) {
	benchDialects(b, func(b *testing.B, target func() sqldb.Target) {
		for _, batch := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("rooms=8/batch=%d", batch), func(b *testing.B) {
				st := storetest.Open(b, target())
				rooms := benchRooms(b, st, 8)
				ctx := context.Background()
				nms := make([]chat.NewMessage, 0, batch)
				// The service checks each sender's membership in the batch.
				allow := func(chat.Room, *chat.Member) error { return nil }
				cpu0 := cpuTime()
				b.ResetTimer()
				for sent := 0; sent < b.N; {
					nms = nms[:0]
					for range min(batch, b.N-sent) {
						user := int64(sent%200 + 1)
						nms = append(nms, chat.NewMessage{RoomID: rooms[sent%len(rooms)], UserID: user, Username: "bench",
							Body: "a benchmark message of ordinary length, about sixty chars", ClientMsgID: fmt.Sprint("m", sent), At: time.Now()})
						sent++
					}
					res, err := st.CreateMessages(ctx, nms, allow)
					if err != nil {
						b.Fatal(err)
					}
					for _, r := range res {
						if r.Err != nil || !r.Created {
							b.Fatalf("%+v", r)
						}
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
			})
		}
	})
}

// cpuTime is the CPU time this process has used, which on a shared
// machine says more about a code path's cost than elapsed time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHistoryPage reports the latency of one page of 50 messages
// before a random seq of a 10,000-message room (ns/op, and p50/p99 in µs).
func BenchmarkHistoryPage(b *testing.B) {
	const size, page = 10_000, 50
	benchDialects(b, func(b *testing.B, target func() sqldb.Target) {
		st := storetest.Open(b, target())
		room := benchRooms(b, st, 1)[0]
		ctx := context.Background()
		var (
			next atomic.Int64
			wg   sync.WaitGroup
		)
		for w := range benchWriters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= size {
					m, _, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: room, UserID: int64(w + 1), Username: "bench", Body: "history message body", At: time.Now()})
					if err != nil {
						b.Error(err)
						return
					}
					if m.Seq%10 == 0 {
						if _, err := st.AddReaction(ctx, m.ID, 1, "👍", time.Now()); err != nil {
							b.Error(err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			before := page + 1 + rand.Int64N(size-page)
			t := time.Now()
			msgs, _, err := st.Messages(ctx, chat.MessageFilter{RoomID: room, BeforeSeq: before, Limit: page})
			lat = append(lat, time.Since(t))
			if err != nil || len(msgs) != page {
				b.Fatalf("page before %d: %d messages, %v", before, len(msgs), err)
			}
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	})
}

// BenchmarkMessagesPerDay times GET /admin/usage's count of messages per
// UTC day over 30 days holding 100,000 messages (8 rooms, spread evenly).
func BenchmarkMessagesPerDay(b *testing.B) {
	const size, days, batch = 100_000, 30, 500
	benchDialects(b, func(b *testing.B, target func() sqldb.Target) {
		st := storetest.Open(b, target())
		rooms := benchRooms(b, st, 8)
		ctx := context.Background()
		now := time.Now().UTC()
		since := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(days - 1))
		step := time.Duration(int64(days*24*time.Hour) / size)
		for start := 0; start < size; start += batch {
			ms := make([]chat.NewMessage, batch)
			for i := range ms {
				n := start + i
				ms[i] = chat.NewMessage{RoomID: rooms[n%len(rooms)], UserID: int64(n%50 + 1), Username: "bench", Body: "a message", At: since.Add(time.Duration(n) * step)}
			}
			if _, err := st.CreateMessages(ctx, ms, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for range b.N {
			counts, err := st.MessagesPerDay(ctx, since)
			if err != nil || len(counts) != days {
				b.Fatalf("messages per day: %d days, %v", len(counts), err)
			}
		}
	})
}

// BenchmarkThreadPage reports the latency of one thread page as GET
// /messages/:id/thread reads it — the root, then 50 replies after a random
// seq of its thread — in a room of 100,000 messages where every tenth
// message is a reply somewhere and the thread read has 198 replies spread
// over the whole room (ns/op, and p50/p99 in µs). The room is filled with
// CreateMessages in batches of 1,000 (the group commit's bulk path).
//
//	go test -run '^$' -bench ThreadPage -benchtime 2000x ./internal/store/storetest/
func BenchmarkThreadPage(b *testing.B) {
	const size, batch, page = 100_000, 1_000, 50
	benchDialects(b, func(b *testing.B, target func() sqldb.Target) {
		st := storetest.Open(b, target())
		room := benchRooms(b, st, 1)[0]
		ctx := context.Background()
		allow := func(chat.Room, *chat.Member) error { return nil }
		ids := make([]int64, size+1) // seq → id
		var root int64
		nms := make([]chat.NewMessage, 0, batch)
		for seq := 1; seq <= size; {
			nms = nms[:0]
			first := seq
			for ; seq <= size && seq < first+batch; seq++ {
				nm := chat.NewMessage{RoomID: room, UserID: int64(seq%50 + 1), Username: "bench", Body: "a message in a big room", At: time.Now()}
				switch {
				case root != 0 && seq%500 == 0:
					nm.ThreadRootID = root // the thread read: 198 replies (from seq 1,500)
				case seq > 1505 && seq%10 == 0:
					nm.ThreadRootID = ids[seq-1505] // top-level, in an earlier batch
				}
				nms = append(nms, nm)
			}
			res, err := st.CreateMessages(ctx, nms, allow)
			if err != nil {
				b.Fatal(err)
			}
			for i, r := range res {
				if r.Err != nil || r.Message.Seq != int64(first+i) {
					b.Fatalf("seq %d: %+v", first+i, r)
				}
				ids[r.Message.Seq] = r.Message.ID
			}
			if root == 0 {
				root = ids[1]
			}
		}
		if m, err := st.Message(ctx, root); err != nil || m.ReplyCount != (size-1500)/500+1 {
			b.Fatalf("root = %+v, %v", m, err)
		}
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			after := rand.Int64N(size - 50*500)
			t := time.Now()
			if _, err := st.Message(ctx, root); err != nil {
				b.Fatal(err)
			}
			msgs, err := st.Thread(ctx, root, after, page+1)
			lat = append(lat, time.Since(t))
			if err != nil || len(msgs) < page {
				b.Fatalf("thread page after %d: %d replies, %v", after, len(msgs), err)
			}
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	})
}

// BenchmarkPins reports what GET /rooms/:id/pins and a pin cost in a room
// of 100,000 messages holding 49 pins: the list of all 50 (newest pin
// first), and a pin (the cap's count under the room's lock, the write)
// with its unpin, of a random message.
func BenchmarkPins(b *testing.B) {
	const size, batch = 100_000, 1_000
	benchDialects(b, func(b *testing.B, target func() sqldb.Target) {
		st := storetest.Open(b, target())
		room := benchRooms(b, st, 1)[0]
		ctx := context.Background()
		allow := func(chat.Room, *chat.Member) error { return nil }
		ids := make([]int64, 0, size)
		nms := make([]chat.NewMessage, 0, batch)
		for len(ids) < size {
			nms = nms[:0]
			for range batch {
				nms = append(nms, chat.NewMessage{RoomID: room, UserID: int64(len(ids)%50 + 1), Username: "bench", Body: "a message in a big room", At: time.Now()})
			}
			res, err := st.CreateMessages(ctx, nms, allow)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				ids = append(ids, r.Message.ID)
			}
		}
		by := chat.UserRef{UserID: 1, Username: "bench"}
		pinned := map[int64]bool{}
		for i := range chat.MaxPinsPerRoom - 1 {
			id := ids[i*(size/chat.MaxPinsPerRoom)]
			if _, _, err := st.PinMessage(ctx, room, id, by, time.Now()); err != nil {
				b.Fatal(err)
			}
			pinned[id] = true
		}
		list := make([]time.Duration, 0, b.N)
		pin := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			id := ids[rand.IntN(size)]
			for pinned[id] {
				id = ids[rand.IntN(size)]
			}
			t := time.Now()
			if _, _, err := st.PinMessage(ctx, room, id, by, time.Now()); err != nil {
				b.Fatal(err)
			}
			pin = append(pin, time.Since(t))
			t = time.Now()
			msgs, err := st.Pins(ctx, room)
			list = append(list, time.Since(t))
			if err != nil || len(msgs) != chat.MaxPinsPerRoom || msgs[0].ID != id {
				b.Fatalf("pins: %d messages, want %d with %d first: %v", len(msgs), chat.MaxPinsPerRoom, id, err)
			}
			if _, _, err := st.UnpinMessage(ctx, room, id); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		slices.Sort(list)
		slices.Sort(pin)
		b.ReportMetric(float64(list[len(list)/2].Microseconds()), "list-p50-µs")
		b.ReportMetric(float64(list[len(list)*99/100].Microseconds()), "list-p99-µs")
		b.ReportMetric(float64(pin[len(pin)/2].Microseconds()), "pin-p50-µs")
		b.ReportMetric(float64(pin[len(pin)*99/100].Microseconds()), "pin-p99-µs")
	})
}
