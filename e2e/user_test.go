package e2e_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
)

func TestUsers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.newTenant(t)

	// GET /v1/me before the caller is registered.
	alice := admin.as("alice-sub")
	if p := alice.fail(t, http.MethodGet, "/v1/me", nil, http.StatusNotFound); p.Code != "not_found" {
		t.Errorf("me before registration = %+v", p)
	}

	var created user
	admin.call(t, http.MethodPost, "/v1/users", map[string]any{
		"keycloakSubjectId": "alice-sub", "email": "alice@example.com", "name": "Alice",
	}, http.StatusCreated, &created)
	if created.ID == 0 || created.Name != "Alice" || created.DeletedAt != nil {
		t.Fatalf("created = %+v", created)
	}
	var me user
	alice.call(t, http.MethodGet, "/v1/me", nil, http.StatusOK, &me)
	if me != created {
		t.Errorf("me = %+v, want %+v", me, created)
	}

	p := admin.fail(t, http.MethodPost, "/v1/users", map[string]any{"keycloakSubjectId": "alice-sub", "email": "a2@example.com"}, http.StatusConflict)
	if p.Code != "conflict" {
		t.Errorf("duplicate subject = %+v", p)
	}
	p = admin.fail(t, http.MethodPost, "/v1/users", map[string]any{"keycloakSubjectId": "x", "email": "not-an-email"}, http.StatusUnprocessableEntity)
	if len(p.Errors) != 1 || p.Errors[0].Field != "email" {
		t.Errorf("invalid email = %+v", p)
	}

	// Soft delete hides the user unless withDeleted.
	admin.call(t, http.MethodDelete, path("/v1/users/%d", created.ID), nil, http.StatusNoContent, nil)
	admin.fail(t, http.MethodGet, path("/v1/users/%d", created.ID), nil, http.StatusNotFound)
	admin.fail(t, http.MethodDelete, path("/v1/users/%d", created.ID), nil, http.StatusNotFound)
	alice.fail(t, http.MethodGet, "/v1/me", nil, http.StatusNotFound)
	var deleted user
	admin.call(t, http.MethodGet, path("/v1/users/%d?withDeleted=true", created.ID), nil, http.StatusOK, &deleted)
	if deleted.DeletedAt == nil {
		t.Errorf("deleted user = %+v, want deletedAt", deleted)
	}
	var all, live struct{ Count int }
	admin.call(t, http.MethodGet, "/v1/users?withDeleted=true", nil, http.StatusOK, &all)
	admin.call(t, http.MethodGet, "/v1/users", nil, http.StatusOK, &live)
	if all.Count != 1 || live.Count != 0 {
		t.Errorf("counts with/without deleted = %d/%d, want 1/0", all.Count, live.Count)
	}
}

// TestUserPages pages through users with the opaque keyset cursor.
func TestUserPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.newTenant(t)
	for _, sub := range []string{"a", "b", "c", "d", "e"} {
		admin.call(t, http.MethodPost, "/v1/users", map[string]any{"keycloakSubjectId": sub, "email": sub + "@example.com"}, http.StatusCreated, nil)
	}
	var ids []int64
	next := ""
	for pages := 0; ; pages++ {
		var page struct {
			Data        []user  `json:"data"`
			NextCursor  *string `json:"nextCursor"`
			HasNextPage bool    `json:"hasNextPage"`
			Count       int     `json:"count"`
		}
		admin.call(t, http.MethodGet, "/v1/users?limit=2"+next, nil, http.StatusOK, &page)
		for _, u := range page.Data {
			ids = append(ids, u.ID)
		}
		if page.Count != len(page.Data) || page.HasNextPage != (page.NextCursor != nil) {
			t.Fatalf("page = %+v", page)
		}
		if !page.HasNextPage {
			break
		}
		next = "&cursor=" + url.QueryEscape(*page.NextCursor)
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if len(ids) != 5 || !slices.IsSorted(ids) {
		t.Fatalf("listed ids = %v, want 5 in order", ids)
	}
	p := admin.fail(t, http.MethodGet, "/v1/users?cursor=bm90LWEtY3Vyc29y", nil, http.StatusBadRequest)
	if p.Code != "invalid" || len(p.Errors) != 1 || p.Errors[0].Field != "cursor" {
		t.Errorf("bad cursor = %+v", p)
	}

}
