// Command image builds IronLB's container images without a container
// engine (`make image`): one image per binary in bin/, FROM scratch, written
// as a docker-archive tarball bin/images/<name>.tar that `docker load`,
// `podman load` and `ctr image import` accept.
//
//	image -version $(git describe --always --dirty) [-bin bin] [-out bin/images]
//
// -only pause,testserver builds the test images of e2e/kcluster instead.
//
// Each image holds the static binary as its entrypoint, /etc/passwd and
// /etc/group with nonroot (65532), and the host's CA bundle, and is tagged
// <repo>/<name>:<version> and <repo>/<name>:<also-tag> (default latest, the
// tag the Helm chart deploys by default).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if err := run(os.Args[1:], os.Getenv("SOURCE_DATE_EPOCH"), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// config is the command line.
type config struct {
	binDir, outDir, caFile, alsoTag string
	only                            []string
	opts                            buildOptions
}

func parseArgs(args []string, sourceDateEpoch string) (config, error) {
	var c config
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.StringVar(&c.binDir, "bin", "bin", "directory holding the static binaries (make build)")
	fs.StringVar(&c.outDir, "out", "bin/images", "directory the <name>.tar archives are written to")
	fs.StringVar(&c.caFile, "ca-certs", caPath, "CA bundle copied into the images")
	fs.StringVar(&c.opts.repo, "repo", "ghcr.io/ironlb", "registry and path of the images (the chart's image.repository without the name)")
	fs.StringVar(&c.opts.version, "version", "", "image version: the tag and the org.opencontainers.image.version label (required)")
	fs.StringVar(&c.alsoTag, "also-tag", "latest", "a second tag; empty: none")
	fs.StringVar(&c.opts.source, "source", "https://github.com/ironlb/ironlb", "org.opencontainers.image.source label")
	only := fs.String("only", "", "comma-separated images to build instead of the default ones (also the test images pause, testserver)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if *only != "" {
		c.only = strings.Split(*only, ",")
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.opts.version == "" {
		return c, errors.New("flag -version is required")
	}
	// Timestamps come from SOURCE_DATE_EPOCH (reproducible-builds.org), else
	// the epoch: the same binaries always give the same image digests.
	c.opts.created = time.Unix(0, 0).UTC()
	if sourceDateEpoch != "" {
		sec, err := strconv.ParseInt(sourceDateEpoch, 10, 64)
		if err != nil {
			return c, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", sourceDateEpoch, err)
		}
		c.opts.created = time.Unix(sec, 0).UTC()
	}
	return c, nil
}

func run(args []string, sourceDateEpoch string, out io.Writer) error {
	c, err := parseArgs(args, sourceDateEpoch)
	if err != nil {
		return err
	}
	caCerts, err := os.ReadFile(c.caFile)
	if err != nil {
		return fmt.Errorf("CA bundle for the images (flag -ca-certs; Debian: apt-get install ca-certificates): %w", err)
	}
	if err := os.MkdirAll(c.outDir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	comps, err := selectComponents(c.only)
	if err != nil {
		return err
	}
	for _, comp := range comps {
		binary, err := os.ReadFile(filepath.Join(c.binDir, comp.name))
		if errors.Is(err, fs.ErrNotExist) && comp.optional {
			fmt.Fprintf(out, "image: %s: no %s, skipped\n", comp.name, filepath.Join(c.binDir, comp.name))
			continue
		}
		if err != nil {
			return fmt.Errorf("%s binary (run make build): %w", comp.name, err)
		}
		path := filepath.Join(c.outDir, comp.name+".tar")
		tags, err := writeImage(path, comp, binary, caCerts, c.opts, c.alsoTag)
		if err != nil {
			return err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "image: %s %v (%.1f MB)\n", path, tags, float64(fi.Size())/1e6)
	}
	return nil
}

// writeImage builds comp's image and writes it to path with its tags,
// through a temporary file so an interrupted run leaves no truncated
// archive.
func writeImage(path string, comp component, binary, caCerts []byte, o buildOptions, alsoTag string) ([]string, error) {
	img, err := buildImage(comp, binary, caCerts, o)
	if err != nil {
		return nil, err
	}
	refs := map[name.Reference]v1.Image{}
	var tags []string
	versions := []string{o.version}
	if alsoTag != "" && alsoTag != o.version {
		versions = append(versions, alsoTag)
	}
	for _, v := range versions {
		t, err := tagFor(o.repo, comp.name, v)
		if err != nil {
			return nil, err
		}
		refs[t] = img
		tags = append(tags, t.String())
	}
	tmp := path + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, refs); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return tags, nil
}
