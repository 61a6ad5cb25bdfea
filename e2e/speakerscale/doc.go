// Package speakerscale measures one real speaker process at scale: against
// a real API server (e2e/cluster), with 100 Node objects whose other 99
// speakers are simulated by members.Members instances in the test process,
// and 1,000 then 10,000 LoadBalancer Services of 10 endpoints each in a
// layer 2 pool and a BGP pool, addressed by the real controller. The
// benchmark (bench_test.go) reports the speaker's CPU time per change, the
// speaker's and the controller's memory, and what a node loss moves.
//
// This file's package holds the readers of /proc that the benchmark uses;
// everything else is in the _test files.
package speakerscale
