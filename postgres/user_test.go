package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

// tenantContext provisions a fresh tenant and returns a context scoped to it.
func (b *bundle) tenantContext(t *testing.T) context.Context {
	t.Helper()
	return thermo.WithTenant(context.Background(), b.newTenant(t))
}

// wantCode fails the test unless err carries code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := thermo.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func createUser(t *testing.T, ctx context.Context, s *postgres.UserService, sub string) *thermo.User {
	t.Helper()
	u := &thermo.User{KeycloakSubjectID: sub, Email: sub + "@example.com", Name: "User " + sub}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("create user %s: %v", sub, err)
	}
	return u
}

func TestUserService(t *testing.T) {
	t.Parallel()
	b := setup(t)
	users := postgres.NewUserService(b.db)

	t.Run("CreateAndFind", func(t *testing.T) {
		t.Parallel()
		ctx := b.tenantContext(t)
		u := createUser(t, ctx, users, "alice")
		if u.ID == 0 || u.CreatedAt.IsZero() || u.DeletedAt != nil || u.CreatedAt.Location().String() != "UTC" {
			t.Fatalf("created = %+v", u)
		}
		got, err := users.FindUserByID(ctx, u.ID, false)
		if err != nil || *got != *u {
			t.Fatalf("FindUserByID = %+v, %v; want %+v", got, err, u)
		}
		got, err = users.FindUserBySubject(ctx, "alice")
		if err != nil || got.ID != u.ID {
			t.Fatalf("FindUserBySubject = %+v, %v", got, err)
		}
		_, err = users.FindUserByID(ctx, u.ID+1000, true)
		wantCode(t, err, thermo.ENOTFOUND)
	})

	t.Run("DuplicateSubjectConflicts", func(t *testing.T) {
		t.Parallel()
		ctx := b.tenantContext(t)
		createUser(t, ctx, users, "alice")
		err := users.CreateUser(ctx, &thermo.User{KeycloakSubjectID: "alice", Email: "other@example.com"})
		wantCode(t, err, thermo.ECONFLICT)
	})

	t.Run("InvalidFields", func(t *testing.T) {
		t.Parallel()
		ctx := b.tenantContext(t)
		err := users.CreateUser(ctx, &thermo.User{KeycloakSubjectID: "has space", Email: "Bob <bob@example.com>"})
		wantCode(t, err, thermo.EINVALID)
		var te *thermo.Error
		if !errors.As(err, &te) || len(te.Fields) != 2 {
			t.Fatalf("fields = %+v, want keycloakSubjectId and email", te)
		}
	})

	t.Run("SoftDelete", func(t *testing.T) {
		t.Parallel()
		ctx := b.tenantContext(t)
		u := createUser(t, ctx, users, "alice")
		if err := users.DeleteUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		_, err := users.FindUserByID(ctx, u.ID, false)
		wantCode(t, err, thermo.ENOTFOUND)
		_, err = users.FindUserBySubject(ctx, "alice")
		wantCode(t, err, thermo.ENOTFOUND)
		wantCode(t, users.DeleteUser(ctx, u.ID), thermo.ENOTFOUND)
		got, err := users.FindUserByID(ctx, u.ID, true)
		if err != nil || got.DeletedAt == nil {
			t.Fatalf("FindUserByID(withDeleted) = %+v, %v; want deletedAt set", got, err)
		}
		// The subject is free again for a new live user.
		createUser(t, ctx, users, "alice")
		list, _, err := users.FindUsers(ctx, thermo.UserFilter{})
		if err != nil || len(list) != 1 || list[0].ID == u.ID {
			t.Fatalf("FindUsers = %v, %v; want only the new alice", list, err)
		}
		list, _, err = users.FindUsers(ctx, thermo.UserFilter{WithDeleted: true})
		if err != nil || len(list) != 2 {
			t.Fatalf("FindUsers(withDeleted) = %d users, %v; want 2", len(list), err)
		}
	})

	t.Run("KeysetPages", func(t *testing.T) {
		t.Parallel()
		ctx := b.tenantContext(t)
		for i := range 5 {
			createUser(t, ctx, users, fmt.Sprintf("u%d", i))
		}
		var seen []int64
		f := thermo.UserFilter{Limit: 2}
		for page := 0; ; page++ {
			list, more, err := users.FindUsers(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range list {
				seen = append(seen, u.ID)
			}
			if !more {
				break
			}
			f.AfterID = list[len(list)-1].ID
			if page > 5 {
				t.Fatal("pagination does not end")
			}
		}
		if len(seen) != 5 {
			t.Fatalf("paged ids = %v, want 5", seen)
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] <= seen[i-1] {
				t.Fatalf("ids not ascending: %v", seen)
			}
		}
	})
}
