package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"dmgraph/dm"
	"dmgraph/graph"
	"dmgraph/httpx"
	"dmgraph/metrics"
	"dmgraph/models"
	"dmgraph/playground"
	"dmgraph/realtime"
	"dmgraph/realtime/socket"
)

// Options configure the HTTP handler.
type Options struct {
	Log *slog.Logger
	// Playground serves GraphiQL at "/".
	Playground bool
	// Hub delivers events to this instance's subscriptions (a hub of its
	// own when nil).
	Hub *realtime.Hub
	// AllowedOrigins are origin host patterns ("localhost:*") accepted for
	// websockets besides the server's own host; nil means
	// socket.DefaultAllowedOrigins.
	AllowedOrigins []string
	// NoIntrospection turns schema introspection off.
	NoIntrospection bool
	// Metrics records operations; nil records nothing and serves no /metrics.
	Metrics *metrics.Metrics
	// Checks are what /readyz asks, by name ("database", "broker").
	Checks map[string]func(context.Context) error
	// MaxPendingSockets bounds websockets not yet authenticated
	// (socket.DefaultMaxPending when 0).
	MaxPendingSockets int
	// SocketLimits bound websockets per address and per user (zero fields
	// take socket.DefaultLimits).
	SocketLimits socket.Limits
	// Keepalive is the websockets' ping interval and pong deadline (zero
	// fields take socket.DefaultKeepalive).
	Keepalive socket.Keepalive
	// BodyTimeout bounds the reading of a request's body (DefaultBodyTimeout
	// when 0).
	BodyTimeout time.Duration
	// TrustedProxies are the load balancers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// TokenRecheckInterval is how often open websockets' tokens are checked
	// against the database, in case a sign-out event was lost
	// (dm.TokenVersionTTL when 0).
	TokenRecheckInterval time.Duration
	// OperationTimeout bounds a query or mutation, so that a database that
	// stopped answering costs the client an UNAVAILABLE error, not a hang
	// (DefaultOperationTimeout when 0).
	OperationTimeout time.Duration
}

// DefaultOperationTimeout is how long a query or mutation may take.
const DefaultOperationTimeout = 5 * time.Second

// DefaultBodyTimeout is how long a client may take to send a request's body.
const DefaultBodyTimeout = 10 * time.Second

// Handler serves the API. CloseWebsockets closes every open websocket.
type Handler struct {
	http.Handler
	sockets *socket.Server
}

// CloseWebsockets starts draining: /readyz fails, new websockets are
// refused, and every open one is closed with 1001 (going away), so clients
// reconnect elsewhere and resume with after (socket.Server.CloseAll).
func (h *Handler) CloseWebsockets() { h.sockets.CloseAll() }

// NewHandler returns the HTTP handler: GraphQL at /query (HTTP and
// websockets), GraphiQL at /.
func NewHandler(svc *dm.Service, opts Options) *Handler {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.OperationTimeout <= 0 {
		opts.OperationTimeout = DefaultOperationTimeout
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = DefaultBodyTimeout
	}
	// Sign-out events can be lost (a broker outage, a crash between commit
	// and publish): open sockets are also checked against the database as
	// often as a remembered token version expires.
	if opts.TokenRecheckInterval <= 0 {
		opts.TokenRecheckInterval = dm.TokenVersionTTL
	}
	sockets := socket.New(svc, socket.Options{Log: log, Metrics: opts.Metrics, Hub: opts.Hub, AllowedOrigins: opts.AllowedOrigins,
		MaxPendingSockets: opts.MaxPendingSockets, Limits: opts.SocketLimits, Keepalive: opts.Keepalive,
		ReadTimeout: opts.OperationTimeout, TokenRecheckInterval: opts.TokenRecheckInterval})
	resolver := &Resolver{svc: svc, sockets: sockets, metrics: opts.Metrics}
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: resolver, Complexity: complexity()})
	srv := handler.New(schema)
	srv.AddTransport(sockets.Transport())
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.AddTransport(unsupported{})
	queries := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(queries)
	srv.SetParserTokenLimit(MaxTokens)
	if !opts.NoIntrospection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	// After APQ, which may supply the query; before parsing and validation.
	srv.Use(documentLimits{cache: queries})
	srv.Use(extension.FixedComplexityLimit(MaxComplexity))
	srv.Use(websocketOnlySubscriptions{})
	// Loaders live for one response: a query's, or one event of a
	// subscription, so a long subscription never serves stale cached data.
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		return next(withLoaders(ctx, svc, opts.OperationTimeout))
	})
	srv.AroundResponses(httpx.Observe(log, opts.Metrics))
	srv.AroundResponses(socket.EndFailedEvents)
	srv.AroundRootFields(requireViewer)
	srv.AroundRootFields(refuseIntrospection)
	srv.AroundOperations(deadline(opts.OperationTimeout))
	srv.AroundOperations(sockets.RefuseRevoked)
	srv.SetErrorPresenter(presentError(log, schema.Schema()))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return errors.New("panic")
	})

	mux := http.NewServeMux()
	mux.Handle("/query", httpx.WithClientIP(opts.TrustedProxies, httpx.Authenticate(svc, log, opts.OperationTimeout, sockets.Admit(httpx.ReadBody(opts.BodyTimeout, httpx.OKUnderJSON(srv))))))
	if opts.Playground {
		pg := playground.Handler("dmgraph", "/query")
		mux.Handle("GET /{$}", pg)
		mux.Handle("GET /playground/", pg)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.Handle("GET /readyz", httpx.Readiness(opts.Checks, sockets.Draining))
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics.Handler())
	}
	return &Handler{Handler: httpx.WithRequestID(opts.Metrics.HTTP(mux)), sockets: sockets}
}

// presentError gives every error a code. Domain errors keep their message,
// code and reason; gqlgen's own parse and validation errors are the client's
// fault; anything else is logged and masked. Bad input names the input at
// fault in extensions.field (inputField).
func presentError(log *slog.Logger, schema *ast.Schema) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		out := graphql.DefaultErrorPresenter(ctx, err)
		var e *models.Error
		if errors.As(err, &e) {
			if e.Code == models.CodeUnavailable {
				log.WarnContext(ctx, "dependency unavailable", "err", err, "path", out.Path.String())
			}
			out.Message = e.Message
			out.Extensions = e.Extensions()
			if field := inputField(ctx, schema, out.Path, e.Field); e.Code == models.CodeBadUserInput && field != "" {
				out.Extensions["field"] = field
			}
			return out
		}
		if code, _ := out.Extensions["code"].(string); code == errcode.ValidationFailed || code == errcode.ParseFailed {
			out.Extensions["code"] = string(models.CodeBadUserInput)
			if field := inputField(ctx, schema, out.Path, ""); field != "" {
				out.Extensions["field"] = field
			}
			return out
		}
		var g *gqlerror.Error
		if errors.As(err, &g) && g.Err == nil && len(g.Path) == 0 {
			// gqlgen's own complaint about the request itself, such as a body
			// that is not JSON: the client's fault, told briefly.
			return &gqlerror.Error{Message: httpx.Truncate(g.Message, 120),
				Extensions: map[string]any{"code": string(models.CodeBadUserInput)}}
		}
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			// The client went away: nobody reads this answer, and nothing
			// is wrong with the server.
			log.DebugContext(ctx, "operation canceled by the client", "path", out.Path.String())
		} else {
			log.ErrorContext(ctx, "internal error", "err", err, "path", out.Path.String())
		}
		return &gqlerror.Error{Message: "internal error", Path: out.Path,
			Extensions: map[string]any{"code": string(models.CodeInternal)}}
	}
}

// inputField is the path of the input at fault, as the client wrote it:
// "input.text" for an argument's field, "$in.text" for a variable's. A
// domain error names its field as the schema does ("text"): it is looked up
// among the erring field's arguments, then among their input objects'
// fields. gqlgen's own errors carry the path: a variable that does not
// coerce (["variable", "in", "text"]), an argument that does not unmarshal
// (the field's path, then "input", "birthDate").
func inputField(ctx context.Context, schema *ast.Schema, path ast.Path, field string) string {
	fc := graphql.GetFieldContext(ctx)
	switch {
	case field != "" && fc != nil && fc.Field.Definition != nil:
		return argumentPath(schema, fc.Field.Definition.Arguments, field)
	case field != "":
		return field
	case len(path) > 1 && path[0] == ast.PathName("variable"):
		return "$" + strings.TrimPrefix(path[1:].String(), ".")
	case fc != nil:
		if fp := fc.Path(); len(path) > len(fp) && slices.Equal(path[:len(fp)], fp) {
			return strings.TrimPrefix(path[len(fp):].String(), ".")
		}
	}
	return ""
}

// argumentPath finds field among args, or the fields of their input
// objects.
func argumentPath(schema *ast.Schema, args ast.ArgumentDefinitionList, field string) string {
	if args.ForName(field) != nil {
		return field
	}
	for _, a := range args {
		if def := schema.Types[a.Type.Name()]; def != nil && def.Kind == ast.InputObject && def.Fields.ForName(field) != nil {
			return a.Name + "." + field
		}
	}
	return field
}

// websocketOnlySubscriptions refuses subscriptions over HTTP, POST or GET:
// one would hold its request open until an event came, outside every socket
// limit.
type websocketOnlySubscriptions struct{}

func (websocketOnlySubscriptions) ExtensionName() string                   { return "WebsocketOnlySubscriptions" }
func (websocketOnlySubscriptions) Validate(graphql.ExecutableSchema) error { return nil }
func (websocketOnlySubscriptions) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil || rc.Operation.Operation != ast.Subscription || socket.OnSocket(ctx) {
		return nil
	}
	err := models.Invalid("subscriptions are served over websockets only: connect to /query with graphql-transport-ws (or graphql-ws)")
	return &gqlerror.Error{Err: err, Message: err.Message}
}

// deadline bounds every query and mutation; subscriptions live on. The
// response handler runs the resolvers, with the context it is given.
func deadline(d time.Duration) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		respond := next(ctx)
		if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation == ast.Subscription {
			return respond
		}
		return func(ctx context.Context) *graphql.Response {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return respond(ctx)
		}
	}
}

// publicFields may be resolved without signing in.
var publicFields = map[string]bool{"register": true, "login": true, "me": true, "__schema": true, "__type": true, "__typename": true}

// requireViewer refuses every other root field to anonymous callers before
// its arguments are looked at, so an anonymous caller learns nothing, not
// even whether an ID is well-formed.
func requireViewer(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	fc := graphql.GetRootFieldContext(ctx)
	if _, err := models.ViewerID(ctx); err != nil && fc != nil && !publicFields[fc.Field.Name] {
		graphql.AddError(ctx, &gqlerror.Error{Err: err, Message: err.Error(), Path: ast.Path{ast.PathName(fc.Field.Alias)}})
		return graphql.Null
	}
	return next(ctx)
}

// refuseIntrospection answers __schema and __type, when introspection is
// off, with a refusal that says so. gqlgen's own answer is an uncoded
// error, which the error presenter would log and mask as internal.
func refuseIntrospection(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	fc := graphql.GetRootFieldContext(ctx)
	if fc == nil || (fc.Field.Name != "__schema" && fc.Field.Name != "__type") || !graphql.GetOperationContext(ctx).DisableIntrospection {
		return next(ctx)
	}
	err := models.Refusal(models.CodeForbidden, models.ReasonIntrospectionDisabled, "introspection is turned off on this server")
	graphql.AddError(ctx, &gqlerror.Error{Err: err, Message: err.Message, Path: ast.Path{ast.PathName(fc.Field.Alias)}})
	return graphql.Null
}

// unsupported answers requests that no other transport takes (a wrong
// method or content type) with a coded error.
type unsupported struct{}

func (unsupported) Supports(*http.Request) bool { return true }

func (unsupported) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	httpx.WriteError(w, r, http.StatusUnsupportedMediaType,
		models.Invalid("send GraphQL as POST with Content-Type: application/json, or as GET with a query parameter"))
}
