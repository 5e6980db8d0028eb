package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/thermo/thermo"
)

type deviceBody struct {
	SerialNumber string `json:"serialNumber" minLength:"1" maxLength:"64" doc:"Unique in the tenant."`
	Name         string `json:"name,omitempty" maxLength:"200" doc:"Defaults to Sensor-<serialNumber>."`
	Location     string `json:"location,omitempty" maxLength:"200"`
	OwnerID      *int64 `json:"ownerId,omitempty" minimum:"1" doc:"Id of a live user."`
}

type createDeviceInput struct {
	Body deviceBody
}

type deviceOutput struct {
	Body *thermo.Device
}

type deviceIDInput struct {
	ID int64 `path:"id" minimum:"1"`
}

type patchDeviceInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body thermo.DeviceUpdate
}

type listDevicesInput struct {
	Page     int            `query:"page" minimum:"1" maximum:"100000" default:"1"`
	PageSize int            `query:"pageSize" minimum:"1" maximum:"100" default:"20"`
	Active   optional[bool] `query:"active" doc:"Only active (true) or inactive (false) devices; all if absent."`
}

type devicePage struct {
	Data     []*thermo.Device `json:"data"`
	Total    int              `json:"total" doc:"Number of matching devices on all pages."`
	Page     int              `json:"page"`
	PageSize int              `json:"pageSize"`
}

type listDevicesOutput struct {
	Body devicePage
}

func (s *Server) registerDeviceRoutes() {
	if s.devices == nil {
		return
	}
	tags := []string{"devices"}
	huma.Register(s.api, huma.Operation{
		OperationID: "create-device", Method: http.MethodPost, Path: "/v1/devices",
		Summary: "Register a device", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "A serial number already registered in the tenant is a conflict. New devices are active.",
		Errors:      []int{http.StatusConflict, http.StatusUnprocessableEntity},
	}, s.createDevice)
	huma.Register(s.api, huma.Operation{
		OperationID: "list-devices", Method: http.MethodGet, Path: "/v1/devices",
		Summary: "List devices", Tags: tags,
		Description: "Pages sorted by name, with the total count of matching devices.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, s.listDevices)
	huma.Register(s.api, huma.Operation{
		OperationID: "get-device", Method: http.MethodGet, Path: "/v1/devices/{id}",
		Summary: "Get a device", Tags: tags,
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.getDevice)
	huma.Register(s.api, huma.Operation{
		OperationID: "patch-device", Method: http.MethodPatch, Path: "/v1/devices/{id}",
		Summary: "Update a device", Tags: tags,
		Description: "Sets the fields present in the body; isActive true reactivates a device.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.patchDevice)
	huma.Register(s.api, huma.Operation{
		OperationID: "deactivate-device", Method: http.MethodPost, Path: "/v1/devices/{id}/deactivate",
		Summary: "Deactivate a device", Tags: tags,
		Description: "The device keeps its readings but accepts no new ones (409). Idempotent.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.deactivateDevice)
}

func (s *Server) createDevice(ctx context.Context, in *createDeviceInput) (*deviceOutput, error) {
	d := &thermo.Device{
		SerialNumber: in.Body.SerialNumber, Name: in.Body.Name,
		Location: in.Body.Location, OwnerID: in.Body.OwnerID,
	}
	if err := s.devices.CreateDevice(ctx, d); err != nil {
		return nil, fmt.Errorf("create device: %w", err)
	}
	s.publishNew(ctx, thermo.EventDeviceRegistered, d.ID, d)
	return &deviceOutput{Body: d}, nil
}

func (s *Server) listDevices(ctx context.Context, in *listDevicesInput) (*listDevicesOutput, error) {
	f := thermo.DeviceFilter{Active: in.Active.ptr(), Page: in.Page, PageSize: in.PageSize}
	f.Normalize()
	devices, total, err := s.devices.FindDevices(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return &listDevicesOutput{Body: devicePage{Data: devices, Total: total, Page: f.Page, PageSize: f.PageSize}}, nil
}

func (s *Server) getDevice(ctx context.Context, in *deviceIDInput) (*deviceOutput, error) {
	d, err := s.devices.FindDeviceByID(ctx, in.ID)
	if err != nil {
		return nil, fmt.Errorf("get device: %w", err)
	}
	return &deviceOutput{Body: d}, nil
}

func (s *Server) patchDevice(ctx context.Context, in *patchDeviceInput) (*deviceOutput, error) {
	d, err := s.devices.UpdateDevice(ctx, in.ID, in.Body)
	if err != nil {
		return nil, fmt.Errorf("update device: %w", err)
	}
	s.publishNew(ctx, thermo.EventDeviceChanged, d.ID, d)
	return &deviceOutput{Body: d}, nil
}

func (s *Server) deactivateDevice(ctx context.Context, in *deviceIDInput) (*deviceOutput, error) {
	d, err := s.devices.DeactivateDevice(ctx, in.ID)
	if err != nil {
		return nil, fmt.Errorf("deactivate device: %w", err)
	}
	s.publishNew(ctx, thermo.EventDeviceChanged, d.ID, d)
	return &deviceOutput{Body: d}, nil
}
