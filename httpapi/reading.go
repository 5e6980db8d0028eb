package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/thermo/thermo"
)

// MaxBatchBytes limits the body of a batch ingestion: 10,000 readings at
// up to ~400 bytes each. Beyond it, or beyond thermo.MaxBatchReadings
// readings, the answer is 413.
const MaxBatchBytes = 4 << 20

// readingBody is one posted reading. The tags document the limits; the
// domain (thermo.Reading.Validate) enforces them with the same field names.
type readingBody struct {
	TemperatureCelsius float64   `json:"temperatureCelsius" minimum:"-273.15" maximum:"1000"`
	Humidity           *float64  `json:"humidity,omitempty" nullable:"true" minimum:"0" maximum:"100" doc:"Relative humidity in percent."`
	BatteryLevel       *float64  `json:"batteryLevel,omitempty" nullable:"true" minimum:"0" maximum:"1" doc:"Battery charge, 0 to 1."`
	RecordedAt         time.Time `json:"recordedAt" doc:"RFC 3339; at most 5 minutes in the future. Unique per device: a repeat is a duplicate."`
}

// ingestInput is read raw and decoded by its Resolve, like batchInput:
// huma's schema validation and second decode were ~20% of the server's CPU
// per single-reading POST.
type ingestInput struct {
	ID      int64 `path:"id" minimum:"1"`
	RawBody []byte
	reading thermo.Reading
}

// Resolve decodes the body into in.reading; huma answers with the errors.
func (in *ingestInput) Resolve(ctx huma.Context) []error {
	if err := checkJSON(ctx); err != nil {
		return []error{err}
	}
	var errs []error
	in.reading, errs = decodeReading(in.RawBody)
	return errs
}

// ingestedReading is the stored reading and whether it was already there.
type ingestedReading struct {
	thermo.Reading
	Duplicate bool `json:"duplicate" doc:"True when the device already had a reading at recordedAt (status 200); that stored reading is returned."`
}

type ingestOutput struct {
	Status int
	Body   ingestedReading
}

type readingBatch struct {
	Readings []readingBody `json:"readings" doc:"At most 10,000 readings (413 beyond)."`
}

// batchInput is read raw and decoded by its Resolve: ReadingBatch is
// only the documented schema (see decodeBatch).
type batchInput struct {
	ID       int64 `path:"id" minimum:"1"`
	RawBody  []byte
	readings []thermo.Reading
}

// Resolve decodes the body into in.readings; huma answers with the errors.
func (in *batchInput) Resolve(ctx huma.Context) []error {
	if err := checkJSON(ctx); err != nil {
		return []error{err}
	}
	var errs []error
	in.readings, errs = decodeBatch(in.RawBody)
	return errs
}

// checkJSON refuses a body that is not JSON (415).
func checkJSON(ctx huma.Context) error {
	if ct := ctx.Header("Content-Type"); !isJSONContentType(ct) {
		return newBodyError(http.StatusUnsupportedMediaType, "unknown content type: "+ct)
	}
	return nil
}

type batchOutput struct {
	Body *thermo.IngestResult
}

// ReadingRange holds the query filters shared by history and export. It is
// exported because huma finds parameters only in exported embedded structs.
type ReadingRange struct {
	From    time.Time         `query:"from" doc:"Only readings recorded at or after this instant (RFC 3339)."`
	To      time.Time         `query:"to" doc:"Only readings recorded before this instant (RFC 3339, exclusive)."`
	MinTemp optional[float64] `query:"minTemp" doc:"Only readings at or above this °C."`
	MaxTemp optional[float64] `query:"maxTemp" doc:"Only readings at or below this °C."`
}

func (in ReadingRange) filter() thermo.ReadingFilter {
	return thermo.ReadingFilter{From: in.From, To: in.To, MinTemp: in.MinTemp.ptr(), MaxTemp: in.MaxTemp.ptr()}
}

type historyInput struct {
	ID int64 `path:"id" minimum:"1"`
	ReadingRange
	Cursor string `query:"cursor" doc:"nextCursor of the previous page."`
	Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
}

type readingPage struct {
	Data        []*thermo.Reading `json:"data"`
	NextCursor  *string           `json:"nextCursor" doc:"Pass as cursor to get older readings; null on the last page."`
	HasNextPage bool              `json:"hasNextPage"`
	Count       int               `json:"count" doc:"Number of readings in data."`
}

type historyOutput struct {
	Body readingPage
}

type readingOutput struct {
	Body *thermo.Reading
}

type latestReadingsList struct {
	Data []*thermo.DeviceReading `json:"data"`
}

type latestAllOutput struct {
	Body latestReadingsList
}

type hourlyInput struct {
	ID    int64 `path:"id" minimum:"1"`
	Hours int   `query:"hours" minimum:"1" maximum:"168" default:"24" doc:"How many hours back, the current one included."`
}

type hourlyReadingsList struct {
	Data []*thermo.HourlyReadings `json:"data"`
}

type hourlyOutput struct {
	Body hourlyReadingsList
}

func (s *Server) registerReadingRoutes() {
	if s.readings == nil {
		return
	}
	tags := []string{"readings"}
	s.registerIngestRoutes(tags)
	huma.Register(s.api, huma.Operation{
		OperationID: "list-readings", Method: http.MethodGet, Path: "/v1/devices/{id}/readings",
		Summary: "Reading history", Tags: tags,
		Description: "Newest first, keyset-paginated: every page costs the same, and readings recorded while paging are neither skipped nor repeated.",
		Errors:      []int{http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.listReadings)
	huma.Register(s.api, huma.Operation{
		OperationID: "get-latest-reading", Method: http.MethodGet, Path: "/v1/devices/{id}/readings/latest",
		Summary: "Latest reading of a device", Tags: tags,
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.getLatestReading)
	huma.Register(s.api, huma.Operation{
		OperationID: "list-latest-readings", Method: http.MethodGet, Path: "/v1/readings/latest",
		Summary: "Latest reading of every device", Tags: tags,
		Description: "The dashboard: every device, sorted by name, with its latest reading (null if none), in one query.",
	}, s.listLatestReadings)
	huma.Register(s.api, huma.Operation{
		OperationID: "get-hourly-readings", Method: http.MethodGet, Path: "/v1/devices/{id}/readings/hourly",
		Summary: "Hourly breakdown", Tags: tags,
		Description: "Count, mean, min and max temperature per UTC hour for the last hours, oldest first; hours without readings have count 0.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.getHourlyReadings)
	s.registerExportRoute(tags)
}

func (s *Server) registerIngestRoutes(tags []string) {
	schema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[ingestedReading](), true, "IngestedReading")
	single := jsonBody(s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[readingBody](), true, "ReadingBody"))
	huma.Register(s.api, huma.Operation{
		OperationID: "ingest-reading", Method: http.MethodPost, Path: "/v1/devices/{id}/readings",
		Summary: "Post one reading", Tags: tags, DefaultStatus: http.StatusCreated,
		RequestBody: single, SkipValidateBody: true, // ingestInput.Resolve decodes and checks it
		Description: "201 when stored. A retry (same device and recordedAt) stores nothing and answers 200 with duplicate true. " +
			"Committed before the answer. Unknown device 404, inactive device 409.",
		Responses: map[string]*huma.Response{
			"200": {Description: "Duplicate: the reading was already stored.", Content: map[string]*huma.MediaType{"application/json": {Schema: schema}}},
		},
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, s.ingestReading)
	delete(single.Content, "application/octet-stream") // huma's entry for RawBody: the body is JSON
	batch := jsonBody(s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[readingBatch](), true, "ReadingBatch"))
	huma.Register(s.api, huma.Operation{
		OperationID: "ingest-readings", Method: http.MethodPost, Path: "/v1/devices/{id}/readings/batch",
		Summary: "Post a batch of readings", Tags: tags,
		RequestBody: batch, SkipValidateBody: true, // batchInput.Resolve decodes and checks it
		MaxBodyBytes: MaxBatchBytes, BodyReadTimeout: 30 * time.Second, // devices on slow links
		Description: "Validates every reading first: if any is invalid nothing is stored and each bad field is listed as readings[i].field. " +
			"Otherwise stores the new readings in one statement and counts duplicates (also repeats within the batch). " +
			"At most 10,000 readings and 4 MiB (413).",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity},
	}, s.ingestReadings)
	delete(batch.Content, "application/octet-stream") // huma's entry for RawBody: the body is JSON
}

// jsonBody documents a required JSON request body of schema.
func jsonBody(schema *huma.Schema) *huma.RequestBody {
	return &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/json": {Schema: schema}}}
}

func (s *Server) ingestReading(ctx context.Context, in *ingestInput) (*ingestOutput, error) {
	r := in.reading
	ictx, col := thermo.WithEventCollector(ctx)
	created, err := s.readings.IngestReading(ictx, in.ID, &r)
	if err != nil {
		return nil, fmt.Errorf("ingest reading: %w", err)
	}
	if created {
		s.publishNew(ctx, thermo.EventReadingStored, in.ID, &r)
		s.publish(ctx, col.Events()...)
	}
	out := &ingestOutput{Status: http.StatusCreated, Body: ingestedReading{Reading: r, Duplicate: !created}}
	if !created {
		out.Status = http.StatusOK
	}
	return out, nil
}

func (s *Server) ingestReadings(ctx context.Context, in *batchInput) (*batchOutput, error) {
	rs := in.readings
	ictx, col := thermo.WithEventCollector(ctx)
	res, err := s.readings.IngestReadings(ictx, in.ID, rs)
	if err != nil {
		return nil, fmt.Errorf("ingest readings: %w", err)
	}
	if res.Inserted > 0 {
		s.publishNew(ctx, thermo.EventReadingsStored, in.ID, batchSummary(in.ID, res, rs))
		s.publish(ctx, col.Events()...)
	}
	return &batchOutput{Body: res}, nil
}

func (s *Server) listReadings(ctx context.Context, in *historyInput) (*historyOutput, error) {
	f := in.filter()
	f.Limit = in.Limit
	if in.Cursor != "" {
		before, err := decodeReadingCursor(in.Cursor, in.ID)
		if err != nil {
			return nil, err
		}
		f.Before = before
	}
	rs, more, err := s.readings.FindReadings(ctx, in.ID, f)
	if err != nil {
		return nil, fmt.Errorf("list readings: %w", err)
	}
	out := &historyOutput{Body: readingPage{Data: rs, HasNextPage: more, Count: len(rs)}}
	if more {
		c := readingCursor(in.ID, rs[len(rs)-1].RecordedAt)
		out.Body.NextCursor = &c
	}
	return out, nil
}

func (s *Server) getLatestReading(ctx context.Context, in *deviceIDInput) (*readingOutput, error) {
	r, err := s.readings.FindLatestReading(ctx, in.ID)
	if err != nil {
		return nil, fmt.Errorf("latest reading: %w", err)
	}
	return &readingOutput{Body: r}, nil
}

func (s *Server) listLatestReadings(ctx context.Context, _ *struct{}) (*latestAllOutput, error) {
	all, err := s.readings.FindLatestReadings(ctx)
	if err != nil {
		return nil, fmt.Errorf("latest readings: %w", err)
	}
	return &latestAllOutput{Body: latestReadingsList{Data: all}}, nil
}

func (s *Server) getHourlyReadings(ctx context.Context, in *hourlyInput) (*hourlyOutput, error) {
	hours, err := s.readings.FindHourlyReadings(ctx, in.ID, in.Hours)
	if err != nil {
		return nil, fmt.Errorf("hourly readings: %w", err)
	}
	return &hourlyOutput{Body: hourlyReadingsList{Data: hours}}, nil
}

// readingsStored is the live event of a batch: counts and the newest
// posted reading, so a dashboard can update without refetching.
type readingsStored struct {
	DeviceID int64 `json:"deviceId"`
	*thermo.IngestResult
	Latest *thermo.Reading `json:"latest"`
}

func batchSummary(deviceID int64, res *thermo.IngestResult, rs []thermo.Reading) readingsStored {
	out := readingsStored{DeviceID: deviceID, IngestResult: res}
	for i := range rs {
		if out.Latest == nil || rs[i].RecordedAt.After(out.Latest.RecordedAt) {
			out.Latest = &rs[i]
		}
	}
	if out.Latest != nil {
		out.Latest.DeviceID = deviceID
	}
	return out
}
