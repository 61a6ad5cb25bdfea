package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ironlb/ironlb/config"
)

// validateMain checks configuration files offline with the compiler the
// controller and the webhook use. Exit status: 0 valid, 1 invalid, 2 usage
// or unreadable files.
func validateMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files multiFlag
	fs.Var(&files, "f", "YAML or JSON file with ironlb.io objects (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	files = append(files, fs.Args()...)
	if len(files) == 0 {
		fmt.Fprintln(stderr, "validate: no files given (-f FILE)")
		return 2
	}
	res, err := config.LoadFiles(files...)
	if err != nil {
		fmt.Fprintln(stderr, "validate:", err)
		return 2
	}
	for _, ig := range res.Ignored {
		fmt.Fprintf(stdout, "skipped %s %s/%s (%s document %d): not an ironlb.io kind\n", ig.APIVersion, ig.Kind, ig.Name, ig.Source, ig.Document)
	}
	cfg, errs := config.Compile(res)
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stdout, e.Error())
		}
		fmt.Fprintf(stdout, "invalid: %d errors\n", len(errs))
		return 1
	}
	fmt.Fprintf(stdout, "valid: %d pools, %d L2 advertisements, %d BGP advertisements, %d BGP peers\n",
		len(cfg.PoolNames()), len(cfg.L2Advertisements()), len(cfg.BGPAdvertisements()), len(cfg.BGPPeers()))
	return 0
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
