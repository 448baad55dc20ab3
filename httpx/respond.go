// Package httpx is the HTTP plumbing around the GraphQL handler: the
// client's address behind trusted proxies, request IDs, the access log,
// the request body's limits, readiness, and coded error bodies.
package httpx

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"dmgraph/models"
)

// The media types of a GraphQL response over HTTP.
const (
	MediaJSON            = "application/json"
	MediaGraphQLResponse = "application/graphql-response+json"
)

// ResponseMediaType is the media type r's answer takes, by gqlgen's
// transports' rule, so that the answers given before them agree: the first
// of application/json and application/graphql-response+json that Accept
// lists (*/* and application/* count as application/json), application/json
// without an Accept header, application/graphql-response+json when Accept
// lists neither.
func ResponseMediaType(r *http.Request) string {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return MediaJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		switch media, _, _ := mime.ParseMediaType(strings.TrimSpace(part)); media {
		case MediaJSON, "*/*", "application/*":
			return MediaJSON
		case MediaGraphQLResponse:
			return MediaGraphQLResponse
		}
	}
	return MediaGraphQLResponse
}

// RefuseRequest answers a well-formed GraphQL request refused before it
// runs (its token was bad, or could not be checked) with e. The
// GraphQL-over-HTTP spec gives status to application/graphql-response+json
// only: under application/json every well-formed request is answered with
// 200, and Apollo Client 4 reads a non-200 application/json answer as a bare
// ServerError, not as the GraphQL error it carries.
func RefuseRequest(w http.ResponseWriter, r *http.Request, status int, e *models.Error) {
	media := ResponseMediaType(r)
	if media == MediaJSON {
		status = http.StatusOK
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	writeError(w, media, status, e)
}

// WriteError answers a request that is not a well-formed GraphQL request (a
// body too large or unreadable, a wrong method, a refused websocket upgrade)
// with status and e, in the shape of a GraphQL response.
func WriteError(w http.ResponseWriter, r *http.Request, status int, e *models.Error) {
	writeError(w, ResponseMediaType(r), status, e)
}

func writeError(w http.ResponseWriter, media string, status int, e *models.Error) {
	if e.Code == models.CodeRateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds()))
	}
	write(w, media, status, map[string]any{"errors": []any{map[string]any{
		"message": e.Message, "extensions": e.Extensions(),
	}}})
}

// OKUnderJSON answers with 200, under application/json, the GraphQL requests
// that gqlgen answers with 422: those that do not parse or validate. They
// are request errors, which the GraphQL-over-HTTP spec answers with 200
// under application/json (gqlgen gives them 400 under
// application/graphql-response+json, as the spec asks there).
func OKUnderJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r) // a websocket: the writer must stay hijackable
			return
		}
		next.ServeHTTP(okUnderJSON{w}, r)
	})
}

type okUnderJSON struct{ http.ResponseWriter }

func (w okUnderJSON) WriteHeader(status int) {
	if status == http.StatusUnprocessableEntity && w.Header().Get("Content-Type") == MediaJSON {
		status = http.StatusOK
	}
	w.ResponseWriter.WriteHeader(status)
}

// WriteJSON answers with status and v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) { write(w, MediaJSON, status, v) }

func write(w http.ResponseWriter, media string, status int, v any) {
	w.Header().Set("Content-Type", media)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Truncate shortens s, something a client sent, to n bytes for an error
// message.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
