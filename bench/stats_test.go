package main

import (
	"testing"
	"time"
)

func TestPercentileAndMedian(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	if got := percentile(ds, 0.5); got != 5 {
		t.Errorf("p50 = %d, want 5", got)
	}
	if got := percentile(ds, 0.99); got != 10 {
		t.Errorf("p99 = %d, want 10", got)
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("p50 of nothing = %d", got)
	}
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median = %v, want 2", got)
	}
	if got := median([]float64{4, 1, 2, 3}); got != 2.5 {
		t.Errorf("median = %v, want 2.5", got)
	}
}

// The same seed gives the same rows, so HTTP and COPY load identical data
// and reruns are comparable.
func TestBatchesDeterministic(t *testing.T) {
	anchor := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := batches(7, 2, 4000, 1000, anchor), batches(7, 2, 4000, 1000, anchor)
	if len(a) != 2 || len(a[0]) != 2 || len(a[0][0]) != 1000 {
		t.Fatalf("shape = %d workers × %d batches", len(a), len(a[0]))
	}
	seen := map[time.Time]bool{}
	for i, r := range a[0][0] {
		if r != b[0][0][i] {
			t.Fatalf("reading %d differs between runs: %+v vs %+v", i, r, b[0][0][i])
		}
		if seen[r.RecordedAt] {
			t.Fatalf("reading %d repeats recordedAt %s", i, r.RecordedAt)
		}
		seen[r.RecordedAt] = true
	}
	if c := batches(8, 2, 4000, 1000, anchor); c[0][0][0] == a[0][0][0] {
		t.Errorf("another seed gave the same first reading")
	}
}

func TestParse(t *testing.T) {
	o, err := parse([]string{"-bench", "ingest", "-quick"})
	if err != nil || len(o.benches) != 1 || o.ingestFor != 5*time.Second {
		t.Errorf("parse = %+v, %v", o, err)
	}
	if _, err := parse([]string{"-bench", "nope"}); err == nil {
		t.Error("unknown benchmark accepted")
	}
}
