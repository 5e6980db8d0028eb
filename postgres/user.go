package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres/internal/pgdb"
)

var _ thermo.UserService = (*UserService)(nil)

// UserService stores users in the tenant's users table.
type UserService struct {
	db *DB
}

// NewUserService returns a UserService backed by db.
func NewUserService(db *DB) *UserService { return &UserService{db: db} }

// queries returns the generated queries bound to ctx's transaction.
func queries(ctx context.Context) *pgdb.Queries { return pgdb.New(conn(ctx)) }

// CreateUser validates and stores u.
func (s *UserService) CreateUser(ctx context.Context, u *thermo.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(ctx context.Context) error {
		row, err := queries(ctx).CreateUser(ctx, pgdb.CreateUserParams{
			KeycloakSubjectID: u.KeycloakSubjectID, Email: u.Email, Name: u.Name,
		})
		if err = mapError(err, ""); thermo.ErrorCode(err) == thermo.ECONFLICT {
			return thermo.Errorf(thermo.ECONFLICT, "A live user with this keycloakSubjectId already exists.")
		} else if err != nil {
			return fmt.Errorf("create user: %w", err)
		}
		*u = *userFromRow(row)
		return nil
	})
}

// FindUserByID returns the user with id; a soft-deleted one only if
// withDeleted.
func (s *UserService) FindUserByID(ctx context.Context, id int64, withDeleted bool) (*thermo.User, error) {
	var u *thermo.User
	err := s.db.ReadTx(ctx, func(ctx context.Context) error {
		row, err := queries(ctx).FindUserByID(ctx, pgdb.FindUserByIDParams{ID: id, WithDeleted: withDeleted})
		if err != nil {
			return mapError(err, fmt.Sprintf("User %d not found.", id))
		}
		u = userFromRow(row)
		return nil
	})
	return u, err
}

// FindUserBySubject returns the live user whose identity-provider subject
// is subject.
func (s *UserService) FindUserBySubject(ctx context.Context, subject string) (*thermo.User, error) {
	var u *thermo.User
	err := s.db.ReadTx(ctx, func(ctx context.Context) error {
		row, err := queries(ctx).FindUserBySubject(ctx, subject)
		if err != nil {
			return mapError(err, "No user is registered for this subject.")
		}
		u = userFromRow(row)
		return nil
	})
	return u, err
}

// FindUsers returns one keyset page in id order. It fetches one row more
// than the page to learn whether another page follows.
func (s *UserService) FindUsers(ctx context.Context, f thermo.UserFilter) ([]*thermo.User, bool, error) {
	limit := f.PageLimit()
	users := make([]*thermo.User, 0, limit)
	err := s.db.ReadTx(ctx, func(ctx context.Context) error {
		rows, err := queries(ctx).FindUsers(ctx, pgdb.FindUsersParams{
			AfterID: f.AfterID, WithDeleted: f.WithDeleted, RowLimit: int32(limit + 1),
		})
		if err != nil {
			return fmt.Errorf("find users: %w", err)
		}
		for _, row := range rows {
			users = append(users, userFromRow(row))
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	more := len(users) > limit
	return users[:min(len(users), limit)], more, nil
}

// DeleteUser soft-deletes a live user.
func (s *UserService) DeleteUser(ctx context.Context, id int64) error {
	return s.db.InTx(ctx, func(ctx context.Context) error {
		n, err := queries(ctx).SoftDeleteUser(ctx, id)
		if err != nil {
			return fmt.Errorf("delete user: %w", err)
		} else if n == 0 {
			return thermo.Errorf(thermo.ENOTFOUND, "User %d not found.", id)
		}
		return nil
	})
}

func userFromRow(r pgdb.User) *thermo.User {
	return &thermo.User{
		ID: r.ID, KeycloakSubjectID: r.KeycloakSubjectID, Email: r.Email, Name: r.Name,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), DeletedAt: utcPtr(r.DeletedAt),
	}
}

// utcPtr returns *t in UTC (pgx scans timestamptz in time.Local).
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
