package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"path"
	"time"
)

// Users of the image. 65532 is the customary "nonroot" of distroless
// images, so PodSecurity runAsUser settings written for those fit here too.
const (
	nonrootUID = 65532
	rootUID    = 0
)

// passwd and group name both users: without them a process running as
// 65532 has no name or home, which some libraries (os/user) report as errors.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group = "root:x:0:\n" +
		"nonroot:x:65532:\n"
)

// caPath is where Go's crypto/x509 looks first on Linux.
const caPath = "/etc/ssl/certs/ca-certificates.crt"

// entry is one file or directory of the image's single layer.
type entry struct {
	path string // absolute, without the leading slash in the tar
	mode int64
	uid  int
	data []byte // nil for a directory
	dir  bool
}

// rootfs lists the files of an image FROM scratch holding one binary: the
// directories every runtime expects, the users, the CA bundle and the
// binary at binPath. Pure, so its layout is tested without building a tar.
func rootfs(binPath string, binary, caCerts []byte) []entry {
	dirs := []entry{
		{path: "/etc", mode: 0o755, dir: true},
		{path: "/etc/ssl", mode: 0o755, dir: true},
		{path: "/etc/ssl/certs", mode: 0o755, dir: true},
		{path: "/home", mode: 0o755, dir: true},
		{path: "/home/nonroot", mode: 0o700, uid: nonrootUID, dir: true},
		{path: "/root", mode: 0o700, dir: true},
		// Writable scratch space for a container without a read-only root
		// (the manifests mount emptyDirs where the controller writes).
		{path: "/tmp", mode: 0o1777, dir: true},
		{path: "/usr", mode: 0o755, dir: true},
		{path: "/usr/local", mode: 0o755, dir: true},
		{path: "/usr/local/bin", mode: 0o755, dir: true},
	}
	files := []entry{
		{path: "/etc/passwd", mode: 0o644, data: []byte(passwd)},
		{path: "/etc/group", mode: 0o644, data: []byte(group)},
		{path: caPath, mode: 0o644, data: caCerts},
		{path: binPath, mode: 0o755, data: binary},
	}
	return append(dirs, files...)
}

// tarLayer writes entries as an uncompressed tar with every timestamp set to
// mtime, so the same inputs always give the same layer digest.
func tarLayer(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.path[1:],
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.uid,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", e.path, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", e.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return buf.Bytes(), nil
}

// binPath is where a component's binary lives in its image.
func binPath(name string) string { return path.Join("/usr/local/bin", name) }
