// Package sms sends text messages: verification codes to phone numbers.
// Log writes them to the log, for development; Webhook posts them to the
// operator's SMS gateway.
package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Log writes each message to a logger instead of sending it. It is for
// development only: production refuses to start with it.
type Log struct{ Logger *slog.Logger }

// Send implements dm.SMSSender. The number is logged masked, the text
// (the code) in full.
func (l Log) Send(ctx context.Context, to, text string) error {
	l.Logger.InfoContext(ctx, "SMS not sent (development: set SMS_WEBHOOK_URL)", "to", Mask(to), "text", text)
	return nil
}

// Mask hides all but the country code's start and the last two digits of
// an E.164 number: "+33612345678" becomes "+33*******78".
func Mask(e164 string) string {
	if len(e164) < 6 {
		return strings.Repeat("*", len(e164))
	}
	return e164[:3] + strings.Repeat("*", len(e164)-5) + e164[len(e164)-2:]
}

// DefaultTimeout bounds one webhook call. The operation's own deadline
// (OPERATION_TIMEOUT) usually ends it first.
const DefaultTimeout = 10 * time.Second

// Webhook posts each message as JSON, {"to": "+33612345678", "text": "…"},
// to an HTTP endpoint: the operator's SMS gateway, or a small adapter in
// front of one. Any 2xx answer means sent.
type Webhook struct {
	url    string
	client *http.Client
}

// NewWebhook posts to rawURL (http or https; credentials may go in its
// userinfo, sent as basic authentication), each call bounded by timeout.
func NewWebhook(rawURL string, timeout time.Duration) (*Webhook, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	client := &http.Client{
		Timeout: timeout,
		// A redirect may stay on the gateway's own scheme and host; the
		// code never goes anywhere else.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			if req.URL.Scheme != u.Scheme || req.URL.Host != u.Host {
				return errors.New("redirect to another host refused")
			}
			return nil
		},
	}
	return &Webhook{url: u.String(), client: client}, nil
}

// ParseURL checks that rawURL is an absolute http or https URL.
func ParseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("SMS_WEBHOOK_URL must be an http or https URL")
	}
	return u, nil
}

// Send implements dm.SMSSender. Errors never repeat the number or the text.
func (w *Webhook) Send(ctx context.Context, to, text string) error {
	body, err := json.Marshal(struct {
		To   string `json:"to"`
		Text string `json:"text"`
	}{to, text})
	if err != nil {
		return fmt.Errorf("sms webhook: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("sms webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("sms webhook: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("sms webhook: HTTP %d", res.StatusCode)
	}
	return nil
}
