// Package soak runs the whole system (real API server, controller and
// speaker processes, FRR, the virtual LAN) for a long time under churn of
// Services, endpoints and pools with faults injected at random: API server
// frozen, etcd killed, a node's link down, the controller killed, a
// speaker restarted, FRR restarted. It samples the processes' memory,
// goroutines and file descriptors and the number of Events every 10 s and
// writes docs/soak.md. It runs only under `make soak`, never in `make
// test`; this package's pure parts (the trend rule, the report) have unit
// tests that do run there.
package soak
