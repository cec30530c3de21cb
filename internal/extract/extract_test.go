package extract

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

type sink map[string]string

func (s sink) put(_ context.Context, p string, r io.Reader, _ int64) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s[p] = string(b)
	return nil
}

var lim = Limits{MaxBytes: 10 << 20, MaxFiles: 100, MaxRatio: 100}

func zipOf(t *testing.T, entries ...func(*zip.Writer)) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		e(zw)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func file(name, body string) func(*zip.Writer) {
	return func(zw *zip.Writer) {
		w, _ := zw.Create(name)
		_, _ = w.Write([]byte(body))
	}
}

func run(f Format, data []byte, l Limits) (sink, Stats, error) {
	s := sink{}
	st, err := Extract(context.Background(), f, bytes.NewReader(data), int64(len(data)), l, CleanPath, s.put)
	return s, st, err
}

func reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func TestZipKeepsFolders(t *testing.T) {
	data := zipOf(t, file("a.txt", "hello"), file("dir/sub/b.txt", "world"), file("dir/", ""))
	s, st, err := run(Zip, data, lim)
	if err != nil {
		t.Fatal(err)
	}
	if s["a.txt"] != "hello" || s["dir/sub/b.txt"] != "world" || len(s) != 2 || st.Files != 2 || st.Bytes != 10 {
		t.Fatalf("got %v %+v", s, st)
	}
}

func TestZipBombRefused(t *testing.T) {
	bomb := strings.Repeat("\x00", 8<<20) // compresses about 1000:1
	data := zipOf(t, file("zeros.bin", bomb))
	_, _, err := run(Zip, data, lim)
	if reason(err) != ReasonRatio {
		t.Fatalf("zip bomb: %v", err)
	}
	// under the ratio but over the total
	_, _, err = run(Zip, data, Limits{MaxBytes: 1 << 20, MaxFiles: 10, MaxRatio: 1 << 20})
	if reason(err) != ReasonTooLarge {
		t.Fatalf("over the total: %v", err)
	}
}

func TestZipLyingHeaderCounted(t *testing.T) {
	// a header that claims a tiny size: the real bytes are counted anyway
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateRaw(&zip.FileHeader{Name: "x.bin", Method: zip.Store, CRC32: 0, CompressedSize64: 4 << 20, UncompressedSize64: 10})
	_, _ = w.Write(bytes.Repeat([]byte{1}, 4<<20))
	_ = zw.Close()
	s, _, err := run(Zip, buf.Bytes(), lim)
	if err == nil || len(s["x.bin"]) > 10 {
		t.Fatalf("lying header: %v, %d bytes", err, len(s["x.bin"]))
	}
}

func TestZipSlipAndAbsoluteRefused(t *testing.T) {
	for _, name := range []string{"../../evil", "a/../../evil", "/etc/passwd", `..\evil`, "C:/evil"} {
		_, _, err := run(Zip, zipOf(t, file("ok.txt", "x"), file(name, "evil")), lim)
		if reason(err) != ReasonUnsafePath {
			t.Errorf("%q: %v", name, err)
		}
	}
}

func TestZipSymlinkRefused(t *testing.T) {
	data := zipOf(t, func(zw *zip.Writer) {
		h := &zip.FileHeader{Name: "link"}
		h.SetMode(0o777 | 1<<27) // fs.ModeSymlink
		w, _ := zw.CreateHeader(h)
		_, _ = w.Write([]byte("/etc/passwd"))
	})
	if _, _, err := run(Zip, data, lim); reason(err) != ReasonLink {
		t.Fatalf("symlink: %v", err)
	}
}

func tarOf(t *testing.T, gz bool, hs ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var g *gzip.Writer
	if gz {
		g = gzip.NewWriter(&buf)
		w = g
	}
	tw := tar.NewWriter(w)
	for _, h := range hs {
		body := h.Linkname
		if h.Typeflag == tar.TypeReg {
			h.Linkname = ""
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte(body))
		}
	}
	_ = tw.Close()
	if g != nil {
		_ = g.Close()
	}
	return buf.Bytes()
}

// reg is a regular file (the body rides in Linkname for tarOf).
func reg(name, body string) tar.Header {
	return tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Linkname: body}
}

func TestTarGz(t *testing.T) {
	data := tarOf(t, true, tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}, reg("./d/a.txt", "aa"), reg("b.txt", "bbb"))
	s, st, err := run(TarGz, data, lim)
	if err != nil || s["d/a.txt"] != "aa" || s["b.txt"] != "bbb" || st.Files != 2 {
		t.Fatalf("tar.gz: %v %v %+v", err, s, st)
	}
}

func TestTarLinksAndDevicesRefused(t *testing.T) {
	for _, h := range []tar.Header{
		{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
		{Name: "h", Typeflag: tar.TypeLink, Linkname: "a.txt"},
		{Name: "dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3},
		{Name: "fifo", Typeflag: tar.TypeFifo},
	} {
		if _, _, err := run(Tar, tarOf(t, false, reg("a.txt", "a"), h), lim); reason(err) != ReasonLink {
			t.Errorf("%s: %v", h.Name, err)
		}
	}
	if _, _, err := run(Tar, tarOf(t, false, reg("../x", "a")), lim); reason(err) != ReasonUnsafePath {
		t.Errorf("tar slip: %v", err)
	}
	if _, _, err := run(Tar, tarOf(t, false, reg("/abs", "a")), lim); reason(err) != ReasonUnsafePath {
		t.Errorf("tar absolute: %v", err)
	}
}

func TestTooManyFiles(t *testing.T) {
	var hs []tar.Header
	for i := 0; i < 5; i++ {
		hs = append(hs, reg(strings.Repeat("f", i+1), "x"))
	}
	if _, _, err := run(Tar, tarOf(t, false, hs...), Limits{MaxBytes: 1 << 20, MaxFiles: 4, MaxRatio: 100}); reason(err) != ReasonTooManyFiles {
		t.Fatalf("too many: %v", err)
	}
}

func TestCorrupt(t *testing.T) {
	if _, _, err := run(Zip, []byte("not a zip at all"), lim); reason(err) != ReasonCorrupt {
		t.Fatalf("zip: %v", err)
	}
	if _, _, err := run(TarGz, []byte("not gzip"), lim); reason(err) != ReasonCorrupt {
		t.Fatalf("gz: %v", err)
	}
}

func TestFormatOf(t *testing.T) {
	for name, want := range map[string]Format{"a.zip": Zip, "A.TGZ": TarGz, "x.tar.gz": TarGz, "y.tar": Tar} {
		if f, ok := FormatOf(name); !ok || f != want {
			t.Errorf("%s: %v", name, f)
		}
	}
	if _, ok := FormatOf("a.gz"); ok {
		t.Error("a.gz is not a tar.gz")
	}
}

// CheckZip refuses by the central directory alone what Extract would.
func TestCheckZip(t *testing.T) {
	check := func(data []byte, l Limits) string {
		return reason(CheckZip(bytes.NewReader(data), int64(len(data)), l, CleanPath))
	}
	if r := check(zipOf(t, file("a.txt", "hello"), file("dir/", ""), file("dir/b.txt", "x")), lim); r != "" {
		t.Fatalf("a good zip: %s", r)
	}
	if r := check(zipOf(t, file("zeros.bin", strings.Repeat("\x00", 8<<20))), lim); r != ReasonRatio {
		t.Fatalf("zip bomb: %q", r)
	}
	if r := check(zipOf(t, file("zeros.bin", strings.Repeat("\x00", 8<<20))), Limits{MaxBytes: 1 << 20, MaxRatio: 1 << 20}); r != ReasonTooLarge {
		t.Fatalf("over the total: %q", r)
	}
	for _, name := range []string{"../../evil", "/etc/passwd", `..\evil`} {
		if r := check(zipOf(t, file("ok.txt", "x"), file(name, "evil")), lim); r != ReasonUnsafePath {
			t.Errorf("%q: %q", name, r)
		}
	}
	link := zipOf(t, func(zw *zip.Writer) {
		h := &zip.FileHeader{Name: "link"}
		h.SetMode(0o777 | 1<<27) // fs.ModeSymlink
		_, _ = zw.CreateHeader(h)
	})
	if r := check(link, lim); r != ReasonLink {
		t.Fatalf("symlink: %q", r)
	}
	if r := check(zipOf(t, file("1", "a"), file("2", "b"), file("3", "c")), Limits{MaxFiles: 2}); r != ReasonTooManyFiles {
		t.Fatalf("too many files: %q", r)
	}
	if r := check([]byte("not a zip at all"), lim); r != ReasonCorrupt {
		t.Fatalf("not a zip: %q", r)
	}
}
