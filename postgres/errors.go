package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/thermo/thermo"
)

// SQLSTATE codes mapped to application errors.
const (
	sqlUniqueViolation     = "23505"
	sqlForeignKeyViolation = "23503"
	sqlCheckViolation      = "23514"
	sqlNotNullViolation    = "23502"
)

// mapError turns constraint violations into *thermo.Error by SQLSTATE (never
// by message text) and pgx.ErrNoRows into ENOTFOUND with the given message.
// Other errors pass through unchanged and end up as internal errors.
func mapError(err error, notFound string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) && notFound != "" {
		return thermo.Errorf(thermo.ENOTFOUND, "%s", notFound)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch pgErr.Code {
	case sqlUniqueViolation:
		return &thermo.Error{Code: thermo.ECONFLICT, Message: "A record with the same key already exists."}
	case sqlForeignKeyViolation:
		return &thermo.Error{Code: thermo.EINVALID, Message: "A referenced record does not exist."}
	case sqlCheckViolation, sqlNotNullViolation:
		return &thermo.Error{Code: thermo.EINVALID, Message: "A value is out of its allowed range."}
	}
	return err
}
