package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/thermo/thermo"
)

type dailyStatsInput struct {
	ID   int64  `path:"id" minimum:"1"`
	From string `query:"from" required:"true" format:"date" doc:"First tenant-local day, YYYY-MM-DD."`
	To   string `query:"to" required:"true" format:"date" doc:"Last tenant-local day, YYYY-MM-DD (inclusive; at most 366 days after from)."`
}

type dailyStatsList struct {
	Items []*thermo.DailyStats `json:"items" doc:"Days with readings, oldest first."`
}

type dailyStatsOutput struct {
	Body dailyStatsList
}

type weeklyStatsOutput struct {
	Body *thermo.WeeklyStats
}

func (s *Server) registerStatsRoutes() {
	if s.stats == nil {
		return
	}
	tags := []string{"statistics"}
	huma.Register(s.api, huma.Operation{
		OperationID: "list-daily-stats", Method: http.MethodGet, Path: "/v1/devices/{id}/stats/daily",
		Summary: "Daily statistics", Tags: tags,
		Description: "Count, mean, min and max temperature per tenant-local day (tenant time zone), computed nightly " +
			"and recomputed when late readings arrive. Days without readings are absent.",
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.listDailyStats)
	huma.Register(s.api, huma.Operation{
		OperationID: "get-weekly-stats", Method: http.MethodGet, Path: "/v1/devices/{id}/stats/weekly",
		Summary: "Weekly summary", Tags: tags,
		Description: "The last 7 complete tenant-local days (yesterday and the six before), per day and overall. " +
			"Served from a cache refreshed when the device's statistics change.",
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.getWeeklyStats)
}

func (s *Server) listDailyStats(ctx context.Context, in *dailyStatsInput) (*dailyStatsOutput, error) {
	from, errFrom := thermo.ParseDate(in.From)
	to, errTo := thermo.ParseDate(in.To)
	var bad []thermo.FieldError
	if errFrom != nil {
		bad = append(bad, thermo.FieldError{Field: "from", Reason: "must be a date, YYYY-MM-DD"})
	}
	if errTo != nil {
		bad = append(bad, thermo.FieldError{Field: "to", Reason: "must be a date, YYYY-MM-DD"})
	}
	if len(bad) > 0 {
		return nil, thermo.InvalidFields(bad...)
	}
	days, err := s.stats.FindDailyStats(ctx, in.ID, from, to)
	if err != nil {
		return nil, fmt.Errorf("daily stats: %w", err)
	}
	return &dailyStatsOutput{Body: dailyStatsList{Items: days}}, nil
}

func (s *Server) getWeeklyStats(ctx context.Context, in *deviceIDInput) (*weeklyStatsOutput, error) {
	w, err := s.stats.FindWeeklyStats(ctx, in.ID)
	if err != nil {
		return nil, fmt.Errorf("weekly stats: %w", err)
	}
	return &weeklyStatsOutput{Body: w}, nil
}
