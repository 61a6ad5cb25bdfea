package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ironlb/ironlb/controller/allocation"
)

// flags are the options of every command (each command reads its own).
type flags struct {
	kubeconfig, context string
	output              string
	lbClass             string
	ignoreClassless     bool
	files               []string
	offline, preview    bool
	timeout             time.Duration
	undo                bool
	apply               bool
	clientAddr          string
	namespace           string
	args                []string // positional arguments
}

type multi struct{ to *[]string }

func (m multi) String() string {
	if m.to == nil {
		return ""
	}
	return strings.Join(*m.to, ",")
}
func (m multi) Set(v string) error { *m.to = append(*m.to, v); return nil }

// parseFlags accepts flags before and after positional arguments, as
// kubectl does, so `why ns/name -o json` works.
func parseFlags(cmd string, args []string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, "see: ironlbctl help\n") }
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file")
	fs.StringVar(&f.context, "context", "", "kubeconfig context")
	fs.StringVar(&f.output, "o", "text", "output: text or json")
	fs.StringVar(&f.output, "output", "text", "output: text or json")
	fs.StringVar(&f.lbClass, "lb-class", allocation.DefaultLoadBalancerClass, "loadBalancerClass the controller handles")
	fs.BoolVar(&f.ignoreClassless, "ignore-classless", false, "the controller ignores Services without a class")
	fs.Var(multi{&f.files}, "f", "configuration file or directory (repeatable)")
	fs.Var(multi{&f.files}, "filename", "configuration file or directory (repeatable)")
	fs.BoolVar(&f.offline, "offline", false, "validate: do not contact the cluster")
	fs.BoolVar(&f.preview, "preview", false, "validate: require the cluster preview")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "drain: how long to wait")
	fs.BoolVar(&f.undo, "undo", false, "drain: remove the drain label")
	fs.StringVar(&f.namespace, "namespace", "ironlb-system", "namespace of IronLB (the speakers' presence Lease)")
	fs.BoolVar(&f.apply, "apply", false, "migrate: apply the converted objects")
	fs.StringVar(&f.clientAddr, "client", "", "why: a client IP address to check against the Service's source ranges")
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		f.args = append(f.args, args[0])
		args = args[1:]
	}
	if f.output != "text" && f.output != "json" {
		return nil, fmt.Errorf("-o %q: want text or json", f.output)
	}
	if f.offline && f.preview {
		return nil, fmt.Errorf("--offline and --preview exclude each other")
	}
	return f, nil
}
