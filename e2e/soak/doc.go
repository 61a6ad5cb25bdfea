// Package soak runs the whole system (real API server, controller and
// speaker processes, FRR, the virtual LAN) for a long time under churn of
// Services, endpoints and pools with faults injected at random: API server
// frozen, etcd killed, a node's link down, the controller killed, a
// speaker restarted, FRR restarted. It samples the processes' memory (RSS,
// heap in use, live heap), goroutines, file descriptors and Prometheus
// series, and the Event emissions of the last five minutes, every 10 s and
// writes docs/soak.md, with every Event seen by reason at the end. It runs
// only under `make soak`, never in `make test`; this package's pure parts
// (the trend rule, the report, the Event ledger) have unit tests that do
// run there.
package soak
