package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Kinds of the objects Compile reads, as they appear in Error.Kind and in
// Resources.Without.
const (
	KindIPAddressPool    = "IPAddressPool"
	KindL2Advertisement  = "L2Advertisement"
	KindBGPAdvertisement = "BGPAdvertisement"
	KindBGPPeer          = "BGPPeer"
	KindBFDProfile       = "BFDProfile"
	KindCommunity        = "Community"
)

// Error is one validation problem of one object.
type Error struct {
	Kind   string // object kind, e.g. "IPAddressPool"
	Name   string // object name
	Field  string // field path, e.g. "spec.addresses[1]"; empty for the whole object
	Detail string // what is wrong, quoting the offending value (never a password)
}

// Error formats e as `IPAddressPool "web": spec.addresses[1]: detail`.
func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s %q: %s", e.Kind, e.Name, e.Detail)
	}
	return fmt.Sprintf("%s %q: %s: %s", e.Kind, e.Name, e.Field, e.Detail)
}

// Errors is every problem Compile found, sorted by kind, name, field (list
// indices compared as numbers) and detail, without duplicates.
type Errors []*Error

// Error joins the messages; a single error is shown as is.
func (es Errors) Error() string {
	switch len(es) {
	case 0:
		return "no errors"
	case 1:
		return es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d configuration errors:", len(es))
	for _, e := range es {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// For returns the errors of one object, e.g. for its status condition.
func (es Errors) For(kind, name string) Errors {
	var out Errors
	for _, e := range es {
		if e.Kind == kind && e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// Unwrap lets errors.Is and errors.As see the individual errors.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// compareErrors orders errors for Errors.
func compareErrors(a, b *Error) int {
	return cmp.Or(
		strings.Compare(a.Kind, b.Kind),
		strings.Compare(a.Name, b.Name),
		naturalCompare(a.Field, b.Field),
		strings.Compare(a.Detail, b.Detail),
	)
}

// sortErrors sorts es and removes exact duplicates (the same problem can be
// found from two sides, e.g. an overlap seen from both ranges).
func sortErrors(es Errors) Errors {
	slices.SortFunc(es, compareErrors)
	return slices.CompactFunc(es, func(a, b *Error) bool { return *a == *b })
}

// naturalCompare compares strings with runs of digits compared as numbers,
// so that "spec.addresses[2]" sorts before "spec.addresses[10]".
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da > 0 && db > 0 {
			na, ea := strconv.ParseUint(a[:da], 10, 64)
			nb, eb := strconv.ParseUint(b[:db], 10, 64)
			if ea == nil && eb == nil && na != nb {
				return cmp.Compare(na, nb)
			}
			if c := strings.Compare(a[:da], b[:db]); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digitPrefix(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// errs collects errors during one Compile.
type errs struct{ list Errors }

func (c *errs) add(kind, name, field, format string, args ...any) {
	c.list = append(c.list, &Error{Kind: kind, Name: name, Field: field, Detail: fmt.Sprintf(format, args...)})
}

// obj is a shorthand for reporting errors about one object.
type obj struct {
	c          *errs
	kind, name string
}

func (o obj) errorf(field, format string, args ...any) {
	o.c.add(o.kind, o.name, field, format, args...)
}

// ref formats a reference to another object's field for error details:
// `IPAddressPool "web" spec.addresses[1]`.
func ref(kind, name, field string) string {
	return fmt.Sprintf("%s %q %s", kind, name, field)
}

// idx formats "field[i]".
func idx(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }
