package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"dmgraph/models"
)

// unreachable tells errors that say the database could not be reached, lost
// the connection or did not answer in time from errors in the query itself.
// The first kind is the client's to retry: the API answers UNAVAILABLE, not
// INTERNAL.
func unreachable(err error) bool {
	var (
		netErr  net.Error
		connErr *pgconn.ConnectError
		pgErr   *pgconn.PgError
	)
	switch {
	case err == nil, errors.Is(err, models.ErrUnavailable):
		return false
	case errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
		// The caller left (a closed socket, a request cut short); pgx
		// reports it as a timeout too.
		return false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.As(err, &netErr), errors.As(err, &connErr), pgconn.Timeout(err):
		return true
	case errors.As(err, &pgErr):
		// Class 08 is "connection exception"; 57014 a statement cancelled
		// by statement_timeout; 57P01–57P03 are shutdowns and a server not
		// accepting connections; 53300 is too many connections.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57014" || pgErr.Code == "57P01" ||
			pgErr.Code == "57P02" || pgErr.Code == "57P03" || pgErr.Code == "53300"
	}
	// pgconn reports a connection it already knows to be closed without a
	// typed error.
	return strings.Contains(err.Error(), "conn closed")
}

// markUnavailable wraps an unreachable-database error so that it carries
// the UNAVAILABLE code; the cause stays in the chain for the logs.
func markUnavailable(err error) error {
	if unreachable(err) {
		return fmt.Errorf("%w [database: %w]", models.ErrUnavailable, err)
	}
	return err
}

// registerUnavailable makes every statement's error pass through
// markUnavailable, whichever store method ran it.
func registerUnavailable(db *gorm.DB) error {
	mark := func(tx *gorm.DB) {
		if tx.Error != nil {
			tx.Error = markUnavailable(tx.Error)
		}
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().After("*").Register("dmgraph:unavailable", mark),
		cb.Query().After("*").Register("dmgraph:unavailable", mark),
		cb.Update().After("*").Register("dmgraph:unavailable", mark),
		cb.Delete().After("*").Register("dmgraph:unavailable", mark),
		cb.Row().After("*").Register("dmgraph:unavailable", mark),
		cb.Raw().After("*").Register("dmgraph:unavailable", mark),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
