package realtime

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dmgraph/models"
)

func event(id int64, audience ...int64) models.Event {
	return models.Event{Kind: models.EventMessageAdded, MessageID: id, Audience: audience}
}

// take drains s, returning the message IDs taken and whether it had ended.
func take(s *Subscription) (ids []int64, ended bool) {
	for {
		ev, ok, end := s.Next()
		if !ok {
			return ids, end
		}
		ids = append(ids, ev.MessageID)
	}
}

func TestHubDeliversInOrderToItsAudience(t *testing.T) {
	h := NewHub(8)
	var woken atomic.Int32
	a := h.Subscribe(1, func() { woken.Add(1) })
	b := h.Subscribe(2, nil)
	h.Deliver(event(10, 1))
	h.Deliver(event(11, 1, 2))
	h.Deliver(event(12, 3))
	if ids, ended := take(a); len(ids) != 2 || ids[0] != 10 || ids[1] != 11 || ended {
		t.Fatalf("user 1 took %v (ended %v), want [10 11]", ids, ended)
	}
	if ids, _ := take(b); len(ids) != 1 || ids[0] != 11 {
		t.Fatalf("user 2 took %v, want [11]", ids)
	}
	if n := woken.Load(); n != 2 {
		t.Fatalf("notified %d times, want 2", n)
	}
	if a.queue != nil {
		t.Fatal("a drained queue keeps its array")
	}
}

// A subscriber that falls a whole buffer behind is ended, never waited for;
// what it had queued is still taken before it learns it ended.
func TestHubEndsASlowSubscriber(t *testing.T) {
	h := NewHub(4)
	var woken atomic.Int32
	slow := h.Subscribe(1, func() { woken.Add(1) })
	fast := h.Subscribe(1, nil)
	fast.Start() // Subscriptions counts started ones
	for id := range int64(4) {
		h.Deliver(event(id, 1))
	}
	take(fast)
	if slow.Overflowed() {
		t.Fatal("a full buffer is not an overflow yet")
	}
	h.Deliver(event(4, 1))
	if !slow.Overflowed() || fast.Overflowed() || h.Dropped() != 1 {
		t.Fatalf("overflowed: slow %v, fast %v; dropped %d", slow.Overflowed(), fast.Overflowed(), h.Dropped())
	}
	if ids, ended := take(slow); len(ids) != 4 || ids[3] != 3 || !ended {
		t.Fatalf("slow took %v (ended %v), want [0 1 2 3] then the end", ids, ended)
	}
	if n := woken.Load(); n != 5 { // four events and the end
		t.Fatalf("notified %d times, want 5", n)
	}
	if ids, ended := take(fast); len(ids) != 1 || ended {
		t.Fatalf("fast took %v (ended %v), want [4]", ids, ended)
	}
	if h.Subscriptions() != 1 {
		t.Fatalf("%d subscriptions, want 1", h.Subscriptions())
	}
	h.Deliver(event(5, 1))
	if ids, _ := take(slow); len(ids) != 0 {
		t.Fatalf("an ended subscription took %v", ids)
	}
}

func TestHubCloseAndResync(t *testing.T) {
	h := NewHub(4)
	var woken atomic.Int32
	a := h.Subscribe(1, func() { woken.Add(1) })
	a.Close()
	a.Close()
	if _, ok, ended := a.Next(); ok || !ended || a.Overflowed() || woken.Load() != 1 {
		t.Fatalf("after Close: ok %v, ended %v, overflowed %v, notified %d", ok, ended, a.Overflowed(), woken.Load())
	}
	b := h.Subscribe(2, nil)
	if n := h.Resync(); n != 1 || !b.Overflowed() || !b.Resynced() || h.Subscriptions() != 0 {
		t.Fatalf("Resync ended %d; overflowed %v, resynced %v; %d left", n, b.Overflowed(), b.Resynced(), h.Subscriptions())
	}
}

// Deliveries from many goroutines and a reader race (run with -race): every
// event taken was delivered once, in each sender's order, and nothing is
// lost while the reader keeps up.
func TestHubConcurrentDelivery(t *testing.T) {
	h := NewHub(DefaultBuffer)
	s := h.Subscribe(1, nil)
	const senders, each = 4, 50 // fewer than the buffer: no overflow
	var wg sync.WaitGroup
	deliverFrom(&wg, h, senders, each)
	deadline := time.Now().Add(10 * time.Second)
	ids := make([]int64, 0, senders*each)
	for len(ids) < senders*each && time.Now().Before(deadline) {
		if ev, ok, _ := s.Next(); ok {
			ids = append(ids, ev.MessageID)
		}
	}
	wg.Wait()
	if len(ids) != senders*each {
		t.Fatalf("took %d of %d events", len(ids), senders*each)
	}
	inOrder(t, ids)
}

// Senders outrun a reader while another goroutine closes a second
// subscription: the slow one is ended, never waited for, and what it took
// before that is in each sender's order.
func TestHubConcurrentOverflowAndClose(t *testing.T) {
	h := NewHub(8)
	slow := h.Subscribe(1, nil)
	other := h.Subscribe(1, nil)
	const senders, each = 4, 50
	var wg sync.WaitGroup
	deliverFrom(&wg, h, senders, each)
	wg.Go(other.Close)
	var ids []int64
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ev, ok, ended := slow.Next()
		if ended {
			break
		}
		if ok {
			ids = append(ids, ev.MessageID)
			time.Sleep(time.Millisecond) // slower than the senders
		}
	}
	wg.Wait()
	if !slow.Overflowed() {
		t.Fatalf("took %d events and was not ended", len(ids))
	}
	if len(ids) >= senders*each {
		t.Fatal("an overflowed subscription took every event")
	}
	inOrder(t, ids)
	if ids, ended := take(other); !ended {
		t.Fatal("the closed subscription did not end")
	} else {
		inOrder(t, ids)
	}
	if h.Subscriptions() != 0 {
		t.Fatalf("%d subscriptions left", h.Subscriptions())
	}
}

// deliverFrom starts senders goroutines on wg, each delivering each events
// to user 1, with IDs sender*1000 + i.
func deliverFrom(wg *sync.WaitGroup, h *Hub, senders, each int64) {
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				h.Deliver(event(g*1000+i, 1))
			}
		})
	}
}

// inOrder fails unless the IDs of each sender (ID / 1000) increase by one.
func inOrder(t *testing.T, ids []int64) {
	t.Helper()
	last := map[int64]int64{}
	for _, id := range ids {
		g, i := id/1000, id%1000
		if prev, had := last[g]; (had && i != prev+1) || (!had && i != 0) {
			t.Fatalf("sender %d: %d after %d", g, i, prev)
		}
		last[g] = i
	}
}
