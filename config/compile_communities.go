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
	name   string
	value  community
}

func (d aliasDef) describe() string {
	return ref(KindCommunity, d.object, idx("spec.communities", d.index)+".name")
}

// compileCommunities admits the aliases of every Community in force into
// c.aliases. Alias names must be unique across all Community objects, and
// may not contain ':' so that an advertisement's "65000:100" is always a
// literal and never an alias. An alias defined by two objects belongs to the
// one sorted first by conflictOrder; the other object is invalid.
func (c *compiler) compileCommunities(in []*v1beta1.Community) {
	c.aliases = map[string]aliasDef{}
	objs := make([]versioned[v1beta1.CommunitySpec], len(in))
	for i, cm := range in {
		objs[i] = newVersioned(&cm.ObjectMeta, &cm.Spec, cm.Status.LastValidSpec)
	}
	conflictOrder(objs)
	for _, v := range objs {
		defs, ok := choose(c, KindCommunity, v, func(s *v1beta1.CommunitySpec, a *attempt[[]aliasDef]) {
			a.value = c.compileCommunity(obj{&a.own, KindCommunity, v.meta.Name}, s)
		})
		if !ok {
			continue
		}
		for _, d := range defs {
			c.aliases[d.name] = d
		}
	}
}

// compileCommunity checks one Community spec and returns its aliases; an
// alias already defined by a Community in force is a conflict.
func (c *compiler) compileCommunity(o obj, s *v1beta1.CommunitySpec) []aliasDef {
	maxItems(o, "spec.communities", len(s.Communities), maxCommunityAliases)
	var out []aliasDef
	seen := map[string]int{}
	for i, a := range s.Communities {
		f := idx("spec.communities", i)
		d := aliasDef{object: o.name, index: i, name: a.Name}
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
		} else if maxLength(o, f+".value", a.Value, maxCommunityValueLength) {
			v, err := parseCommunity(a.Value)
			if err != nil {
				o.errorf(f+".value", "%q is not a valid community: %v", a.Value, err)
			}
			d.value = v
		}
		if !nameOK {
			continue
		}
		if j, dup := seen[a.Name]; dup {
			o.errorf(f+".name", "alias %q is also defined at %s", a.Name, idx("spec.communities", j)+".name")
			continue
		}
		seen[a.Name] = i
		if other, taken := c.aliases[a.Name]; taken {
			o.errorf(f+".name", "alias %q is also defined at %s", a.Name, other.describe())
			continue
		}
		out = append(out, d)
	}
	return out
}
