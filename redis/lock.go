package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-redsync/redsync/v4"
	rsredis "github.com/go-redsync/redsync/v4/redis"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
)

// Locker hands out Redlock locks over one Redis or N independent Redis
// nodes (a lock is held when a majority granted it), with go-redsync: the
// lock is released by an atomic compare-and-delete script, never by a GET
// followed by a DEL.
type Locker struct {
	rs *redsync.Redsync
}

// NewLocker returns a Locker over the given nodes (at least one). The
// clients stay owned by the caller.
func NewLocker(nodes ...*Client) *Locker {
	if len(nodes) == 0 {
		panic("redis: NewLocker needs at least one node")
	}
	pools := make([]rsredis.Pool, len(nodes))
	for i, c := range nodes {
		pools[i] = goredis.NewPool(c.rdb)
	}
	return &Locker{rs: redsync.New(pools...)}
}

// TryLock makes one attempt at lock name, held for at most ttl. It returns
// (unlock, true, nil) when acquired, (nil, false, nil) when another holder
// has it, and an error when too many nodes could not be reached.
func (l *Locker) TryLock(ctx context.Context, name string, ttl time.Duration) (unlock func(), ok bool, err error) {
	m := l.rs.NewMutex(name, redsync.WithExpiry(ttl), redsync.WithTries(1))
	err = m.TryLockContext(ctx)
	var taken *redsync.ErrTaken
	var redisErr *redsync.RedisError
	switch {
	case err == nil:
		return func() { _, _ = m.UnlockContext(context.WithoutCancel(ctx)) }, true, nil
	case errors.As(err, &taken):
		return nil, false, nil
	case errors.As(err, &redisErr):
		return nil, false, fmt.Errorf("redis lock %s: %w", name, err)
	default: // ErrFailed, or nodes taken short of a quorum
		return nil, false, nil
	}
}
