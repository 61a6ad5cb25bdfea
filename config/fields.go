package config

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// compileSelectors compiles a list of label selectors, reporting each
// invalid one at field[i].
func compileSelectors(o obj, field string, in []metav1.LabelSelector) Selectors {
	if len(in) == 0 {
		return nil
	}
	out := make(Selectors, 0, len(in))
	for i := range in {
		s, err := metav1.LabelSelectorAsSelector(&in[i])
		if err != nil {
			o.errorf(idx(field, i), "invalid label selector: %v", err)
			continue
		}
		out = append(out, s)
	}
	return out
}

// checkSet reports duplicate entries of a list that must be a set, and
// returns the list sorted without duplicates.
func checkSet(o obj, field string, items []string) []string {
	first := make(map[string]int, len(items))
	for i, s := range items {
		if j, dup := first[s]; dup {
			o.errorf(idx(field, i), "%q is listed twice (also at %s)", s, idx(field, j))
			continue
		}
		first[s] = i
	}
	out := slices.Clone(items)
	slices.Sort(out)
	return slices.Compact(out)
}

// maxItems reports a list longer than its CRD MaxItems.
func maxItems(o obj, field string, n, limit int) {
	if n > limit {
		o.errorf(field, "has %d items, at most %d are allowed", n, limit)
	}
}

// maxLength reports a string longer than its CRD MaxLength.
func maxLength(o obj, field, s string, limit int) bool {
	if len(s) > limit {
		o.errorf(field, "is %d characters long, at most %d are allowed", len(s), limit)
		return false
	}
	return true
}
