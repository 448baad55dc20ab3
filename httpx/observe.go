package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"dmgraph/metrics"
	"dmgraph/models"
)

type requestIDKey struct{}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// WithRequestID gives every request an ID: the caller's X-Request-Id when it
// is sane, else a new one. It is echoed back and logged with each operation.
func WithRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// Observe logs one line per operation (or subscription event) and records
// its metrics: request ID, operation, viewer, duration and outcome. Never the
// variables: they hold passwords, tokens and message text. Subscription
// events are logged at debug level: a group message is one event per
// member's subscription, and info would log each of them.
func Observe(log *slog.Logger, m *metrics.Metrics) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		start := time.Now()
		resp := next(ctx)
		if resp == nil || !graphql.HasOperationContext(ctx) {
			return resp
		}
		op := graphql.GetOperationContext(ctx)
		name := operationName(op)
		outcome := "ok"
		if len(resp.Errors) > 0 {
			outcome, _ = resp.Errors[0].Extensions["code"].(string)
			if outcome == "" {
				outcome = string(models.CodeInternal)
			}
		}
		d := time.Since(start)
		level := slog.LevelDebug
		if op.Operation == nil || op.Operation.Operation != "subscription" {
			level = slog.LevelInfo
			// Labelled by root field, which the schema bounds, never by the
			// client's operation name, which would grow the series forever.
			m.Operation(rootField(op), outcome, d)
		}
		viewer, _ := models.ViewerID(ctx)
		requestID, _ := ctx.Value(requestIDKey{}).(string)
		log.LogAttrs(ctx, level, "graphql",
			slog.String("request_id", requestID), slog.String("operation", name),
			slog.Int64("viewer", viewer), slog.Duration("duration", d), slog.String("outcome", outcome))
		return resp
	}
}

// operationName is the operation's name, or its first root field.
func operationName(op *graphql.OperationContext) string {
	if op.OperationName != "" {
		return op.OperationName
	}
	return rootField(op)
}

// rootField is the operation's first root field, a schema name.
func rootField(op *graphql.OperationContext) string {
	if op.Operation != nil {
		for _, sel := range op.Operation.SelectionSet {
			if f, ok := sel.(*ast.Field); ok {
				return f.Name
			}
		}
	}
	return "none"
}

// Readiness answers 200 when every check passes, else 503 naming what is
// down; a draining server is not ready. The checks run side by side, each
// within the same 2 s, so one dependency that hangs cannot make another
// look down.
func Readiness(checks map[string]func(context.Context) error, draining func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var (
			mu   sync.Mutex
			down []string
			wg   sync.WaitGroup
		)
		if draining() {
			down = append(down, "shutting down")
		}
		for name, check := range checks {
			wg.Go(func() {
				if err := check(ctx); err != nil {
					mu.Lock()
					down = append(down, name)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(down) > 0 {
			slices.Sort(down)
			WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "down": down})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"status": "ready"})
	})
}
