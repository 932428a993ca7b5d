package stats

import "sync"

// RoomLedger is what clients that reconnect and resume learn of one room's
// messages, by seq, across all their connections: the id each seq was
// given, the probe (sender, number) its body carries, and whether its send
// was acknowledged. Seqs of a room are dense from 1, so it is a slice. It
// is safe for concurrent use.
type RoomLedger struct {
	mu    sync.RWMutex
	slots []roomSlot
	// conflicts counts one seq seen with two ids, or one client_msg_id
	// acknowledged with two ids.
	conflicts int64
	// acked maps a probe (sender, number) to the id its first ack carried.
	acked map[[2]int32]int64
}

type roomSlot struct {
	id        int64
	sender, n int32
	acked     bool
}

// Note records that seq carries message id with the probe (sender, n),
// from a delivery or (acked) an ack. It reports false when the seq was
// already known with another id.
func (l *RoomLedger) Note(seq, id int64, sender, n int, acked bool) bool {
	if seq <= 0 {
		return false
	}
	l.mu.RLock()
	if seq < int64(len(l.slots)) {
		s := l.slots[seq]
		if s.id == id && (s.acked || !acked) {
			l.mu.RUnlock()
			return true
		}
	}
	l.mu.RUnlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq >= int64(len(l.slots)) {
		l.slots = append(l.slots, make([]roomSlot, int(seq)+1-len(l.slots))...)
	}
	s := &l.slots[seq]
	if s.id != 0 && s.id != id {
		l.conflicts++
		return false
	}
	s.id, s.sender, s.n = id, int32(sender), int32(n)
	if acked {
		s.acked = true
		if l.acked == nil {
			l.acked = map[[2]int32]int64{}
		}
		k := [2]int32{int32(sender), int32(n)}
		if prev, ok := l.acked[k]; ok && prev != id {
			l.conflicts++
		} else {
			l.acked[k] = id
		}
	}
	return true
}

// MaxAcked is the highest acknowledged seq (0 when none).
func (l *RoomLedger) MaxAcked() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for seq := len(l.slots) - 1; seq > 0; seq-- {
		if l.slots[seq].acked {
			return int64(seq)
		}
	}
	return 0
}

// AckedSeqs lists the acknowledged seqs in order.
func (l *RoomLedger) AckedSeqs() []int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []int64
	for seq, s := range l.slots {
		if s.acked {
			out = append(out, int64(seq))
		}
	}
	return out
}

// Duplicates counts the messages a resend created twice: for every probe
// (one client_msg_id), the distinct seqs carrying it beyond the first,
// plus the conflicts Note saw.
func (l *RoomLedger) Duplicates() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	seen := map[[2]int32]int{}
	var n int64
	for _, s := range l.slots {
		if s.id == 0 {
			continue
		}
		k := [2]int32{s.sender, s.n}
		seen[k]++
		if seen[k] > 1 {
			n++
		}
	}
	return n + l.conflicts
}

// SeqSet is the seqs one client received in one room, from its first
// subscription's last_seq (Base) on, with the highest seq up to which it
// holds every one (Contig) — where a resume starts. It is not safe for
// concurrent use.
type SeqSet struct {
	Base   int64
	Contig int64
	bits   Bitset
}

// Reset starts the set after base.
func (s *SeqSet) Reset(base int64) {
	*s = SeqSet{Base: base, Contig: base}
}

// Add records seq and reports whether it was already there. Seqs at or
// below Base are ignored (reported as held).
func (s *SeqSet) Add(seq int64) (had bool) {
	if seq <= s.Base {
		return true
	}
	if s.bits.Add(int(seq - s.Base - 1)) {
		return true
	}
	for s.bits.Has(int(s.Contig - s.Base)) {
		s.Contig++
	}
	return false
}

// Has reports whether seq was received (seqs at or below Base count as
// held: they are not expected).
func (s *SeqSet) Has(seq int64) bool {
	return seq <= s.Base || s.bits.Has(int(seq-s.Base-1))
}
