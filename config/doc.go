// Package config compiles IronLB's custom resources into one validated,
// immutable configuration.
//
// Compile is pure: it takes every ironlb.io/v1beta1 object (Resources), and
// returns a *Config of the objects that can be used and an Errors value
// listing every problem of the others, each naming the object kind, the
// object name and the field path (with list indices). Objects are judged
// one by one (see state.go): an invalid spec sets aside only its object,
// whose last valid spec (status.lastValidSpec) stays in force when it has
// one. It does no I/O, reads no clock and keeps no global state, so the
// controller, the speakers, the validating webhook and the offline
// `validate -f` command all get the same answer for the same objects.
//
// The compiler does not trust the API server: objects may come from files
// (see Load), so every CRD marker (ranges, lengths, list sizes, CEL rules)
// is checked again here.
//
// Output is independent of input order: objects are processed sorted by
// name, and errors are sorted (see Errors).
package config
