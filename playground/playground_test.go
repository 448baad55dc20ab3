package playground

import (
	"crypto/sha256"
	"encoding/base64"
	htmlpkg "html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, srv *httptest.Server, p string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// newServer mounts the handler the way the server does.
func newServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	h := Handler("dmgraph <test>", "/query")
	mux.Handle("GET /{$}", h)
	mux.Handle("GET /playground/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

var refRE = regexp.MustCompile(`(?:src|href)="([^"]+)"`)
var anyURLRE = regexp.MustCompile(`(?i)(?:https?|wss?):?//[^\s"'<>)]*`)

func TestPageAndAssets(t *testing.T) {
	srv := newServer(t)
	res, body := get(t, srv, "/", nil)
	if res.StatusCode != 200 {
		t.Fatalf("GET / = %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("page content type %q", ct)
	}
	page := string(body)
	html := htmlpkg.UnescapeString(page)
	if !strings.Contains(page, "<title>dmgraph &lt;test&gt;</title>") {
		t.Errorf("title not escaped into the page:\n%s", html)
	}
	if !strings.Contains(html, `data-endpoint="/query"`) {
		t.Errorf("endpoint missing from the page:\n%s", html)
	}
	if strings.Contains(html, "<script>") || strings.Contains(html, "<style") || strings.Contains(html, " style=") {
		t.Errorf("page has inline script or style, which the CSP forbids:\n%s", html)
	}

	// Nothing outside the page's own origin.
	for _, u := range anyURLRE.FindAllString(html, -1) {
		if pu, err := url.Parse(u); err != nil || pu.Host != strings.TrimPrefix(srv.URL, "http://") {
			t.Errorf("page references %q outside its origin", u)
		}
	}

	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'",
		"connect-src 'self' ws://" + strings.TrimPrefix(srv.URL, "http://")} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows unsafe sources", csp)
	}

	refs := refRE.FindAllStringSubmatch(html, -1)
	if len(refs) != 7 {
		t.Errorf("page references %d files, want 7 (icon, 2 styles, 4 scripts): %v", len(refs), refs)
	}
	wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	for _, m := range refs {
		ref := m[1]
		if ref == "data:," { // the empty favicon, so the browser asks for none
			continue
		}
		if !strings.HasPrefix(ref, AssetPath) {
			t.Errorf("reference %q is not under %s", ref, AssetPath)
			continue
		}
		res, body := get(t, srv, ref, nil)
		if res.StatusCode != 200 {
			t.Errorf("GET %s = %d", ref, res.StatusCode)
			continue
		}
		ext := ref[strings.LastIndex(ref, "."):]
		if ct := res.Header.Get("Content-Type"); ct != wantType[ext] {
			t.Errorf("GET %s: content type %q, want %q", ref, ct, wantType[ext])
		}
		if len(body) == 0 {
			t.Errorf("GET %s: empty", ref)
		}
		// The integrity attribute, when present, matches what is served.
		sum := sha256.Sum256(body)
		sri := "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
		if !strings.Contains(html, `src="`+ref+`" integrity="`+sri+`"`) && !strings.Contains(html, `href="`+ref+`" integrity="`+sri+`"`) {
			t.Errorf("%s: page lacks integrity %s", ref, sri)
		}
		// Revalidation by ETag.
		if etag := res.Header.Get("ETag"); etag == "" {
			t.Errorf("GET %s: no ETag", ref)
		} else if res, _ := get(t, srv, ref, map[string]string{"If-None-Match": etag}); res.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match = %d, want 304", ref, res.StatusCode)
		}
	}
}

// TestVendoredIntegrity checks the embedded files are byte for byte the ones
// gqlgen v0.17.98's playground loads from jsDelivr (same sha256 integrity).
func TestVendoredIntegrity(t *testing.T) {
	for name, want := range vendored {
		a := assets[name]
		if a == nil {
			t.Errorf("%s not embedded", name)
			continue
		}
		if a.integrity != want {
			t.Errorf("%s: integrity %s, want %s", name, a.integrity, want)
		}
		dir := name[:strings.Index(name, "/")]
		if l := assets[dir+"/LICENSE"]; l == nil || !strings.Contains(string(l.body), "MIT License") {
			t.Errorf("%s: no MIT LICENSE beside it", dir)
		}
	}
}

func TestNotFound(t *testing.T) {
	srv := newServer(t)
	for _, p := range []string{"/playground/", "/playground/assets/", "/playground/assets/nope.js",
		"/playground/assets/../page.html", "/playground/assets/react-18.2.0/", "/other"} {
		if res, _ := get(t, srv, p, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, res.StatusCode)
		}
	}
}

func TestAbsoluteEndpoint(t *testing.T) {
	h := Handler("x", "https://api.example.com/query")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "https://api.example.com wss://api.example.com") {
		t.Errorf("CSP %q does not allow the absolute endpoint", csp)
	}
}
