package main

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// newRegistry returns the Prometheus registry /metrics serves: Go runtime
// and process metrics, and the connection pools' statistics.
func newRegistry(poolStats func() map[string]*pgxpool.Stat) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newPoolCollector(poolStats),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// poolCollector exports pgxpool statistics per pool role (primary,
// replica), read at scrape time.
type poolCollector struct {
	stats                             func() map[string]*pgxpool.Stat
	acquired, idle, total, max        *prometheus.Desc
	acquires, emptyAcquires, waitTime *prometheus.Desc
}

func newPoolCollector(stats func() map[string]*pgxpool.Stat) *poolCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("thermo_db_pool_"+name, help, []string{"pool"}, nil)
	}
	return &poolCollector{
		stats:         stats,
		acquired:      desc("acquired_conns", "Connections currently in use."),
		idle:          desc("idle_conns", "Idle connections."),
		total:         desc("total_conns", "Open connections (acquired, idle and being opened)."),
		max:           desc("max_conns", "Maximum size of the pool."),
		acquires:      desc("acquires_total", "Successful connection acquisitions."),
		emptyAcquires: desc("empty_acquires_total", "Acquisitions that had to wait for a connection."),
		waitTime:      desc("empty_acquire_wait_seconds_total", "Time spent waiting for a connection."),
	}
}

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.total, c.max, c.acquires, c.emptyAcquires, c.waitTime} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for role, s := range c.stats() {
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, role)
		}
		counter := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, role)
		}
		gauge(c.acquired, float64(s.AcquiredConns()))
		gauge(c.idle, float64(s.IdleConns()))
		gauge(c.total, float64(s.TotalConns()))
		gauge(c.max, float64(s.MaxConns()))
		counter(c.acquires, float64(s.AcquireCount()))
		counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
		counter(c.waitTime, s.EmptyAcquireWaitTime().Seconds())
	}
}
