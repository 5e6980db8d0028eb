package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

// alertBundle is a tenant with one device, its readings wired to evaluate
// alert rules on ingest, and every fired alert recorded.
type alertBundle struct {
	*readingBundle
	alerts *postgres.AlertService
	fired  atomic.Int64 // OnFireFunc calls
}

func setupAlerts(t *testing.T) *alertBundle {
	t.Helper()
	ab := &alertBundle{readingBundle: setupReadings(t)}
	ab.alerts = postgres.NewAlertService(ab.db)
	ab.alerts.OnFireFunc = func(context.Context, *thermo.Alert) error { ab.fired.Add(1); return nil }
	ab.readings.PrepareIngest = append(ab.readings.PrepareIngest, ab.alerts.LockRules) // as cmd/thermo wires it
	ab.readings.AfterIngest = append(ab.readings.AfterIngest, ab.alerts.EvaluateReadings)
	return ab
}

func (ab *alertBundle) rule(t *testing.T, r thermo.AlertRule) *thermo.AlertRule {
	t.Helper()
	r.DeviceID, r.IsEnabled = ab.device.ID, true
	if err := ab.alerts.CreateAlertRule(ab.ctx, &r); err != nil {
		t.Fatalf("create rule: %v", err)
	}
	return &r
}

// ingest posts (offset seconds from base, °C) pairs as one batch.
func (ab *alertBundle) ingest(t *testing.T, base time.Time, points ...[2]float64) {
	t.Helper()
	rs := make([]thermo.Reading, len(points))
	for i, p := range points {
		rs[i] = thermo.Reading{RecordedAt: base.Add(time.Duration(p[0]) * time.Second), TemperatureCelsius: p[1]}
	}
	if _, err := ab.readings.IngestReadings(ab.ctx, ab.device.ID, rs); err != nil {
		t.Fatalf("ingest: %v", err)
	}
}

func (ab *alertBundle) list(t *testing.T, f thermo.AlertFilter) []*thermo.Alert {
	t.Helper()
	f.Limit = thermo.MaxPageLimit
	as, _, err := ab.alerts.FindAlerts(ab.ctx, f)
	if err != nil {
		t.Fatalf("find alerts: %v", err)
	}
	return as
}

func TestAlertRuleCRUD(t *testing.T) {
	t.Parallel()
	ab := setupAlerts(t)
	bad := thermo.AlertRule{DeviceID: ab.device.ID, Condition: "sideways", ThresholdCelsius: 2000, ForSeconds: -1, ClearHysteresisCelsius: -1}
	err := ab.alerts.CreateAlertRule(ab.ctx, &bad)
	var e *thermo.Error
	if !errors.As(err, &e) || e.Code != thermo.EINVALID || len(e.Fields) != 4 {
		t.Fatalf("invalid rule: %v %+v", err, e)
	}
	missing := thermo.AlertRule{DeviceID: ab.device.ID + 1000, Condition: thermo.ConditionAbove}
	if err := ab.alerts.CreateAlertRule(ab.ctx, &missing); thermo.ErrorCode(err) != thermo.ENOTFOUND {
		t.Fatalf("rule of missing device: %v", err)
	}
	r := ab.rule(t, thermo.AlertRule{Condition: thermo.ConditionBelow, ThresholdCelsius: 2, ForSeconds: 300})
	if r.ID == 0 || r.State != thermo.RuleOK || !r.IsEnabled {
		t.Fatalf("created %+v", r)
	}
	off, h := false, 1.5
	got, err := ab.alerts.UpdateAlertRule(ab.ctx, ab.device.ID, r.ID, thermo.AlertRuleUpdate{IsEnabled: &off, ClearHysteresisCelsius: &h})
	if err != nil || got.IsEnabled || got.ClearHysteresisCelsius != 1.5 || got.ThresholdCelsius != 2 {
		t.Fatalf("update = %+v, %v", got, err)
	}
	if _, err := ab.alerts.FindAlertRule(ab.ctx, ab.device.ID+1, r.ID); thermo.ErrorCode(err) != thermo.ENOTFOUND {
		t.Fatalf("rule under another device: %v", err)
	}
	if rules, err := ab.alerts.FindAlertRules(ab.ctx, ab.device.ID); err != nil || len(rules) != 1 {
		t.Fatalf("list = %v, %v", rules, err)
	}
	if err := ab.alerts.DeleteAlertRule(ab.ctx, ab.device.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := ab.alerts.DeleteAlertRule(ab.ctx, ab.device.ID, r.ID); thermo.ErrorCode(err) != thermo.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
}

// TestAlertBatchCrossesThreeTimes: 10,000 readings, three sustained
// excursions, two single-reading spikes (shorter than forSeconds) and
// flapping inside the hysteresis band give exactly three alerts.
func TestAlertBatchCrossesThreeTimes(t *testing.T) {
	t.Parallel()
	ab := setupAlerts(t)
	ab.rule(t, thermo.AlertRule{Condition: thermo.ConditionAbove, ThresholdCelsius: 30, ForSeconds: 60, ClearHysteresisCelsius: 2})
	const n, step = 10_000, 30 * time.Second
	base := time.Now().Add(-n * step).Truncate(time.Second)
	hot := func(i int) float64 {
		switch {
		case i >= 1000 && i < 1100, i >= 8000 && i < 8010:
			return 35
		case i >= 4000 && i < 4500:
			if i >= 4005 && i%2 == 0 {
				return 29 // back under 30 but not under 28: still firing
			}
			return 35
		case i == 2000 || i == 6000:
			return 40 // a spike shorter than forSeconds
		}
		return 20
	}
	rs := make([]thermo.Reading, n)
	for i := range rs {
		rs[i] = thermo.Reading{RecordedAt: base.Add(time.Duration(i) * step), TemperatureCelsius: hot(i)}
	}
	if _, err := ab.readings.IngestReadings(ab.ctx, ab.device.ID, rs); err != nil {
		t.Fatal(err)
	}
	as := ab.list(t, thermo.AlertFilter{})
	if len(as) != 3 || ab.fired.Load() != 3 {
		t.Fatalf("%d alerts, %d notifications; want 3", len(as), ab.fired.Load())
	}
	for k, want := range [][2]int{{8002, 8010}, {4002, 4500}, {1002, 1100}} { // newest first
		a := as[k]
		if !a.FiredAt.Equal(rs[want[0]].RecordedAt) || a.ResolvedAt == nil || !a.ResolvedAt.Equal(rs[want[1]].RecordedAt) ||
			a.TemperatureCelsius != 35 || a.Rule == nil || a.Rule.ThresholdCelsius != 30 || a.ReadingID == 0 {
			t.Errorf("alert %d = %+v (resolved %v), want fired at reading %d, resolved at %d", k, a, a.ResolvedAt, want[0], want[1])
		}
	}
}

// TestAlertStateAcrossBatches: state carries between ingests; a late
// reading does not move it; disabling resolves an open alert.
func TestAlertStateAcrossBatches(t *testing.T) {
	t.Parallel()
	ab := setupAlerts(t)
	r := ab.rule(t, thermo.AlertRule{Condition: thermo.ConditionBelow, ThresholdCelsius: 2, ForSeconds: 120, ClearHysteresisCelsius: 1})
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	ab.ingest(t, base, [2]float64{0, 1}, [2]float64{60, 0.5}) // pending for 60 s
	if got, _ := ab.alerts.FindAlertRule(ab.ctx, ab.device.ID, r.ID); got.State != thermo.RulePending {
		t.Fatalf("state = %s, want pending", got.State)
	}
	ab.ingest(t, base, [2]float64{120, 1.5}) // held 120 s: fires
	ab.ingest(t, base, [2]float64{100, 10})  // late: ignored
	ab.ingest(t, base, [2]float64{180, 2.5}) // inside the hysteresis band
	if as := ab.list(t, thermo.AlertFilter{State: thermo.RuleFiring}); len(as) != 1 || as[0].TemperatureCelsius != 1.5 {
		t.Fatalf("firing alerts = %+v", as)
	}
	ab.ingest(t, base, [2]float64{240, 3}) // cleared (≥ 2 + 1)
	ab.ingest(t, base, [2]float64{300, -5}, [2]float64{420, -5})
	if as := ab.list(t, thermo.AlertFilter{State: "resolved"}); len(as) != 1 {
		t.Fatalf("resolved alerts = %d, want 1", len(as))
	}
	off := false
	if _, err := ab.alerts.UpdateAlertRule(ab.ctx, ab.device.ID, r.ID, thermo.AlertRuleUpdate{IsEnabled: &off}); err != nil {
		t.Fatal(err)
	}
	ab.ingest(t, base, [2]float64{480, -10}, [2]float64{900, -10})
	as := ab.list(t, thermo.AlertFilter{})
	if len(as) != 2 || as[0].ResolvedAt == nil || ab.fired.Load() != 2 {
		t.Fatalf("after disabling: %d alerts (newest resolved %v), %d fired", len(as), as[0].ResolvedAt, ab.fired.Load())
	}
}

// TestAlertConcurrentIngestsFireOnce: many ingests of one device at once,
// each with a violating reading, fire one alert: the rule row lock
// serializes them.
func TestAlertConcurrentIngestsFireOnce(t *testing.T) {
	t.Parallel()
	ab := setupAlerts(t)
	ab.rule(t, thermo.AlertRule{Condition: thermo.ConditionAbove, ThresholdCelsius: 30})
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			r := thermo.Reading{RecordedAt: base.Add(time.Duration(i) * time.Second), TemperatureCelsius: 31 + float64(i)}
			_, err := ab.readings.IngestReading(ab.ctx, ab.device.ID, &r)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if as := ab.list(t, thermo.AlertFilter{}); len(as) != 1 || ab.fired.Load() != 1 {
		t.Fatalf("%d alerts, %d fired; want exactly 1", len(as), ab.fired.Load())
	}
}

// TestAlertFireFailureRollsBack: when the fire hook fails, the ingest
// stores neither readings nor alert.
func TestAlertFireFailureRollsBack(t *testing.T) {
	t.Parallel()
	ab := setupAlerts(t)
	ab.rule(t, thermo.AlertRule{Condition: thermo.ConditionAbove, ThresholdCelsius: 30})
	boom := errors.New("queue down")
	ab.alerts.OnFireFunc = func(context.Context, *thermo.Alert) error { return boom }
	r := thermo.Reading{RecordedAt: time.Now().Add(-time.Minute), TemperatureCelsius: 50}
	if _, err := ab.readings.IngestReading(ab.ctx, ab.device.ID, &r); !errors.Is(err, boom) {
		t.Fatalf("ingest err = %v", err)
	}
	if n := ab.count(t); n != 0 || len(ab.list(t, thermo.AlertFilter{})) != 0 {
		t.Fatalf("after rollback: %d readings and some alerts", n)
	}
}

// TestAcknowledgeRace: 20 acknowledgements with the same version, exactly
// one wins; the others see 412 with the current version.
func TestAcknowledgeRace(t *testing.T) {
	t.Parallel()
	ab := setupAlerts(t)
	ab.rule(t, thermo.AlertRule{Condition: thermo.ConditionAbove, ThresholdCelsius: 30})
	ab.ingest(t, time.Now().Add(-time.Hour), [2]float64{0, 40})
	a := ab.list(t, thermo.AlertFilter{})[0]
	if _, err := ab.alerts.AcknowledgeAlert(ab.ctx, a.ID, a.Version+5, "bob"); thermo.ErrorCode(err) != thermo.EPRECONDITION {
		t.Fatalf("stale version: %v", err)
	}
	var wins, stale atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			got, err := ab.alerts.AcknowledgeAlert(ab.ctx, a.ID, a.Version, "user-"+string(rune('a'+i)))
			switch thermo.ErrorCode(err) {
			case "":
				wins.Add(1)
			case thermo.EPRECONDITION:
				if got == nil || got.Version != a.Version+1 {
					t.Errorf("412 without the current version: %+v", got)
				}
				stale.Add(1)
			default:
				t.Errorf("acknowledge: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || stale.Load() != 19 {
		t.Fatalf("%d wins, %d stale; want 1 and 19", wins.Load(), stale.Load())
	}
	unacked := false
	if as := ab.list(t, thermo.AlertFilter{Acknowledged: &unacked}); len(as) != 0 {
		t.Fatalf("unacknowledged after ack: %d", len(as))
	}
	got, _ := ab.alerts.FindAlertByID(ab.ctx, a.ID)
	if got.AcknowledgedBy == nil || got.AcknowledgedAt == nil || got.Version != a.Version+1 {
		t.Fatalf("acknowledged alert = %+v", got)
	}
}

// LockRules locks a group's rules in one statement: evaluating 3 devices
// then costs one lock plus one state update each, instead of a lock and an
// update each; without LockRules (or in another transaction) each device
// locks its own rules.
func TestLockRules_OneStatementPerGroup(t *testing.T) {
	t.Parallel()
	ab := setupAlerts(t)
	ds := groupDevices(t, ab.readingBundle, 3)
	ids := make([]int64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
		r := thermo.AlertRule{DeviceID: d.ID, IsEnabled: true, Condition: thermo.ConditionAbove, ThresholdCelsius: 30}
		if err := ab.alerts.CreateAlertRule(ab.ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now().Add(-time.Hour)
	evaluate := func(prepare bool) int {
		at = at.Add(time.Minute)
		ctx, stats := thermo.WithQueryStats(ab.ctx)
		var n int
		err := ab.db.InTx(ctx, func(ctx context.Context) error {
			before := stats.Total()
			if prepare {
				var err error
				if ctx, err = ab.alerts.LockRules(ctx, ids); err != nil {
					return err
				}
			}
			for _, id := range ids {
				rd := &thermo.Reading{DeviceID: id, RecordedAt: at, TemperatureCelsius: 20}
				if err := ab.alerts.EvaluateReadings(ctx, id, []*thermo.Reading{rd}); err != nil {
					return err
				}
			}
			n = stats.Total() - before
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := evaluate(true); got != 1+3 {
		t.Errorf("with LockRules: %d statements, want 4 (one lock, three state updates)", got)
	}
	if got := evaluate(false); got != 2*3 {
		t.Errorf("without LockRules: %d statements, want 6", got)
	}
}
