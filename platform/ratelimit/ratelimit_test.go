package ratelimit

import (
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestAllowBurstThenRefill(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	k := NewWithClock(2, 3, c.now) // 2/s, burst 3
	for i := 0; i < 3; i++ {
		if ok, _ := k.Allow("a"); !ok {
			t.Fatalf("request %d refused inside the burst", i)
		}
	}
	ok, wait := k.Allow("a")
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("4th = %v, wait %v; want refused with wait <= 500ms", ok, wait)
	}
	if ok, _ := k.Allow("b"); !ok {
		t.Fatal("keys must not share a bucket")
	}
	c.advance(500 * time.Millisecond)
	if ok, _ := k.Allow("a"); !ok {
		t.Fatal("refilled token refused")
	}
	if RetryAfterSeconds(wait) != 1 || RetryAfterSeconds(1500*time.Millisecond) != 2 {
		t.Fatal("RetryAfterSeconds must round up to whole seconds, at least 1")
	}
}

func TestBlockedDoesNotConsume(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	k := NewWithClock(0.1, 2, c.now)
	for i := 0; i < 10; i++ {
		if blocked, _ := k.Blocked("user"); blocked {
			t.Fatal("Blocked consumed tokens")
		}
	}
	k.Allow("user")
	k.Allow("user")
	blocked, wait := k.Blocked("user")
	if !blocked || wait < 9*time.Second || wait > 10*time.Second {
		t.Fatalf("Blocked = %v, %v; want true, ~10s", blocked, wait)
	}
}

func TestSweepForgetsFullBuckets(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	k := NewWithClock(10, 1, c.now)
	for i := 0; i < 100; i++ {
		k.Allow(string(rune('a'+i%26)) + string(rune(i)))
	}
	if k.Len() != 100 {
		t.Fatalf("Len = %d", k.Len())
	}
	c.advance(2 * time.Minute)
	k.Allow("fresh")
	if k.Len() != 1 {
		t.Fatalf("after sweep Len = %d, want 1", k.Len())
	}
}
