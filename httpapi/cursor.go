package httpapi

import (
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// A cursor is an opaque keyset position: base64url (no padding) of 18
// bytes: version, kind, scope (the device id of a reading cursor, 0 for
// users) and key (recordedAt in Unix microseconds, or a user id), big
// endian. Decoding is strict (length, version, kind, scope, range), so a
// cursor from another list or device is rejected with 400.
//
// It is validated, not signed: a cursor grants nothing. Tenancy comes from
// the token, the device from the path, and a forged position only moves
// within data the caller may page through anyway (as the to filter does).
const (
	cursorVersion = 1
	cursorLen     = 18

	cursorReadings byte = 'r'
	cursorUsers    byte = 'u'
)

func encodeCursor(kind byte, scope, key int64) string {
	var b [cursorLen]byte
	b[0], b[1] = cursorVersion, kind
	binary.BigEndian.PutUint64(b[2:], uint64(scope))
	binary.BigEndian.PutUint64(b[10:], uint64(key))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decodeCursor returns the key of a cursor of kind and scope, or a 400
// problem naming the cursor parameter.
func decodeCursor(s string, kind byte, scope int64) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != cursorLen || b[0] != cursorVersion || b[1] != kind ||
		int64(binary.BigEndian.Uint64(b[2:])) != scope {
		return 0, badCursor()
	}
	key := int64(binary.BigEndian.Uint64(b[10:]))
	if key < 0 {
		return 0, badCursor()
	}
	return key, nil
}

func badCursor() *Problem {
	p := newProblem(http.StatusBadRequest, "The cursor is not valid for this list; start again without it.")
	p.Errors = []ProblemField{{Field: "cursor", Reason: "malformed or from another list", Location: "query"}}
	return p
}

// readingCursor encodes the position after a reading of device.
func readingCursor(device int64, recordedAt time.Time) string {
	return encodeCursor(cursorReadings, device, recordedAt.UnixMicro())
}

// decodeReadingCursor returns the recordedAt a reading cursor points before.
func decodeReadingCursor(s string, device int64) (time.Time, error) {
	key, err := decodeCursor(s, cursorReadings, device)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMicro(key).UTC(), nil
}

// optional is a query parameter that may be absent, for types whose zero
// value is meaningful (minTemp=0, active=false). huma does not support
// pointer parameters; this is its documented wrapper pattern.
type optional[T any] struct {
	Value T
	Set   bool
}

// Schema documents the parameter as T.
func (o optional[T]) Schema(r huma.Registry) *huma.Schema {
	return huma.SchemaFromType(r, reflect.TypeFor[T]())
}

// Receiver lets huma parse the parameter into Value.
func (o *optional[T]) Receiver() reflect.Value { return reflect.ValueOf(o).Elem().Field(0) }

// OnParamSet records whether the parameter was present.
func (o *optional[T]) OnParamSet(isSet bool, _ any) { o.Set = isSet }

// ptr returns the value, or nil when the parameter was absent.
func (o optional[T]) ptr() *T {
	if !o.Set {
		return nil
	}
	v := o.Value
	return &v
}
