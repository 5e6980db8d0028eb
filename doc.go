// Package thermo holds Thermo's domain: the types, filters and service
// interfaces that every adapter (postgres, redis, httpapi, auth, jobs)
// implements or consumes. It imports no adapter.
//
// Request-scoped values (tenant, principal, request id, query statistics)
// travel in context.Context; see context.go.
package thermo
