// Command wsfloor is the idle scenario's reference server: gqlgen's
// transport.Websocket over the server's gorilla adapter, and a messageAdded
// subscription that does nothing, with no database, sessions, auth or
// middleware. What one idle subscription costs here is what the fixed
// choices (net/http, gqlgen's transport, gorilla) cost before dmgraph adds
// anything. The bench starts it after measuring the server (`idle`); it
// listens on 127.0.0.1:$PORT and serves /query, /readyz and /metrics.
package main

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"dmgraph/graph"
	"dmgraph/models"
	"dmgraph/realtime/socket"
)

// active counts open subscriptions, under the name the bench waits for.
var active = prometheus.NewGauge(prometheus.GaugeOpts{Name: "dmgraph_subscriptions_active", Help: "Active subscriptions."})

// root resolves nothing but Subscription.messageAdded; any other field
// would panic, and the bench asks for none.
type root struct{ graph.ResolverRoot }

func (root) Subscription() graph.SubscriptionResolver { return subscriptions{} }

type subscriptions struct{ graph.SubscriptionResolver }

// MessageAdded returns a stream that never sends, open until the client
// leaves.
func (subscriptions) MessageAdded(ctx context.Context, _, _ *string) (<-chan *models.Message, error) {
	active.Inc()
	context.AfterFunc(ctx, active.Dec)
	return make(chan *models.Message), nil
}

func main() {
	reg := prometheus.NewRegistry()
	reg.MustRegister(active, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	limit := int64(64 << 10)
	gql := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: root{}}))
	gql.AddTransport(transport.Websocket{Implementation: socket.GorillaWebsocket(), PayloadReadLimit: &limit})

	mux := http.NewServeMux()
	mux.Handle("/query", gql)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), mux))
}
