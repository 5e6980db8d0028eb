package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

// benchTenant opens a DB and a fresh tenant with one device for a benchmark.
func benchTenant(b *testing.B) (context.Context, *postgres.DB, *thermo.Device) {
	b.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Opts{URL: testDatabaseURL(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	if err := db.MigrateControl(ctx); err != nil {
		b.Fatal(err)
	}
	id := uniqueID("bench")
	if err := postgres.NewTenantService(db).CreateTenant(ctx, &thermo.Tenant{ID: id}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dropTenant(b, testDatabaseURL(b), id) })
	ctx = thermo.WithTenant(ctx, id)
	d := createDevice(b, ctx, postgres.NewDeviceService(db), &thermo.Device{SerialNumber: "BENCH-1"})
	return ctx, db, d
}

// BenchmarkIngestReadings10k measures one batch ingestion of 10,000 new
// readings (validation, device check, one INSERT … unnest, commit).
func BenchmarkIngestReadings10k(b *testing.B) {
	ctx, db, d := benchTenant(b)
	svc := postgres.NewReadingService(db)
	start := time.Now().Add(-24 * time.Hour)
	batch := make([]thermo.Reading, thermo.MaxBatchReadings)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j := range batch {
			at := start.Add(-time.Duration(i*len(batch)+j) * time.Second)
			batch[j] = thermo.Reading{TemperatureCelsius: 21.5, Humidity: ptr(40.0), BatteryLevel: ptr(0.9), RecordedAt: at}
		}
		res, err := svc.IngestReadings(ctx, d.ID, batch)
		if err != nil || res.Inserted != len(batch) {
			b.Fatalf("ingest = %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/batch")
}

// BenchmarkIngestReadings10kDuplicates measures a retried batch: every
// reading is already stored.
func BenchmarkIngestReadings10kDuplicates(b *testing.B) {
	ctx, db, d := benchTenant(b)
	svc := postgres.NewReadingService(db)
	batch := make([]thermo.Reading, thermo.MaxBatchReadings)
	for j := range batch {
		batch[j] = thermo.Reading{TemperatureCelsius: 21.5, RecordedAt: time.Now().Add(-time.Duration(j) * time.Second)}
	}
	if _, err := svc.IngestReadings(ctx, d.ID, batch); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := svc.IngestReadings(ctx, d.ID, batch)
		if err != nil || res.Duplicates != len(batch) {
			b.Fatalf("ingest = %+v, %v", res, err)
		}
	}
}

// BenchmarkExportReadings measures streaming 100,000 readings through
// ExportReadings (keyset batches, no HTTP).
func BenchmarkExportReadings(b *testing.B) {
	ctx, db, d := benchTenant(b)
	rb := &readingBundle{ctx: ctx, bundle: &bundle{db: db}}
	rb.generate(b, d.ID, 100_000, time.Now(), 30*time.Second)
	svc := postgres.NewReadingService(db)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := svc.ExportReadings(ctx, d.ID, thermo.ReadingFilter{}, func(*thermo.Reading) error { n++; return nil }); err != nil || n != 100_000 {
			b.Fatalf("export = %d, %v", n, err)
		}
	}
}

// BenchmarkIngestReading measures posting one new reading (one transaction:
// search_path, device check, insert, commit).
func BenchmarkIngestReading(b *testing.B) {
	ctx, db, d := benchTenant(b)
	svc := postgres.NewReadingService(db)
	start := time.Now().Add(-time.Hour)
	for i := 0; b.Loop(); i++ {
		r := thermo.Reading{TemperatureCelsius: 21.5, RecordedAt: start.Add(-time.Duration(i) * time.Second)}
		if created, err := svc.IngestReading(ctx, d.ID, &r); err != nil || !created {
			b.Fatalf("ingest = %v, %v", created, err)
		}
	}
}
