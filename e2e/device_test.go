package e2e_test

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
)

func TestDevices(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newTenant(t)

	var owner user
	c.call(t, http.MethodPost, "/v1/users", map[string]any{"keycloakSubjectId": "o", "email": "o@example.com"}, http.StatusCreated, &owner)

	var d device
	c.call(t, http.MethodPost, "/v1/devices", map[string]any{"serialNumber": "TH-001", "location": "Lobby", "ownerId": owner.ID}, http.StatusCreated, &d)
	if d.Name != "Sensor-TH-001" || !d.IsActive || d.Location != "Lobby" || d.OwnerID == nil || *d.OwnerID != owner.ID {
		t.Fatalf("registered = %+v", d)
	}
	if p := c.fail(t, http.MethodPost, "/v1/devices", map[string]any{"serialNumber": "TH-001"}, http.StatusConflict); p.Code != "conflict" {
		t.Errorf("duplicate serial = %+v", p)
	}
	p := c.fail(t, http.MethodPost, "/v1/devices", map[string]any{"serialNumber": "TH 002", "ownerId": owner.ID + 99}, http.StatusUnprocessableEntity)
	if got := fmt.Sprint(p.fields()); got != "[serialNumber]" {
		t.Errorf("invalid serial fields = %s", got)
	}
	p = c.fail(t, http.MethodPost, "/v1/devices", map[string]any{"serialNumber": "TH-002", "ownerId": owner.ID + 99}, http.StatusUnprocessableEntity)
	if got := fmt.Sprint(p.fields()); got != "[ownerId]" {
		t.Errorf("unknown owner fields = %s", got)
	}

	var got device
	c.call(t, http.MethodGet, path("/v1/devices/%d", d.ID), nil, http.StatusOK, &got)
	if !reflect.DeepEqual(got, d) {
		t.Errorf("get = %+v, want %+v", got, d)
	}
	c.call(t, http.MethodPatch, path("/v1/devices/%d", d.ID), map[string]any{"name": "Boiler room", "location": "B1"}, http.StatusOK, &got)
	if got.Name != "Boiler room" || got.Location != "B1" || !got.IsActive {
		t.Errorf("patched = %+v", got)
	}
	c.fail(t, http.MethodPatch, path("/v1/devices/%d", d.ID), map[string]any{"serialNumber": "X"}, http.StatusUnprocessableEntity)
	c.fail(t, http.MethodPost, "/v1/devices", map[string]any{"serialNumber": "TH-9", "tenantId": "other"}, http.StatusUnprocessableEntity)
	c.call(t, http.MethodPost, path("/v1/devices/%d/deactivate", d.ID), nil, http.StatusOK, &got)
	if got.IsActive {
		t.Errorf("deactivated = %+v", got)
	}
	c.fail(t, http.MethodGet, path("/v1/devices/%d", d.ID+100), nil, http.StatusNotFound)
	c.fail(t, http.MethodGet, "/v1/devices/abc", nil, http.StatusUnprocessableEntity)

	// Page through 12 more devices sorted by name, with totals.
	for i := range 12 {
		c.call(t, http.MethodPost, "/v1/devices", map[string]any{"serialNumber": fmt.Sprintf("S%02d", i), "name": fmt.Sprintf("room %02d", 11-i)}, http.StatusCreated, nil)
	}
	type page struct {
		Data     []device `json:"data"`
		Total    int      `json:"total"`
		Page     int      `json:"page"`
		PageSize int      `json:"pageSize"`
	}
	var pg page
	c.call(t, http.MethodGet, "/v1/devices?page=2&pageSize=5", nil, http.StatusOK, &pg)
	if pg.Total != 13 || pg.Page != 2 || pg.PageSize != 5 || len(pg.Data) != 5 || pg.Data[0].Name != "room 04" {
		t.Errorf("page 2 = %+v", pg)
	}
	c.call(t, http.MethodGet, "/v1/devices?active=false", nil, http.StatusOK, &pg)
	if pg.Total != 1 || pg.Data[0].ID != d.ID || pg.PageSize != 20 {
		t.Errorf("inactive = %+v", pg)
	}
	c.call(t, http.MethodGet, "/v1/devices?active=true&pageSize=100", nil, http.StatusOK, &pg)
	if pg.Total != 12 || len(pg.Data) != 12 || pg.Data[0].Name != "room 00" {
		t.Errorf("active = total %d, %d devices", pg.Total, len(pg.Data))
	}
	c.fail(t, http.MethodGet, "/v1/devices?pageSize=101", nil, http.StatusUnprocessableEntity)
}
