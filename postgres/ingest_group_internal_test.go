package postgres

import (
	"context"
	"testing"

	"github.com/thermo/thermo"
)

// TestGroupTake_DropsCancelledAndRetires: requests whose caller has gone
// are dropped (their slot freed), and a worker finding nothing left
// retires and removes the tenant's queue, so no goroutine or queue
// outlives the work.
func TestGroupTake_DropsCancelledAndRetires(t *testing.T) {
	g := newGroupCommitter(&ReadingService{})
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	q := &tenantQueue{workers: 1}
	g.queues["t1"] = q
	live := &groupMember{ctx: context.Background(), deviceID: 2, done: make(chan memberResult, 1)}
	for _, m := range []*groupMember{{ctx: gone, deviceID: 1}, live, {ctx: gone, deviceID: 3}} {
		g.slots <- struct{}{}
		q.pending = append(q.pending, m)
	}
	group := g.take("t1", q)
	if len(group) != 1 || group[0] != live || len(g.slots) != 1 {
		t.Fatalf("took %d members, %d slots held; want the live one, 1 slot", len(group), len(g.slots))
	}
	if got := g.take("t1", q); got != nil || q.workers != 0 || g.queues["t1"] != nil {
		t.Fatalf("empty queue: took %d, workers %d, queue kept %v", len(got), q.workers, g.queues["t1"] != nil)
	}
}

// TestGroupTake_BoundsGroupSize: one group holds at most groupMaxSize.
func TestGroupTake_BoundsGroupSize(t *testing.T) {
	g := newGroupCommitter(&ReadingService{})
	q := &tenantQueue{workers: 1}
	g.queues["t1"] = q
	for i := range groupMaxSize + 7 {
		q.pending = append(q.pending, &groupMember{ctx: context.Background(), deviceID: int64(i), reading: thermo.Reading{}})
	}
	if a, b := g.take("t1", q), g.take("t1", q); len(a) != groupMaxSize || len(b) != 7 {
		t.Fatalf("groups of %d and %d, want %d and 7", len(a), len(b), groupMaxSize)
	}
}
