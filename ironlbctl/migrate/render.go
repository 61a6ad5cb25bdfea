package migrate

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// Unstructured is the object as it is printed and applied: no status, no
// empty creationTimestamp.
func (o Object) Unstructured() (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o.Obj)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// Render writes the converted objects as multi-document YAML. Each object
// is preceded by comments naming the MetalLB object it came from and, one
// per note, each field that has no equivalent or changed meaning, and why.
// Skipped inputs become comment-only documents saying why.
func Render(w io.Writer, r Result) error {
	var b strings.Builder
	for i, o := range r.Objects {
		if i > 0 {
			b.WriteString("---\n")
		}
		comment(&b, "from "+o.From)
		for _, n := range o.Notes {
			comment(&b, n.String())
		}
		u, err := o.Unstructured()
		if err != nil {
			return err
		}
		y, err := yaml.Marshal(u.Object)
		if err != nil {
			return fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
		}
		b.Write(y)
	}
	for _, s := range r.Skipped {
		if b.Len() > 0 {
			b.WriteString("---\n")
		}
		label := "not converted"
		if s.Error {
			label = "error"
		}
		comment(&b, fmt.Sprintf("%s: %s: %s", label, s.From, s.Why))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// String is the note as printed: "spec.vrf: no equivalent: ...".
func (n Note) String() string {
	if n.Field == "" {
		return n.Message
	}
	return n.Field + ": " + n.Message
}

// comment writes s as YAML comment lines; user text cannot end the comment,
// and control characters (which YAML refuses even in a comment) are written
// escaped.
func comment(b *strings.Builder, s string) {
	for _, line := range strings.Split(s, "\n") {
		b.WriteString("# ")
		for _, r := range strings.TrimRight(line, " \t\r") {
			if r != '\t' && (unicode.IsControl(r) || r == utf8.RuneError || r == '\ufeff') {
				fmt.Fprintf(b, "\\u%04x", r)
				continue
			}
			b.WriteRune(r)
		}
		b.WriteString("\n")
	}
}
