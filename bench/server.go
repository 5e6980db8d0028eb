package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// server is `thermo serve --dev` running as a child process, so its RSS
// and CPU time can be read from /proc.
type server struct {
	url    string
	devKey string
	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{} // closed when the process has exited
}

// startServer runs bin at a free loopback port and waits for /healthz.
func startServer(ctx context.Context, bin, dbURL, dir string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	s := &server{url: "http://" + addr, devKey: filepath.Join(dir, "dev-key.pem"), log: logf}
	s.cmd = exec.Command(bin, "serve", "--dev", "--addr", addr)
	// Access logs off (warn): at tens of thousands of requests a second the
	// log line itself would be measured.
	s.cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "THERMO_DEV_KEY="+s.devKey,
		"LOG_LEVEL=warn", "LOG_FORMAT=text")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		select {
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-s.exited:
			out, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("%s serve exited: %s (run `make services` to start and set up PostgreSQL)",
				bin, bytes.TrimSpace(out))
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.stop()
	return nil, fmt.Errorf("server did not answer /healthz within 30s; see %s", logf.Name())
}

// stop sends SIGINT and waits for the drain.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
	}
	s.log.Close()
}

// clockTicks is USER_HZ, 100 on every Linux we run on.
const clockTicks = 100

// cpuSeconds is utime+stime of pid from /proc/<pid>/stat.
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(fields[11], 64)
	k, _ := strconv.ParseFloat(fields[12], 64)
	return (u + k) / clockTicks
}

// postgresCPU maps the pid of every process named postgres (backends,
// WAL writer, autovacuum workers...) to its CPU seconds.
func postgresCPU() map[int]float64 {
	ents, _ := os.ReadDir("/proc")
	out := map[int]float64{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(comm)) == "postgres" {
			out[pid] = cpuSeconds(pid)
		}
	}
	return out
}

// postgresDelta is the CPU PostgreSQL used between two snapshots. A process
// that exited in between (an autovacuum worker) is not counted.
func postgresDelta(before, after map[int]float64) float64 {
	total := 0.0
	for pid, s := range after {
		total += s - before[pid]
	}
	return total
}

// peakRSS returns VmHWM of pid in MiB.
func peakRSS(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// cpuCounters is the CPU time of the three parties: a snapshot, or the
// difference of two.
type cpuCounters struct {
	server, postgres, harness float64
	pg                        map[int]float64
}

func readCPU(serverPID int) cpuCounters {
	return cpuCounters{server: cpuSeconds(serverPID), harness: cpuSeconds(os.Getpid()), pg: postgresCPU()}
}

func (c cpuCounters) sub(o cpuCounters) cpuCounters {
	return cpuCounters{server: c.server - o.server, postgres: postgresDelta(o.pg, c.pg), harness: c.harness - o.harness}
}
