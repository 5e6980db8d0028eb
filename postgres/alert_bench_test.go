package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

// benchmarkIngestRules ingests 10,000-reading batches (going forward in
// time, three excursions above 30 °C each) into a device with rules rules.
func benchmarkIngestRules(b *testing.B, rules int) {
	ctx, db, d := benchTenant(b)
	readings, alerts := postgres.NewReadingService(db), postgres.NewAlertService(db)
	alerts.OnFireFunc = func(context.Context, *thermo.Alert) error { return nil }
	readings.AfterIngest = append(readings.AfterIngest, alerts.EvaluateReadings)
	for i := range rules {
		r := &thermo.AlertRule{DeviceID: d.ID, Condition: thermo.ConditionAbove, ThresholdCelsius: 30 + float64(i),
			ForSeconds: 60, ClearHysteresisCelsius: 1, IsEnabled: true}
		if err := alerts.CreateAlertRule(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	batch := make([]thermo.Reading, thermo.MaxBatchReadings)
	start := time.Now().Add(-60 * 24 * time.Hour) // room for ~500 batches
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j := range batch {
			temp := 21.5
			if j%3000 < 100 {
				temp = 40
			}
			batch[j] = thermo.Reading{TemperatureCelsius: temp, RecordedAt: start.Add(time.Duration(i*len(batch)+j) * time.Second)}
		}
		if _, err := readings.IngestReadings(ctx, d.ID, batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIngest10kNoRules(b *testing.B)    { benchmarkIngestRules(b, 0) }
func BenchmarkIngest10kThreeRules(b *testing.B) { benchmarkIngestRules(b, 3) }
