package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/thermo/thermo"
)

const cursorAlerts byte = 'a'

type ruleBody struct {
	Condition              thermo.AlertCondition `json:"condition" enum:"above,below"`
	ThresholdCelsius       float64               `json:"thresholdCelsius" minimum:"-273.15" maximum:"1000"`
	ForSeconds             int                   `json:"forSeconds,omitempty" minimum:"0" maximum:"604800" doc:"Fire only when the condition has held this long, by reading timestamps (default 0: at once)."`
	ClearHysteresisCelsius float64               `json:"clearHysteresisCelsius,omitempty" minimum:"0" maximum:"100" doc:"Clear only when the temperature is back this far inside the threshold (default 0)."`
	IsEnabled              *bool                 `json:"isEnabled,omitempty" doc:"Default true."`
}

type createRuleInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body ruleBody
}

type ruleIDInput struct {
	ID     int64 `path:"id" minimum:"1"`
	RuleID int64 `path:"ruleId" minimum:"1"`
}

type patchRuleInput struct {
	ID     int64 `path:"id" minimum:"1"`
	RuleID int64 `path:"ruleId" minimum:"1"`
	Body   thermo.AlertRuleUpdate
}

type ruleOutput struct {
	Body *thermo.AlertRule
}

type ruleList struct {
	Data []*thermo.AlertRule `json:"data"`
}

type ruleListOutput struct {
	Body ruleList
}

type listAlertsInput struct {
	DeviceID     int64          `query:"deviceId" minimum:"0" doc:"Only alerts of this device."`
	State        string         `query:"state" enum:"firing,resolved" doc:"firing (open) or resolved; both if absent."`
	Acknowledged optional[bool] `query:"acknowledged"`
	Cursor       string         `query:"cursor" doc:"nextCursor of the previous page."`
	Limit        int            `query:"limit" minimum:"1" maximum:"500" default:"50"`
}

type alertPage struct {
	Data        []*thermo.Alert `json:"data"`
	NextCursor  *string         `json:"nextCursor" doc:"Pass as cursor to get older alerts; null on the last page."`
	HasNextPage bool            `json:"hasNextPage"`
}

type listAlertsOutput struct {
	Body alertPage
}

type alertIDInput struct {
	ID int64 `path:"id" minimum:"1"`
}

type acknowledgeInput struct {
	ID      int64  `path:"id" minimum:"1"`
	IfMatch string `header:"If-Match" doc:"The alert's version (its ETag). Required: 428 without it, 412 if stale."`
}

type alertOutput struct {
	ETag string `header:"ETag"`
	Body *thermo.Alert
}

func (s *Server) registerAlertRoutes() {
	if s.alerts == nil {
		return
	}
	s.registerRuleRoutes()
	tags := []string{"alerts"}
	huma.Register(s.api, huma.Operation{
		OperationID: "list-alerts", Method: http.MethodGet, Path: "/v1/alerts",
		Summary: "List alerts", Tags: tags,
		Description: "Newest first, keyset-paginated, each alert with its rule (one query).",
		Errors:      []int{http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.listAlerts)
	huma.Register(s.api, huma.Operation{
		OperationID: "get-alert", Method: http.MethodGet, Path: "/v1/alerts/{id}",
		Summary: "Get an alert", Tags: tags, Description: "The ETag is the alert's version.",
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.getAlert)
	huma.Register(s.api, huma.Operation{
		OperationID: "acknowledge-alert", Method: http.MethodPost, Path: "/v1/alerts/{id}/acknowledge",
		Summary: "Acknowledge an alert", Tags: tags,
		Description: "Optimistic lock: If-Match must carry the alert's current version. A stale version is 412 " +
			"(the problem's currentVersion tells the current one), a missing If-Match 428, an acknowledged alert 409.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed,
			http.StatusPreconditionRequired, http.StatusUnprocessableEntity},
	}, s.acknowledgeAlert)
}

func (s *Server) registerRuleRoutes() {
	tags := []string{"alert rules"}
	base := "/v1/devices/{id}/alert-rules"
	huma.Register(s.api, huma.Operation{
		OperationID: "create-alert-rule", Method: http.MethodPost, Path: base,
		Summary: "Create an alert rule", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Evaluated on every new reading of the device, in the ingest transaction.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.createRule)
	huma.Register(s.api, huma.Operation{
		OperationID: "list-alert-rules", Method: http.MethodGet, Path: base,
		Summary: "List a device's alert rules", Tags: tags,
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.listRules)
	huma.Register(s.api, huma.Operation{
		OperationID: "get-alert-rule", Method: http.MethodGet, Path: base + "/{ruleId}",
		Summary: "Get an alert rule", Tags: tags,
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.getRule)
	huma.Register(s.api, huma.Operation{
		OperationID: "patch-alert-rule", Method: http.MethodPatch, Path: base + "/{ruleId}",
		Summary: "Update an alert rule", Tags: tags,
		Description: "Disabling resolves an open alert. Changing the definition restarts a pending period.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.patchRule)
	huma.Register(s.api, huma.Operation{
		OperationID: "delete-alert-rule", Method: http.MethodDelete, Path: base + "/{ruleId}",
		Summary: "Delete an alert rule and its alerts", Tags: tags, DefaultStatus: http.StatusNoContent,
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.deleteRule)
}

func (s *Server) createRule(ctx context.Context, in *createRuleInput) (*ruleOutput, error) {
	r := &thermo.AlertRule{
		DeviceID: in.ID, Condition: in.Body.Condition, ThresholdCelsius: in.Body.ThresholdCelsius,
		ForSeconds: in.Body.ForSeconds, ClearHysteresisCelsius: in.Body.ClearHysteresisCelsius,
		IsEnabled: in.Body.IsEnabled == nil || *in.Body.IsEnabled,
	}
	if err := s.alerts.CreateAlertRule(ctx, r); err != nil {
		return nil, fmt.Errorf("create alert rule: %w", err)
	}
	return &ruleOutput{Body: r}, nil
}

func (s *Server) listRules(ctx context.Context, in *deviceIDInput) (*ruleListOutput, error) {
	rules, err := s.alerts.FindAlertRules(ctx, in.ID)
	if err != nil {
		return nil, fmt.Errorf("list alert rules: %w", err)
	}
	return &ruleListOutput{Body: ruleList{Data: rules}}, nil
}

func (s *Server) getRule(ctx context.Context, in *ruleIDInput) (*ruleOutput, error) {
	r, err := s.alerts.FindAlertRule(ctx, in.ID, in.RuleID)
	if err != nil {
		return nil, fmt.Errorf("get alert rule: %w", err)
	}
	return &ruleOutput{Body: r}, nil
}

func (s *Server) patchRule(ctx context.Context, in *patchRuleInput) (*ruleOutput, error) {
	r, err := s.alerts.UpdateAlertRule(ctx, in.ID, in.RuleID, in.Body)
	if err != nil {
		return nil, fmt.Errorf("update alert rule: %w", err)
	}
	return &ruleOutput{Body: r}, nil
}

func (s *Server) deleteRule(ctx context.Context, in *ruleIDInput) (*struct{}, error) {
	if err := s.alerts.DeleteAlertRule(ctx, in.ID, in.RuleID); err != nil {
		return nil, fmt.Errorf("delete alert rule: %w", err)
	}
	return nil, nil
}

func (s *Server) listAlerts(ctx context.Context, in *listAlertsInput) (*listAlertsOutput, error) {
	f := thermo.AlertFilter{State: in.State, Acknowledged: in.Acknowledged.ptr(), Limit: in.Limit}
	if in.DeviceID > 0 {
		f.DeviceID = &in.DeviceID
	}
	if in.Cursor != "" {
		before, err := decodeCursor(in.Cursor, cursorAlerts, in.DeviceID)
		if err != nil {
			return nil, err
		}
		f.BeforeID = before
	}
	as, more, err := s.alerts.FindAlerts(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	out := &listAlertsOutput{Body: alertPage{Data: as, HasNextPage: more}}
	if more {
		c := encodeCursor(cursorAlerts, in.DeviceID, as[len(as)-1].ID)
		out.Body.NextCursor = &c
	}
	return out, nil
}

func (s *Server) getAlert(ctx context.Context, in *alertIDInput) (*alertOutput, error) {
	a, err := s.alerts.FindAlertByID(ctx, in.ID)
	if err != nil {
		return nil, fmt.Errorf("get alert: %w", err)
	}
	return &alertOutput{ETag: etag(a.Version), Body: a}, nil
}

func (s *Server) acknowledgeAlert(ctx context.Context, in *acknowledgeInput) (*alertOutput, error) {
	if strings.TrimSpace(in.IfMatch) == "" {
		return nil, thermo.Errorf(thermo.EPRECONDREQ, "Send If-Match with the alert's version (its ETag) to acknowledge it.")
	}
	version, ok := parseETag(in.IfMatch)
	if !ok {
		return nil, thermo.InvalidFields(thermo.FieldError{Field: "If-Match", Reason: `must be the alert's ETag, e.g. "3"`})
	}
	p, _ := thermo.PrincipalFromContext(ctx)
	a, err := s.alerts.AcknowledgeAlert(ctx, in.ID, version, p.Subject)
	if thermo.ErrorCode(err) == thermo.EPRECONDITION && a != nil {
		prob := problemFromError(err)
		prob.CurrentVersion = &a.Version
		return nil, prob
	} else if err != nil {
		return nil, fmt.Errorf("acknowledge alert: %w", err)
	}
	s.publishNew(ctx, thermo.EventAlertAcknowledged, a.DeviceID, a)
	return &alertOutput{ETag: etag(a.Version), Body: a}, nil
}

// etag is the strong ETag of a version: "3".
func etag(version int64) string { return strconv.Quote(strconv.FormatInt(version, 10)) }

// parseETag accepts "3", W/"3" and a bare 3.
func parseETag(s string) (int64, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	s = strings.Trim(s, `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && v > 0
}
