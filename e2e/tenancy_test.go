package e2e_test

import (
	"net/http"
	"testing"
	"time"
)

// TestCrossTenant: tenant B naming tenant A's device or user by id gets 404
// from every endpoint, and A's data is untouched afterwards.
func TestCrossTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, other := b.newTenant(t), b.newTenant(t)

	d := a.createDevice(t, "TH-A")
	a.postBatch(t, d.ID, series(10, time.Now().Add(-time.Minute), time.Minute))
	var u user
	a.call(t, http.MethodPost, "/v1/users", map[string]any{"keycloakSubjectId": "alice", "email": "alice@a.example"}, http.StatusCreated, &u)
	other.call(t, http.MethodGet, "/v1/tenant", nil, http.StatusOK, nil) // provision B, empty

	one := map[string]any{"temperatureCelsius": 99, "recordedAt": time.Now()}
	dev := path("/v1/devices/%d", d.ID)
	for _, tt := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, dev, nil},
		{http.MethodPatch, dev, map[string]any{"name": "stolen"}},
		{http.MethodPost, dev + "/deactivate", nil},
		{http.MethodPost, dev + "/readings", one},
		{http.MethodPost, dev + "/readings/batch", map[string]any{"readings": []any{one}}},
		{http.MethodGet, dev + "/readings", nil},
		{http.MethodGet, dev + "/readings/latest", nil},
		{http.MethodGet, dev + "/readings/hourly", nil},
		{http.MethodGet, dev + "/readings/export", nil},
		{http.MethodGet, path("/v1/users/%d?withDeleted=true", u.ID), nil},
		{http.MethodDelete, path("/v1/users/%d", u.ID), nil},
	} {
		if p := other.fail(t, tt.method, tt.path, tt.body, http.StatusNotFound); p.Code != "not_found" {
			t.Errorf("%s %s as tenant B = %+v", tt.method, tt.path, p)
		}
	}
	var latest struct{ Data []any }
	other.call(t, http.MethodGet, "/v1/readings/latest", nil, http.StatusOK, &latest)
	var devices, users struct{ Total, Count int }
	other.call(t, http.MethodGet, "/v1/devices", nil, http.StatusOK, &devices)
	other.call(t, http.MethodGet, "/v1/users?withDeleted=true", nil, http.StatusOK, &users)
	if len(latest.Data) != 0 || devices.Total != 0 || users.Count != 0 {
		t.Errorf("tenant B sees %d latest, %d devices, %d users; want none", len(latest.Data), devices.Total, users.Count)
	}
	other.fail(t, http.MethodGet, "/v1/me", nil, http.StatusNotFound)

	// Tenant A's device, readings and user are unchanged.
	var got device
	a.call(t, http.MethodGet, dev, nil, http.StatusOK, &got)
	var page readingPage
	a.call(t, http.MethodGet, dev+"/readings", nil, http.StatusOK, &page)
	if got.Name != d.Name || !got.IsActive || page.Count != 10 {
		t.Errorf("tenant A after B's attempts: device %+v, %d readings", got, page.Count)
	}
	a.call(t, http.MethodGet, path("/v1/users/%d", u.ID), nil, http.StatusOK, nil)
}
