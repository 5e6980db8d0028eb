package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/thermo/thermo"
)

// Group commit of single readings.
//
// Concurrent IngestReading calls of one tenant are queued and merged into
// one transaction by a per-tenant committer goroutine: one device check, one
// multi-device INSERT, the AfterIngest hooks per device in device-id order,
// one query for duplicates, one COMMIT. Each caller gets its own result
// only after that COMMIT, so a 2xx still means "durably stored".
//
// There is no timer: a committer takes whatever is queued (at most
// groupMaxSize) as soon as it is free, so a lone request on an idle system
// starts at once, and under load the requests that arrive while a group is
// committing (~1–2 ms with fsync) form the next group. At most
// groupMaxInFlight groups of one tenant run at once.
//
// Goroutines: a committer exists only while its tenant has queued work and
// exits when the queue is empty; nothing outlives the last request, so
// closing the DB leaves no goroutine behind (queued groups then fail and
// their callers retry alone, getting the pool's error).
//
// Memory: at most groupMaxPending requests are queued or committing across
// all tenants; further callers wait for a slot (or their ctx).
//
// Cancellation: a caller whose ctx ends before its request is taken into a
// group is dropped from the queue; once taken, its reading may still commit
// although the caller got ctx.Err() (like a request cancelled after COMMIT
// was sent). A retry is harmless: readings are idempotent per
// (device, recorded_at).
//
// Logs and query stats: the group transaction runs on its own context with
// the tenant and a request id "ingest-group-<n>", bounded by groupTimeout;
// each device's hooks run with the request id and principal of the caller
// of the device's first new reading (so alert notification jobs and their
// logs name a request that carried the device's readings). The group's
// statements are not counted in the callers' query stats (their access-log
// db_queries is 0). A failed group is logged at warn with the request ids
// of its members. Live events raised by a device's hooks are collected per
// device and re-collected, after commit, into the ctx of the caller holding
// that device's first new reading (the callers publish them).
const (
	groupMaxSize     = 500
	groupMaxInFlight = 2
	groupMaxPending  = 8 * groupMaxSize
	groupTimeout     = 30 * time.Second
)

// groupCommitter queues single readings per tenant and commits them in
// groups. The zero value is not usable; see newGroupCommitter.
type groupCommitter struct {
	svc   *ReadingService
	slots chan struct{} // one per queued or committing request
	seq   atomic.Uint64 // numbers groups for their request id

	mu     sync.Mutex
	queues map[string]*tenantQueue
}

// tenantQueue is one tenant's waiting requests and running committers.
type tenantQueue struct {
	pending []*groupMember
	workers int
}

// groupMember is one IngestReading call waiting for its group.
type groupMember struct {
	ctx      context.Context // the caller's; only checked for cancellation
	deviceID int64
	reading  thermo.Reading
	done     chan memberResult // buffered: delivery never blocks

	// Filled by the committer.
	res memberResult
}

// memberResult is what a caller gets back. retryAlone asks the caller to
// ingest in its own transaction because the group failed.
type memberResult struct {
	reading    thermo.Reading
	created    bool
	err        error
	retryAlone bool
	// events raised by the AfterIngest hooks (alerts fired or resolved)
	// for the member's device, given to the device's first new reading.
	events []*thermo.Event
}

func newGroupCommitter(svc *ReadingService) *groupCommitter {
	return &groupCommitter{svc: svc, slots: make(chan struct{}, groupMaxPending), queues: map[string]*tenantQueue{}}
}

// submit queues r for tenant and waits for its group's outcome.
func (g *groupCommitter) submit(ctx context.Context, tenant string, deviceID int64, r thermo.Reading) memberResult {
	if err := ctx.Err(); err != nil {
		return memberResult{err: err}
	}
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return memberResult{err: ctx.Err()}
	}
	m := &groupMember{ctx: ctx, deviceID: deviceID, reading: r, done: make(chan memberResult, 1)}
	g.mu.Lock()
	q := g.queues[tenant]
	if q == nil {
		q = &tenantQueue{}
		g.queues[tenant] = q
	}
	q.pending = append(q.pending, m)
	start := q.workers < groupMaxInFlight
	if start {
		q.workers++
	}
	g.mu.Unlock()
	if start {
		go g.work(tenant, q)
	}
	select {
	case res := <-m.done:
		return res
	case <-ctx.Done():
		return memberResult{err: ctx.Err()}
	}
}

// work commits groups of tenant until its queue is empty.
func (g *groupCommitter) work(tenant string, q *tenantQueue) {
	for {
		group := g.take(tenant, q)
		if len(group) == 0 {
			return
		}
		g.commit(tenant, group)
	}
}

// take removes up to groupMaxSize live requests from q. When none is left
// it retires the calling worker (and the queue, if it was the last).
func (g *groupCommitter) take(tenant string, q *tenantQueue) []*groupMember {
	g.mu.Lock()
	defer g.mu.Unlock()
	var group []*groupMember
	for len(q.pending) > 0 && len(group) < groupMaxSize {
		m := q.pending[0]
		q.pending[0] = nil
		q.pending = q.pending[1:]
		if m.ctx.Err() != nil { // the caller has gone: drop it
			<-g.slots
			continue
		}
		group = append(group, m)
	}
	if len(q.pending) == 0 {
		q.pending = nil // release the backing array
	}
	if len(group) == 0 {
		q.workers--
		if q.workers == 0 {
			delete(g.queues, tenant)
		}
	}
	return group
}

// commit runs one group transaction and answers every member. If the
// transaction fails (a hook error, a deadlock, a lost connection), every
// member is told to retry alone: one bad device then fails only its own
// request, and each retry runs with its caller's ctx (request id, stats).
func (g *groupCommitter) commit(tenant string, group []*groupMember) {
	id := "ingest-group-" + strconv.FormatUint(g.seq.Add(1), 10)
	ctx := thermo.WithRequestID(thermo.WithTenant(context.Background(), tenant), id)
	ctx, cancel := context.WithTimeout(ctx, groupTimeout)
	defer cancel()
	err := g.svc.db.InTx(ctx, func(ctx context.Context) error {
		return g.svc.ingestGroup(ctx, group)
	})
	if err != nil {
		ids := make([]string, 0, len(group))
		for _, m := range group {
			ids = append(ids, thermo.RequestIDFromContext(m.ctx))
		}
		g.svc.db.logger.WarnContext(ctx, "group ingest failed; members retry alone",
			"err", err, "members", len(group), slog.Any("member_request_ids", ids))
	}
	for _, m := range group {
		res := m.res
		if err != nil {
			res = memberResult{retryAlone: true}
		}
		m.done <- res
		<-g.slots
	}
}

// ingestInGroup is IngestReading through the group committer. Calls made
// inside a transaction join it instead, as before.
func (s *ReadingService) ingestInGroup(ctx context.Context, deviceID int64, r *thermo.Reading) (bool, error) {
	tenant := thermo.TenantFromContext(ctx)
	if txFromContext(ctx) != nil || tenant == "" {
		return s.ingestAlone(ctx, deviceID, r)
	}
	if err := thermo.ValidateTenantID(tenant); err != nil {
		return false, err
	}
	res := s.group.submit(ctx, tenant, deviceID, *r)
	switch {
	case res.retryAlone:
		return s.ingestAlone(ctx, deviceID, r)
	case res.err != nil:
		return false, res.err
	}
	for _, e := range res.events { // into the caller's collector, if any
		thermo.CollectEvent(ctx, e.Type, e.DeviceID, e.Data)
	}
	*r = res.reading
	return res.created, nil
}

// keyOf identifies a reading: the primary key is (device_id, recorded_at)
// at microsecond precision.
type readingKey struct {
	device int64
	micros int64
}

func keyOf(deviceID int64, at time.Time) readingKey {
	return readingKey{deviceID, at.UnixMicro()}
}

// String is for error messages.
func (k readingKey) String() string {
	return fmt.Sprintf("device %d at %s", k.device, time.UnixMicro(k.micros).UTC().Format(time.RFC3339Nano))
}
