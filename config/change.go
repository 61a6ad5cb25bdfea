package config

import "regexp"

// ValidateChange compiles before and after an admission change and returns
// the errors that the change introduces (errors present in after but not in
// before), sorted. An empty result means the change makes nothing worse, so
// the webhook can admit a fix for one problem while others remain.
//
// Errors are matched first exactly, then with list indices ignored, so that
// removing spec.addresses[0] does not make an old error on
// spec.addresses[2] (now [1]) look new. Errors may concern objects other
// than the one changed: deleting a pool that an L2Advertisement names
// yields an error on that L2Advertisement.
func ValidateChange(before Resources, after Resources) Errors {
	old := compileErrors(before)
	cur := compileErrors(after)
	if len(cur) == 0 {
		return nil
	}

	exact := map[Error]int{}
	for _, e := range old {
		exact[*e]++
	}
	var left Errors
	var unmatched []*Error
	for _, e := range cur {
		if exact[*e] > 0 {
			exact[*e]--
			continue
		}
		unmatched = append(unmatched, e)
	}
	loose := map[Error]int{}
	for e, n := range exact {
		loose[withoutIndices(e)] += n
	}
	for _, e := range unmatched {
		k := withoutIndices(*e)
		if loose[k] > 0 {
			loose[k]--
			continue
		}
		left = append(left, e)
	}
	return sortErrors(left)
}

func compileErrors(r Resources) Errors {
	_, es := Compile(r)
	return es
}

var listIndex = regexp.MustCompile(`\[[0-9]+\]`)

func withoutIndices(e Error) Error {
	e.Field = listIndex.ReplaceAllString(e.Field, "[]")
	e.Detail = listIndex.ReplaceAllString(e.Detail, "[]")
	return e
}
