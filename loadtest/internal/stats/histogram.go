// Package stats holds the load harness's arithmetic: a latency histogram
// with bounded relative error, nearest-rank percentiles, and the
// bookkeeping that proves every message reached every recipient exactly
// once.
package stats

import (
	"math"
	"math/bits"
	"time"
)

// Sub-buckets per power of two. 128 keeps the relative error of any
// reported value under 1/256 (the midpoint of a bucket 1/128 wide), which
// is far finer than run-to-run noise, while a histogram stays at 11 KiB —
// small enough to keep one per receiving connection with no locking on the
// hot path.
const (
	subBits    = 7
	subBuckets = 1 << subBits
	// Values are recorded in microseconds; anything beyond 2^28 µs (4.5
	// minutes) lands in the last bucket, and Max stays exact.
	maxExp     = 28 - subBits
	numBuckets = (maxExp + 2) * subBuckets
)

// Histogram counts durations. The zero value is ready to use. It is not
// safe for concurrent use: keep one per goroutine and Merge them.
type Histogram struct {
	counts [numBuckets]uint32
	n      int64
	sum    float64 // µs
	min    int64   // µs
	max    int64   // µs
}

// bucketOf maps a value in µs to its bucket: values below subBuckets are
// exact; above, each power of two is split into subBuckets equal parts.
func bucketOf(v int64) int {
	if v < subBuckets {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - subBits - 1 // v>>e is in [subBuckets, 2*subBuckets)
	if e > maxExp {
		return numBuckets - 1
	}
	return (e+1)*subBuckets + int(v>>e) - subBuckets
}

// bucketRange is the inclusive range of µs values a bucket holds.
func bucketRange(i int) (lo, hi int64) {
	if i < subBuckets {
		return int64(i), int64(i)
	}
	e := i/subBuckets - 1
	m := int64(i%subBuckets + subBuckets)
	return m << e, (m+1)<<e - 1
}

// Record adds one duration. Negative durations (clock steps) count as 0.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d/time.Microsecond), 0)
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Reset empties the histogram.
func (h *Histogram) Reset() { *h = Histogram{} }

// Count is the number of recorded values.
func (h *Histogram) Count() int64 { return h.n }

// Max is the largest recorded value (exact, to the µs).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }

// Min is the smallest recorded value (exact, to the µs).
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) * time.Microsecond }

// Mean is the arithmetic mean (exact, to the µs).
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/float64(h.n)) * time.Microsecond
}

// Quantile is the nearest-rank q-quantile (0 < q ≤ 1): the smallest
// recorded value v such that at least ceil(q·n) values are ≤ v, reported as
// the midpoint of v's bucket clamped to [Min, Max]. Quantile(1) is Max and
// an empty histogram answers 0.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return h.Max()
	}
	rank := max(int64(math.Ceil(q*float64(h.n))), 1)
	var seen int64
	for i, c := range h.counts {
		seen += int64(c)
		if seen >= rank {
			lo, hi := bucketRange(i)
			v := lo + (hi-lo)/2
			v = min(max(v, h.min), h.max)
			return time.Duration(v) * time.Microsecond
		}
	}
	return h.Max()
}

// Summary is a histogram's usual figures in milliseconds, for JSON.
type Summary struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// Summarize reports count, p50/p90/p99, max and mean.
func (h *Histogram) Summarize() Summary {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return Summary{Count: h.n, P50: ms(h.Quantile(0.50)), P90: ms(h.Quantile(0.90)), P99: ms(h.Quantile(0.99)),
		Max: ms(h.Max()), Mean: ms(h.Mean())}
}
