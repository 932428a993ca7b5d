package stats

import "math/bits"

// Bitset is a growable set of small non-negative integers.
type Bitset struct{ words []uint64 }

// Add inserts i and reports whether it was already there.
func (b *Bitset) Add(i int) (had bool) {
	w := i >> 6
	if w >= len(b.words) {
		b.words = append(b.words, make([]uint64, w+1-len(b.words))...)
	}
	m := uint64(1) << (i & 63)
	had = b.words[w]&m != 0
	b.words[w] |= m
	return had
}

// Has reports whether i is in the set.
func (b *Bitset) Has(i int) bool {
	w := i >> 6
	return w < len(b.words) && b.words[w]&(uint64(1)<<(i&63)) != 0
}

// Len is the number of members.
func (b *Bitset) Len() int {
	n := 0
	for _, w := range b.words {
		n += bits.OnesCount64(w)
	}
	return n
}

// Outcome is what the server said about one sent message.
type Outcome uint8

// Outcomes of a send.
const (
	// Unsent: the sender never wrote it (or the write failed).
	Unsent Outcome = iota
	// Pending: written, no answer yet. Recipients may get it; it is not
	// required of them.
	Pending
	// Accepted: acknowledged (Parley's ack) or, for protocols without
	// acks, written. Every recipient must get it exactly once.
	Accepted
	// Refused: the server answered an error. No recipient may get it.
	Refused
)

// SenderLog records the outcome of each message one sender sent, by its
// sequence number. It is not safe for concurrent use.
type SenderLog struct{ out []Outcome }

// Set records seq's outcome. A late answer never downgrades Accepted or
// Refused back to Pending.
func (l *SenderLog) Set(seq int, o Outcome) {
	if seq >= len(l.out) {
		l.out = append(l.out, make([]Outcome, seq+1-len(l.out))...)
	}
	if o == Pending && l.out[seq] != Unsent {
		return
	}
	l.out[seq] = o
}

// Get is seq's outcome.
func (l *SenderLog) Get(seq int) Outcome {
	if seq < len(l.out) {
		return l.out[seq]
	}
	return Unsent
}

// Count is how many messages have outcome o.
func (l *SenderLog) Count(o Outcome) int {
	n := 0
	for _, x := range l.out {
		if x == o {
			n++
		}
	}
	return n
}

// Inbox is what one recipient got, by sender and sequence number.
// It is not safe for concurrent use.
type Inbox struct {
	seen       map[int]*Bitset
	Duplicates int64
	Unique     int64
}

// Receive records one delivery of (sender, seq) and reports whether it was
// a duplicate.
func (in *Inbox) Receive(sender, seq int) (dup bool) {
	if in.seen == nil {
		in.seen = map[int]*Bitset{}
	}
	b := in.seen[sender]
	if b == nil {
		b = &Bitset{}
		in.seen[sender] = b
	}
	if b.Add(seq) {
		in.Duplicates++
		return true
	}
	in.Unique++
	return false
}

// Tally is the delivery bookkeeping of a run.
type Tally struct {
	// Expected deliveries: accepted messages × the recipients that must get
	// them.
	Expected int64 `json:"expected"`
	// Delivered counts unique deliveries of accepted messages.
	Delivered int64 `json:"delivered"`
	// Lost are expected deliveries that never arrived.
	Lost int64 `json:"lost"`
	// Duplicates are deliveries of a message the recipient already had.
	Duplicates int64 `json:"duplicates"`
	// Unexpected are deliveries of messages that were refused or never
	// sent: the server made something up or the client misparsed.
	Unexpected int64 `json:"unexpected"`
	// PendingDelivered are deliveries of messages whose send was never
	// answered (allowed, not required).
	PendingDelivered int64 `json:"pending_delivered"`
}

// Add sums tallies.
func (t *Tally) Add(o Tally) {
	t.Expected += o.Expected
	t.Delivered += o.Delivered
	t.Lost += o.Lost
	t.Duplicates += o.Duplicates
	t.Unexpected += o.Unexpected
	t.PendingDelivered += o.PendingDelivered
}

// Account checks one recipient's inbox against the senders it must hear
// (its room's senders, by sender id).
func Account(in *Inbox, senders map[int]*SenderLog) Tally {
	t := Tally{Duplicates: in.Duplicates}
	for id, log := range senders {
		got := in.seen[id]
		for seq, o := range log.out {
			has := got != nil && got.Has(seq)
			switch o {
			case Accepted:
				t.Expected++
				if has {
					t.Delivered++
				} else {
					t.Lost++
				}
			case Pending:
				if has {
					t.PendingDelivered++
				}
			default:
				if has {
					t.Unexpected++
				}
			}
		}
		if got != nil {
			// Sequence numbers beyond anything the sender logged.
			for _, seq := range members(got) {
				if seq >= len(log.out) {
					t.Unexpected++
				}
			}
		}
	}
	// Deliveries attributed to senders that are not this room's.
	for id, got := range in.seen {
		if _, ok := senders[id]; !ok {
			t.Unexpected += int64(got.Len())
		}
	}
	return t
}

func members(b *Bitset) []int {
	var out []int
	for w, word := range b.words {
		for word != 0 {
			i := bits.TrailingZeros64(word)
			out = append(out, w*64+i)
			word &^= 1 << i
		}
	}
	return out
}
