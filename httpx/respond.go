// Package httpx is the HTTP plumbing around the GraphQL handler: the
// client's address behind trusted proxies, request IDs, the access log,
// the request body's limits, readiness, and coded error bodies.
package httpx

import (
	"encoding/json"
	"net/http"

	"dmgraph/models"
)

// WriteError answers with status and one error carrying code, in the shape
// of a GraphQL response.
func WriteError(w http.ResponseWriter, status int, code models.Code, msg string) {
	WriteJSON(w, status, map[string]any{"errors": []any{map[string]any{
		"message": msg, "extensions": map[string]any{"code": code},
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
