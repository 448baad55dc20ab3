// Command wsfloor is the reference server of the idle and group scenarios:
// gqlgen's transport.Websocket over the server's gorilla adapter, and a
// messageAdded subscription backed by nothing but an in-process
// broadcaster, with no database, sessions, auth, hub or middleware. What a
// subscription, or one delivery to it, costs here is what the fixed
// choices (net/http, gqlgen's transport and executor, gorilla) cost before
// dmgraph adds anything.
//
// A socket whose connection_init carries {"Authorization": "Bearer G"}
// joins group G with each messageAdded it starts; without it (idle) the
// subscription never sends. POST /send?group=G with a text body hands one
// models.Message to every subscription of G: each gets it on the channel
// its resolver returned, and gqlgen executes the selection set, encodes
// the envelope and writes it, as it does for the server.
//
// It paces its garbage collector as the server does (GC_HEADROOM_MB, 64 by
// default; none when GOGC is set). The bench builds and starts it; it
// listens on 127.0.0.1:$PORT and serves /query, /send, /readyz and
// /metrics.
package main

import (
	"context"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"dmgraph/gcfloor"
	"dmgraph/graph"
	"dmgraph/models"
	"dmgraph/realtime/socket"
)

var (
	// active counts open subscriptions, under the name the bench waits for.
	active = prometheus.NewGauge(prometheus.GaugeOpts{Name: "dmgraph_subscriptions_active", Help: "Active subscriptions."})
	// dropped counts deliveries a full subscription buffer refused.
	dropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "wsfloor_deliveries_dropped_total", Help: "Deliveries dropped on a full subscription buffer."})
)

// subscriptionBuffer is each subscription's channel capacity. A send never
// waits: a delivery to a full buffer is dropped and counted.
const subscriptionBuffer = 64

// defaultGCHeadroomMB mirrors the server's DefaultGCHeadroomMB (config.go).
const defaultGCHeadroomMB = 64

// broadcaster holds the open subscriptions of each group: the channels
// their resolvers returned to gqlgen.
type broadcaster struct {
	mu     sync.Mutex
	groups map[string]map[chan *models.Message]struct{}
	lastID atomic.Int64
}

func (b *broadcaster) join(group string, ch chan *models.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.groups[group] == nil {
		b.groups[group] = map[chan *models.Message]struct{}{}
	}
	b.groups[group][ch] = struct{}{}
}

func (b *broadcaster) leave(group string, ch chan *models.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.groups[group], ch)
	if len(b.groups[group]) == 0 {
		delete(b.groups, group)
	}
}

// send hands one new message with text to every subscription of group,
// and returns how many took it.
func (b *broadcaster) send(group, text string) int {
	m := &models.Message{ID: b.lastID.Add(1), Text: &text, Delivery: models.DeliveryInbox}
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for ch := range b.groups[group] {
		select {
		case ch <- m:
			n++
		default:
			dropped.Inc()
		}
	}
	return n
}

// ServeHTTP is POST /send?group=G with the text as the body.
func (b *broadcaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	text, err := io.ReadAll(io.LimitReader(r.Body, 4000))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	group := r.URL.Query().Get("group")
	if group == "" {
		http.Error(w, "no group", http.StatusBadRequest)
		return
	}
	w.Header().Set("X-Delivered", strconv.Itoa(b.send(group, string(text))))
	w.WriteHeader(http.StatusNoContent)
}

// root resolves Subscription.messageAdded and Message's fields; any other
// field would panic, and the bench asks for none.
type root struct {
	graph.ResolverRoot
	b *broadcaster
}

func (r root) Subscription() graph.SubscriptionResolver { return subscriptions{b: r.b} }
func (root) Message() graph.MessageResolver             { return messages{} }

type subscriptions struct {
	graph.SubscriptionResolver
	b *broadcaster
}

// MessageAdded joins the socket's group, when connection_init named one,
// until the client leaves; without one the stream never sends.
func (s subscriptions) MessageAdded(ctx context.Context, _, _ *string) (<-chan *models.Message, error) {
	active.Inc()
	group := strings.TrimPrefix(transport.GetInitPayload(ctx).Authorization(), "Bearer ")
	if group == "" {
		context.AfterFunc(ctx, active.Dec)
		return make(chan *models.Message), nil
	}
	ch := make(chan *models.Message, subscriptionBuffer)
	s.b.join(group, ch)
	context.AfterFunc(ctx, func() { s.b.leave(group, ch); active.Dec() })
	return ch, nil
}

type messages struct{ graph.MessageResolver }

func (messages) ID(_ context.Context, m *models.Message) (string, error) {
	return strconv.FormatInt(m.ID, 10), nil
}

func (messages) Text(_ context.Context, m *models.Message) (*string, error) { return m.Text, nil }

// gcHeadroom reads GC_HEADROOM_MB as the server does.
func gcHeadroom() uint64 {
	if os.Getenv("GOGC") != "" {
		return 0
	}
	mb := uint64(defaultGCHeadroomMB)
	if s := os.Getenv("GC_HEADROOM_MB"); s != "" {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			log.Fatalf("GC_HEADROOM_MB must be a number of MiB, got %q", s)
		}
		mb = n
	}
	return mb << 20
}

// newMux serves /query and /send over b, and /readyz.
func newMux(b *broadcaster) *http.ServeMux {
	limit := int64(64 << 10)
	gql := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: root{b: b}}))
	gql.AddTransport(transport.Websocket{Implementation: socket.GorillaWebsocket(), PayloadReadLimit: &limit})
	mux := http.NewServeMux()
	mux.Handle("/query", gql)
	mux.Handle("/send", b)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return mux
}

func newBroadcaster() *broadcaster {
	return &broadcaster{groups: map[string]map[chan *models.Message]struct{}{}}
}

func main() {
	gcfloor.Start(context.Background(), gcHeadroom())
	reg := prometheus.NewRegistry()
	reg.MustRegister(active, dropped, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := newMux(newBroadcaster())
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), mux))
}
