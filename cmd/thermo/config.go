package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

// logSettings are the logging settings of every command that logs.
type logSettings struct{ level, format *setting }

func addLogSettings(f *flags) logSettings {
	return logSettings{level: f.setting(envLogLevel), format: f.setting(envLogFormat)}
}

// logger returns a logger writing to w in the configured format, with the
// request context attributes added by thermo.LogHandler.
func (s logSettings) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch s.level.Value {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, s.level.invalid("must be one of debug, info, warn, error")
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch s.format.Value {
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, s.format.invalid("must be json or text")
	}
	return slog.New(thermo.NewLogHandler(h)), nil
}

// dbSettings are the PostgreSQL settings. replica and slowQueryMS are nil
// for commands that do not use them.
type dbSettings struct{ url, replica, slowQueryMS *setting }

func addDBSettings(f *flags) dbSettings {
	return dbSettings{url: f.setting(envDatabaseURL)}
}

// addServeDBSettings adds the settings only the server uses.
func addServeDBSettings(f *flags) dbSettings {
	s := addDBSettings(f)
	s.replica = f.setting(envReplicaURL)
	s.slowQueryMS = f.setting(envSlowQueryMS)
	return s
}

// opts validates the settings and returns the options of postgres.Open.
func (s dbSettings) opts(logger *slog.Logger) (postgres.Opts, error) {
	o := postgres.Opts{URL: s.url.Value, Logger: logger}
	if err := checkPostgresURL(s.url, true); err != nil {
		return o, err
	}
	if s.replica != nil {
		if err := checkPostgresURL(s.replica, false); err != nil {
			return o, err
		}
		o.ReplicaURL = s.replica.Value
	}
	if s.slowQueryMS != nil {
		ms, err := s.slowQueryMS.nonNegativeInt()
		if err != nil {
			return o, err
		}
		o.SlowQuery = time.Duration(ms) * time.Millisecond
		if ms == 0 {
			o.SlowQuery = -1 // postgres.Opts: negative disables
		}
	}
	return o, nil
}

// checkPostgresURL reports a malformed connection string as a usage error,
// so that only an unreachable database is a runtime failure.
func checkPostgresURL(s *setting, required bool) error {
	if s.Value == "" {
		if required {
			return s.invalid("is empty: set it to a PostgreSQL URL such as postgres://user@host:5432/thermo")
		}
		return nil
	}
	if _, err := pgxpool.ParseConfig(s.Value); err != nil {
		// pgconn redacts the password in its parse errors.
		return s.invalid("is not a valid PostgreSQL connection string: " + err.Error())
	}
	return nil
}

// openDB opens PostgreSQL and brings the control plane up to date (cheap
// and idempotent), so every command works on a fresh database.
func openDB(ctx context.Context, opts postgres.Opts) (*postgres.DB, error) {
	db, err := postgres.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := db.MigrateControl(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
