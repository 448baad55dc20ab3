package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"dmgraph/ratelimit"
	"dmgraph/sms"
)

// Issue 14, item 2: production refuses to start with the sender that only
// logs phone codes, and with a webhook that is not https.
func TestSec02ProductionRefusesTheLogSender(t *testing.T) {
	good := map[string]string{"APP_ENV": "production", "JWT_SECRET": prodSecret,
		"CONTACTS_HASH_KEY": strings.Repeat("c", 32), "SMS_WEBHOOK_URL": "https://sms.example.com/send"}
	getenv := func(env map[string]string) func(string) string { return func(k string) string { return env[k] } }
	if _, err := loadConfig(getenv(good)); err != nil {
		t.Fatalf("a safe production config refused: %v", err)
	}
	for _, url := range []string{"", "http://sms.example.com/send"} {
		env := map[string]string{}
		for k, v := range good {
			env[k] = v
		}
		env["SMS_WEBHOOK_URL"] = url
		_, err := loadConfig(getenv(env))
		if err == nil || !strings.Contains(err.Error(), "refuses to start") || !strings.Contains(err.Error(), "SMS_WEBHOOK_URL") {
			t.Errorf("SMS_WEBHOOK_URL=%q in production: %v", url, err)
		}
	}
	// Development logs the codes.
	c, err := loadConfig(getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	sender, err := smsSender(c, slog.New(slog.DiscardHandler))
	if _, ok := sender.(sms.Log); err != nil || !ok {
		t.Fatalf("development sender %T, %v; want the log sender", sender, err)
	}
	c, err = loadConfig(getenv(map[string]string{"SMS_WEBHOOK_URL": "http://127.0.0.1:9/sms"}))
	if err != nil {
		t.Fatal(err)
	}
	if sender, err := smsSender(c, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	} else if _, ok := sender.(*sms.Webhook); !ok {
		t.Fatalf("sender %T with SMS_WEBHOOK_URL set, want the webhook", sender)
	}
	if _, err := loadConfig(getenv(map[string]string{"SMS_WEBHOOK_URL": "ftp://sms.example.com"})); err == nil {
		t.Error("an ftp SMS_WEBHOOK_URL was accepted")
	}
}

// The phone and contacts limits have defaults and read RATE_LIMIT_*.
func TestSec02PhoneLimitsConfig(t *testing.T) {
	c, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	if c.Limits.SMSUser != (ratelimit.Limit{Count: 10, Period: day}) || c.Limits.SMSNumber != (ratelimit.Limit{Count: 5, Period: day}) ||
		c.Limits.Contacts != (ratelimit.Limit{Count: 10000, Period: day}) {
		t.Fatalf("defaults: %+v", c.Limits)
	}
	env := map[string]string{"RATE_LIMIT_SMS_USER": "3/1h", "RATE_LIMIT_SMS_NUMBER": "2/1h", "RATE_LIMIT_CONTACTS": "100/24h"}
	c, err = loadConfig(func(k string) string { return env[k] })
	if err != nil || c.Limits.SMSUser.Count != 3 || c.Limits.SMSNumber.Count != 2 || c.Limits.Contacts.Count != 100 {
		t.Fatalf("configured: %+v %v", c.Limits, err)
	}
	if _, err := loadConfig(func(k string) string { return map[string]string{"RATE_LIMIT_CONTACTS": "lots"}[k] }); err == nil {
		t.Fatal("RATE_LIMIT_CONTACTS=lots accepted")
	}
}
