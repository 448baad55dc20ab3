package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/bits"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

const messageAddedQuery = `subscription { messageAdded { id text } }`

// maxInFlight bounds the concurrent sendMessage requests of a fixed-rate
// loop; when it is reached the loop waits, and the achieved rate drops.
const maxInFlight = 256

// target is one audience of a fixed-rate run: the users subscribed to
// messageAdded, each on a socket of its own, whom every message sent to the
// target reaches once, and how a message is sent to it.
type target struct {
	subscribers []*user
	send        func(ctx context.Context, c *gqlClient, from *user, text string) error
}

// maxAudience bounds a target's subscribers: a message's receipts are
// counted in one 64-bit mask.
const maxAudience = 64

// delivery is one fixed-rate run: message i goes from sender(i) to
// targets[to(i)] through sendBase, the targets' subscribers listen on
// subBase, and latency runs from the start of the sendMessage request to
// the arrival of the event at the last of them.
type delivery struct {
	scenario, what    string
	sendBase, subBase string
	targets           []target
	// pick says which target message i goes to and who sends it; it is
	// called once per message, in order, before anything is subscribed.
	pick     func(i int) (to int, from *user)
	rate     float64
	duration time.Duration
	// per names one operation in the CPU note ("message sent and
	// delivered"); the CPU is divided by the deliveries received.
	per string
}

// pairTargets makes each pair a target: A sends to B, B is subscribed.
func pairTargets(pairs []pair) ([]target, func(i int) (int, *user)) {
	ts := make([]target, len(pairs))
	for i, p := range pairs {
		ts[i] = target{subscribers: []*user{p.B}, send: func(ctx context.Context, c *gqlClient, from *user, text string) error {
			return sendText(ctx, c, from, p.B, text)
		}}
	}
	return ts, func(i int) (int, *user) { k := i % len(pairs); return k, pairs[k].A }
}

func (b *bench) runDelivery(ctx context.Context, d delivery) (row, error) {
	total := int(d.rate * d.duration.Seconds())
	tag := fmt.Sprintf("%s-%s-%d", d.scenario, runID, time.Now().UnixNano()%1e6)
	type planned struct {
		to   int
		from *user
	}
	plan := make([]planned, total)
	for i := range plan {
		plan[i].to, plan[i].from = d.pick(i)
	}
	sockets := 0
	for _, t := range d.targets {
		if n := len(t.subscribers); n == 0 || n > maxAudience {
			return row{}, fmt.Errorf("a target has %d subscribers (want 1 to %d)", n, maxAudience)
		}
		sockets += len(t.subscribers)
	}
	starts := make([]atomic.Int64, total)
	sentOK := make([]atomic.Bool, total)
	got := make([]atomic.Uint64, total) // which of the target's subscribers received it
	last := make([]atomic.Int64, total) // the latest arrival so far
	var received, dups, strays atomic.Int64
	rec := newRecorder()  // send -> last subscriber's receipt, per message
	each := newRecorder() // send -> each receipt, per delivery
	var complete atomic.Int64

	onNext := func(to, k int) func(json.RawMessage) {
		size := len(d.targets[to].subscribers)
		bit := uint64(1) << k
		return func(data json.RawMessage) {
			now := time.Now().UnixNano()
			var v struct{ MessageAdded struct{ Text string } }
			if json.Unmarshal(data, &v) != nil {
				return
			}
			rest, ok := strings.CutPrefix(v.MessageAdded.Text, tag+" ")
			if !ok {
				return
			}
			seqText, _, _ := strings.Cut(rest, " ")
			seq, err := strconv.Atoi(seqText)
			if err != nil || seq < 0 || seq >= total {
				return
			}
			if plan[seq].to != to {
				strays.Add(1) // reached someone outside its audience
				return
			}
			if got[seq].Load()&bit != 0 {
				dups.Add(1)
				return
			}
			// Record the arrival before marking it, so that whoever marks
			// the last receipt sees the latest arrival.
			for {
				l := last[seq].Load()
				if now <= l || last[seq].CompareAndSwap(l, now) {
					break
				}
			}
			old := got[seq].Or(bit)
			if old&bit != 0 {
				dups.Add(1)
				return
			}
			received.Add(1)
			start := starts[seq].Load()
			each.ok(time.Duration(now - start))
			if bits.OnesCount64(old|bit) == size {
				complete.Add(1)
				rec.ok(time.Duration(last[seq].Load() - start))
			}
		}
	}

	// Subscribe every target's subscribers, then wait until the server
	// counts them, from where the last scenario's closed sockets leave the
	// count once the server noticed them go.
	settled, err := settledMetric(d.subBase, "dmgraph_subscriptions_active")
	if err != nil {
		return row{}, err
	}
	before := map[string]float64{"dmgraph_subscriptions_active": settled}
	type socket struct {
		to, k int
		u     *user
	}
	var socks []socket
	for to, t := range d.targets {
		for k, u := range t.subscribers {
			socks = append(socks, socket{to, k, u})
		}
	}
	subs := make([]*wsSub, len(socks))
	defer func() { closeAll(subs) }()
	_, failed, first := parallel(ctx, len(socks), 32, func(i int) error {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		s, err := subscribe(sctx, d.subBase, socks[i].u.Token, messageAddedQuery, onNext(socks[i].to, socks[i].k))
		subs[i] = s
		return err
	})
	if failed > 0 {
		return row{}, fmt.Errorf("%d subscriptions failed, first: %w", failed, first)
	}
	want := before["dmgraph_subscriptions_active"] + float64(len(socks))
	if n, err := waitForMetric(d.subBase, "dmgraph_subscriptions_active", want, 30*time.Second); err != nil || n < want {
		return row{}, fmt.Errorf("subscriptions active: %v of %v (%v)", n, want, err)
	}

	// Send at a fixed rate.
	bases := []string{d.sendBase}
	if d.subBase != d.sendBase {
		bases = append(bases, d.subBase)
	}
	cpu := startCPU(bases...)
	rec.restart()
	each.restart()
	sends := newRecorder() // the sendMessage requests alone
	c := newGQLClient(d.sendBase)
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	var sendErrs atomic.Int64
	var lastErr atomic.Value
	t0 := time.Now()
	interval := time.Duration(float64(time.Second) / d.rate)
	// A server slower than the rate gets until 1.5x the duration; the rest is
	// never sent and shows as a lower achieved rate.
	stopAt := t0.Add(d.duration * 3 / 2)
	for i := 0; i < total && ctx.Err() == nil && time.Now().Before(stopAt); i++ {
		if wait := time.Until(t0.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		if !acquire(sem, stopAt) {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p := plan[i]
			start := time.Now()
			starts[i].Store(start.UnixNano())
			if err := d.targets[p.to].send(ctx, c, p.from, fmt.Sprintf("%s %d hello from the fanout", tag, i)); err != nil {
				sendErrs.Add(1)
				lastErr.Store(err.Error())
				return
			}
			sends.ok(time.Since(start))
			sentOK[i].Store(true)
		}()
	}
	wg.Wait()
	sendWindow := time.Since(t0)
	var ok, expected int64
	for i := range total {
		if sentOK[i].Load() {
			ok++
			expected += int64(len(d.targets[plan[i].to].subscribers))
		}
	}
	// Give stragglers a bounded grace period.
	for end := time.Now().Add(5 * time.Second); received.Load() < expected && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	var lost, partial int
	for i := range total {
		if !sentOK[i].Load() {
			continue
		}
		if n := len(d.targets[plan[i].to].subscribers) - bits.OnesCount64(got[i].Load()); n > 0 {
			lost += n
			partial++
		}
	}
	r := rec.summarize(d.scenario, d.what)
	cpu.stop(&r, int(received.Load()), d.per)
	r.PerSec = float64(received.Load()) / sendWindow.Seconds()
	r.Errors = int(sendErrs.Load())
	if s, ok := lastErr.Load().(string); ok {
		r.LastErr = s
	}
	r.Lost = &lost
	r.Notes = append(r.Notes, fmt.Sprintf("%s: %d sent of %d scheduled at %.0f/s to %d subscribers, achieved %.0f/s", d.what, ok, total, d.rate, len(socks), float64(ok)/sendWindow.Seconds()))
	if sockets > len(d.targets) {
		r.Notes = append(r.Notes, fmt.Sprintf("%s: %d deliveries of %d expected; %d messages reached every member; %d messages missed someone", d.what,
			received.Load(), expected, complete.Load(), partial))
		if s := each.summarize("", ""); s.Count > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: send to each member's receipt (every delivery): p50 %.2f ms, p99 %.2f ms, max %.2f ms",
				d.what, s.P50Ms, s.P99Ms, s.MaxMs))
		}
	}
	if s := sends.summarize("", ""); s.Count > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%s: of which the sendMessage request alone: p50 %.2f ms, p99 %.2f ms, max %.2f ms",
			d.what, s.P50Ms, s.P99Ms, s.MaxMs))
	}
	if n := dups.Load(); n > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%s: %d duplicate deliveries", d.what, n))
	}
	if n := strays.Load(); n > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%s: %d deliveries to someone outside the message's audience", d.what, n))
	}
	for _, s := range subs {
		if err := s.Err(); err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: a subscription failed: %v", d.what, err))
			break
		}
	}
	return r, nil
}

// runFanout measures live delivery to subscribed recipients at a fixed rate,
// against a loopback websocket echo at the same rate.
func (b *bench) runFanout(ctx context.Context) ([]row, error) {
	if len(b.pairs) == 0 {
		return nil, fmt.Errorf("no friend pairs")
	}
	rate := b.fanoutRate()
	m, err := b.runDelivery(ctx, b.pairDelivery("fanout", rate, b.opt.duration))
	if err != nil {
		return nil, err
	}
	base, err := echoBaseline(ctx, min(len(b.pairs), 256), rate, b.opt.baseline)
	if err != nil {
		m.Notes = append(m.Notes, "echo baseline: "+err.Error())
		return []row{m}, nil
	}
	compare(&m, base)
	verdict(&m, "p99<=5ms, 0 lost", m.P99Ms <= 5 && *m.Lost == 0 && m.Errors == 0)
	return []row{m, base}, nil
}

// fanoutRate is fanout's rate: -fanout-rate, at most 5 per pair per second.
func (b *bench) fanoutRate() float64 { return min(b.opt.fanoutRate, 5*float64(len(b.pairs))) }

// pairDelivery is fanout's run: each pair's A sends to B, subscribed on the
// same server, at rate for d.
func (b *bench) pairDelivery(scenario string, rate float64, d time.Duration) delivery {
	targets, pick := pairTargets(b.pairs)
	return delivery{
		scenario: scenario, what: fmt.Sprintf("send->messageAdded, %d pairs, %.0f/s", len(b.pairs), rate),
		sendBase: b.base, subBase: b.base, targets: targets, pick: pick, rate: rate, duration: d,
		per: "message sent and delivered",
	}
}

// echoBaseline runs a gorilla websocket echo server in this process and
// measures round trips over conns connections at rate messages per second.
func echoBaseline(ctx context.Context, conns int, rate float64, d time.Duration) (row, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return row{}, err
	}
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			t, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if c.WriteMessage(t, msg) != nil {
				return
			}
		}
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	total := int(rate * d.Seconds())
	starts := make([]atomic.Int64, total)
	rec := newRecorder()
	var received atomic.Int64
	cs := make([]*websocket.Conn, conns)
	mus := make([]sync.Mutex, conns)
	var readers sync.WaitGroup
	for i := range cs {
		c, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+l.Addr().String()+"/", nil)
		if err != nil {
			return row{}, err
		}
		cs[i] = c
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				_, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				now := time.Now().UnixNano()
				var v struct{ Seq int }
				if json.Unmarshal(msg, &v) == nil && v.Seq >= 0 && v.Seq < total {
					rec.ok(time.Duration(now - starts[v.Seq].Load()))
					received.Add(1)
				}
			}
		}()
	}
	rec.restart()
	t0 := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	var errs int
	for i := 0; i < total && ctx.Err() == nil; i++ {
		if wait := time.Until(t0.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		k := i % conns
		msg, _ := json.Marshal(map[string]any{"seq": i, "text": "echo baseline hello from the fanout"})
		mus[k].Lock()
		starts[i].Store(time.Now().UnixNano())
		err := cs[k].WriteMessage(websocket.TextMessage, msg)
		mus[k].Unlock()
		if err != nil {
			errs++
		}
	}
	window := time.Since(t0)
	for end := time.Now().Add(3 * time.Second); received.Load() < int64(total-errs) && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range cs {
		c.Close()
	}
	readers.Wait()
	r := rec.summarize("fanout", fmt.Sprintf("gorilla loopback echo, %d conns, %.0f/s", conns, rate))
	r.Baseline = true
	r.PerSec = float64(received.Load()) / window.Seconds()
	r.Errors = errs
	lost := total - errs - int(received.Load())
	r.Lost = &lost
	return r, nil
}

// acquire takes a slot of sem, or gives up at deadline.
func acquire(sem chan struct{}, deadline time.Time) bool {
	select {
	case sem <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}
