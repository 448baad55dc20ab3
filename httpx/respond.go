// Package httpx is the HTTP plumbing around the GraphQL handler: the
// client's address behind trusted proxies, request IDs, the access log,
// the request body's limits, readiness, and coded error bodies.
package httpx

import (
	"encoding/json"
	"net/http"
	"strconv"

	"dmgraph/models"
)

// WriteError answers with status and e, in the shape of a GraphQL response
// with the extensions every error carries (models.Error.Extensions).
func WriteError(w http.ResponseWriter, status int, e *models.Error) {
	if e.Code == models.CodeRateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds()))
	}
	WriteJSON(w, status, map[string]any{"errors": []any{map[string]any{
		"message": e.Message, "extensions": e.Extensions(),
	}}})
}

// WriteJSON answers with status and v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
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
