package pgdb

// Statements maps the names of the reading queries that operators may want
// to EXPLAIN to their SQL text, so the plans shown are those of the exact
// statements the services run. Hand-written: sqlc leaves this file alone.
var Statements = map[string]string{
	"FindLatestReading":  findLatestReading,
	"FindReadings":       findReadings,
	"ExportReadings":     exportReadings,
	"FindHourlyReadings": findHourlyReadings,
}
