// Package faults holds the slow fault-injection tests of `make test-faults`
// (build tag "faults"): the real binaries as child processes, a ClickHouse
// server of their own, the development broker with its data on disk, and a
// client that keeps sending while processes are killed, servers stopped and
// partitions moved. The invariant checked everywhere: every event the
// collector accepted is stored exactly once as readers see it, every lead is
// scored, and no alert episode is written twice.
package faults
