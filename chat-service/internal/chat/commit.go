package chat

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// DefaultSendBatch is the most sends one write transaction carries.
const DefaultSendBatch = 128

// sendTimeout bounds a batch none of whose sends has a deadline.
const sendTimeout = 30 * time.Second

// pendingSend is one SendMessage waiting for its message to be committed.
type pendingSend struct {
	ctx   context.Context
	nm    NewMessage
	taken bool              // in a batch (guarded by committer.mu)
	done  chan CreateResult // buffered: the committer never waits on it
}

// committer is a replica's group commit of sends. Sends queue up; one
// goroutine at a time takes every send waiting (up to the batch size) and
// stores them in one transaction (Store.CreateMessages); another then
// publishes and acknowledges each in batch order while the next batch is
// stored. The committer runs only while sends wait: a lone send starts it
// and is committed at once, so at low load a send waits for no one, and
// under load the sends that arrive during one commit share the next.
// Batches are stored one after another, a room's seqs follow the batch
// order, and batches are announced in the order they were stored, so the
// replica publishes every room's messages in seq order.
type committer struct {
	mu      sync.Mutex
	queue   []*pendingSend
	running bool
	// announced is closed once the last batch committed has been
	// published and answered (nil before the first). Only the running
	// committer goroutine uses it.
	announced chan struct{}
}

// persist queues nm for the next batch and waits for its outcome. The
// message's time is taken in queue order, so one replica's messages of a
// room have increasing times as well as seqs.
func (s *Service) persist(ctx context.Context, nm NewMessage) (CreateResult, error) {
	p := &pendingSend{ctx: ctx, nm: nm, done: make(chan CreateResult, 1)}
	c := &s.commit
	c.mu.Lock()
	p.nm.At = s.at()
	c.queue = append(c.queue, p)
	if !c.running {
		c.running = true
		go s.runCommits()
	}
	c.mu.Unlock()
	select {
	case r := <-p.done:
		return r, r.Err
	case <-ctx.Done():
	}
	c.mu.Lock()
	if !p.taken {
		if i := slices.Index(c.queue, p); i >= 0 {
			c.queue = slices.Delete(c.queue, i, i+1)
		}
	}
	c.mu.Unlock()
	// A send already in a batch may still be committed and published; a
	// retry with the same client_msg_id then gets that message back.
	return CreateResult{}, ctx.Err()
}

func (s *Service) runCommits() {
	for {
		batch := s.takeBatch()
		if batch == nil {
			return
		}
		s.commitBatch(batch)
		// Let the batch's announcement and the senders it wakes run before
		// taking the next batch: their next sends then join it, rather
		// than the committer running many small transactions while they
		// wait for a processor (no wait when nothing else is runnable).
		runtime.Gosched()
	}
}

// takeBatch takes the sends waiting, oldest first, or stops the committer
// (returning nil) when none is.
func (s *Service) takeBatch() []*pendingSend {
	c := &s.commit
	c.mu.Lock()
	defer c.mu.Unlock()
	var batch []*pendingSend
	n := 0
	for ; n < len(c.queue) && len(batch) < s.sendBatch; n++ {
		p := c.queue[n]
		if err := p.ctx.Err(); err != nil {
			p.done <- CreateResult{Err: err}
			continue
		}
		p.taken = true
		batch = append(batch, p)
	}
	rest := copy(c.queue, c.queue[n:])
	clear(c.queue[rest:])
	c.queue = c.queue[:rest]
	if len(batch) == 0 && len(c.queue) == 0 {
		c.running = false
		return nil
	}
	return batch
}

// commitBatch stores a batch and hands it to a goroutine of its own that
// publishes each new message and answers each send, in batch order, once
// the previous batch's has: the next batch is committed meanwhile.
func (s *Service) commitBatch(batch []*pendingSend) {
	if len(batch) == 0 {
		return
	}
	results, err := s.storeBatch(batch)
	prev, next := s.commit.announced, make(chan struct{})
	s.commit.announced = next
	go s.announce(batch, results, err, prev, next)
}

// storeBatch runs Store.CreateMessages for a batch.
func (s *Service) storeBatch(batch []*pendingSend) (results []CreateResult, err error) {
	defer func() {
		// A panic must not leave sends waiting forever or take the
		// replica down with every other sender's message.
		if v := recover(); v != nil {
			s.log.Error("send batch panicked", "panic", v, "stack", string(debug.Stack()))
			results, err = nil, fmt.Errorf("send batch panicked: %v", v)
		}
	}()
	ctx, cancel := batchContext(batch)
	defer cancel()
	nms := make([]NewMessage, len(batch))
	for i, p := range batch {
		nms[i] = p.nm
	}
	results, err = s.store.CreateMessages(ctx, nms, sendCheck)
	if err == nil && len(results) != len(batch) {
		err = fmt.Errorf("create messages: %d results for %d messages", len(results), len(batch))
	}
	return results, err
}

// announce publishes a committed batch's new messages and answers its
// sends, after the previous batch (prev closed) and before the next (it
// closes next).
func (s *Service) announce(batch []*pendingSend, results []CreateResult, err error, prev, next chan struct{}) {
	defer close(next)
	if prev != nil {
		<-prev
	}
	answered := 0
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("publishing a send batch panicked", "panic", v, "stack", string(debug.Stack()))
			for _, p := range batch[answered:] {
				p.done <- CreateResult{Err: fmt.Errorf("send batch panicked: %v", v)}
			}
		}
	}()
	for i, p := range batch {
		// Each message is published under its own send's context (its
		// trace, when traced), without its cancellation.
		ctx := context.WithoutCancel(p.ctx)
		r := CreateResult{Err: err}
		if err == nil {
			r = results[i]
		}
		if r.Err == nil && r.Created {
			s.publish(ctx, Event{Type: EventMessage, RoomID: r.Message.RoomID, Seq: r.Message.Seq,
				Frame: MessageFrame{Type: EventMessage, Message: r.Message}})
			if users := mentioned(r.Message); len(users) > 0 {
				// On every socket of each user named, subscribed or not.
				s.publish(ctx, Event{Type: EventMention, Users: users,
					Frame: MessageFrame{Type: EventMention, Message: r.Message}})
			}
			if r.Root != nil {
				// The root's new reply count, after the reply itself.
				s.publish(ctx, Event{Type: EventMessageUpdated, RoomID: r.Root.RoomID,
					Frame: MessageFrame{Type: EventMessageUpdated, Message: *r.Root}})
			}
		}
		answered = i + 1
		p.done <- r
	}
}

// batchContext is a batch's context: it keeps the first send's values, is
// not cancelled when one sender gives up (the others still want their
// messages), and lasts until the latest deadline of its sends.
func batchContext(batch []*pendingSend) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, p := range batch {
		d, ok := p.ctx.Deadline()
		if !ok {
			latest = time.Time{}
			break
		}
		if d.After(latest) {
			latest = d
		}
	}
	base := context.WithoutCancel(batch[0].ctx)
	if latest.IsZero() {
		return context.WithTimeout(base, sendTimeout)
	}
	return context.WithDeadline(base, latest)
}

// mentioned are the users a message names, its sender aside.
func mentioned(m Message) []int64 {
	var users []int64
	for _, u := range m.Mentions {
		if u != m.UserID {
			users = append(users, u)
		}
	}
	return users
}
