package socket

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// CheckOriginPattern refuses a websocket origin pattern that could match
// sites its operator does not control. originChecker matches patterns with
// path.Match against the Origin's host[:port], lower-cased, so a pattern
// is "host" or "host:port", and a wildcard may match dots. A pattern
// passes when its port, if any, is digits, * and ? only, and its host is
//   - a literal: an IP address, localhost, or a name that is not itself a
//     public suffix ("app.example.com", but not "com" or "github.io"); or
//   - wildcards in its leading labels only, under whole literal labels that
//     hold a registrable domain: "*.example.com" passes, while "*.com",
//     "*.co.uk", "*.github.io", "*com", "*example.com" (which matches
//     "evilexample.com"), "?*" and "[a-z]*" are refused.
//
// Public suffixes are those of golang.org/x/net/publicsuffix, its private
// ones (github.io) included; single-label names other than localhost count
// as public suffixes too.
func CheckOriginPattern(pattern string) error {
	p := strings.ToLower(strings.TrimSpace(pattern))
	if _, err := path.Match(p, ""); err != nil || p == "" {
		return fmt.Errorf("origin pattern %q is malformed", pattern)
	}
	host, port := p, ""
	if i := strings.LastIndexByte(p, ':'); i >= 0 {
		host, port = p[:i], p[i+1:]
		if port == "" || strings.Trim(port, "0123456789*?") != "" {
			return fmt.Errorf("origin pattern %q: a port may hold only digits, * and ?", pattern)
		}
	}
	if !hasMagic(host) {
		if host == "localhost" || isIP(host) {
			return nil
		}
		if suffix, _ := publicsuffix.PublicSuffix(host); suffix == host {
			return fmt.Errorf("origin pattern %q is a public suffix", pattern)
		}
		return nil
	}
	labels := strings.Split(host, ".")
	i := len(labels)
	for i > 0 && !hasMagic(labels[i-1]) {
		i--
	}
	literal := strings.Join(labels[i:], ".")
	if literal == "" {
		return fmt.Errorf("origin pattern %q matches any domain", pattern)
	}
	if _, err := publicsuffix.EffectiveTLDPlusOne(literal); err != nil {
		return fmt.Errorf("origin pattern %q covers the public suffix %q", pattern, literal)
	}
	return nil
}

func hasMagic(s string) bool { return strings.ContainsAny(s, `*?[]\`) }

func isIP(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// originChecker allows requests without an Origin (non-browser clients),
// from the server's own host, and from hosts matching a pattern such as
// "localhost:*" or "*.example.com".
func originChecker(patterns []string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" {
			return true
		}
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" {
			return false
		}
		if strings.EqualFold(u.Host, r.Host) {
			return true
		}
		for _, p := range patterns {
			if originMatches(strings.ToLower(p), strings.ToLower(u.Host)) {
				return true
			}
		}
		return false
	}
}

// originMatches matches host[:port] against a pattern. An IPv6 literal's
// brackets ("[::1]:*") are taken literally, not as path.Match's character
// class, which would match "1:3000" and never "[::1]:3000".
func originMatches(pattern, host string) bool {
	if rest, ok := strings.CutPrefix(pattern, "["); ok {
		addr, port, _ := strings.Cut(rest, "]")
		hostAddr, hostPort, found := strings.Cut(strings.TrimPrefix(host, "["), "]")
		if !found || !strings.HasPrefix(host, "[") || addr != hostAddr {
			return false
		}
		ok, _ := path.Match(port, hostPort)
		return ok
	}
	ok, _ := path.Match(pattern, host)
	return ok
}

// DefaultAllowedOrigins are the origin patterns allowed besides the server's own host.
var DefaultAllowedOrigins = []string{"localhost", "localhost:*", "127.0.0.1:*", "[::1]:*"}
