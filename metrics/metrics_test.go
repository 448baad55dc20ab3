package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// scrape reads m's metrics as Prometheus would.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// A fresh server already exports every series of a known label set, at 0,
// and counting moves those very series.
func TestKnownLabelsStartAtZero(t *testing.T) {
	m := New()
	got := scrape(t, m)
	for _, want := range []string{
		`dmgraph_messages_sent_total{delivery="INBOX"} 0`,
		`dmgraph_messages_sent_total{delivery="REQUEST"} 0`,
		`dmgraph_events_published_total{kind="MESSAGE_ADDED"} 0`,
		`dmgraph_events_published_total{kind="CHANGED"} 0`,
		`dmgraph_events_published_total{kind="SIGNED_OUT"} 0`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("a fresh scrape lacks %s", want)
		}
	}
	m.MessageSent("INBOX")
	m.EventPublished("SIGNED_OUT")
	got = scrape(t, m)
	for _, want := range []string{
		`dmgraph_messages_sent_total{delivery="INBOX"} 1`,
		`dmgraph_messages_sent_total{delivery="REQUEST"} 0`,
		`dmgraph_events_published_total{kind="SIGNED_OUT"} 1`,
		`dmgraph_events_published_total{kind="MESSAGE_ADDED"} 0`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("after one message and one sign-out, the scrape lacks %s", want)
		}
	}
}
