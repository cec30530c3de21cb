// Command mountread measures what a dataset mount gives a task
// (docs/datasets.md, bench/datasets/mount.md): the time to mount (the
// agent's copy: every file fetched from the object store, MD5-checked and
// written to local disk, 4 at once) and the read throughput of the mounted
// copy, beside reading the same objects through a FUSE mount of the
// object store (rclone mount, no cache: what a FUSE design would read
// through) and straight from the object store.
//
// It writes -files objects of -size bytes in all into the test object
// store (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY: run it under
// `bin/remotegpu testenv --`), and removes them and its directories at
// the end.
//
//	bin/remotegpu testenv -- go run ./bench/datasets/mountread -size 1GiB -files 100
package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/remotegpu/remotegpu/agent/hostops"
	"github.com/remotegpu/remotegpu/internal/agentproto"
)

const bucket = "bench-mountread"

// The FUSE alternative reads through rclone's HTTP backend (see fuseRead).

func main() {
	sizeFlag := flag.String("size", "1GiB", "bytes in all")
	files := flag.Int("files", 100, "files")
	dir := flag.String("dir", os.TempDir(), "where the copy and the FUSE mount go (a local disk)")
	fuse := flag.Bool("fuse", true, "also read through an rclone FUSE mount of the bucket")
	dropCaches := flag.Bool("drop-caches", true, "drop the page cache before each read (needs root)")
	flag.Parse()
	total, err := humanize.ParseBytes(*sizeFlag)
	if err != nil || *files < 1 {
		fail("bad -size or -files")
	}
	endpoint, ak, sk := os.Getenv("S3_ENDPOINT"), os.Getenv("S3_ACCESS_KEY"), os.Getenv("S3_SECRET_KEY")
	if endpoint == "" {
		fail("S3_ENDPOINT is not set: run under `bin/remotegpu testenv --`")
	}
	mc, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(ak, sk, "")})
	if err != nil {
		fail(err.Error())
	}
	ctx := context.Background()
	_ = mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
	each := int64(total) / int64(*files)
	fmt.Printf("dataset: %d files of %s (%s), object store %s, disk %s\n", *files, humanize.IBytes(uint64(each)),
		humanize.IBytes(uint64(each*int64(*files))), endpoint, *dir)

	// the dataset
	var manifest agentproto.DatasetManifest
	buf := make([]byte, each)
	for i := range *files {
		_, _ = rand.Read(buf)
		sum := md5.Sum(buf)
		p := fmt.Sprintf("part-%03d.bin", i)
		if _, err := mc.PutObject(ctx, bucket, p, bytes.NewReader(buf), each, minio.PutObjectOptions{}); err != nil {
			fail(err.Error())
		}
		manifest.Files = append(manifest.Files, agentproto.DatasetManifestFile{Path: p, Size: each, MD5: hex.EncodeToString(sum[:])})
	}
	defer func() {
		for _, f := range manifest.Files {
			_ = mc.RemoveObject(ctx, bucket, f.Path, minio.RemoveObjectOptions{})
		}
		_ = mc.RemoveBucket(ctx, bucket)
	}()
	bytesAll := each * int64(*files)

	// 1. straight from the object store, 4 at once (the mount's own fetch, without the disk)
	drop(*dropCaches)
	d := timed(func() { readObjects(ctx, mc, manifest, 4) })
	report("object store → memory (4 streams)", bytesAll, d)
	drop(*dropCaches)
	d = timed(func() { readObjects(ctx, mc, manifest, 1) })
	report("object store → memory (1 stream)", bytesAll, d)

	// 2. the mount: the agent's copy
	state, err := os.MkdirTemp(*dir, "mountread-state-")
	if err != nil {
		fail(err.Error())
	}
	defer os.RemoveAll(state)
	base, err := os.MkdirTemp(*dir, "mountread-")
	if err != nil {
		fail(err.Error())
	}
	defer os.RemoveAll(base)
	target := filepath.Join(base, "data", "bench")
	ops := &hostops.Ops{StateDir: state, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	src := source{mc: mc, manifest: manifest}
	args := agentproto.DatasetMountArgs{MountID: "bench", DatasetID: "bench", TenantID: "bench", Path: target}
	var res agentproto.DatasetMountResult
	d = timed(func() {
		if res, err = ops.DatasetMount(ctx, args, src, nil); err != nil {
			fail(err.Error())
		}
	})
	report(fmt.Sprintf("mount (fetch + MD5 + write, %d at once)", agentproto.DatasetMountConcurrency), bytesAll, d)
	d = timed(func() {
		if res, err = ops.DatasetMount(ctx, args, src, nil); err != nil {
			fail(err.Error())
		}
	})
	report(fmt.Sprintf("re-mount, nothing changed (%d kept)", res.Kept), bytesAll, d)

	// 3. reading the mounted copy (what a task does)
	paths := make([]string, len(manifest.Files))
	for i, f := range manifest.Files {
		paths[i] = filepath.Join(target, f.Path)
	}
	drop(*dropCaches)
	d = timed(func() { readFiles(paths, 1) })
	report("mounted copy, cold cache, 1 reader", bytesAll, d)
	d = timed(func() { readFiles(paths, 1) })
	report("mounted copy, warm cache, 1 reader", bytesAll, d)
	drop(*dropCaches)
	d = timed(func() { readFiles(paths, 4) })
	report("mounted copy, cold cache, 4 readers", bytesAll, d)
	drop(*dropCaches)
	d = timed(func() { cat(paths) })
	report("mounted copy, cold cache, `cat` > /dev/null", bytesAll, d)

	// 4. the FUSE alternative
	if *fuse {
		fuseRead(mc, *dir, manifest, bytesAll, *dropCaches)
	}
	if _, err := ops.DatasetUnmount(ctx, agentproto.DatasetUnmountArgs{MountID: "bench", Path: target}); err != nil {
		fmt.Println("unmount:", err)
	}
}

type source struct {
	mc       *minio.Client
	manifest agentproto.DatasetManifest
}

func (s source) DatasetManifest(context.Context, string) (agentproto.DatasetManifest, error) {
	return s.manifest, nil
}

func (s source) DatasetFile(ctx context.Context, _, p string) (io.ReadCloser, error) {
	return s.mc.GetObject(ctx, bucket, p, minio.GetObjectOptions{})
}

func readObjects(ctx context.Context, mc *minio.Client, m agentproto.DatasetManifest, n int) {
	work := make(chan string)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				o, err := mc.GetObject(ctx, bucket, p, minio.GetObjectOptions{})
				if err != nil {
					fail(err.Error())
				}
				if _, err := io.Copy(io.Discard, o); err != nil {
					fail(err.Error())
				}
				o.Close()
			}
		}()
	}
	for _, f := range m.Files {
		work <- f.Path
	}
	close(work)
	wg.Wait()
}

func readFiles(paths []string, n int) {
	work := make(chan string)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for p := range work {
				f, err := os.Open(p)
				if err != nil {
					fail(err.Error())
				}
				if _, err := io.CopyBuffer(io.Discard, f, buf); err != nil {
					fail(err.Error())
				}
				f.Close()
			}
		}()
	}
	for _, p := range paths {
		work <- p
	}
	close(work)
	wg.Wait()
}

func cat(paths []string) {
	cmd := exec.Command("cat", paths...)
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		fail(err.Error())
	}
}

// fuseRead mounts the dataset with rclone (FUSE, no VFS cache: every read
// goes over the network to the object store) and reads every file through
// it. The Debian rclone here cannot speak S3 ("unsupported transport"), so
// the FUSE mount reads an HTTP listing that this program serves, each file
// streamed from the object store with Range support (what an S3 FUSE
// mount does, plus one local HTTP hop).
func fuseRead(mc *minio.Client, dir string, m agentproto.DatasetManifest, total int64, dropCaches bool) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		fmt.Println("FUSE: /dev/fuse is absent:", err)
		return
	}
	rc, err := exec.LookPath("rclone")
	if err != nil {
		fmt.Println("FUSE: no rclone:", err)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err.Error())
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			w.Header().Set("Content-Type", "text/html")
			for _, f := range m.Files {
				fmt.Fprintf(w, "<a href=\"%s\">%s</a>\n", f.Path, f.Path)
			}
			return
		}
		o, err := mc.GetObject(r.Context(), bucket, name, minio.GetObjectOptions{})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer o.Close()
		http.ServeContent(w, r, name, time.Time{}, o)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	mnt, err := os.MkdirTemp(dir, "mountread-fuse-")
	if err != nil {
		fail(err.Error())
	}
	defer os.RemoveAll(mnt)
	cmd := exec.Command(rc, "mount", "--http-url", "http://"+ln.Addr().String()+"/", ":http:", mnt, "--read-only", "--vfs-cache-mode", "off")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Println("FUSE: rclone mount:", err)
		return
	}
	defer func() {
		_ = exec.Command("fusermount", "-u", mnt).Run()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	first := filepath.Join(mnt, m.Files[0].Path)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if st, err := os.Stat(first); err == nil && st.Size() == m.Files[0].Size {
			break
		}
		if time.Now().After(deadline) {
			fmt.Println("FUSE: the rclone mount did not come up")
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	paths := make([]string, len(m.Files))
	for i, f := range m.Files {
		paths[i] = filepath.Join(mnt, f.Path)
	}
	drop(dropCaches)
	d := timed(func() { readFiles(paths, 1) })
	report("rclone FUSE mount (no cache), 1 reader", total, d)
	d = timed(func() { readFiles(paths, 4) })
	report("rclone FUSE mount (no cache), 4 readers", total, d)
	d = timed(func() { readFiles(paths, 1) })
	report("rclone FUSE mount (no cache), again, 1 reader", total, d)
}

func drop(on bool) {
	if !on {
		return
	}
	_ = exec.Command("sync").Run()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0o200); err != nil {
		fmt.Println("(page cache not dropped:", err, ")")
	}
}

func timed(f func()) time.Duration {
	t := time.Now()
	f()
	return time.Since(t)
}

func report(what string, n int64, d time.Duration) {
	fmt.Printf("%-48s %8s  %8.1f MiB/s\n", what, d.Round(time.Millisecond), float64(n)/(1<<20)/d.Seconds())
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "mountread:", msg)
	os.Exit(1)
}
