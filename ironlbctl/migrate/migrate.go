// Package migrate converts MetalLB configuration objects (metallb.io
// v1beta1 and v1beta2) into IronLB's (ironlb.io/v1beta1), for `ironlbctl
// migrate`.
//
// Convert is a pure function: documents in, IronLB objects and notes out.
// Every MetalLB field that has no IronLB equivalent, or whose meaning
// differs, gives a Note naming the field and why; every input object that
// gives no IronLB object is listed in Skipped with the reason. Names are
// kept, so the references between objects (pools, peers, BFD profiles,
// community aliases) still resolve; namespaces are dropped, IronLB's kinds
// being cluster-scoped.
package migrate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
)

// Doc is one input document: the JSON of one Kubernetes object (or List)
// and where it came from ("metallb.yaml document 3"), for messages.
type Doc struct {
	Where string
	JSON  []byte
}

// Note is a MetalLB field (or, with Field empty, the whole object) that was
// not carried over as it was, and why.
type Note struct {
	Field   string
	Message string
}

// Object is one IronLB object and the notes on the MetalLB object it came
// from.
type Object struct {
	// From names the MetalLB object: "metallb.io/v1beta2 BGPPeer
	// metallb-system/example (metallb.yaml document 3)".
	From string
	// Obj is a *v1beta1.IPAddressPool, L2Advertisement, BGPAdvertisement,
	// BGPPeer, BFDProfile or Community, with TypeMeta set.
	Obj   runtime.Object
	Kind  string
	Name  string
	Notes []Note
}

// Skipped is an input object that gives no IronLB object.
type Skipped struct {
	From string
	Why  string
	// Error marks an input that needs fixing (undecodable, or a name
	// clash), as opposed to one with no equivalent by design (a status
	// object, an object of another API group).
	Error bool
}

// Result is the outcome of Convert. Objects are in the order to apply
// them: Community, BFDProfile, IPAddressPool, BGPPeer, L2Advertisement,
// BGPAdvertisement (referred-to kinds first), each kind in input order.
type Result struct {
	Objects []Object
	Skipped []Skipped
}

// Errors reports whether any input needs fixing.
func (r Result) Errors() bool {
	return slices.ContainsFunc(r.Skipped, func(s Skipped) bool { return s.Error })
}

// Resources returns the converted objects for config.Compile.
func (r Result) Resources() config.Resources {
	var out config.Resources
	for _, o := range r.Objects {
		switch x := o.Obj.(type) {
		case *v1beta1.IPAddressPool:
			out.Pools = append(out.Pools, *x)
		case *v1beta1.L2Advertisement:
			out.L2Advertisements = append(out.L2Advertisements, *x)
		case *v1beta1.BGPAdvertisement:
			out.BGPAdvertisements = append(out.BGPAdvertisements, *x)
		case *v1beta1.BGPPeer:
			out.BGPPeers = append(out.BGPPeers, *x)
		case *v1beta1.BFDProfile:
			out.BFDProfiles = append(out.BFDProfiles, *x)
		case *v1beta1.Community:
			out.Communities = append(out.Communities, *x)
		}
	}
	return out
}

// applyOrder is the order of kinds in Result.Objects.
var applyOrder = []string{
	config.KindCommunity, config.KindBFDProfile, config.KindIPAddressPool,
	config.KindBGPPeer, config.KindL2Advertisement, config.KindBGPAdvertisement,
}

// Convert converts every MetalLB object of docs (v1 Lists are expanded).
func Convert(docs []Doc) Result {
	c := &converter{seen: map[string]string{}}
	for _, d := range docs {
		c.doc(d.JSON, d.Where, 0)
	}
	fixPriorities(c.res.Objects)
	slices.SortStableFunc(c.res.Objects, func(a, b Object) int {
		return slices.Index(applyOrder, a.Kind) - slices.Index(applyOrder, b.Kind)
	})
	return c.res
}

type converter struct {
	res  Result
	seen map[string]string // kind/name -> the namespace it was converted from
}

// header is what every Kubernetes object starts with.
type header struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	// Items and Data are read only for Lists and ConfigMaps: other
	// objects may hold anything under these names.
	Items json.RawMessage `json:"items"`
	Data  json.RawMessage `json:"data"`
}

// maxListDepth bounds List nesting.
const maxListDepth = 4

func (c *converter) skip(from, why string, isErr bool) {
	c.res.Skipped = append(c.res.Skipped, Skipped{From: from, Why: why, Error: isErr})
}

func (c *converter) doc(raw []byte, where string, depth int) {
	var h header
	if err := json.Unmarshal(raw, &h); err != nil {
		c.skip(where, fmt.Sprintf("not a Kubernetes object: %v", err), true)
		return
	}
	from := fmt.Sprintf("%s %s %s (%s)", h.APIVersion, h.Kind, namespaced(h.Metadata), where)
	gv, err := schema.ParseGroupVersion(h.APIVersion)
	switch {
	case err != nil || h.Kind == "":
		c.skip(from, "apiVersion and kind are required", true)
		return
	case strings.HasSuffix(h.Kind, "List") && h.Items != nil:
		var items []json.RawMessage
		if err := json.Unmarshal(h.Items, &items); err != nil {
			c.skip(from, fmt.Sprintf("items: %v", err), true)
			return
		}
		if depth >= maxListDepth {
			c.skip(from, fmt.Sprintf("Lists nested more than %d deep", maxListDepth), true)
			return
		}
		for i, item := range items {
			c.doc(item, fmt.Sprintf("%s items[%d]", where, i), depth+1)
		}
		return
	case gv.Group != metallbGroup:
		var data map[string]any
		if h.Kind == "ConfigMap" && json.Unmarshal(h.Data, &data) == nil && data["config"] != nil {
			c.skip(from, "MetalLB's ConfigMap configuration (before 0.13) is not read: convert it to MetalLB's custom resources with MetalLB's configmaptocrs first, then convert those", true)
			return
		}
		c.skip(from, "not a MetalLB object; left out", false)
		return
	}
	if why, ok := noEquivalent[h.Kind]; ok {
		c.skip(from, why, false)
		return
	}
	convert, ok := converters[gv.Version+"/"+h.Kind]
	if !ok {
		c.skip(from, fmt.Sprintf("%s %s is not a kind or version this converter reads (metallb.io/v1beta1 IPAddressPool, L2Advertisement, BGPAdvertisement, BFDProfile, Community, BGPPeer; metallb.io/v1beta2 BGPPeer)", h.APIVersion, h.Kind), true)
		return
	}
	obj, notes, err := convert(raw)
	if err != nil {
		c.skip(from, err.Error(), true)
		return
	}
	m := obj.(metav1.Object)
	key := h.Kind + "/" + m.GetName()
	if ns, dup := c.seen[key]; dup {
		c.skip(from, fmt.Sprintf("a %s named %q was already converted from namespace %q: IronLB's objects are cluster-scoped, so names must be unique across namespaces; rename one", h.Kind, m.GetName(), ns), true)
		return
	}
	c.seen[key] = h.Metadata.Namespace
	c.res.Objects = append(c.res.Objects, Object{From: from, Obj: obj, Kind: h.Kind, Name: m.GetName(), Notes: notes})
}

func namespaced(m metav1.ObjectMeta) string {
	if m.Namespace == "" {
		return m.Name
	}
	return m.Namespace + "/" + m.Name
}

// decodeStrict decodes raw into v; each field v does not declare becomes a
// note (MetalLB may have grown fields after this converter was written).
func decodeStrict(raw []byte, v any) ([]Note, error) {
	strictErrs, err := kjson.UnmarshalStrict(raw, v)
	if err != nil {
		return nil, fmt.Errorf("does not decode: %w", err)
	}
	var notes []Note
	for _, e := range strictErrs {
		msg := e.Error()
		if f, ok := strings.CutPrefix(msg, `unknown field "`); ok {
			notes = append(notes, Note{Field: strings.TrimSuffix(f, `"`), Message: "unknown to this converter (not in MetalLB's API as documented for v0.15); not converted"})
			continue
		}
		return nil, fmt.Errorf("does not decode: %s", msg)
	}
	return notes, nil
}

// meta is the IronLB metadata of a MetalLB object: its name, labels (pool
// selectors match them) and annotations, without the namespace, what the
// API server wrote, and the annotations that describe how the MetalLB
// object was deployed (kubectl's last applied configuration, Helm's
// release), which would claim the new object for that deployment.
func meta(m metav1.ObjectMeta) metav1.ObjectMeta {
	out := metav1.ObjectMeta{Name: m.Name, Labels: m.Labels}
	for k, v := range m.Annotations {
		if k == "kubectl.kubernetes.io/last-applied-configuration" || strings.HasPrefix(k, "meta.helm.sh/") {
			continue
		}
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		out.Annotations[k] = v
	}
	return out
}

func typeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: v1beta1.GroupVersion.String(), Kind: kind}
}
