// Package testimage makes the image the tests and the dev stack's demo
// tasks run, without a registry: a static busybox with all its applets in
// /bin and the scripts of scripts/ in /opt/rgpu-test/ (exit0.sh, exit1.sh,
// checkpoint.sh, loglines.sh, serve.sh; each says what it does), imported
// into the Docker daemon from a rootfs tar.
package testimage

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// Ref is the image's name.
const Ref = "remotegpu/testimage:latest"

// ScriptDir is where the scripts are in the image.
const ScriptDir = "/opt/rgpu-test"

// labelHash names the content the image was made from, so that a changed
// script makes Ensure import it again.
const labelHash = "remotegpu.testimage.sha256"

//go:embed scripts/*.sh
var scripts embed.FS

// busyboxPaths are where Debian's busybox-static puts it.
var busyboxPaths = []string{"/bin/busybox", "/usr/bin/busybox"}

// Busybox finds a statically linked busybox (the image has no libc).
func Busybox() (string, error) {
	for _, p := range busyboxPaths {
		if static, err := isStatic(p); err == nil && static {
			return p, nil
		}
	}
	return "", errors.New("no statically linked busybox (install the Debian package busybox-static)")
}

func isStatic(p string) (bool, error) {
	f, err := elf.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// Rootfs is the image's root file system as a tar, and its hash.
func Rootfs(busybox string) ([]byte, string, error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, "", err
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, "", fmt.Errorf("unable to list the applets of %s: %w", busybox, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	h := sha256.New()
	mtime := time.Unix(0, 0)
	add := func(hdr *tar.Header, body []byte) {
		hdr.ModTime, hdr.Uname, hdr.Gname = mtime, "root", "root"
		if body != nil {
			hdr.Size = int64(len(body))
		}
		// Errors of a bytes.Buffer writer surface at Close.
		_ = tw.WriteHeader(hdr)
		_, _ = tw.Write(body)
		fmt.Fprintf(h, "%s %o %s\n", hdr.Name, hdr.Mode, hdr.Linkname)
		h.Write(body)
	}
	for _, d := range []string{"bin/", "etc/", "opt/", "opt/rgpu-test/", "root/", "tmp/", "var/", "var/tmp/"} {
		mode := int64(0o755)
		if d == "tmp/" || d == "var/tmp/" {
			mode = 0o1777
		}
		add(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode}, nil)
	}
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755}, bin)
	for _, applet := range strings.Fields(string(out)) {
		if applet != "busybox" && !strings.Contains(applet, "/") {
			add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", Mode: 0o777}, nil)
		}
	}
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644}, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"))
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/group", Mode: 0o644}, []byte("root:x:0:\nnogroup:x:65534:\n"))
	err = fs.WalkDir(scripts, "scripts", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := scripts.ReadFile(p)
		if err != nil {
			return err
		}
		add(&tar.Header{Typeflag: tar.TypeReg, Name: "opt/rgpu-test/" + path.Base(p), Mode: 0o755}, body)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), hex.EncodeToString(h.Sum(nil)), nil
}

// Ensure imports the image into the daemon unless it is there already,
// made from the same content. imported says it imported it now.
func Ensure(ctx context.Context, c *client.Client) (imported bool, err error) {
	busybox, err := Busybox()
	if err != nil {
		return false, err
	}
	tarball, sum, err := Rootfs(busybox)
	if err != nil {
		return false, err
	}
	insp, err := c.ImageInspect(ctx, Ref)
	switch {
	case err == nil && insp.Config != nil && insp.Config.Labels[labelHash] == sum:
		return false, nil
	case err != nil && !cerrdefs.IsNotFound(err):
		return false, fmt.Errorf("unable to inspect %s: %w", Ref, err)
	}
	rc, err := c.ImageImport(ctx, image.ImportSource{Source: bytes.NewReader(tarball), SourceName: "-"}, Ref,
		image.ImportOptions{Changes: []string{"ENV PATH=/bin", "WORKDIR /", "CMD [\"/bin/sh\"]", "LABEL " + labelHash + "=" + sum}})
	if err != nil {
		return false, fmt.Errorf("unable to import %s: %w", Ref, err)
	}
	defer rc.Close()
	// The daemon reports the import as JSON messages; an error comes as one.
	msg, err := io.ReadAll(rc)
	if err != nil {
		return false, fmt.Errorf("unable to import %s: %w", Ref, err)
	}
	if bytes.Contains(msg, []byte(`"error"`)) {
		return false, fmt.Errorf("unable to import %s: %s", Ref, bytes.TrimSpace(msg))
	}
	return true, nil
}
