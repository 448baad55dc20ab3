package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"dmgraph/models"
)

func TestUnreachableErrorsAreUnavailable(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("query: %w", io.EOF), true},
		{context.DeadlineExceeded, true},
		{&net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "57P01"}, true},
		{&pgconn.PgError{Code: "53300"}, true},
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "40P01"}, false},
		{context.Canceled, false},
		{fmt.Errorf("timeout: context already done: %w", context.Canceled), false},
		{models.ErrNotFound, false},
		{errors.New("syntax error"), false},
	}
	for _, c := range cases {
		got := markUnavailable(c.err)
		if models.CodeOf(got) == models.CodeUnavailable != c.want {
			t.Errorf("%v: code %s, want unavailable %v", c.err, models.CodeOf(got), c.want)
		}
		if !errors.Is(got, c.err) {
			t.Errorf("%v: the cause is lost from the chain", c.err)
		}
	}
	// Marking twice wraps once.
	once := markUnavailable(io.EOF)
	if markUnavailable(once) != once {
		t.Error("an error already marked was wrapped again")
	}
}
