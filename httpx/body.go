package httpx

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"dmgraph/models"
)

// maxBodyBytes bounds a GraphQL request body: a 4000-character message and
// its query fit many times over.
const maxBodyBytes = 1 << 20

// ReadBody reads a request's body before gqlgen does, within timeout and
// maxBodyBytes, so that a body too large is answered with 413 and one too
// slow with 408, each with a coded error (gqlgen answers a failed read with
// 200). http.Server's ReadTimeout would also cut a handler's context short
// once the body is read; this deadline is lifted then. Websocket upgrades
// have no body, and gorilla sets their deadlines.
func ReadBody(timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > maxBodyBytes {
			bodyTooLarge(w, r)
			return
		}
		buf := bytes.NewBuffer(make([]byte, 0, max(r.ContentLength, 0)+bytes.MinRead))
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(timeout))
		_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		var tooLarge *http.MaxBytesError
		switch {
		case err == nil:
			_ = rc.SetReadDeadline(time.Time{})
		// After a failed read the deadline stays: net/http discards the
		// rest of the body before it closes, and must not wait for it.
		case errors.As(err, &tooLarge):
			bodyTooLarge(w, r)
			return
		case errors.Is(err, os.ErrDeadlineExceeded):
			w.Header().Set("Connection", "close")
			WriteError(w, r, http.StatusRequestTimeout, models.Invalid("the request body did not arrive within %v", timeout))
			return
		case err != nil:
			w.Header().Set("Connection", "close")
			WriteError(w, r, http.StatusBadRequest, models.Invalid("the request body could not be read"))
			return
		}
		r.Body = io.NopCloser(buf)
		next.ServeHTTP(w, r)
	})
}

func bodyTooLarge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	WriteError(w, r, http.StatusRequestEntityTooLarge, models.Invalid("the request body is larger than %d bytes", maxBodyBytes))
}
