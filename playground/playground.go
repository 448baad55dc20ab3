// Package playground serves GraphiQL with every asset embedded in the
// binary, so the page works on a machine with no internet.
//
// One handler serves both the page and its assets:
//
//	h := playground.Handler("dmgraph", "/query")
//	mux.Handle("GET /{$}", h)         // the page
//	mux.Handle("GET /playground/", h) // the assets, under AssetPath
//
// Every request whose path starts with AssetPath gets an embedded file (or
// 404), anything else under /playground/ gets 404, and any other request
// gets the page. The page loads nothing but its own
// origin's assets and talks to the endpoint over HTTP and websockets
// (graphql-transport-ws, through the graphql-ws client bundled in GraphiQL's
// UMD build). Headers typed in GraphiQL's headers editor go with every HTTP
// request and into the websocket's connection_init payload, where the server
// reads {"Authorization": "Bearer <token>"}.
//
// See README.md in this directory for how the vendored files were fetched and
// how to update them.
package playground

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"
)

// AssetPath is the URL path prefix the page loads its assets from.
const AssetPath = "/playground/assets/"

// assetRoot is where the handler expects to be mounted for assets; it serves
// nothing but AssetPath under it.
const assetRoot = "/playground/"

//go:embed assets page.html
var files embed.FS

// Vendored files, with the integrity hashes gqlgen v0.17.98's own playground
// uses for the same files on jsDelivr; TestVendoredIntegrity checks the
// embedded bytes against them.
const (
	graphiqlJS  = "graphiql-4.1.2/graphiql.min.js"
	graphiqlCSS = "graphiql-4.1.2/graphiql.min.css"
	reactJS     = "react-18.2.0/react.production.min.js"
	reactDOMJS  = "react-dom-18.2.0/react-dom.production.min.js"
	initJS      = "dmgraph-playground.js"
	initCSS     = "dmgraph-playground.css"
)

var vendored = map[string]string{
	graphiqlJS:  "sha256-hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs=",
	graphiqlCSS: "sha256-MEh+B2NdMSpj9kexQNN3QKc8UzMrCXW/Sx/phcpuyIU=",
	reactJS:     "sha256-S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY=",
	reactDOMJS:  "sha256-IXWO0ITNDjfnNXIu5POVfqlgYoop36bDzhodR6LW5Pc=",
}

var page = template.Must(template.ParseFS(files, "page.html"))

type asset struct {
	body        []byte
	contentType string
	etag        string
	integrity   string
	immutable   bool // under a versioned directory
}

var assets = loadAssets()

// versionedDir matches vendored directories such as "react-18.2.0".
var versionedDir = regexp.MustCompile(`^[a-z-]+-\d+\.\d+\.\d+/`)

func loadAssets() map[string]*asset {
	out := map[string]*asset{}
	err := fs.WalkDir(files, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "assets/")
		sum := sha256.Sum256(body)
		out[name] = &asset{
			body:        body,
			contentType: contentType(name),
			etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`,
			integrity:   "sha256-" + base64.StdEncoding.EncodeToString(sum[:]),
			immutable:   versionedDir.MatchString(name),
		}
		return nil
	})
	if err != nil {
		panic(err)
	}
	return out
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default: // LICENSE
		return "text/plain; charset=utf-8"
	}
}

type pageData struct {
	Title    string
	Endpoint string
	Scripts  []tag
	Styles   []tag
}

type tag struct {
	URL       string
	Integrity string
}

func assetTag(name string) tag {
	a := assets[name]
	if a == nil {
		panic("playground: missing embedded asset " + name)
	}
	return tag{URL: AssetPath + name, Integrity: a.integrity}
}

// Handler serves GraphiQL for the GraphQL endpoint (a path on this server
// such as "/query", or an absolute http(s) URL): the page at any path outside
// /playground/, the embedded assets under AssetPath, and 404 for anything
// else under /playground/.
func Handler(title, endpoint string) http.Handler {
	var buf bytes.Buffer
	err := page.Execute(&buf, pageData{
		Title:    title,
		Endpoint: endpoint,
		Styles:   []tag{assetTag(graphiqlCSS), assetTag(initCSS)},
		Scripts:  []tag{assetTag(reactJS), assetTag(reactDOMJS), assetTag(graphiqlJS), assetTag(initJS)},
	})
	if err != nil {
		panic(err)
	}
	html := buf.Bytes()
	extraConnect := endpointOrigins(endpoint)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, ok := strings.CutPrefix(r.URL.Path, AssetPath); ok {
			serveAsset(w, r, name)
			return
		}
		if strings.HasPrefix(r.URL.Path, assetRoot) {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", csp(r, extraConnect))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(html))
	})
}

func serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	a := assets[name]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", a.etag)
	if a.immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// hostRE is what a Host header must look like to be written into the CSP.
var hostRE = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$`)

// csp allows only this origin: scripts and styles from AssetPath, fonts and
// images the stylesheet inlines as data: URLs, and connections to this
// origin over HTTP and websockets (CSP 3 browsers take ws: under 'self';
// the explicit ws(s)://host is for older ones).
func csp(r *http.Request, extraConnect []string) string {
	connect := []string{"'self'"}
	if hostRE.MatchString(r.Host) {
		ws := "ws://"
		if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
			ws = "wss://"
		}
		connect = append(connect, ws+r.Host)
	}
	connect = append(connect, extraConnect...)
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"font-src 'self' data:",
		"img-src 'self' data:",
		"connect-src " + strings.Join(connect, " "),
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

// endpointOrigins returns the http(s) and ws(s) origins of an absolute
// endpoint, for connect-src; none for a path on this server.
func endpointOrigins(endpoint string) []string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil
	}
	ws := "ws"
	if u.Scheme == "https" {
		ws = "wss"
	}
	return []string{fmt.Sprintf("%s://%s", u.Scheme, u.Host), fmt.Sprintf("%s://%s", ws, u.Host)}
}
