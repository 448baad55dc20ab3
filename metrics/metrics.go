// Package metrics defines dmgraph's Prometheus metrics, all named dmgraph_*,
// beside the standard Go and process collectors.
package metrics

import (
	"bufio"
	"database/sql"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"dmgraph/models"
)

// Metrics holds the collectors. A nil *Metrics records nothing, so tests and
// tools can skip it.
type Metrics struct {
	registry      *prometheus.Registry
	httpRequests  *prometheus.CounterVec
	operations    *prometheus.CounterVec
	opDuration    *prometheus.HistogramVec
	messagesSent  *prometheus.CounterVec
	eventsPublish *prometheus.CounterVec
	websockets    prometheus.Gauge
	subscriptions prometheus.Gauge
}

// New registers every collector on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dmgraph_http_requests_total", Help: "HTTP requests by status code.",
		}, []string{"code"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dmgraph_graphql_operations_total", Help: "GraphQL operations by name and outcome (ok or an error code).",
		}, []string{"operation", "outcome"}),
		opDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dmgraph_graphql_operation_duration_seconds", Help: "GraphQL operation duration.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"operation"}),
		messagesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dmgraph_messages_sent_total", Help: "Messages stored, by delivery (INBOX or REQUEST).",
		}, []string{"delivery"}),
		eventsPublish: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dmgraph_events_published_total", Help: "Committed events handed to the broker, by kind.",
		}, []string{"kind"}),
		websockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dmgraph_websocket_connections", Help: "Open websocket connections.",
		}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dmgraph_subscriptions_active", Help: "Active GraphQL subscriptions.",
		}),
	}
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.operations, m.opDuration, m.messagesSent, m.eventsPublish,
		m.websockets, m.subscriptions)
	// Series of a known, small label set start at 0, so that a fresh server
	// shows zeros, not "no data", to dashboards and alerts.
	for _, d := range []models.Delivery{models.DeliveryInbox, models.DeliveryRequest} {
		m.messagesSent.WithLabelValues(string(d))
	}
	for _, k := range []models.EventKind{models.EventMessageAdded, models.EventChanged, models.EventSignedOut} {
		m.eventsPublish.WithLabelValues(string(k))
	}
	return m
}

// WatchDB exports the connection pool's statistics.
func (m *Metrics) WatchDB(db *sql.DB) {
	if m != nil {
		m.registry.MustRegister(collectors.NewDBStatsCollector(db, "dmgraph"))
	}
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Operation records one GraphQL operation.
func (m *Metrics) Operation(name, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.operations.WithLabelValues(name, outcome).Inc()
	m.opDuration.WithLabelValues(name).Observe(d.Seconds())
}

// MessageSent counts a stored message.
func (m *Metrics) MessageSent(delivery string) {
	if m != nil {
		m.messagesSent.WithLabelValues(delivery).Inc()
	}
}

// EventPublished counts an event handed to the broker.
func (m *Metrics) EventPublished(kind string) {
	if m != nil {
		m.eventsPublish.WithLabelValues(kind).Inc()
	}
}

// CounterFunc exports a counter kept elsewhere, such as the hub's count of
// subscribers dropped for falling behind.
func (m *Metrics) CounterFunc(name, help string, f func() float64) {
	if m != nil {
		m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
}

// WebsocketOpened and WebsocketClosed track open connections.
func (m *Metrics) WebsocketOpened() {
	if m != nil {
		m.websockets.Inc()
	}
}

func (m *Metrics) WebsocketClosed() {
	if m != nil {
		m.websockets.Dec()
	}
}

// SubscriptionStarted and SubscriptionEnded track active subscriptions.
func (m *Metrics) SubscriptionStarted() {
	if m != nil {
		m.subscriptions.Inc()
	}
}

func (m *Metrics) SubscriptionEnded() {
	if m != nil {
		m.subscriptions.Dec()
	}
}

// HTTP counts requests by status code.
func (m *Metrics) HTTP(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		m.httpRequests.WithLabelValues(strconv.Itoa(rec.status)).Inc()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack hands the connection over for websockets (gorilla asks for
// http.Hijacker directly); the status recorded is 101.
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("response writer cannot be hijacked")
	}
	r.status = http.StatusSwitchingProtocols
	return h.Hijack()
}
