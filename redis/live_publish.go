package redis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/thermo/thermo"
)

// Group publishing ("group commit" for Redis).
//
// Every event costs a script call (XADD to the tenant's capped stream,
// PUBLISH on its channel). Done one by one, that is one Redis round trip per
// ingested reading. Instead, events of a tenant are sent by one sender at a
// time, and whatever queues up meanwhile goes out together:
//
//   - A caller that finds nothing in flight for its tenant sends its event
//     at once, itself, alone: no timers, no extra goroutine, the old cost.
//   - Callers that find a call in flight queue their event and wait. When
//     the call returns, a flusher goroutine takes everything queued (at most
//     maxPublishBatch) and sends it in ONE script call, which appends and
//     publishes each event in order and returns their ids; it repeats with
//     what queued up during that round trip, and exits when none did.
//
// Properties kept:
//
//   - Each script call touches one tenant's keys ({tenant} hash tag), so it
//     stays cluster-safe; tenants are sent in parallel.
//   - One sender per tenant, and events in a call are appended and published
//     in order: the stream's order is the channel's order, and a caller that
//     publishes sequentially sees its events in that order.
//   - Each caller gets its own id or its batch's error, and only after the
//     event is stored and published. A failed call trips the publish
//     backoff, and a batch taken while it applies fails at once without
//     touching Redis: an outage costs one timeout, not one per request or
//     per batch.
//   - A caller's ctx bounds only its own wait: a caller sending alone uses
//     it for its call; a queued caller whose ctx ends stops waiting and gets
//     ctx's error (its event may still be published, and is dropped if not
//     yet taken). A flusher's call is bounded by the client's timeouts,
//     never by one caller's ctx, so a leaving caller cannot fail the others.
//
// Subscribers see no difference: each event is still its own PUBLISH
// message "e<id>\n<json>".

// maxPublishBatch caps the events of one script call.
const maxPublishBatch = 256

// publishBatchScript appends each event (ARGV[3..]) to the stream and
// publishes it with its id, refreshes the stream's expiry once, and returns
// the ids in order. ARGV[1] is the stream's approximate cap, ARGV[2] its TTL
// in milliseconds.
var publishBatchScript = goredis.NewScript(`
local ids = {}
for i = 3, #ARGV do
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i])
  redis.call('PUBLISH', KEYS[2], 'e' .. id .. '\n' .. ARGV[i])
  ids[#ids + 1] = id
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return ids`)

// errPublishPaused is returned while the publish backoff applies.
var errPublishPaused = thermo.Errorf(thermo.EUNAVAILABLE, "live events are paused after a Redis failure")

// publisher groups concurrent publishes per tenant; see above.
type publisher struct {
	rdb       *goredis.Client
	downUntil atomic.Int64 // unix nanoseconds; see publishBackoff

	mu     sync.Mutex
	queues map[string][]*publishReq // a tenant is present while a call of it is in flight
}

// publishReq is one caller's event; id and err are set before done closes.
type publishReq struct {
	ctx  context.Context
	data []byte
	id   string
	err  error
	done chan struct{}
}

func newPublisher(rdb *goredis.Client) *publisher {
	return &publisher{rdb: rdb, queues: map[string][]*publishReq{}}
}

// paused reports whether the publish backoff applies.
func (p *publisher) paused() bool { return time.Now().UnixNano() < p.downUntil.Load() }

// publish appends data, a marshalled event, to tenant's stream and
// publishes it, grouped with concurrent publishes of the tenant; it returns
// the event's stream id.
func (p *publisher) publish(ctx context.Context, tenant string, data []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	r := &publishReq{ctx: ctx, data: data, done: make(chan struct{})}
	p.mu.Lock()
	q, busy := p.queues[tenant]
	if busy {
		p.queues[tenant] = append(q, r)
	} else {
		p.queues[tenant] = nil // busy: this caller sends its own event
	}
	p.mu.Unlock()
	if !busy {
		p.send(ctx, tenant, []*publishReq{r})
		p.handOff(tenant)
		return r.id, r.err
	}
	select {
	case <-r.done:
		return r.id, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// handOff ends a caller's own call: what queued meanwhile goes to a flusher.
func (p *publisher) handOff(tenant string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queues[tenant]) == 0 {
		delete(p.queues, tenant)
		return
	}
	go p.flush(tenant)
}

// flush sends tenant's queued events, a batch per script call, until the
// queue is empty.
func (p *publisher) flush(tenant string) {
	for batch := p.take(tenant); batch != nil; batch = p.take(tenant) {
		p.send(context.Background(), tenant, batch)
	}
}

// send runs one script call for batch and hands each caller its result.
func (p *publisher) send(ctx context.Context, tenant string, batch []*publishReq) {
	if p.paused() {
		finish(batch, nil, errPublishPaused)
		return
	}
	args := make([]any, 0, 2+len(batch))
	args = append(args, ResumeEvents, ResumeWindow.Milliseconds())
	for _, r := range batch {
		args = append(args, r.data)
	}
	keys := []string{streamKey(tenant), channelKey(tenant)}
	ids, err := publishBatchScript.Run(ctx, p.rdb, keys, args...).StringSlice()
	if err == nil && len(ids) != len(batch) {
		err = fmt.Errorf("publish script returned %d ids for %d events", len(ids), len(batch))
	}
	if err != nil && ctx.Err() == nil { // a caller that left or ran out of time is no outage
		p.downUntil.Store(time.Now().Add(publishBackoff).UnixNano())
	}
	finish(batch, ids, err)
}

// take removes up to maxPublishBatch of tenant's queued events, skipping
// those whose caller already left. It returns nil, and ends tenant's
// flusher, when nothing is queued.
func (p *publisher) take(tenant string) []*publishReq {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.queues[tenant]
	var batch []*publishReq
	for len(q) > 0 && len(batch) < maxPublishBatch {
		r := q[0]
		q[0], q = nil, q[1:]
		if r.ctx.Err() == nil {
			batch = append(batch, r)
		}
	}
	if len(batch) == 0 {
		delete(p.queues, tenant)
		return nil
	}
	if len(q) == 0 {
		q = nil // let the next append start a fresh array
	}
	p.queues[tenant] = q
	return batch
}

// finish hands each caller its id, or err.
func finish(batch []*publishReq, ids []string, err error) {
	for i, r := range batch {
		if err != nil {
			r.err = err
		} else {
			r.id = ids[i]
		}
		close(r.done)
	}
}
