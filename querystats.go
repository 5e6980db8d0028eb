package thermo

import (
	"context"
	"sync"
)

type queryStatsKey struct{}

// QueryStats counts the database statements issued on behalf of one request
// or job. The postgres tracer records into it; the access log reads it.
type QueryStats struct {
	mu     sync.Mutex
	total  int
	bySQL  map[string]int
	warned map[string]bool
}

// WithQueryStats returns ctx carrying a fresh QueryStats, and the stats.
func WithQueryStats(ctx context.Context) (context.Context, *QueryStats) {
	s := &QueryStats{bySQL: make(map[string]int)}
	return context.WithValue(ctx, queryStatsKey{}, s), s
}

// QueryStatsFromContext returns the stats in ctx, or nil.
func QueryStatsFromContext(ctx context.Context) *QueryStats {
	s, _ := ctx.Value(queryStatsKey{}).(*QueryStats)
	return s
}

// Record counts one execution of sql and returns how many times this exact
// statement has run so far, and whether this is the first time it crossed
// limit (so a repeat warning is logged once per statement).
func (s *QueryStats) Record(sql string, limit int) (n int, crossed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	s.bySQL[sql]++
	n = s.bySQL[sql]
	if n > limit && !s.warned[sql] {
		if s.warned == nil {
			s.warned = make(map[string]bool)
		}
		s.warned[sql] = true
		crossed = true
	}
	return n, crossed
}

// Total returns the number of statements recorded.
func (s *QueryStats) Total() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}
