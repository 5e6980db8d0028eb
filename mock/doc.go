// Package mock provides hand-written fakes of the root interfaces for unit
// tests: each method calls the matching Func field, which the test sets.
// Calling a method whose Func is nil panics, so unexpected calls fail loudly.
package mock
