package main

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// component is one image: a binary of bin/ and the user it runs as.
type component struct {
	name        string
	description string
	uid         int
	// optional components are skipped when their binary is missing.
	optional bool
}

// components are the images `make image` builds. The speaker runs as root:
// it needs NET_RAW and NET_ADMIN (ARP/NDP, addresses, IPVS, nftables), which
// the DaemonSet grants as capabilities of uid 0 while dropping all others
// (manifests/helm/ironlb/templates/speaker.yaml). The controller only talks
// to the API server and runs as nonroot, as its Deployment requires
// (runAsNonRoot, runAsUser 65532).
func components() []component {
	return []component{
		{name: "controller", description: "IronLB controller: allocates LoadBalancer addresses", uid: nonrootUID},
		{name: "speaker", description: "IronLB speaker: announces addresses and carries their traffic on each node", uid: rootUID},
		{name: "ironlbctl", description: "IronLB command-line client", uid: nonrootUID, optional: true},
	}
}

// testComponents are images that only tests build, with -only: a
// registry-less cluster (e2e/kcluster) needs its sandbox image and a test
// server built the same way as IronLB's own.
func testComponents() []component {
	return []component{
		{name: "pause", description: "pod sandbox holder for e2e/kcluster", uid: nonrootUID},
		{name: "testserver", description: "HTTP test server for e2e/kcluster: answers with its pod name and the client's address", uid: nonrootUID},
	}
}

// selectComponents is every default component for an empty list, else the
// named ones of components and testComponents, in the order given; an
// unknown name is an error naming it.
func selectComponents(only []string) ([]component, error) {
	if len(only) == 0 {
		return components(), nil
	}
	known := map[string]component{}
	for _, c := range append(components(), testComponents()...) {
		known[c.name] = c
	}
	var out []component
	for _, n := range only {
		c, ok := known[n]
		if !ok {
			return nil, fmt.Errorf("flag -only: unknown image %q", n)
		}
		c.optional = false
		out = append(out, c)
	}
	return out, nil
}

// buildOptions are the inputs shared by every image.
type buildOptions struct {
	repo    string // registry and path, e.g. ghcr.io/ironlb
	version string // image tag and org.opencontainers.image.version
	source  string // org.opencontainers.image.source
	created time.Time
}

// goArch maps an ELF machine to the image's architecture.
func goArch(m elf.Machine) (string, bool) {
	switch m {
	case elf.EM_X86_64:
		return "amd64", true
	case elf.EM_AARCH64:
		return "arm64", true
	case elf.EM_386:
		return "386", true
	case elf.EM_ARM:
		return "arm", true
	case elf.EM_PPC64:
		return "ppc64le", true
	case elf.EM_S390:
		return "s390x", true
	case elf.EM_RISCV:
		return "riscv64", true
	}
	return "", false
}

// staticArch checks that binary is a statically linked Linux executable (an
// image FROM scratch has no dynamic loader or libc) and returns its
// architecture, so the image's platform is the binary's, not the builder's.
func staticArch(binary []byte) (string, error) {
	f, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		return "", fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", errors.New("dynamically linked (has a program interpreter): build it with CGO_ENABLED=0 (make build)")
		}
	}
	arch, ok := goArch(f.Machine)
	if !ok {
		return "", fmt.Errorf("unsupported ELF machine %v", f.Machine)
	}
	return arch, nil
}

// tagFor is repo/name:version, with characters a tag cannot hold (such as
// "+" from some version schemes) replaced by "-".
func tagFor(repo, component, version string) (name.Tag, error) {
	v := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, version)
	if v == "" || v[0] == '.' || v[0] == '-' {
		v = "v" + v
	}
	if len(v) > 128 {
		v = v[:128]
	}
	t, err := name.NewTag(repo+"/"+component+":"+v, name.StrictValidation)
	if err != nil {
		return name.Tag{}, fmt.Errorf("image reference for %s: %w", component, err)
	}
	return t, nil
}

// labels are the OCI annotations of the image configuration.
func labels(c component, o buildOptions) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       c.name,
		"org.opencontainers.image.description": c.description,
		"org.opencontainers.image.source":      o.source,
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.created":     o.created.UTC().Format(time.RFC3339),
	}
}

// buildImage makes c's image FROM scratch: one layer with the binary, the
// users and the CA bundle.
func buildImage(c component, binary, caCerts []byte, o buildOptions) (v1.Image, error) {
	arch, err := staticArch(binary)
	if err != nil {
		return nil, fmt.Errorf("%s binary: %w", c.name, err)
	}
	layerTar, err := tarLayer(rootfs(binPath(c.name), binary, caCerts), o.created)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	layer, err := tarball.LayerFromOpener(
		func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil },
		tarball.WithCompressionLevel(gzip.BestCompression),
		// Digest, size and the archive writer each read the compressed
		// layer; compress once.
		tarball.WithCompressedCaching,
	)
	if err != nil {
		return nil, fmt.Errorf("%s layer: %w", c.name, err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("%s config: %w", c.name, err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS = "linux"
	cfg.Architecture = arch
	cfg.Created = v1.Time{Time: o.created}
	for i := range cfg.History {
		cfg.History[i].Created = cfg.Created
		cfg.History[i].CreatedBy = "hack/image (make image)"
	}
	user := strconv.Itoa(c.uid)
	cfg.Config = v1.Config{
		Entrypoint: []string{binPath(c.name)},
		User:       user + ":" + user,
		WorkingDir: "/",
		Env: []string{
			"PATH=/usr/local/bin",
			"SSL_CERT_FILE=" + caPath,
		},
		Labels: labels(c, o),
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s config: %w", c.name, err)
	}
	return img, nil
}
