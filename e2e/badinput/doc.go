// Package badinput reads the bad-input corpus (e2e/testdata/bad-input): one
// invalid object or Service annotation per case, each with the field its
// rejection must name and the layer expected to reject it. Its test applies
// every case to a running cluster, with and without the validating webhook,
// and checks that nothing the valid objects do changes.
package badinput
