package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/jobs"
)

type pingArgs struct {
	Meta jobs.Meta `json:"meta"`
	Note string    `json:"note"`
}

func (pingArgs) Kind() string { return "test_ping" }

// pingWorker reports the ctx each job ran with.
type pingWorker struct {
	river.WorkerDefaults[pingArgs]
	seen chan seenJob
}

type seenJob struct {
	note, tenant, requestID string
	jobID                   int64
}

func (w *pingWorker) Work(ctx context.Context, job *river.Job[pingArgs]) error {
	w.seen <- seenJob{job.Args.Note, thermo.TenantFromContext(ctx), thermo.RequestIDFromContext(ctx), thermo.JobIDFromContext(ctx)}
	return nil
}

func TestEnqueueFollowsTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	tenant := "j_" + randomSuffix()
	createTenant(t, db, &thermo.Tenant{ID: tenant}, "")

	workers := river.NewWorkers()
	w := &pingWorker{seen: make(chan seenJob, 4)}
	river.AddWorker(workers, w)
	// A queue of this test's own so parallel tests never work its jobs.
	queue := "q_" + tenant
	client, err := jobs.New(jobs.Opts{Pool: db.Pool(), Workers: workers,
		Queues: map[string]river.QueueConfig{queue: {MaxWorkers: 2}}, TestOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Stop(context.Background()) })

	reqCtx := thermo.WithRequestID(thermo.WithTenant(ctx, tenant), "req-42")
	opts := &river.InsertOpts{Queue: queue}
	boom := errors.New("boom")
	err = db.InTx(reqCtx, func(ctx context.Context) error {
		if _, err := client.Enqueue(ctx, pingArgs{Meta: jobs.MetaFromContext(ctx), Note: "rolled back"}, opts); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	err = db.InTx(reqCtx, func(ctx context.Context) error {
		_, err := client.Enqueue(ctx, pingArgs{Meta: jobs.MetaFromContext(ctx), Note: "committed"}, opts)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-w.seen:
		if got.note != "committed" || got.tenant != tenant || got.requestID != "req-42" || got.jobID == 0 {
			t.Fatalf("worked %+v", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("committed job was not worked")
	}
	select {
	case got := <-w.seen:
		t.Fatalf("a job from a rolled-back transaction ran: %+v", got)
	case <-time.After(500 * time.Millisecond):
	}
}
