package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactQuantile is the nearest-rank quantile of µs samples.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = max(rank, 1)
	return sorted[rank-1]
}

func TestBucketsTileTheLine(t *testing.T) {
	// Every bucket starts right after the previous one ends, and every
	// value maps to the bucket whose range holds it.
	prevHi := int64(-1)
	for i := range numBuckets {
		lo, hi := bucketRange(i)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d = [%d,%d], previous ended at %d", i, lo, hi, prevHi)
		}
		for _, v := range []int64{lo, hi, lo + (hi-lo)/2} {
			if b := bucketOf(v); b != i {
				t.Fatalf("bucketOf(%d) = %d, want %d", v, b, i)
			}
		}
		prevHi = hi
	}
	if b := bucketOf(math.MaxInt64); b != numBuckets-1 {
		t.Fatalf("huge value in bucket %d, want the last", b)
	}
}

func TestQuantileSmallExact(t *testing.T) {
	// Below 128 µs every value has its own bucket, so quantiles are exact.
	var h Histogram
	for v := 1; v <= 100; v++ {
		h.Record(time.Duration(v) * time.Microsecond)
	}
	cases := []struct {
		q    float64
		want time.Duration
	}{
		{0.01, 1 * time.Microsecond},
		{0.5, 50 * time.Microsecond},
		{0.9, 90 * time.Microsecond},
		{0.99, 99 * time.Microsecond},
		{0.991, 100 * time.Microsecond},
		{1, 100 * time.Microsecond},
	}
	for _, c := range cases {
		if got := h.Quantile(c.q); got != c.want {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if h.Count() != 100 || h.Min() != time.Microsecond || h.Max() != 100*time.Microsecond {
		t.Errorf("count/min/max = %d/%v/%v", h.Count(), h.Min(), h.Max())
	}
	if h.Mean() != 50*time.Microsecond { // 50.5 truncated to the µs
		t.Errorf("mean = %v", h.Mean())
	}
}

func TestQuantileRelativeError(t *testing.T) {
	dists := map[string]func(r *rand.Rand) int64{
		"uniform 0-10s":    func(r *rand.Rand) int64 { return r.Int64N(10_000_000) },
		"lognormal ~1ms":   func(r *rand.Rand) int64 { return int64(math.Exp(r.NormFloat64()*1.5 + math.Log(1000))) },
		"exponential 20ms": func(r *rand.Rand) int64 { return int64(r.ExpFloat64() * 20_000) },
		"bimodal":          func(r *rand.Rand) int64 { return []int64{300, 250_000}[r.IntN(2)] + r.Int64N(50) },
	}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			samples := make([]int64, 200_000)
			var h Histogram
			for i := range samples {
				samples[i] = gen(r)
				h.Record(time.Duration(samples[i]) * time.Microsecond)
			}
			slices.Sort(samples)
			for _, q := range []float64{0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.99999, 1} {
				want := exactQuantile(samples, q)
				got := int64(h.Quantile(q) / time.Microsecond)
				// Half a bucket: 1/256 of the value, or exact below 128 µs.
				tol := max(float64(want)/256, 0.5)
				if math.Abs(float64(got-want)) > tol {
					t.Errorf("q=%v: got %d µs, exact %d µs (tolerance %.1f)", q, got, want, tol)
				}
			}
			if h.Max() != time.Duration(samples[len(samples)-1])*time.Microsecond {
				t.Errorf("max = %v, want %d µs", h.Max(), samples[len(samples)-1])
			}
		})
	}
}

func TestMergeEqualsRecordingTogether(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var all, a, b Histogram
	for i := range 10_000 {
		d := time.Duration(r.Int64N(5_000_000)) * time.Microsecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(&Histogram{}) // empty merge changes nothing
	if m != all {
		t.Fatalf("merged %v != together %v", m.Summarize(), all.Summarize())
	}
}

func TestEmptyAndNegative(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Mean() != 0 || h.Summarize().Count != 0 {
		t.Fatal("empty histogram should report zeros")
	}
	h.Record(-time.Second) // a clock step backwards
	if h.Max() != 0 || h.Count() != 1 {
		t.Fatalf("negative sample: max %v count %d", h.Max(), h.Count())
	}
	h.Reset()
	if h.Count() != 0 {
		t.Fatal("reset left samples")
	}
	huge := 10 * time.Hour
	h.Record(huge)
	if h.Quantile(0.5) != huge || h.Max() != huge {
		t.Fatalf("overflow bucket: q50 %v max %v, want %v (clamped to max)", h.Quantile(0.5), h.Max(), huge)
	}
}

func TestSummarizeInMilliseconds(t *testing.T) {
	var h Histogram
	h.Record(1500 * time.Microsecond)
	s := h.Summarize()
	if s.P50 != 1.5 || s.Max != 1.5 || s.Count != 1 {
		t.Fatalf("summary %+v", s)
	}
}

func TestBitset(t *testing.T) {
	var b Bitset
	for _, i := range []int{0, 63, 64, 1000} {
		if b.Add(i) {
			t.Fatalf("%d reported present before add", i)
		}
		if !b.Add(i) || !b.Has(i) {
			t.Fatalf("%d missing after add", i)
		}
	}
	if b.Has(1) || b.Has(5000) || b.Len() != 4 {
		t.Fatalf("has(1)=%v has(5000)=%v len=%d", b.Has(1), b.Has(5000), b.Len())
	}
}

func TestAccount(t *testing.T) {
	// Sender 1: seq 0,1,2 accepted, 3 refused, 4 pending.
	// Sender 2: seq 0 accepted.
	s1, s2 := &SenderLog{}, &SenderLog{}
	for seq := range 3 {
		s1.Set(seq, Pending)
		s1.Set(seq, Accepted)
	}
	s1.Set(3, Refused)
	s1.Set(4, Pending)
	s1.Set(2, Pending) // a late duplicate "written" never downgrades
	s2.Set(0, Accepted)
	senders := map[int]*SenderLog{1: s1, 2: s2}

	cases := []struct {
		name string
		recv [][2]int // (sender, seq) in arrival order
		want Tally
	}{
		{
			name: "all once",
			recv: [][2]int{{1, 0}, {2, 0}, {1, 1}, {1, 2}},
			want: Tally{Expected: 4, Delivered: 4},
		},
		{
			name: "one lost, one duplicated",
			recv: [][2]int{{1, 0}, {1, 0}, {1, 2}, {2, 0}},
			want: Tally{Expected: 4, Delivered: 3, Lost: 1, Duplicates: 1},
		},
		{
			name: "pending may arrive, refused may not",
			recv: [][2]int{{1, 0}, {1, 1}, {1, 2}, {2, 0}, {1, 4}, {1, 3}},
			want: Tally{Expected: 4, Delivered: 4, Unexpected: 1, PendingDelivered: 1},
		},
		{
			name: "never sent and foreign sender",
			recv: [][2]int{{1, 0}, {1, 1}, {1, 2}, {2, 0}, {1, 99}, {7, 0}, {7, 1}},
			want: Tally{Expected: 4, Delivered: 4, Unexpected: 3},
		},
		{
			name: "nothing",
			want: Tally{Expected: 4, Lost: 4},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var in Inbox
			for _, r := range c.recv {
				in.Receive(r[0], r[1])
			}
			if got := Account(&in, senders); got != c.want {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
	if s1.Count(Accepted) != 3 || s1.Get(3) != Refused || s1.Get(9) != Unsent {
		t.Fatalf("sender log counts wrong")
	}
}

func TestTallyAdd(t *testing.T) {
	a := Tally{Expected: 1, Delivered: 1, Lost: 2, Duplicates: 3, Unexpected: 4, PendingDelivered: 5}
	a.Add(a)
	if a != (Tally{2, 2, 4, 6, 8, 10}) {
		t.Fatalf("%+v", a)
	}
}

func TestMedian(t *testing.T) {
	cases := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{7}, 7},
	}
	for _, c := range cases {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) should be NaN")
	}
}
