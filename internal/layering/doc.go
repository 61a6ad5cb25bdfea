// Package layering holds the test that keeps IronLB's dependency layers
// apart: which packages may not link which others, checked on the real
// import graph with `go list -deps`.
package layering
