package badinput

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Layer is what is expected to reject a case.
type Layer string

const (
	// LayerAPIServer: the CRD schema, a CEL rule or an API server limit,
	// before any webhook.
	LayerAPIServer Layer = "apiserver"
	// LayerWebhook: IronLB's compiler, through the webhook when installed,
	// else through the object's Valid=False status condition.
	LayerWebhook Layer = "webhook"
	// LayerController: no admission check exists (Service annotations);
	// an event on the object names the field.
	LayerController Layer = "controller"
)

// Case is one bad input.
type Case struct {
	Name  string // "# case:", unique across the corpus
	Field string // "# field:", the field path the rejection names
	Layer Layer  // "# layer:"
	Event string // "# event:", the event reason, for LayerController
	File  string // base name of the file it is in
	// Doc is the YAML document, with {{VARIABLES}} not yet replaced.
	Doc string
}

// Object decodes the document after replacing each {{KEY}} by vars[KEY].
func (c Case) Object(vars map[string]string) (*unstructured.Unstructured, error) {
	doc := c.Doc
	for k, v := range vars {
		doc = strings.ReplaceAll(doc, "{{"+k+"}}", v)
	}
	if i := strings.Index(doc, "{{"); i >= 0 {
		return nil, fmt.Errorf("case %s: unreplaced variable at %q", c.Name, doc[i:min(len(doc), i+20)])
	}
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		return nil, fmt.Errorf("case %s: %w", c.Name, err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// Load reads every *.yaml file of dir: documents separated by "---" lines,
// each with "# key: value" header comments.
func Load(dir string) ([]Case, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var out []Case
	seen := map[string]string{}
	for _, f := range files {
		cases, err := loadFile(f)
		if err != nil {
			return nil, err
		}
		for _, c := range cases {
			if prev, dup := seen[c.Name]; dup {
				return nil, fmt.Errorf("%s: case %s is also in %s", c.File, c.Name, prev)
			}
			seen[c.Name] = c.File
		}
		out = append(out, cases...)
	}
	return out, nil
}

func loadFile(path string) ([]Case, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Case
	for i, doc := range splitDocuments(string(b)) {
		c, err := parseHeader(doc)
		if err != nil {
			return nil, fmt.Errorf("%s document %d: %w", path, i+1, err)
		}
		c.File = filepath.Base(path)
		out = append(out, c)
	}
	return out, nil
}

func splitDocuments(s string) []string {
	var docs []string
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20) // the oversized cases have long lines
	for sc.Scan() {
		if strings.TrimRight(sc.Text(), " ") == "---" {
			docs = append(docs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(sc.Text())
		cur.WriteByte('\n')
	}
	return append(docs, cur.String())
}

func parseHeader(doc string) (Case, error) {
	c := Case{Doc: doc}
	for _, line := range strings.Split(doc, "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "#"), ":")
		if !strings.HasPrefix(line, "# ") || !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "case":
			c.Name = v
		case "field":
			c.Field = v
		case "layer":
			c.Layer = Layer(v)
		case "event":
			c.Event = v
		}
	}
	switch {
	case c.Name == "":
		return c, fmt.Errorf("no '# case:' header")
	case c.Field == "":
		return c, fmt.Errorf("case %s: no '# field:' header", c.Name)
	case c.Layer != LayerAPIServer && c.Layer != LayerWebhook && c.Layer != LayerController:
		return c, fmt.Errorf("case %s: layer %q is none of apiserver, webhook, controller", c.Name, c.Layer)
	case c.Layer == LayerController && c.Event == "":
		return c, fmt.Errorf("case %s: a controller case needs '# event:'", c.Name)
	}
	return c, nil
}

// Documents reads a multi-document YAML file (the valid configuration) and
// decodes each document after replacing {{KEY}} by vars[KEY].
func Documents(path string, vars map[string]string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for i, doc := range splitDocuments(string(b)) {
		o, err := Case{Name: fmt.Sprintf("%s document %d", path, i+1), Doc: doc}.Object(vars)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}
