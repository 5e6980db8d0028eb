package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/thermo/thermo/jobs"
	"github.com/thermo/thermo/postgres"
	"github.com/thermo/thermo/webhook"
)

// startJobs migrates River's schema, registers the workers, starts working
// jobs and wires alert evaluation into ingestion: rules run in the ingest
// transaction and a firing alert enqueues its notification in it.
// Other workers are registered here next to RegisterNotify. stats adds the
// statistics workers and their periodic fan-out; without work (serve
// --no-worker) the client only inserts jobs and works none.
func startJobs(ctx context.Context, logger *slog.Logger, db *postgres.DB,
	readings *postgres.ReadingService, alerts *postgres.AlertService, stats jobs.StatsDeps, work bool) (*jobs.Client, error) {
	if err := jobs.Migrate(ctx, db.Pool()); err != nil {
		return nil, err
	}
	notify := jobs.NotifyOpts{Alerts: alerts, Notifier: webhook.New(alerts), Logger: logger}
	workers := river.NewWorkers()
	jobs.RegisterNotify(workers, notify)
	jobs.RegisterStats(workers, stats)
	opts := jobs.Opts{Pool: db.Pool(), Logger: logger}
	if work {
		opts.Workers, opts.PeriodicJobs = workers, jobs.StatsPeriodicJobs(stats.Queue, 0)
	}
	client, err := jobs.New(opts)
	if err != nil {
		return nil, err
	}
	alerts.OnFireFunc = jobs.NotifyAlertFunc(client, notify)
	readings.PrepareIngest = append(readings.PrepareIngest, alerts.LockRules)
	readings.AfterIngest = append(readings.AfterIngest, alerts.EvaluateReadings)
	if !work {
		return client, nil
	}
	// Not ctx itself: cancelling it would cancel running jobs; stopJobs
	// drains them instead.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("start jobs: %w", err)
	}
	return client, nil
}

// stopJobs lets running jobs finish for up to timeout.
func stopJobs(ctx context.Context, logger *slog.Logger, c *jobs.Client, timeout time.Duration) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := c.Stop(sctx); err != nil {
		logger.WarnContext(ctx, "jobs stopped with error", "error", err.Error())
	}
}
