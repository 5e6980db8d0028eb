package mock

import (
	"context"

	"github.com/thermo/thermo"
)

var _ thermo.UserService = (*UserService)(nil)

// UserService is a fake thermo.UserService.
type UserService struct {
	CreateUserFn        func(ctx context.Context, u *thermo.User) error
	FindUserByIDFn      func(ctx context.Context, id int64, withDeleted bool) (*thermo.User, error)
	FindUserBySubjectFn func(ctx context.Context, subject string) (*thermo.User, error)
	FindUsersFn         func(ctx context.Context, f thermo.UserFilter) ([]*thermo.User, bool, error)
	DeleteUserFn        func(ctx context.Context, id int64) error
}

func (s *UserService) CreateUser(ctx context.Context, u *thermo.User) error {
	return s.CreateUserFn(ctx, u)
}

func (s *UserService) FindUserByID(ctx context.Context, id int64, withDeleted bool) (*thermo.User, error) {
	return s.FindUserByIDFn(ctx, id, withDeleted)
}

func (s *UserService) FindUserBySubject(ctx context.Context, subject string) (*thermo.User, error) {
	return s.FindUserBySubjectFn(ctx, subject)
}

func (s *UserService) FindUsers(ctx context.Context, f thermo.UserFilter) ([]*thermo.User, bool, error) {
	return s.FindUsersFn(ctx, f)
}

func (s *UserService) DeleteUser(ctx context.Context, id int64) error {
	return s.DeleteUserFn(ctx, id)
}
