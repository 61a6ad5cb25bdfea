package config

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InForce says which spec of an object Compile uses.
type InForce int

const (
	// InForceNone: the object is not used (its spec is invalid and no
	// earlier spec of it is known to be valid).
	InForceNone InForce = iota
	// InForceSpec: the current spec.
	InForceSpec
	// InForceLastValid: status.lastValidSpec, because the current spec is
	// invalid.
	InForceLastValid
)

func (f InForce) String() string {
	switch f {
	case InForceSpec:
		return "spec"
	case InForceLastValid:
		return "last valid spec"
	}
	return "nothing"
}

// ObjectState is what Compile did with one object.
type ObjectState struct {
	Kind, Name string
	// InForce is the spec in use.
	InForce InForce
	// Partial: the spec in force refers to objects that do not exist or
	// are not in force (a pool deleted, a BFD profile never valid); those
	// references are left out and the rest of the object works.
	Partial bool
	// Errors are the problems of the current spec; empty when it is
	// valid.
	Errors Errors
}

// Valid reports whether the current spec compiled.
func (s ObjectState) Valid() bool { return len(s.Errors) == 0 }

// Summary says in one sentence what is in force, for status messages and
// the CLI: "" for a valid object.
func (s ObjectState) Summary() string {
	if s.Valid() {
		return ""
	}
	switch {
	case s.InForce == InForceLastValid && s.Partial:
		return "the last valid spec stays in force, without the references that no longer resolve"
	case s.InForce == InForceLastValid:
		return "the last valid spec stays in force"
	case s.InForce == InForceSpec && s.Partial:
		return "the spec is in force without the references that do not resolve"
	}
	return "the object is not used"
}

type objectKey struct{ kind, name string }

// State returns what Compile did with the named object.
func (c *Config) State(kind, name string) (ObjectState, bool) {
	s, ok := c.states[objectKey{kind, name}]
	if !ok {
		return ObjectState{}, false
	}
	s.Errors = slices.Clone(s.Errors)
	return s, true
}

// States returns the state of every object, sorted by kind then name.
func (c *Config) States() []ObjectState {
	out := make([]ObjectState, 0, len(c.states))
	for _, s := range c.states {
		s.Errors = slices.Clone(s.Errors)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b ObjectState) int {
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Name, b.Name))
	})
	return out
}

// Invalid returns the states of the objects whose current spec is invalid.
func (c *Config) Invalid() []ObjectState {
	return slices.DeleteFunc(c.States(), ObjectState.Valid)
}

// versioned is an object with a current spec and possibly the last spec
// that compiled.
type versioned[S any] struct {
	meta    *metav1.ObjectMeta
	spec    *S
	last    *S // nil when no spec of the object is known to be valid
	settled bool
}

func newVersioned[S any](m *metav1.ObjectMeta, spec, last *S) versioned[S] {
	return versioned[S]{meta: m, spec: spec, last: last,
		settled: last != nil && equality.Semantic.DeepEqual(spec, last)}
}

// conflictOrder sorts the objects of one kind for conflict resolution:
// where two objects conflict (overlapping pools, one alias defined twice,
// two peers for one neighbour), the one sorted first wins. Objects whose
// spec is already in force unchanged come first, so an edit or a new
// object never takes anything from one that runs; then the older object
// (creationTimestamp, an unset one counting as newest: an object being
// created), then the name.
func conflictOrder[S any](objs []versioned[S]) {
	slices.SortStableFunc(objs, func(a, b versioned[S]) int {
		if a.settled != b.settled {
			if a.settled {
				return -1
			}
			return 1
		}
		if c := compareCreated(a.meta.CreationTimestamp.Time, b.meta.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.meta.Name, b.meta.Name)
	})
}

func compareCreated(a, b time.Time) int {
	switch {
	case a.IsZero() && b.IsZero():
		return 0
	case a.IsZero():
		return 1
	case b.IsZero():
		return -1
	}
	return a.Compare(b)
}

// attempt is the result of compiling one spec of one object.
type attempt[C any] struct {
	value C
	own   errs // problems of the spec itself, and conflicts
	refs  errs // references that do not resolve; the value leaves them out
}

// choose decides which spec of an object is in force and records the
// object's state. try compiles one spec; it must report into the attempt's
// own and refs. The current spec wins when valid; else the last valid spec
// when it still compiles; else, for objects with references, the last valid
// spec (or, without one, the current spec) without the references that do
// not resolve, provided nothing else is wrong with it.
func choose[S, C any](c *compiler, kind string, v versioned[S], try func(spec *S, a *attempt[C])) (C, bool) {
	name := v.meta.Name
	run := func(spec *S) *attempt[C] {
		a := &attempt[C]{}
		try(spec, a)
		return a
	}
	cur := run(v.spec)
	st := ObjectState{Kind: kind, Name: name, Errors: append(slices.Clone(cur.own.list), cur.refs.list...)}
	c.list = append(c.list, st.Errors...)
	slices.SortFunc(st.Errors, compareErrors)

	var chosen *attempt[C]
	var last *attempt[C]
	switch {
	case st.Valid():
		chosen, st.InForce = cur, InForceSpec
	case v.last != nil && !v.settled:
		if last = run(v.last); len(last.own.list) == 0 && len(last.refs.list) == 0 {
			chosen, st.InForce = last, InForceLastValid
		}
	}
	if chosen == nil {
		switch {
		case v.last != nil && (v.settled || last != nil) && len(pick(last, cur).own.list) == 0:
			chosen, st.InForce, st.Partial = pick(last, cur), InForceLastValid, true
		case v.last == nil && len(cur.own.list) == 0:
			chosen, st.InForce, st.Partial = cur, InForceSpec, true
		}
	}
	c.states[objectKey{kind, name}] = st
	if chosen == nil {
		var zero C
		return zero, false
	}
	return chosen.value, true
}

// pick returns a unless it is nil.
func pick[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}
