package vm

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// cpioWriter writes a newc ("070701") archive, the format the kernel unpacks
// as an initramfs. Only what an initramfs needs: directories, regular files,
// symlinks and character devices. Parent directories are created on demand.
type cpioWriter struct {
	w    *bufio.Writer
	ino  uint32
	dirs map[string]bool
	err  error
}

const (
	modeDir  = 0o040000
	modeFile = 0o100000
	modeLink = 0o120000
	modeChr  = 0o020000
)

func newCPIOWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: bufio.NewWriterSize(w, 1<<20), ino: 1, dirs: map[string]bool{"": true, ".": true}}
}

// clean turns "/a/b" or "a/b" into "a/b"; the archive holds relative names.
func cpioName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

func (c *cpioWriter) header(name string, mode uint32, size int, nlink uint32, rmajor, rminor uint32) {
	if c.err != nil {
		return
	}
	c.ino++
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	// devminor, rdevmajor, rdevminor, namesize, check
	_, c.err = fmt.Fprintf(c.w, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, rmajor, rminor, len(name)+1, 0)
	if c.err != nil {
		return
	}
	c.write([]byte(name + "\x00"))
	c.pad(110 + len(name) + 1)
}

func (c *cpioWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	_, c.err = c.w.Write(b)
}

// pad aligns to 4 bytes after n bytes.
func (c *cpioWriter) pad(n int) {
	if r := n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

// Dir adds a directory and its parents.
func (c *cpioWriter) Dir(name string) {
	name = cpioName(name)
	if c.dirs[name] {
		return
	}
	c.Dir(path.Dir(name))
	c.dirs[name] = true
	c.header(name, modeDir|0o755, 0, 2, 0, 0)
}

// File adds a regular file with the given content.
func (c *cpioWriter) File(name string, perm uint32, data []byte) {
	name = cpioName(name)
	c.Dir(path.Dir(name))
	c.header(name, modeFile|perm, len(data), 1, 0, 0)
	c.write(data)
	c.pad(len(data))
}

// CopyFile adds the host file src as name, keeping its permission bits.
func (c *cpioWriter) CopyFile(name, src string) {
	if c.err != nil {
		return
	}
	data, err := os.ReadFile(src)
	if err != nil {
		c.err = err
		return
	}
	fi, err := os.Stat(src)
	if err != nil {
		c.err = err
		return
	}
	c.File(name, uint32(fi.Mode().Perm()), data)
}

// Symlink adds name pointing at target.
func (c *cpioWriter) Symlink(name, target string) {
	name = cpioName(name)
	c.Dir(path.Dir(name))
	c.header(name, modeLink|0o777, len(target), 1, 0, 0)
	c.write([]byte(target))
	c.pad(len(target))
}

// CharDev adds a character device node.
func (c *cpioWriter) CharDev(name string, perm, major, minor uint32) {
	name = cpioName(name)
	c.Dir(path.Dir(name))
	c.header(name, modeChr|perm, 0, 1, major, minor)
}

// Close writes the trailer and flushes; it does not close the underlying
// writer.
func (c *cpioWriter) Close() error {
	c.header("TRAILER!!!", 0, 0, 1, 0, 0)
	if c.err != nil {
		return c.err
	}
	return c.w.Flush()
}
