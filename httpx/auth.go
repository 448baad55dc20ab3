package httpx

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"dmgraph/auth"
	"dmgraph/models"
)

// Authenticator checks a bearer token.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (auth.Claims, error)
}

var (
	errBadToken = models.Errorf(models.CodeUnauthenticated, "invalid or expired token")
	errInternal = models.Errorf(models.CodeInternal, "internal error")
)

// Authenticate puts the bearer token's user in the request context. No
// header means anonymous; a bad or expired token is refused outright, so a
// client learns to sign in again instead of silently seeing less.
func Authenticate(tokens Authenticator, log *slog.Logger, timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		scheme, token, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			RefuseRequest(w, r, http.StatusUnauthorized, errBadToken)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		claims, err := tokens.Authenticate(ctx, strings.TrimSpace(token))
		cancel()
		var e *models.Error
		switch {
		case err == nil:
		case errors.As(err, &e) && e.Code == models.CodeUnauthenticated:
			RefuseRequest(w, r, http.StatusUnauthorized, e)
			return
		case errors.Is(err, models.ErrUnavailable):
			log.WarnContext(r.Context(), "token not checked: dependency unavailable", "err", err)
			RefuseRequest(w, r, http.StatusServiceUnavailable, models.ErrUnavailable)
			return
		default:
			log.ErrorContext(r.Context(), "token not checked", "err", err)
			RefuseRequest(w, r, http.StatusInternalServerError, errInternal)
			return
		}
		next.ServeHTTP(w, r.WithContext(models.WithViewer(r.Context(), claims.UserID)))
	})
}
