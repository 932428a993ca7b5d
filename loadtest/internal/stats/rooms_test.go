package stats

import "testing"

func TestSeqSet(t *testing.T) {
	var s SeqSet
	s.Reset(10)
	if !s.Has(10) || s.Has(11) || s.Contig != 10 {
		t.Fatalf("after Reset(10): Has(10)=%v Has(11)=%v Contig=%d", s.Has(10), s.Has(11), s.Contig)
	}
	for _, c := range []struct {
		seq    int64
		had    bool
		contig int64
	}{
		{9, true, 10},   // before the first subscription: not expected
		{12, false, 10}, // a gap at 11
		{11, false, 12}, // filled: contiguous through 12
		{12, true, 12},  // a redelivery
		{14, false, 12},
		{13, false, 14},
	} {
		if had := s.Add(c.seq); had != c.had || s.Contig != c.contig {
			t.Errorf("Add(%d) = %v, Contig %d; want %v, %d", c.seq, had, s.Contig, c.had, c.contig)
		}
	}
}

func TestRoomLedger(t *testing.T) {
	var l RoomLedger
	l.Note(1, 101, 0, 0, false) // delivered before its ack
	l.Note(1, 101, 0, 0, true)
	l.Note(2, 102, 1, 0, true)
	l.Note(3, 103, 0, 1, false) // delivered, never acked
	if got := l.AckedSeqs(); len(got) != 2 || got[0] != 1 || got[1] != 2 || l.MaxAcked() != 2 {
		t.Fatalf("acked %v, max %d", got, l.MaxAcked())
	}
	if d := l.Duplicates(); d != 0 {
		t.Fatalf("duplicates %d before any", d)
	}
	// A resend stored a second time: another seq with the same probe.
	l.Note(4, 104, 1, 0, false)
	if d := l.Duplicates(); d != 1 {
		t.Errorf("duplicates %d, want 1 (seq 4 repeats sender 1's message 0)", d)
	}
	// One seq with two ids, and one client_msg_id acked with two ids.
	if l.Note(2, 999, 1, 0, false) {
		t.Error("a second id for seq 2 was accepted")
	}
	l.Note(5, 105, 0, 0, true)
	if d := l.Duplicates(); d != 4 {
		t.Errorf("duplicates %d, want 4 (seq 4, seq 5, the seq conflict, the ack conflict)", d)
	}
}
