package thermo

import (
	"context"
	"net/mail"
	"time"
	"unicode"
	"unicode/utf8"
)

// User is a person of a tenant, known to the identity provider by
// KeycloakSubjectID (the token's sub). Deleting a user only sets DeletedAt:
// the row stays for audit, hidden unless asked for.
type User struct {
	ID                int64      `json:"id"`
	KeycloakSubjectID string     `json:"keycloakSubjectId"`
	Email             string     `json:"email"`
	Name              string     `json:"name"`
	CreatedAt         time.Time  `json:"createdAt"`
	UpdatedAt         time.Time  `json:"updatedAt"`
	DeletedAt         *time.Time `json:"deletedAt,omitempty"`
}

// Page sizes of keyset-paginated lists (users, reading history).
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// Validate checks a user before it is stored. Lengths are in characters, as
// the table's CHECK constraints count them.
func (u *User) Validate() error {
	var errs []FieldError
	if n := utf8.RuneCountInString(u.KeycloakSubjectID); n < 1 || n > 255 || !printable(u.KeycloakSubjectID, false) {
		errs = append(errs, FieldError{Field: "keycloakSubjectId", Reason: "must be 1 to 255 printable characters without spaces"})
	}
	if n := utf8.RuneCountInString(u.Email); n < 3 || n > 320 || !validEmail(u.Email) {
		errs = append(errs, FieldError{Field: "email", Reason: "must be an email address (name@domain) of at most 320 characters"})
	}
	if utf8.RuneCountInString(u.Name) > 200 || !printable(u.Name, true) {
		errs = append(errs, FieldError{Field: "name", Reason: "must be at most 200 printable characters"})
	}
	if len(errs) > 0 {
		return InvalidFields(errs...)
	}
	return nil
}

// validEmail accepts a bare addr-spec: no display name, no angle brackets.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// printable reports whether s is valid UTF-8 without control characters;
// spaces are allowed only if spaces is set.
func printable(s string, spaces bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || !spaces && unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// UserFilter selects one keyset page of users in id order.
type UserFilter struct {
	// AfterID is the keyset cursor: only users with a greater id (0: from
	// the start).
	AfterID int64
	// Limit is the page size (DefaultPageLimit if 0, at most MaxPageLimit).
	Limit int
	// WithDeleted includes soft-deleted users.
	WithDeleted bool
}

// UserService manages the users of the tenant in ctx.
type UserService interface {
	// CreateUser stores u and fills in its id and timestamps. A live user
	// with the same subject is an ECONFLICT.
	CreateUser(ctx context.Context, u *User) error
	// FindUserByID returns a user; a soft-deleted one only if withDeleted.
	FindUserByID(ctx context.Context, id int64, withDeleted bool) (*User, error)
	// FindUserBySubject returns the live user of a token subject.
	FindUserBySubject(ctx context.Context, subject string) (*User, error)
	// FindUsers returns one page and whether another follows.
	FindUsers(ctx context.Context, filter UserFilter) ([]*User, bool, error)
	// DeleteUser soft-deletes a live user; ENOTFOUND if there is none.
	DeleteUser(ctx context.Context, id int64) error
}

// pageLimit applies the default and maximum page size.
func pageLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageLimit
	case limit > MaxPageLimit:
		return MaxPageLimit
	}
	return limit
}

// PageLimit returns the filter's page size with defaults applied.
func (f UserFilter) PageLimit() int { return pageLimit(f.Limit) }
