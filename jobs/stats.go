package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/thermo/thermo"
)

// Statistics job defaults.
const (
	// DefaultFanOutInterval is how often the fan-out runs: a tenant's
	// previous day is aggregated at most this long after its local midnight,
	// and late readings are re-aggregated within it.
	DefaultFanOutInterval = 15 * time.Minute
	aggregateTimeout      = 10 * time.Minute
)

// StatsDeps is what the statistics and retention workers use.
type StatsDeps struct {
	Stats    thermo.StatsService  // required
	Tenants  thermo.TenantService // required
	Readings thermo.ReadingService
	Logger   *slog.Logger
	// Queue receives the fanned-out jobs (river.QueueDefault if "").
	Queue string
	// Now is the clock (time.Now if nil); tests pin it.
	Now func() time.Time
	// PurgeBatch bounds one retention DELETE (DefaultPurgeBatch if 0).
	PurgeBatch int
}

func (d *StatsDeps) defaults() {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Queue == "" {
		d.Queue = river.QueueDefault
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.PurgeBatch <= 0 {
		d.PurgeBatch = DefaultPurgeBatch
	}
}

// RegisterStats adds the fan-out, aggregation and retention workers.
func RegisterStats(workers *river.Workers, deps StatsDeps) {
	deps.defaults()
	river.AddWorker(workers, &fanOutWorker{deps: deps})
	river.AddWorker(workers, &aggregateWorker{deps: deps})
	river.AddWorker(workers, &purgeWorker{deps: deps})
}

// StatsPeriodicJobs returns the periodic fan-out, run every interval
// (DefaultFanOutInterval if 0) on queue by the leader among all clients.
func StatsPeriodicJobs(queue string, interval time.Duration) []*river.PeriodicJob {
	if interval <= 0 {
		interval = DefaultFanOutInterval
	}
	if queue == "" {
		queue = river.QueueDefault
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(alignedSchedule(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return StatsFanOutArgs{}, &river.InsertOpts{Queue: queue,
				UniqueOpts: river.UniqueOpts{ByPeriod: interval}}
		}, nil)}
}

// alignedSchedule fires on wall-clock multiples of its interval (:00, :15,
// :30, :45), so restarts and leader changes neither delay nor skip a run.
type alignedSchedule time.Duration

func (s alignedSchedule) Next(t time.Time) time.Time {
	return t.Truncate(time.Duration(s)).Add(time.Duration(s))
}

// StatsFanOutArgs is the periodic job that enqueues every tenant's work.
type StatsFanOutArgs struct{}

func (StatsFanOutArgs) Kind() string { return "stats_fan_out" }

// AggregateDayArgs aggregates one tenant-day; Late limits it to the
// device-days marked by late readings.
type AggregateDayArgs struct {
	Meta Meta   `json:"meta"`
	Date string `json:"date"`
	Late bool   `json:"late,omitempty"`
}

func (AggregateDayArgs) Kind() string { return "aggregate_day" }

// uniqueNightly makes one nightly job per tenant-day: a completed one still
// blocks a duplicate until River's cleaner removes it (24 h), by which time
// the tenant's previous day has moved on.
var uniqueNightly = river.UniqueOpts{ByArgs: true}

// uniqueLate allows one waiting or running late pass per tenant-day; once
// it finished, newer marks get a new one.
var uniqueLate = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}}

type fanOutWorker struct {
	river.WorkerDefaults[StatsFanOutArgs]
	deps StatsDeps
}

// Work enqueues, for every tenant, its previous local day, today's
// retention and a late pass per marked day, in one batch. Unique options
// make a repeated fan-out (or two leaders) enqueue nothing new.
func (w *fanOutWorker) Work(ctx context.Context, job *river.Job[StatsFanOutArgs]) error {
	params, err := FanOut(ctx, w.deps)
	if err != nil {
		return err
	}
	if len(params) == 0 {
		return nil
	}
	res, err := river.ClientFromContext[pgx.Tx](ctx).InsertMany(ctx, params)
	if err != nil {
		return fmt.Errorf("fan out: %w", err)
	}
	inserted := 0
	for _, r := range res {
		if !r.UniqueSkippedAsDuplicate {
			inserted++
		}
	}
	w.deps.Logger.InfoContext(ctx, "stats fan-out", "jobs", len(params), "inserted", inserted)
	return nil
}

// FanOut returns the jobs one fan-out enqueues. A tenant that fails (bad
// zone, dropped schema) is logged and skipped, not allowed to stop others.
func FanOut(ctx context.Context, deps StatsDeps) ([]river.InsertManyParams, error) {
	deps.defaults()
	tenants, err := deps.Tenants.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("fan out: %w", err)
	}
	now := deps.Now()
	var params []river.InsertManyParams
	add := func(args river.JobArgs, unique river.UniqueOpts) {
		params = append(params, river.InsertManyParams{Args: args,
			InsertOpts: &river.InsertOpts{Queue: deps.Queue, UniqueOpts: unique}})
	}
	for _, t := range tenants {
		loc, err := time.LoadLocation(t.TimeZone)
		if err != nil {
			deps.Logger.ErrorContext(ctx, "tenant skipped by fan-out", "tenant", t.ID, "error", err.Error())
			continue
		}
		meta := Meta{Tenant: t.ID}
		today := thermo.LocalDate(now, loc)
		add(AggregateDayArgs{Meta: meta, Date: today.AddDate(0, 0, -1).Format(thermo.DateLayout)}, uniqueNightly)
		add(PurgeReadingsArgs{Meta: meta, Date: today.Format(thermo.DateLayout)}, uniqueNightly)
		days, err := deps.Stats.DirtyDays(thermo.WithTenant(ctx, t.ID))
		if err != nil {
			deps.Logger.ErrorContext(ctx, "late days of tenant not read", "tenant", t.ID, "error", err.Error())
			continue
		}
		for _, d := range days {
			add(AggregateDayArgs{Meta: meta, Date: d.Format(thermo.DateLayout), Late: true}, uniqueLate)
		}
	}
	return params, nil
}

type aggregateWorker struct {
	river.WorkerDefaults[AggregateDayArgs]
	deps StatsDeps
}

func (w *aggregateWorker) Timeout(*river.Job[AggregateDayArgs]) time.Duration {
	return aggregateTimeout
}

// Work aggregates the tenant-day in the job's ctx (tenant from Meta).
func (w *aggregateWorker) Work(ctx context.Context, job *river.Job[AggregateDayArgs]) error {
	day, err := thermo.ParseDate(job.Args.Date)
	if err != nil || thermo.TenantFromContext(ctx) == "" {
		return river.JobCancel(fmt.Errorf("aggregate job %d: bad args %+v", job.ID, job.Args))
	}
	start := time.Now()
	aggregate := w.deps.Stats.AggregateDay
	if job.Args.Late {
		aggregate = w.deps.Stats.AggregateDirty
	}
	res, err := aggregate(ctx, day)
	if thermo.ErrorCode(err) == thermo.ENOTFOUND {
		return river.JobCancel(err) // the tenant is gone
	} else if err != nil {
		return err
	}
	w.deps.Logger.InfoContext(ctx, "aggregated tenant-day", "date", job.Args.Date, "late", job.Args.Late,
		"devices", res.Devices, "changed", len(res.Changed), "duration", time.Since(start).String())
	return nil
}
