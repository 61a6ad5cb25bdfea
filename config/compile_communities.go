package config

import (
	"github.com/ironlb/ironlb/config/v1beta1"
)

// CRD limits of Community.
const (
	maxCommunityAliases     = 256
	maxAliasNameLength      = 63
	maxCommunityValueLength = 128
)

// aliasDef is one alias definition, for duplicate reports.
type aliasDef struct {
	object string
	index  int
	value  community
	valid  bool
}

func (d aliasDef) describe() string {
	return ref(KindCommunity, d.object, idx("spec.communities", d.index)+".name")
}

// compileCommunities returns every alias by name. Alias names must be
// unique across all Community objects, and may not contain ':' so that an
// advertisement's "65000:100" is always a literal and never an alias.
// Invalid aliases are present with valid=false, so that references to them
// are not reported a second time as unknown.
func (c *compiler) compileCommunities(in []*v1beta1.Community) map[string]aliasDef {
	defs := map[string][]aliasDef{}
	for _, cm := range in {
		o := obj{&c.errs, KindCommunity, cm.Name}
		maxItems(o, "spec.communities", len(cm.Spec.Communities), maxCommunityAliases)
		for i, a := range cm.Spec.Communities {
			f := idx("spec.communities", i)
			d := aliasDef{object: cm.Name, index: i, valid: true}
			nameOK := false
			switch {
			case a.Name == "":
				o.errorf(f+".name", "is required")
			case isCommunityLiteral(a.Name):
				o.errorf(f+".name", "%q contains ':'; alias names cannot look like community values", a.Name)
			default:
				nameOK = maxLength(o, f+".name", a.Name, maxAliasNameLength)
			}
			if a.Value == "" {
				o.errorf(f+".value", "is required")
				d.valid = false
			} else if maxLength(o, f+".value", a.Value, maxCommunityValueLength) {
				v, err := parseCommunity(a.Value)
				if err != nil {
					o.errorf(f+".value", "%q is not a valid community: %v", a.Value, err)
					d.valid = false
				}
				d.value = v
			} else {
				d.valid = false
			}
			if nameOK {
				defs[a.Name] = append(defs[a.Name], d)
			}
		}
	}
	out := make(map[string]aliasDef, len(defs))
	for name, ds := range defs {
		if len(ds) > 1 {
			// Report every definition, each naming another one, so the
			// status of every Community involved shows the conflict.
			for i, d := range ds {
				other := ds[0]
				if i == 0 {
					other = ds[1]
				}
				c.add(KindCommunity, d.object, idx("spec.communities", d.index)+".name",
					"alias %q is also defined at %s", name, other.describe())
			}
			out[name] = aliasDef{valid: false}
			continue
		}
		out[name] = ds[0]
	}
	return out
}
