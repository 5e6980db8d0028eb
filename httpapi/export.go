package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/thermo/thermo"
)

// Export formats and their media types.
const (
	formatCSV    = "csv"
	formatNDJSON = "ndjson"

	csvContentType    = "text/csv; charset=utf-8"
	ndjsonContentType = "application/x-ndjson"

	// exportFlushEvery is how many rows go out between explicit flushes.
	exportFlushEvery = 1000
	// exportWriteTimeout is how long a client may take to accept the next
	// rows; each flush extends the deadline, so an export may run for as
	// long as the client keeps reading.
	exportWriteTimeout = time.Minute
)

// csvHeader names the CSV columns; they match the JSON field names.
const csvHeader = "id,deviceId,recordedAt,temperatureCelsius,humidity,batteryLevel\n"

type exportInput struct {
	ID int64 `path:"id" minimum:"1"`
	ReadingRange
	Format string `query:"format" enum:"csv,ndjson" default:"csv"`
}

func (s *Server) registerExportRoute(tags []string) {
	reading := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[thermo.Reading](), true, "Reading")
	huma.Register(s.api, huma.Operation{
		OperationID: "export-readings", Method: http.MethodGet, Path: "/v1/devices/{id}/readings/export",
		Summary: "Export readings", Tags: tags,
		Description: "Streams every matching reading, oldest first, as CSV (with a header row) or NDJSON (one Reading per line). " +
			"Rows are read in bounded batches and written as they come, so any range streams with flat memory. " +
			"Errors before the first byte are problems; a failure mid-stream aborts the connection, so a truncated export never looks complete.",
		Responses: map[string]*huma.Response{
			"200": {Description: "The readings.", Content: map[string]*huma.MediaType{
				"text/csv":        {Schema: &huma.Schema{Type: huma.TypeString}},
				ndjsonContentType: {Schema: reading},
			}},
		},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, s.exportReadings)
}

// exportReadings validates the request, then streams. The device is checked
// by the service before the first row, so an unknown one is still a 404.
func (s *Server) exportReadings(_ context.Context, in *exportInput) (*huma.StreamResponse, error) {
	f := in.filter()
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		s.streamExport(hctx, in, f)
	}}, nil
}

// streamExport writes the rows through a buffered writer that starts the
// response lazily, on the first row or at the end.
func (s *Server) streamExport(hctx huma.Context, in *exportInput, f thermo.ReadingFilter) {
	ctx := hctx.Context()
	_, w := humago.Unwrap(hctx)
	ew := &exportWriter{w: w, format: in.Format, device: in.ID}
	err := s.readings.ExportReadings(ctx, in.ID, f, ew.write)
	if err == nil {
		err = ew.finish()
	}
	switch {
	case err == nil:
	case !ew.started:
		s.writeErr(hctx, fmt.Errorf("export readings: %w", err))
	case errors.Is(err, errClientGone) || ctx.Err() != nil:
		s.logger.DebugContext(ctx, "export aborted by the client", "rows", ew.rows)
	default:
		s.logger.ErrorContext(ctx, "export failed mid-stream", "rows", ew.rows, "error", err.Error())
		panic(http.ErrAbortHandler) // the client must not take a truncated body for a complete one
	}
}

// errClientGone marks a failed write to the client.
var errClientGone = errors.New("client connection gone")

// exportWriter encodes readings in the requested format.
type exportWriter struct {
	w       http.ResponseWriter
	bw      *bufio.Writer
	format  string
	device  int64
	started bool
	rows    int
	line    []byte
}

func (e *exportWriter) start() {
	e.started = true
	h := e.w.Header()
	ext, ct := "csv", csvContentType
	if e.format == formatNDJSON {
		ext, ct = "ndjson", ndjsonContentType
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="device-%d-readings.%s"`, e.device, ext))
	h.Set("Cache-Control", "no-store")
	e.extendDeadline()
	e.w.WriteHeader(http.StatusOK)
	e.bw = bufio.NewWriterSize(e.w, 32<<10)
	if e.format == formatCSV {
		_, _ = e.bw.WriteString(csvHeader)
	}
}

func (e *exportWriter) write(r *thermo.Reading) error {
	if !e.started {
		e.start()
	}
	e.line = e.line[:0]
	if e.format == formatNDJSON {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		e.line = append(append(e.line, b...), '\n')
	} else {
		e.line = appendCSV(e.line, r)
	}
	if _, err := e.bw.Write(e.line); err != nil {
		return fmt.Errorf("%w: %w", errClientGone, err)
	}
	if e.rows++; e.rows%exportFlushEvery == 0 {
		return e.flush()
	}
	return nil
}

func (e *exportWriter) flush() error {
	if err := e.bw.Flush(); err != nil {
		return fmt.Errorf("%w: %w", errClientGone, err)
	}
	if err := http.NewResponseController(e.w).Flush(); err != nil {
		return fmt.Errorf("%w: %w", errClientGone, err)
	}
	e.extendDeadline()
	return nil
}

// extendDeadline overrides any server-wide write timeout for the next rows.
func (e *exportWriter) extendDeadline() {
	_ = http.NewResponseController(e.w).SetWriteDeadline(time.Now().Add(exportWriteTimeout))
}

// finish starts an empty export (headers, CSV header row) and flushes.
func (e *exportWriter) finish() error {
	if !e.started {
		e.start()
	}
	return e.flush()
}

// appendCSV appends one CSV row; every field is a number or an RFC 3339
// instant, so nothing needs quoting. Absent values are empty.
func appendCSV(b []byte, r *thermo.Reading) []byte {
	b = strconv.AppendInt(b, r.ID, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.DeviceID, 10)
	b = append(b, ',')
	b = r.RecordedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ',')
	b = strconv.AppendFloat(b, r.TemperatureCelsius, 'f', -1, 64)
	b = append(b, ',')
	if r.Humidity != nil {
		b = strconv.AppendFloat(b, *r.Humidity, 'f', -1, 64)
	}
	b = append(b, ',')
	if r.BatteryLevel != nil {
		b = strconv.AppendFloat(b, *r.BatteryLevel, 'f', -1, 64)
	}
	return append(b, '\n')
}
