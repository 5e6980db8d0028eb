package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/thermo/thermo"
)

// A batch body is decoded by hand, in one pass, straight into
// thermo.Readings. huma would decode it twice (into map[string]any to
// validate the schema, then into structs) and walk the schema over every
// value: three quarters of the server's CPU per 1,000-reading batch. The
// decoder makes the structural checks of the ReadingBatch schema, with
// huma's messages and locations, so a rejection looks as before:
//   - not JSON: 400; an unsupported Content-Type: 415;
//   - a wrong type, an unknown property (exact case), a missing
//     temperatureCelsius or recordedAt, a recordedAt that is not RFC 3339:
//     422 naming readings[i].field.
//
// Ranges, empty and oversized batches are left to thermo.ValidateReadings.

// maxDecodeDepth bounds the nesting of skipped values, as encoding/json.
const maxDecodeDepth = 10_000

// maxDecodeErrors bounds the field errors reported for one body.
const maxDecodeErrors = 1000

// bodyError is a body error with its own status (400, 415). It is a
// huma.ErrorDetailer, so it renders as huma's own body errors.
type bodyError struct {
	detail huma.ErrorDetail
	status int
}

func newBodyError(status int, msg string) *bodyError {
	return &bodyError{detail: huma.ErrorDetail{Location: "body", Message: msg}, status: status}
}

func (e *bodyError) Error() string                  { return e.detail.Message }
func (e *bodyError) ErrorDetail() *huma.ErrorDetail { return &e.detail }

// GetStatus makes huma answer with e's status.
func (e *bodyError) GetStatus() int { return e.status }

// Reading fields, in the order their errors are reported.
const (
	fieldTemperature = iota
	fieldHumidity
	fieldBattery
	fieldRecordedAt
	numFields
)

var fieldNames = [numFields]string{"temperatureCelsius", "humidity", "batteryLevel", "recordedAt"}

func fieldIndex(key []byte) int {
	switch string(key) {
	case "temperatureCelsius":
		return fieldTemperature
	case "humidity":
		return fieldHumidity
	case "batteryLevel":
		return fieldBattery
	case "recordedAt":
		return fieldRecordedAt
	}
	return -1
}

// isJSONContentType tells whether huma would read a body of type ct as
// JSON: no type, application/json or a +json suffix, parameters ignored.
func isJSONContentType(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	if i := strings.IndexByte(ct, '+'); i >= 0 {
		ct = ct[i+1:]
	}
	return ct == "" || ct == "application/json" || ct == "json"
}

// decodeBatch decodes a batch body. A syntax error is the only error
// returned; otherwise errs lists every field problem (up to a bound).
func decodeBatch(data []byte) (rs []thermo.Reading, errs []error) {
	d := &batchDecoder{data: data}
	if err := d.top(d.batch); err != nil {
		return nil, []error{err}
	}
	return d.rs, d.errs
}

// decodeReading decodes a single-reading body (POST /readings) with the
// same checks, at location body.
func decodeReading(data []byte) (r thermo.Reading, errs []error) {
	d := &batchDecoder{data: data}
	if err := d.top(func() error { return d.reading("body") }); err != nil {
		return r, []error{err}
	}
	if len(d.rs) == 1 {
		r = d.rs[0]
	}
	return r, d.errs
}

// top decodes the whole body: an object, read by object, and nothing after
// it.
func (d *batchDecoder) top(object func() error) error {
	d.ws()
	var err error
	if d.peek() == '{' {
		err = object()
	} else if err = d.skip(0); err == nil {
		d.fail("body", "expected object")
	}
	if err == nil {
		if d.ws(); d.i < len(d.data) {
			err = d.syntax("after top-level value")
		}
	}
	return err
}

// batchDecoder is the state of decodeBatch: data[i] is the next byte.
type batchDecoder struct {
	data    []byte
	i       int
	rs      []thermo.Reading
	errs    []error
	scratch []byte    // unescaped strings
	floats  []float64 // backs the optional fields' pointers
}

// fail records a field problem at loc (body.readings[3].humidity).
func (d *batchDecoder) fail(loc, reason string) {
	if len(d.errs) < maxDecodeErrors {
		d.errs = append(d.errs, &huma.ErrorDetail{Location: loc, Message: reason})
	}
}

// syntax is the 400 error for the byte at d.i (what tells where it was).
func (d *batchDecoder) syntax(what string) error {
	msg := "unexpected end of JSON input"
	if d.i < len(d.data) {
		msg = fmt.Sprintf("invalid character %s %s (offset %d)", quoteByte(d.data[d.i]), what, d.i)
	}
	return newBodyError(http.StatusBadRequest, msg)
}

func quoteByte(c byte) string {
	if c == '\'' || c == '"' {
		return `'\` + string(c) + `'`
	}
	return strconv.QuoteRune(rune(c))
}

func (d *batchDecoder) peek() byte {
	if d.i < len(d.data) {
		return d.data[d.i]
	}
	return 0
}

func (d *batchDecoder) ws() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// batch decodes the top-level object, at '{'.
func (d *batchDecoder) batch() error {
	seen := false
	err := d.members(func(key []byte) error {
		if string(key) != "readings" {
			d.fail("body."+string(key), "unexpected property")
			return d.skip(1)
		}
		seen = true
		return d.readings()
	})
	if err == nil && !seen {
		d.fail("body", "expected required property readings to be present")
	}
	return err
}

// readings decodes the readings array; null is an empty batch.
func (d *batchDecoder) readings() error {
	switch d.peek() {
	case 'n':
		d.rs = nil
		return d.literal("null")
	case '[':
	default:
		d.fail("body.readings", "expected array")
		return d.skip(1)
	}
	d.rs = make([]thermo.Reading, 0, min(len(d.data)/128+1, thermo.MaxBatchReadings+1))
	return d.elements(func(i int) error {
		if d.peek() != '{' {
			d.fail(readingLocation(i), "expected object")
			d.rs = append(d.rs, thermo.Reading{})
			return d.skip(2)
		}
		return d.reading(readingLocation(i))
	})
}

func readingLocation(i int) string { return "body.readings[" + strconv.Itoa(i) + "]" }

// reading decodes the reading at loc (body.readings[3]), at '{'. For a
// repeated key the last wins, as in encoding/json.
func (d *batchDecoder) reading(loc string) error {
	var (
		r   thermo.Reading
		set [numFields]bool
		bad [numFields]string // why the field's value was refused
	)
	err := d.members(func(key []byte) error {
		f := fieldIndex(key)
		if f < 0 {
			d.fail(loc+"."+string(key), "unexpected property")
			return d.skip(2)
		}
		var err error
		set[f] = true
		bad[f], err = d.field(&r, f)
		return err
	})
	if err != nil {
		return err
	}
	for f := range numFields {
		switch {
		case bad[f] != "":
			d.fail(loc+"."+fieldNames[f], bad[f])
		case !set[f] && (f == fieldTemperature || f == fieldRecordedAt):
			d.fail(loc, "expected required property "+fieldNames[f]+" to be present")
		}
	}
	d.rs = append(d.rs, r)
	return nil
}

// field decodes the value of field f into r. A value of the wrong type is
// skipped and refused with a reason.
func (d *batchDecoder) field(r *thermo.Reading, f int) (reason string, err error) {
	switch f {
	case fieldTemperature:
		r.TemperatureCelsius, reason, err = d.float()
	case fieldHumidity:
		r.Humidity, reason, err = d.optionalFloat()
	case fieldBattery:
		r.BatteryLevel, reason, err = d.optionalFloat()
	case fieldRecordedAt:
		if d.peek() != '"' {
			return "expected string", d.skip(2)
		}
		s, err := d.str()
		if err != nil {
			return "", err
		}
		if r.RecordedAt.UnmarshalText(s) != nil {
			return "expected string to be RFC 3339 date-time", nil
		}
	}
	return reason, err
}

// float decodes a number; anything else is refused.
func (d *batchDecoder) float() (v float64, reason string, err error) {
	if c := d.peek(); c != '-' && (c < '0' || c > '9') {
		return 0, "expected number", d.skip(2)
	}
	tok, err := d.number()
	if err != nil {
		return 0, "", err
	}
	if v, err = strconv.ParseFloat(string(tok), 64); err != nil {
		return 0, "expected a number within float64 range", nil // the grammar is checked: only ErrRange is left
	}
	return v, "", nil
}

// optionalFloat decodes a number or null (nil).
func (d *batchDecoder) optionalFloat() (*float64, string, error) {
	if d.peek() == 'n' {
		return nil, "", d.literal("null")
	}
	v, reason, err := d.float()
	if reason != "" || err != nil {
		return nil, reason, err
	}
	if len(d.floats) == cap(d.floats) {
		d.floats = make([]float64, 0, 256)
	}
	d.floats = append(d.floats, v)
	return &d.floats[len(d.floats)-1], "", nil
}

// members calls fn for each member of the object at d.i ('{') with d.i at
// the member's value, which fn consumes. key is valid until fn reads a
// string.
func (d *batchDecoder) members(fn func(key []byte) error) error {
	d.i++
	d.ws()
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.syntax("looking for beginning of object key string")
		}
		key, err := d.str()
		if err != nil {
			return err
		}
		if d.ws(); d.peek() != ':' {
			return d.syntax("after object key")
		}
		d.i++
		d.ws()
		if err := fn(key); err != nil {
			return err
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
			d.ws()
		case '}':
			d.i++
			return nil
		default:
			return d.syntax("after object key:value pair")
		}
	}
}

// elements calls fn for each element of the array at d.i ('[') with d.i at
// the element, which fn consumes.
func (d *batchDecoder) elements(fn func(i int) error) error {
	d.i++
	d.ws()
	if d.peek() == ']' {
		d.i++
		return nil
	}
	for n := 0; ; n++ {
		if err := fn(n); err != nil {
			return err
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
			d.ws()
		case ']':
			d.i++
			return nil
		default:
			return d.syntax("after array element")
		}
	}
}

// skip consumes the value at d.i, checking its syntax; depth is its
// nesting level.
func (d *batchDecoder) skip(depth int) error {
	if depth > maxDecodeDepth {
		return newBodyError(http.StatusBadRequest, "exceeded max depth")
	}
	switch d.peek() {
	case '{':
		return d.members(func([]byte) error { return d.skip(depth + 1) })
	case '[':
		return d.elements(func(int) error { return d.skip(depth + 1) })
	case '"':
		_, err := d.str()
		return err
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	_, err := d.number()
	return err
}

func (d *batchDecoder) literal(word string) error {
	for j := range len(word) {
		if d.i >= len(d.data) || d.data[d.i] != word[j] {
			return d.syntax("in literal " + word)
		}
		d.i++
	}
	return nil
}

// number consumes a JSON number and returns its text.
func (d *batchDecoder) number() ([]byte, error) {
	start := d.i
	if d.peek() == '-' {
		d.i++
	}
	switch c := d.peek(); {
	case c == '0':
		d.i++
	case c >= '1' && c <= '9':
		d.digits()
	default:
		return nil, d.syntax("looking for beginning of value")
	}
	if d.peek() == '.' {
		d.i++
		if !d.digits() {
			return nil, d.syntax("after decimal point in numeric literal")
		}
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		d.i++
		if c := d.peek(); c == '+' || c == '-' {
			d.i++
		}
		if !d.digits() {
			return nil, d.syntax("in exponent of numeric literal")
		}
	}
	return d.data[start:d.i], nil
}

// digits consumes a run of digits and tells whether there was one.
func (d *batchDecoder) digits() bool {
	start := d.i
	for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// str consumes the string at d.i ('"') and returns its contents, unescaped.
// Without escapes they alias data; otherwise d.scratch.
func (d *batchDecoder) str() ([]byte, error) {
	start := d.i + 1
	for j := start; j < len(d.data); j++ {
		switch c := d.data[j]; {
		case c == '"':
			d.i = j + 1
			return d.data[start:j], nil
		case c == '\\':
			d.i = j
			return d.unescape(d.data[start:j])
		case c < 0x20:
			d.i = j
			return nil, d.syntax("in string literal")
		}
	}
	d.i = len(d.data)
	return nil, d.syntax("")
}

// unescape continues str at the first backslash (d.i), after prefix.
// Invalid UTF-16 becomes U+FFFD, as in encoding/json.
func (d *batchDecoder) unescape(prefix []byte) ([]byte, error) {
	out := append(d.scratch[:0], prefix...)
	defer func() { d.scratch = out[:0] }()
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			return out, nil
		case c < 0x20:
			return nil, d.syntax("in string literal")
		case c != '\\':
			out = append(out, c)
			d.i++
			continue
		}
		d.i++ // the backslash
		switch e := d.peek(); e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.utf16()
			if !ok {
				return nil, d.syntax("in \\u hexadecimal character escape")
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return nil, d.syntax("in string escape code")
		}
		d.i++
	}
	return nil, d.syntax("")
}

// utf16 consumes \uXXXX at d.i ('u'), joining a surrogate pair.
func (d *batchDecoder) utf16() (rune, bool) {
	r, ok := d.hex4(d.i + 1)
	if !ok {
		return 0, false
	}
	d.i += 5
	if utf16.IsSurrogate(r) {
		if d.i+1 < len(d.data) && d.data[d.i] == '\\' && d.data[d.i+1] == 'u' {
			if r2, ok := d.hex4(d.i + 2); ok {
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					d.i += 6
					return dec, true
				}
			}
		}
		return utf8.RuneError, true
	}
	return r, true
}

func (d *batchDecoder) hex4(at int) (rune, bool) {
	if at+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
