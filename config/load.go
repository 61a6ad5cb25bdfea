package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/config/v1beta1"
)

// LoadFiles reads every file with Load and merges the results. Errors of all
// files are returned together.
func LoadFiles(paths ...string) (Resources, error) {
	var out Resources
	var errs []error
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading configuration: %w", err))
			continue
		}
		r, err := Load(bytes.NewReader(data), p)
		if err != nil {
			errs = append(errs, err)
		}
		out = merge(out, r)
	}
	return out, errors.Join(errs...)
}

// Load reads Kubernetes objects for offline validation (`validate -f`):
// multi-document YAML separated by "---", or JSON (one object, or several
// objects one after the other). source names the input in errors.
//
//   - ironlb.io/v1beta1 objects are decoded strictly: unknown fields,
//     duplicate fields and wrong case are errors naming the source and the
//     1-based document number (empty documents are skipped and not counted).
//   - Lists (v1 List and the typed lists such as IPAddressPoolList) are
//     expanded; errors in an item name it as "document N items[i]".
//   - Objects of other groups (v1 Service, ...) are not errors: they are
//     returned in Resources.Ignored so the caller can mention them.
//   - Other ironlb.io versions and kinds are errors.
//
// Load reports every error it can; on error the returned Resources still hold
// the objects that did decode. Load does not validate the objects' content:
// that is Compile's job.
func Load(r io.Reader, source string) (Resources, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Resources{}, fmt.Errorf("%s: reading: %w", source, err)
	}
	docs, err := SplitDocuments(data)
	if err != nil {
		return Resources{}, fmt.Errorf("%s: %w", source, err)
	}
	l := loader{source: source}
	for i, doc := range docs {
		l.doc = i + 1
		l.object(doc, fmt.Sprintf("%s: document %d", source, i+1), 0)
	}
	return l.out, errors.Join(l.errs...)
}

// SplitDocuments returns each non-empty document of multi-document YAML
// (separated by "---") or of concatenated JSON objects, as JSON.
func SplitDocuments(data []byte) ([][]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var out [][]byte
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		for i := 1; ; i++ {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err == io.EOF {
				return out, nil
			} else if err != nil {
				return nil, fmt.Errorf("document %d: invalid JSON: %w", i, err)
			}
			out = append(out, raw)
		}
	}
	var out [][]byte
	rd := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		chunk, err := rd.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("after document %d: %w", len(out), err)
		}
		j, err := yaml.YAMLToJSONStrict(chunk)
		if err != nil {
			return nil, fmt.Errorf("document %d: invalid YAML: %w", len(out)+1, err)
		}
		if s := string(bytes.TrimSpace(j)); s == "null" || s == "" {
			continue // only comments or white space
		}
		out = append(out, j)
	}
}

type loader struct {
	source string
	doc    int
	out    Resources
	errs   []error
}

// header is what every Kubernetes object starts with.
type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

// genericList is a v1 List.
type genericList struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   json.RawMessage   `json:"metadata,omitempty"`
	Items      []json.RawMessage `json:"items"`
}

// maxListDepth bounds List nesting (a List item may itself be a List).
const maxListDepth = 4

func (l *loader) fail(where string, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
}

func (l *loader) object(doc []byte, where string, depth int) {
	var h header
	if err := json.Unmarshal(doc, &h); err != nil {
		l.fail(where, "not a Kubernetes object: %v", err)
		return
	}
	if h.APIVersion == "" || h.Kind == "" {
		l.fail(where, "apiVersion and kind are required")
		return
	}
	if h.Metadata.Name != "" {
		where += fmt.Sprintf(" (%s %q)", h.Kind, h.Metadata.Name)
	}
	gv, err := schema.ParseGroupVersion(h.APIVersion)
	if err != nil {
		l.fail(where, "invalid apiVersion %q: %v", h.APIVersion, err)
		return
	}
	if gv.Group == "" && gv.Version == "v1" && h.Kind == "List" {
		if depth >= maxListDepth {
			l.fail(where, "Lists nested more than %d deep", maxListDepth)
			return
		}
		var list genericList
		if !l.strict(doc, &list, where) {
			return
		}
		for i, item := range list.Items {
			l.object(item, fmt.Sprintf("%s items[%d]", where, i), depth+1)
		}
		return
	}
	if gv.Group != v1beta1.GroupVersion.Group {
		l.out.Ignored = append(l.out.Ignored, IgnoredObject{
			Source: l.source, Document: l.doc, APIVersion: h.APIVersion, Kind: h.Kind, Name: h.Metadata.Name,
		})
		return
	}
	if gv.Version != v1beta1.GroupVersion.Version {
		l.fail(where, "unsupported version %q; this IronLB reads %s", h.APIVersion, v1beta1.GroupVersion)
		return
	}
	l.ironlb(doc, h.Kind, where)
}

// ironlb decodes one ironlb.io/v1beta1 object or typed list.
func (l *loader) ironlb(doc []byte, kind, where string) {
	switch kind {
	case KindIPAddressPool:
		decodeInto(l, doc, where, &l.out.Pools)
	case KindL2Advertisement:
		decodeInto(l, doc, where, &l.out.L2Advertisements)
	case KindBGPAdvertisement:
		decodeInto(l, doc, where, &l.out.BGPAdvertisements)
	case KindBGPPeer:
		decodeInto(l, doc, where, &l.out.BGPPeers)
	case KindBFDProfile:
		decodeInto(l, doc, where, &l.out.BFDProfiles)
	case KindCommunity:
		decodeInto(l, doc, where, &l.out.Communities)
	case KindIPAddressPool + "List":
		decodeList(l, doc, where, &l.out.Pools, func(x *v1beta1.IPAddressPoolList) []v1beta1.IPAddressPool { return x.Items })
	case KindL2Advertisement + "List":
		decodeList(l, doc, where, &l.out.L2Advertisements, func(x *v1beta1.L2AdvertisementList) []v1beta1.L2Advertisement { return x.Items })
	case KindBGPAdvertisement + "List":
		decodeList(l, doc, where, &l.out.BGPAdvertisements, func(x *v1beta1.BGPAdvertisementList) []v1beta1.BGPAdvertisement { return x.Items })
	case KindBGPPeer + "List":
		decodeList(l, doc, where, &l.out.BGPPeers, func(x *v1beta1.BGPPeerList) []v1beta1.BGPPeer { return x.Items })
	case KindBFDProfile + "List":
		decodeList(l, doc, where, &l.out.BFDProfiles, func(x *v1beta1.BFDProfileList) []v1beta1.BFDProfile { return x.Items })
	case KindCommunity + "List":
		decodeList(l, doc, where, &l.out.Communities, func(x *v1beta1.CommunityList) []v1beta1.Community { return x.Items })
	default:
		l.fail(where, "unknown kind %q in %s", kind, v1beta1.GroupVersion)
	}
}

func decodeInto[T any](l *loader, doc []byte, where string, dst *[]T) {
	var v T
	if l.strict(doc, &v, where) {
		*dst = append(*dst, v)
	}
}

func decodeList[L, T any](l *loader, doc []byte, where string, dst *[]T, items func(*L) []T) {
	var v L
	if l.strict(doc, &v, where) {
		*dst = append(*dst, items(&v)...)
	}
}

// strict decodes doc into v rejecting unknown and duplicate fields and
// case-insensitive matches, as the API server does for strict field
// validation.
func (l *loader) strict(doc []byte, v any, where string) bool {
	strictErrs, err := kjson.UnmarshalStrict(doc, v)
	if err != nil {
		l.fail(where, "%v", err)
		return false
	}
	if len(strictErrs) > 0 {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		l.fail(where, "%s", strings.Join(msgs, "; "))
		return false
	}
	return true
}

// merge appends b's objects to a's.
func merge(a, b Resources) Resources {
	a.Pools = append(a.Pools, b.Pools...)
	a.L2Advertisements = append(a.L2Advertisements, b.L2Advertisements...)
	a.BGPAdvertisements = append(a.BGPAdvertisements, b.BGPAdvertisements...)
	a.BGPPeers = append(a.BGPPeers, b.BGPPeers...)
	a.BFDProfiles = append(a.BFDProfiles, b.BFDProfiles...)
	a.Communities = append(a.Communities, b.Communities...)
	a.Ignored = append(a.Ignored, b.Ignored...)
	return a
}
