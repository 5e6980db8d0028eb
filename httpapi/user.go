package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/thermo/thermo"
)

type userBody struct {
	KeycloakSubjectID string `json:"keycloakSubjectId" minLength:"1" maxLength:"255" doc:"The user's subject (sub) at the identity provider."`
	Email             string `json:"email" minLength:"3" maxLength:"320"`
	Name              string `json:"name,omitempty" maxLength:"200"`
}

type createUserInput struct {
	Body userBody
}

type userOutput struct {
	Body *thermo.User
}

type userIDInput struct {
	ID int64 `path:"id" minimum:"1"`
}

type getUserInput struct {
	ID          int64 `path:"id" minimum:"1"`
	WithDeleted bool  `query:"withDeleted" doc:"Also find a soft-deleted user."`
}

type listUsersInput struct {
	Cursor      string `query:"cursor" doc:"nextCursor of the previous page."`
	Limit       int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
	WithDeleted bool   `query:"withDeleted" doc:"Include soft-deleted users."`
}

type userPage struct {
	Data        []*thermo.User `json:"data"`
	NextCursor  *string        `json:"nextCursor" doc:"Pass as cursor to get the next page; null on the last page."`
	HasNextPage bool           `json:"hasNextPage"`
	Count       int            `json:"count" doc:"Number of users in data."`
}

type listUsersOutput struct {
	Body userPage
}

func (s *Server) registerUserRoutes() {
	if s.users == nil {
		return
	}
	tags := []string{"users"}
	huma.Register(s.api, huma.Operation{
		OperationID: "create-user", Method: http.MethodPost, Path: "/v1/users",
		Summary: "Create a user", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Registers a person of the tenant by their identity-provider subject. A live user with the same subject is a conflict.",
		Errors:      []int{http.StatusConflict, http.StatusUnprocessableEntity},
	}, s.createUser)
	huma.Register(s.api, huma.Operation{
		OperationID: "list-users", Method: http.MethodGet, Path: "/v1/users",
		Summary: "List users", Tags: tags,
		Description: "Keyset pages in id order. Soft-deleted users are hidden unless withDeleted is true.",
		Errors:      []int{http.StatusBadRequest, http.StatusUnprocessableEntity},
	}, s.listUsers)
	huma.Register(s.api, huma.Operation{
		OperationID: "get-user", Method: http.MethodGet, Path: "/v1/users/{id}",
		Summary: "Get a user", Tags: tags,
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.getUser)
	huma.Register(s.api, huma.Operation{
		OperationID: "delete-user", Method: http.MethodDelete, Path: "/v1/users/{id}",
		Summary: "Delete a user (soft)", Tags: tags, DefaultStatus: http.StatusNoContent,
		Description: "Sets deletedAt; the user disappears from get and list unless withDeleted is true.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.deleteUser)
	huma.Register(s.api, huma.Operation{
		OperationID: "get-me", Method: http.MethodGet, Path: "/v1/me",
		Summary: "Get the caller's user", Tags: tags,
		Description: "The live user whose keycloakSubjectId is the token's subject.",
		Errors:      []int{http.StatusNotFound},
	}, s.getMe)
}

func (s *Server) createUser(ctx context.Context, in *createUserInput) (*userOutput, error) {
	u := &thermo.User{KeycloakSubjectID: in.Body.KeycloakSubjectID, Email: in.Body.Email, Name: in.Body.Name}
	if err := s.users.CreateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return &userOutput{Body: u}, nil
}

func (s *Server) listUsers(ctx context.Context, in *listUsersInput) (*listUsersOutput, error) {
	f := thermo.UserFilter{Limit: in.Limit, WithDeleted: in.WithDeleted}
	if in.Cursor != "" {
		after, err := decodeCursor(in.Cursor, cursorUsers, 0)
		if err != nil {
			return nil, err
		}
		f.AfterID = after
	}
	users, more, err := s.users.FindUsers(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := &listUsersOutput{Body: userPage{Data: users, HasNextPage: more, Count: len(users)}}
	if more {
		c := encodeCursor(cursorUsers, 0, users[len(users)-1].ID)
		out.Body.NextCursor = &c
	}
	return out, nil
}

func (s *Server) getUser(ctx context.Context, in *getUserInput) (*userOutput, error) {
	u, err := s.users.FindUserByID(ctx, in.ID, in.WithDeleted)
	if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	return &userOutput{Body: u}, nil
}

func (s *Server) deleteUser(ctx context.Context, in *userIDInput) (*struct{}, error) {
	if err := s.users.DeleteUser(ctx, in.ID); err != nil {
		return nil, fmt.Errorf("delete user: %w", err)
	}
	return nil, nil
}

func (s *Server) getMe(ctx context.Context, _ *struct{}) (*userOutput, error) {
	p, ok := thermo.PrincipalFromContext(ctx)
	if !ok {
		return nil, thermo.Errorf(thermo.EUNAUTHORIZED, "The request has no caller.")
	}
	u, err := s.users.FindUserBySubject(ctx, p.Subject)
	if err != nil {
		return nil, fmt.Errorf("get me: %w", err)
	}
	return &userOutput{Body: u}, nil
}
