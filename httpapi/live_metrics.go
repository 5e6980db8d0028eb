package httpapi

import "github.com/prometheus/client_golang/prometheus"

// liveMetrics count live clients of this instance and why streams ended.
type liveMetrics struct {
	clients *prometheus.GaugeVec
	ended   *prometheus.CounterVec
}

func newLiveMetrics(reg prometheus.Registerer) *liveMetrics {
	return &liveMetrics{
		clients: registerCollector(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "thermo_live_clients",
			Help: "Open live streams on this instance, by transport (sse, ws).",
		}, []string{"transport"})),
		ended: registerCollector(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thermo_live_streams_ended_total",
			Help: "Live streams ended, by reason (client, session_replaced, overflow, shutdown, error).",
		}, []string{"reason"})),
	}
}
