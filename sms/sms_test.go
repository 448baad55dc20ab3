package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The webhook posts {"to", "text"} as JSON, with the URL's credentials as
// basic authentication, and takes any 2xx as sent.
func TestWebhookPostsJSON(t *testing.T) {
	type call struct {
		method, contentType, user, pass string
		body                            map[string]string
	}
	calls := make(chan call, 1)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := call{method: r.Method, contentType: r.Header.Get("Content-Type")}
		c.user, c.pass, _ = r.BasicAuth()
		_ = json.NewDecoder(r.Body).Decode(&c.body)
		calls <- c
		w.WriteHeader(http.StatusAccepted)
	}))
	defer gw.Close()
	w, err := NewWebhook(strings.Replace(gw.URL, "http://", "http://op:s3cret@", 1)+"/send", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Send(context.Background(), "+33612345678", "Your dmgraph code is 123456"); err != nil {
		t.Fatal(err)
	}
	c := <-calls
	if c.method != http.MethodPost || c.contentType != "application/json" || c.user != "op" || c.pass != "s3cret" ||
		c.body["to"] != "+33612345678" || c.body["text"] != "Your dmgraph code is 123456" || len(c.body) != 2 {
		t.Fatalf("the gateway got %+v", c)
	}
}

// A non-2xx answer, a redirect to another host, and a gateway slower than
// the timeout are errors that repeat neither the number nor the code.
func TestWebhookFailures(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	done := make(chan struct{})
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/down":
			w.WriteHeader(http.StatusBadGateway)
		case "/away":
			http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusPermanentRedirect)
		case "/slow":
			<-done
		case "/ok":
			var body map[string]string
			if json.NewDecoder(r.Body).Decode(&body) != nil || body["to"] == "" {
				w.WriteHeader(http.StatusBadRequest)
			}
		}
	}))
	defer gw.Close()
	defer close(done) // runs before gw.Close, which waits for the slow handler
	for path, wantErr := range map[string]bool{"/down": true, "/away": true, "/slow": true, "/moved": false, "/ok": false} {
		w, err := NewWebhook(gw.URL+path, 200*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		err = w.Send(context.Background(), "+33612345678", "Your dmgraph code is 123456")
		if (err != nil) != wantErr {
			t.Errorf("%s: %v, want error %v", path, err, wantErr)
		}
		if err != nil && (strings.Contains(err.Error(), "612345678") || strings.Contains(err.Error(), "123456")) {
			t.Errorf("%s: the error repeats the number or the code: %v", path, err)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the redirect reached another host %d times", n)
	}
	for _, bad := range []string{"", "ftp://gw.example", "gw.example/send", "http://"} {
		if _, err := NewWebhook(bad, time.Second); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The log sender logs the code and a masked number.
func TestLogSenderMasksTheNumber(t *testing.T) {
	var buf bytes.Buffer
	l := Log{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	if err := l.Send(context.Background(), "+33612345678", "Your dmgraph code is 123456"); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "123456") || strings.Contains(out, "612345678") || !strings.Contains(out, "+33*******78") {
		t.Fatalf("logged %s", out)
	}
}
