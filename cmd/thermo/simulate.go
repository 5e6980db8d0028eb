package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/auth"
)

const simulateAbout = `Simulate a fleet of thermometers against a running server started with
--dev: mint dev tokens, register devices SIM-<tenant>-<n> (idempotently), then
post a reading per device every --interval until --duration or Ctrl-C.

Readings follow a daily temperature curve per room with noise, rare spikes
above 35 °C and slowly draining batteries. One device in eight retries its
posts (duplicates) and one in eight stays offline and uploads its buffered
history late in one batch. With --batch K every device sends K readings per
request. Counters are redrawn in place on a terminal, else printed as lines.

  thermo simulate --tenants building_a,building_b --devices 20 --interval 5s`

// simConfig is the validated configuration of thermo simulate.
type simConfig struct {
	url         string
	tenants     []string
	devices     int
	interval    time.Duration
	batch       int
	duration    time.Duration
	concurrency int
	seed        uint64
	every       time.Duration
	issuer      *auth.DevIssuer
}

func runSimulate(ctx context.Context, c *cli, args []string) error {
	cfg, err := parseSimulate(c, args)
	if err != nil {
		return err
	}
	return cfg.simulate(ctx, c.stdout)
}

func parseSimulate(c *cli, args []string) (cfg simConfig, err error) {
	f := newFlags("thermo simulate", "[flags]", simulateAbout, c.getenv)
	url := f.fs.String("url", "http://localhost:8080", "server `URL`")
	tenants := f.fs.String("tenants", "building_a,building_b", "comma-separated tenant `ids`")
	f.fs.IntVar(&cfg.devices, "devices", 20, "devices per tenant (`n`)")
	f.fs.DurationVar(&cfg.interval, "interval", 30*time.Second, "time between a device's readings (`duration`)")
	f.fs.IntVar(&cfg.batch, "batch", 1, "readings per request (`k`); 1 posts single readings")
	f.fs.DurationVar(&cfg.duration, "duration", 0, "stop after this `duration` (0: until Ctrl-C)")
	f.fs.IntVar(&cfg.concurrency, "concurrency", 32, "most requests in flight (`n`)")
	f.fs.Uint64Var(&cfg.seed, "seed", 1, "random `seed`: the same seed gives the same fleet")
	f.fs.DurationVar(&cfg.every, "report-every", 10*time.Second, "print a counter line this often when not on a terminal (`duration`)")
	devKey, claim := f.setting(envDevKey), f.setting(envTenantClaim)
	pos, err := c.parseFlags(f, args)
	switch {
	case err != nil:
		return cfg, err
	case len(pos) > 0:
		return cfg, usagef("unexpected argument %q (see thermo simulate --help)", pos[0])
	case !isHTTPURL(*url):
		return cfg, usagef("--url=%q: must be an http(s) URL such as http://localhost:8080", *url)
	case cfg.devices < 1 || cfg.devices > 100_000:
		return cfg, usagef("--devices=%d: must be between 1 and 100000", cfg.devices)
	case cfg.interval <= 0:
		return cfg, usagef("--interval=%s: must be a positive duration such as 30s", cfg.interval)
	case cfg.batch < 1 || cfg.batch > thermo.MaxBatchReadings:
		return cfg, usagef("--batch=%d: must be between 1 and %d", cfg.batch, thermo.MaxBatchReadings)
	case cfg.duration < 0 || cfg.every <= 0:
		return cfg, usagef("--duration and --report-every must be positive (0 --duration runs until Ctrl-C)")
	case cfg.concurrency < 1:
		return cfg, usagef("--concurrency=%d: must be at least 1", cfg.concurrency)
	}
	cfg.url = strings.TrimRight(*url, "/")
	for _, t := range strings.Split(*tenants, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if err := thermo.ValidateTenantID(t); err != nil {
			return cfg, usagef("--tenants: %s", thermo.ErrorMessage(err))
		}
		cfg.tenants = append(cfg.tenants, t)
	}
	if len(cfg.tenants) == 0 {
		return cfg, usagef("--tenants: name at least one tenant, e.g. --tenants building_a")
	}
	path, err := devKeyPath(devKey)
	if err != nil {
		return cfg, err
	}
	if cfg.issuer, err = auth.LoadDevIssuer(path); err != nil {
		return cfg, err
	}
	cfg.issuer.TenantClaim = claim.Value
	return cfg, nil
}

// simulate registers the fleet, runs it until ctx ends or the duration
// passes, and prints the summary.
func (cfg simConfig) simulate(ctx context.Context, stdout io.Writer) error {
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	api := &simAPI{
		url:    cfg.url,
		http:   &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.concurrency}},
		sem:    make(chan struct{}, cfg.concurrency),
		issuer: cfg.issuer,
		tokens: map[string]simToken{},
		stats:  &simStats{},
	}
	var fleet []*simDevice
	for ti, tenant := range cfg.tenants {
		ids, err := api.register(ctx, tenant, cfg.devices)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("register devices of %s: %w", tenant, err)
		}
		for n, id := range ids {
			fleet = append(fleet, newSimDevice(tenant, id, n+1, cfg.seed+uint64(ti)<<32))
		}
	}
	fmt.Fprintf(stdout, "simulating %d devices in %d tenants against %s: one reading each every %s, %d per request\n",
		len(fleet), len(cfg.tenants), cfg.url, cfg.interval, cfg.batch)
	start := time.Now()
	var wg sync.WaitGroup
	for _, d := range fleet {
		wg.Go(func() { d.run(ctx, api, cfg.interval, cfg.batch) })
	}
	reportDone := make(chan struct{})
	go func() {
		defer close(reportDone)
		api.stats.report(ctx, stdout, isTerminal(stdout), cfg.every, start)
	}()
	wg.Wait()
	<-reportDone
	fmt.Fprintf(stdout, "summary after %s: %s\n", time.Since(start).Round(time.Millisecond), api.stats.line(time.Since(start)))
	return nil
}

// simAPI calls the server for every simulated device.
type simAPI struct {
	url    string
	http   *http.Client
	sem    chan struct{} // bounds requests in flight
	issuer *auth.DevIssuer
	stats  *simStats

	mu     sync.Mutex
	tokens map[string]simToken
}

type simToken struct {
	raw    string
	expiry time.Time
}

// token returns a dev token for tenant, minting a new one before the old
// one expires.
func (a *simAPI) token(tenant string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.tokens[tenant]; ok && time.Until(t.expiry) > 10*time.Minute {
		return t.raw, nil
	}
	const ttl = 2 * time.Hour
	raw, err := a.issuer.Mint(tenant, "simulator", ttl)
	if err != nil {
		return "", err
	}
	a.tokens[tenant] = simToken{raw: raw, expiry: time.Now().Add(ttl)}
	return raw, nil
}

// do sends a JSON request and decodes a 2xx answer into out; it returns
// the status code. Non-2xx answers are errors carrying the problem detail.
func (a *simAPI) do(ctx context.Context, tenant, method, path string, body, out any) (int, error) {
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-a.sem }()
	token, err := a.token(tenant)
	if err != nil {
		return 0, err
	}
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.url+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		var p struct{ Detail string }
		_ = json.Unmarshal(data, &p)
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, p.Detail)
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(data, out)
	}
	return resp.StatusCode, nil
}

// register returns the ids of SIM-<tenant>-1..n, creating the missing
// devices. A 409 means another simulator registered it meanwhile.
func (a *simAPI) register(ctx context.Context, tenant string, n int) ([]int64, error) {
	known, err := a.listSerials(ctx, tenant)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, n)
	for i := range ids {
		serial := fmt.Sprintf("SIM-%s-%d", tenant, i+1)
		if id, ok := known[serial]; ok {
			ids[i] = id
			continue
		}
		var d thermo.Device
		body := map[string]string{"serialNumber": serial, "location": fmt.Sprintf("Room %d", i+1)}
		status, err := a.do(ctx, tenant, http.MethodPost, "/v1/devices", body, &d)
		switch {
		case status == http.StatusConflict:
			if known, err = a.listSerials(ctx, tenant); err != nil {
				return nil, err
			} else if ids[i] = known[serial]; ids[i] == 0 {
				return nil, fmt.Errorf("device %s: 409 on create but not in the device list", serial)
			}
		case err != nil:
			return nil, err
		default:
			ids[i] = d.ID
		}
	}
	return ids, nil
}

// listSerials pages through the tenant's devices: serial number → id.
func (a *simAPI) listSerials(ctx context.Context, tenant string) (map[string]int64, error) {
	out := map[string]int64{}
	for page := 1; ; page++ {
		var p struct {
			Data  []thermo.Device
			Total int
		}
		if _, err := a.do(ctx, tenant, http.MethodGet, fmt.Sprintf("/v1/devices?page=%d&pageSize=100", page), nil, &p); err != nil {
			return nil, err
		}
		for _, d := range p.Data {
			out[d.SerialNumber] = d.ID
		}
		if len(p.Data) == 0 || page*100 >= p.Total {
			return out, nil
		}
	}
}

// simReading is a posted reading.
type simReading struct {
	TemperatureCelsius float64   `json:"temperatureCelsius"`
	Humidity           float64   `json:"humidity"`
	BatteryLevel       float64   `json:"batteryLevel"`
	RecordedAt         time.Time `json:"recordedAt"`
}

// Device behaviours: most post on time; a retrier repeats some posts; a
// late uploader stays offline and sends its buffer in one batch.
const (
	simNormal = iota
	simRetrier
	simLate
)

const (
	simLateTicks        = 6     // readings a late uploader buffers
	simRetryProbability = 0.3   // a retrier's chance to repeat a post
	simSpikeProbability = 0.003 // chance of a reading above 35 °C
)

// simDevice is one simulated thermometer.
type simDevice struct {
	tenant           string
	id               int64
	kind             int
	rng              *rand.Rand
	base, swing, hum float64 // room: mean °C, daily swing, mean humidity
	phase            float64 // hours the room's curve is shifted by
	battery, drain   float64
	pending          []simReading
	lastRecordedAt   time.Time
}

func newSimDevice(tenant string, id int64, n int, seed uint64) *simDevice {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	d := &simDevice{
		tenant: tenant, id: id, rng: rng,
		base: 19 + rng.Float64()*4, swing: 1 + rng.Float64()*3, hum: 35 + rng.Float64()*20,
		phase: rng.Float64() * 3, battery: 0.6 + rng.Float64()*0.4, drain: 0.00002 + rng.Float64()*0.00005,
	}
	switch n % 8 {
	case 2:
		d.kind = simRetrier
	case 5:
		d.kind = simLate
	}
	return d
}

// next returns the reading the device measures at t.
func (d *simDevice) next(t time.Time) simReading {
	hour := float64(t.Hour()) + float64(t.Minute())/60
	// Coldest around 05:00, warmest around 17:00 (shifted per room).
	temp := d.base - d.swing*math.Cos(2*math.Pi*(hour-5-d.phase)/24) + d.rng.NormFloat64()*0.2
	if d.rng.Float64() < simSpikeProbability {
		temp = 35 + d.rng.Float64()*10 // a heater left on, a sensor in the sun
	}
	d.battery = max(0.01, d.battery-d.drain)
	hum := min(100, max(0, d.hum+d.rng.NormFloat64()*2))
	at := t.UTC().Truncate(time.Millisecond)
	if !at.After(d.lastRecordedAt) {
		at = d.lastRecordedAt.Add(time.Millisecond)
	}
	d.lastRecordedAt = at
	return simReading{TemperatureCelsius: math.Round(temp*100) / 100, Humidity: math.Round(hum*10) / 10,
		BatteryLevel: math.Round(d.battery*10000) / 10000, RecordedAt: at}
}

// run measures every interval (the first after a random offset, so the
// fleet does not post in lockstep) and posts until ctx ends.
func (d *simDevice) run(ctx context.Context, api *simAPI, interval time.Duration, batch int) {
	offset := time.Duration(d.rng.Int64N(int64(interval)))
	timer := time.NewTimer(offset)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-timer.C:
			timer.Reset(interval)
			d.tick(ctx, api, t, batch)
		}
	}
}

func (d *simDevice) tick(ctx context.Context, api *simAPI, t time.Time, batch int) {
	d.pending = append(d.pending, d.next(t))
	switch {
	case d.kind == simLate && len(d.pending) >= simLateTicks:
		d.post(ctx, api, d.pending)
	case d.kind == simLate || len(d.pending) < batch:
		return
	case batch > 1:
		d.post(ctx, api, d.pending)
	default:
		d.post(ctx, api, d.pending)
		if d.kind == simRetrier && d.rng.Float64() < simRetryProbability {
			d.pending = append(d.pending[:0], d.pending...)
			d.post(ctx, api, d.pending) // the answer was "lost": same reading again
		}
	}
	d.pending = d.pending[:0]
}

// post sends rs (one reading alone, several as a batch) and counts the
// outcome.
func (d *simDevice) post(ctx context.Context, api *simAPI, rs []simReading) {
	path := fmt.Sprintf("/v1/devices/%d/readings", d.id)
	start := time.Now()
	var inserted, dups int
	var err error
	if len(rs) == 1 {
		var out struct{ Duplicate bool }
		_, err = api.do(ctx, d.tenant, http.MethodPost, path, rs[0], &out)
		if out.Duplicate {
			dups = 1
		} else {
			inserted = 1
		}
	} else {
		var out thermo.IngestResult
		_, err = api.do(ctx, d.tenant, http.MethodPost, path+"/batch", map[string]any{"readings": rs}, &out)
		inserted, dups = out.Inserted, out.Duplicates
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return // stopping: not the server's fault
	}
	api.stats.record(len(rs), inserted, dups, err, time.Since(start))
}

// simStats counts outcomes and keeps a latency histogram.
type simStats struct {
	mu                             sync.Mutex
	sent, stored, dups, errs, reqs int64
	hist                           latencyHist
	lastErr                        string
}

func (s *simStats) record(sent, stored, dups int, err error, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs++
	s.sent += int64(sent)
	s.hist.add(d)
	if err != nil {
		s.errs++
		s.lastErr = oneLine(err)
		return
	}
	s.stored += int64(stored)
	s.dups += int64(dups)
}

// line is the one-line counter summary.
func (s *simStats) line(elapsed time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rate := float64(s.stored) / max(elapsed.Seconds(), 1e-9)
	out := fmt.Sprintf("sent %d, stored %d (%.0f/s), duplicates %d, errors %d, requests %d, p50 %s, p99 %s",
		s.sent, s.stored, rate, s.dups, s.errs, s.reqs, s.hist.quantile(0.50), s.hist.quantile(0.99))
	if s.lastErr != "" {
		out += "; last error: " + s.lastErr
	}
	return out
}

// report redraws the counters every second on a terminal, else prints a
// line every every, until ctx ends.
func (s *simStats) report(ctx context.Context, w io.Writer, terminal bool, every time.Duration, start time.Time) {
	if terminal {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if terminal {
				fmt.Fprintln(w)
			}
			return
		case <-tick.C:
			if terminal {
				fmt.Fprintf(w, "\r\033[K%s", s.line(time.Since(start)))
			} else {
				fmt.Fprintf(w, "%s %s\n", time.Now().UTC().Format(time.TimeOnly), s.line(time.Since(start)))
			}
		}
	}
}

// latencyHist buckets durations on a log scale (2% wide buckets), so a
// long simulation keeps constant memory.
type latencyHist struct {
	counts map[int]int64
	n      int64
}

const latencyBucketBase = 1.02

func (h *latencyHist) add(d time.Duration) {
	if h.counts == nil {
		h.counts = map[int]int64{}
	}
	us := max(1, float64(d.Microseconds()))
	h.counts[int(math.Log(us)/math.Log(latencyBucketBase))]++
	h.n++
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *latencyHist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	keys := make([]int, 0, len(h.counts))
	for k := range h.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rank, seen := int64(math.Ceil(q*float64(h.n))), int64(0)
	for _, k := range keys {
		if seen += h.counts[k]; seen >= rank {
			us := math.Pow(latencyBucketBase, float64(k+1))
			return time.Duration(us * float64(time.Microsecond)).Round(10 * time.Microsecond)
		}
	}
	return 0
}
