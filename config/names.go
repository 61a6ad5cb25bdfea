package config

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// unique returns pointers to items sorted by name, one per name, and
// reports invalid and duplicate names. Among objects with the same name the
// one with the smallest JSON encoding is kept, so the result does not depend
// on input order. The returned pointers alias items: callers only read.
func unique[T any, P interface {
	*T
	named
}](c *errs, kind string, items []T) []P {
	all := make([]P, len(items))
	for i := range items {
		all[i] = P(&items[i])
	}
	slices.SortStableFunc(all, func(a, b P) int { return strings.Compare(a.GetName(), b.GetName()) })
	var out []P
	for i := 0; i < len(all); {
		name := all[i].GetName()
		j := i + 1
		for j < len(all) && all[j].GetName() == name {
			j++
		}
		group := all[i:j]
		if len(group) > 1 {
			c.add(kind, name, "metadata.name", "%d objects have this name; names must be unique", len(group))
			out = append(out, canonicalFirst(group))
		} else {
			out = append(out, group[0])
		}
		if name == "" {
			c.add(kind, name, "metadata.name", "is required")
		} else if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			c.add(kind, name, "metadata.name", "%q is not a valid name: %s", name, strings.Join(msgs, "; "))
		}
		i = j
	}
	return out
}

// canonicalFirst picks the object with the smallest JSON encoding.
func canonicalFirst[P any](group []P) P {
	best, bestJSON := group[0], mustJSON(group[0])
	for _, o := range group[1:] {
		if j := mustJSON(o); bytes.Compare(j, bestJSON) < 0 {
			best, bestJSON = o, j
		}
	}
	return best
}

// mustJSON encodes an API object; these types always encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(err.Error())
	}
	return b
}
