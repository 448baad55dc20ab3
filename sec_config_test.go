package main

import (
	"strings"
	"testing"
)

// prodSecret is a JWT secret that production accepts (openssl rand -base64 32).
const prodSecret = "yu/hP+DPmy3Uj0wqxps4IWklXcyWIu78aCwSTBnDTUE="

// prodEnv is a production configuration that starts, changed by kv pairs.
func prodEnv(kv ...string) func(string) string {
	env := map[string]string{"APP_ENV": "production", "JWT_SECRET": prodSecret,
		"CONTACTS_HASH_KEY": strings.Repeat("c", 32), "ALLOWED_ORIGINS": "app.example.com",
		"SMS_WEBHOOK_URL": "https://sms.example.com/send"}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return func(k string) string { return env[k] }
}

func refusedInProduction(t *testing.T, what string, kv ...string) {
	t.Helper()
	_, err := loadConfig(prodEnv(kv...))
	if err == nil || !strings.Contains(err.Error(), "APP_ENV=production refuses to start") || !strings.Contains(err.Error(), kv[0]) {
		t.Errorf("%s: %v", what, err)
	}
}

func acceptedInProduction(t *testing.T, what string, kv ...string) {
	t.Helper()
	if _, err := loadConfig(prodEnv(kv...)); err != nil {
		t.Errorf("%s refused: %v", what, err)
	}
}

// TestSec10ProductionRefusesOriginsCoveringPublicSuffixes: the issue's
// patterns, and "?*", which let https://evil.example upgrade, are refused.
func TestSec10ProductionRefusesOriginsCoveringPublicSuffixes(t *testing.T) {
	for _, p := range []string{"?*", "*com", "[a-z]*", "*.com", "app.example.com, *.co.uk", "*.github.io"} {
		refusedInProduction(t, p, "ALLOWED_ORIGINS", p)
	}
	for _, p := range []string{"app.example.com", "*.example.com", "localhost:*", "app.example.com, *.example.org:8443"} {
		acceptedInProduction(t, p, "ALLOWED_ORIGINS", p)
	}
}

// TestSec10ProductionRefusesWeakJWTSecrets: 32 bytes are not enough when
// they carry little entropy (auth.SecretBits).
func TestSec10ProductionRefusesWeakJWTSecrets(t *testing.T) {
	for name, s := range map[string]string{
		"32 spaces":         strings.Repeat(" ", 32),
		"one byte repeated": strings.Repeat("k", 64),
		"a phrase repeated": strings.Repeat("0123456789abcdef", 4),
		"two bytes":         strings.Repeat("ab", 20) + "a",
		"a word, repeated":  "passwordpasswordpasswordpassword1",
	} {
		refusedInProduction(t, name, "JWT_SECRET", s)
	}
	for name, s := range map[string]string{
		"base64 of 32 random bytes": prodSecret,
		"64 random hex digits":      "9f3c1a7be2d84f60c5a9e1b7d3f2086a4c7e9b1d5f3a2c8e6b0d4f7a1c9e3b5d",
	} {
		acceptedInProduction(t, name, "JWT_SECRET", s)
	}
}

// TestSec10AppEnvRefusesUnknownValues: APP_ENV is production, development
// or unset; anything else stops the start instead of running as development.
func TestSec10AppEnvRefusesUnknownValues(t *testing.T) {
	for _, v := range []string{"Production", "PRODUCTION", "prod", " production", "production ", "staging", "dev"} {
		_, err := loadConfig(func(k string) string { return map[string]string{"APP_ENV": v}[k] })
		if err == nil || !strings.Contains(err.Error(), "APP_ENV") {
			t.Errorf("APP_ENV=%q: %v", v, err)
		}
	}
	for _, v := range []string{"", "development"} {
		c, err := loadConfig(func(k string) string { return map[string]string{"APP_ENV": v}[k] })
		if err != nil || c.Production {
			t.Errorf("APP_ENV=%q: production %v, %v", v, c.Production, err)
		}
	}
	if c, err := loadConfig(prodEnv()); err != nil || !c.Production {
		t.Errorf("APP_ENV=production: production %v, %v", c.Production, err)
	}
}

// TestSec10ProductionRefusesPublicDebugAndNoRateLimits: profiles are
// served on loopback only, and the abuse limits stay on.
func TestSec10ProductionRefusesPublicDebugAndNoRateLimits(t *testing.T) {
	for _, a := range []string{":6060", "0.0.0.0:6060", "[::]:6060", "10.0.0.7:6060", "debug.example.com:6060", "6060"} {
		refusedInProduction(t, a, "DEBUG_ADDR", a)
	}
	for _, a := range []string{"127.0.0.1:6060", "localhost:6060", "[::1]:6060", "127.0.0.2:0"} {
		acceptedInProduction(t, a, "DEBUG_ADDR", a)
	}
	refusedInProduction(t, "RATE_LIMITS=off", "RATE_LIMITS", "off")
	acceptedInProduction(t, "RATE_LIMITS=on", "RATE_LIMITS", "on")
	// Development may do both.
	dev := map[string]string{"DEBUG_ADDR": ":6060", "RATE_LIMITS": "off"}
	if _, err := loadConfig(func(k string) string { return dev[k] }); err != nil {
		t.Errorf("development: %v", err)
	}
}
