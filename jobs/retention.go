package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/thermo/thermo"
)

// DefaultPurgeBatch bounds one retention DELETE: short transactions, short
// locks, WAL in small steps.
const DefaultPurgeBatch = 10_000

const purgeTimeout = 30 * time.Minute

// PurgeReadingsArgs deletes one tenant's readings older than its retention.
// Date (the tenant-local day it was enqueued for) makes it unique per day.
type PurgeReadingsArgs struct {
	Meta Meta   `json:"meta"`
	Date string `json:"date"`
}

func (PurgeReadingsArgs) Kind() string { return "purge_readings" }

type purgeWorker struct {
	river.WorkerDefaults[PurgeReadingsArgs]
	deps StatsDeps
}

func (w *purgeWorker) Timeout(*river.Job[PurgeReadingsArgs]) time.Duration { return purgeTimeout }

// Work deletes in batches until none is left. Statistics are kept.
func (w *purgeWorker) Work(ctx context.Context, job *river.Job[PurgeReadingsArgs]) error {
	tenant := thermo.TenantFromContext(ctx)
	if tenant == "" || w.deps.Readings == nil {
		return river.JobCancel(fmt.Errorf("purge job %d: no tenant or no reading service", job.ID))
	}
	t, err := w.deps.Tenants.FindTenantByID(ctx, tenant)
	if thermo.ErrorCode(err) == thermo.ENOTFOUND {
		return river.JobCancel(err)
	} else if err != nil {
		return err
	}
	n, err := PurgeExpired(ctx, w.deps.Readings, w.deps.Now().AddDate(0, 0, -t.RetentionDays), w.deps.PurgeBatch)
	w.deps.Logger.InfoContext(ctx, "purged expired readings", "deleted", n, "retention_days", t.RetentionDays)
	return err
}

// PurgeExpired deletes readings recorded before cutoff, batch rows per
// transaction, until none is left, and returns how many it deleted.
func PurgeExpired(ctx context.Context, readings thermo.ReadingService, cutoff time.Time, batch int) (int64, error) {
	var total int64
	for {
		n, err := readings.PurgeReadings(ctx, cutoff, batch)
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
