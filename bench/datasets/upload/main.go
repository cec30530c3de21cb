// Command upload measures dataset uploads (docs/datasets.md, Upload)
// against a running stack, through the product's protocol exactly as the
// console speaks it (5 MiB chunks, 3 in flight, Content-MD5 on each):
//
//  1. throughput: a -size file uploaded through the api vs a direct
//     minio-go PutObject of the same bytes to the same MinIO, interleaved
//     -rounds times (hashing, done by the console before it sends, is
//     timed apart);
//  2. resume: the same upload against an api process of its own
//     (bin/remotegpu api on a free port), killed (SIGKILL) once half the
//     parts are confirmed and started again; the client asks again with
//     the same path, size and MD5 and sends the parts not confirmed: the
//     bytes sent beyond the file's size are what the kill cost;
//  3. instant upload (秒传): the same content in a new dataset, from
//     start to available;
//  4. a folder of -small files (batch init of 1000, one PUT per file).
//
// The dataset's status is read from the database (DATABASE_URL) while
// the catalog's GET is not in this branch. Run it with:
//
//	make build && bin/remotegpu testenv -- go run ./bench/datasets/upload
//
// Results of a run: ../README.md.
package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

const chunkSize = 5 << 20

var (
	size     = flag.Int64("size", 2<<30, "bytes of the big file")
	rounds   = flag.Int("rounds", 2, "throughput rounds (product and direct, interleaved)")
	inflight = flag.Int("inflight", 3, "chunks in flight")
	small    = flag.Int("small", 10000, "files of the small-files part")
	parts    = flag.String("parts", "throughput,resume,instant,small", "parts to run")
	user     = flag.String("user", "acme-owner", "customer user")
	pass     = flag.String("password", "Owner@12345", "its password")
)

func main() {
	flag.Parse()
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "upload bench:", err)
		os.Exit(1)
	}
}

// file is a virtual file: chunk i is a slice of a random pool, at an
// offset that depends on i, so it costs no memory or CPU to produce.
type file struct {
	pool []byte
	size int64
	seed uint64
	md5  string
	cmd5 []string // base64 MD5 of each chunk
}

func newFile(pool []byte, size int64, seed uint64) *file {
	return &file{pool: pool, size: size, seed: seed}
}

func (f *file) chunks() int { return int((f.size + chunkSize - 1) / chunkSize) }

func (f *file) chunk(i int) []byte { // i from 1
	n := min(int64(chunkSize), f.size-int64(i-1)*chunkSize)
	off := int((uint64(i)*2654435761 + f.seed*40503) % uint64(len(f.pool)-chunkSize))
	return f.pool[off : off+int(n)]
}

// hash computes the whole MD5 and every chunk's, as the console's worker does.
func (f *file) hash() {
	h := md5.New()
	f.cmd5 = make([]string, f.chunks()+1)
	for i := 1; i <= f.chunks(); i++ {
		c := f.chunk(i)
		h.Write(c)
		s := md5.Sum(c)
		f.cmd5[i] = base64.StdEncoding.EncodeToString(s[:])
	}
	f.md5 = hex.EncodeToString(h.Sum(nil))
}

// reader reads the file in order (for the direct PutObject).
type reader struct {
	f   *file
	off int64
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.ReadAt(p, r.off)
	r.off += int64(n)
	return n, err
}

func (r *reader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.f.size {
		return 0, io.EOF
	}
	i := int(off/chunkSize) + 1
	c := r.f.chunk(i)[off%chunkSize:]
	return copy(p, c), nil
}

type client struct {
	base, token string
	hc          *http.Client
	sent        atomic.Int64 // bytes of part bodies sent
}

func (c *client) call(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return c.do(req, out)
}

func (c *client) do(req *http.Request, out any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &env)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s %s", req.Method, req.URL.Path, resp.StatusCode, env.Message, env.Data)
	}
	if out != nil {
		return json.Unmarshal(env.Data, out)
	}
	return nil
}

func (c *client) login(ctx context.Context) error {
	var tp struct {
		AccessToken string `json:"accessToken"`
	}
	if err := c.call(ctx, "POST", "/api/auth/login", map[string]string{"username": *user, "password": *pass}, &tp); err != nil {
		return err
	}
	c.token = tp.AccessToken
	return nil
}

type slot struct {
	UploadID       string `json:"uploadId"`
	State          string `json:"state"`
	ChunkCount     int    `json:"chunkCount"`
	ConfirmedParts []int  `json:"confirmedParts"`
}

func (c *client) start(ctx context.Context, name string, total int64) (string, error) {
	var d struct{ ID string }
	err := c.call(ctx, "POST", "/api/customer/datasets/upload", map[string]any{"name": name, "type": "other", "totalBytes": total}, &d)
	return d.ID, err
}

func (c *client) putPart(ctx context.Context, ds, up string, n int, data []byte, md5b64 string) error {
	req, _ := http.NewRequestWithContext(ctx, "PUT", fmt.Sprintf("%s/api/customer/datasets/%s/uploads/%s/parts/%d", c.base, ds, up, n), bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-MD5", md5b64)
	req.Header.Set("Authorization", "Bearer "+c.token)
	c.sent.Add(int64(len(data)))
	return c.do(req, nil)
}

// sendParts sends the parts not in have, inflight at once; confirmed is
// called after each.
func (c *client) sendParts(ctx context.Context, ds string, s slot, f *file, confirmed func(int)) error {
	have := map[int]bool{}
	for _, n := range s.ConfirmedParts {
		have[n] = true
	}
	next := make(chan int)
	go func() {
		defer close(next)
		for n := 1; n <= f.chunks(); n++ {
			if !have[n] {
				select {
				case next <- n:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	var wg sync.WaitGroup
	var first error
	var mu sync.Mutex
	for range *inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				if err := c.putPart(ctx, ds, s.UploadID, n, f.chunk(n), f.cmd5[n]); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					for range next {
					}
					return
				}
				if confirmed != nil {
					confirmed(n)
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func (c *client) initFile(ctx context.Context, ds, path string, f *file) (slot, error) {
	var slots []slot
	err := c.call(ctx, "POST", "/api/customer/datasets/"+ds+"/uploads",
		map[string]any{"files": []map[string]any{{"path": path, "size": f.size, "md5": f.md5}}}, &slots)
	if err != nil {
		return slot{}, err
	}
	return slots[0], nil
}

// waitAvailable polls the dataset's status in the database.
func waitAvailable(ctx context.Context, db *pgx.Conn, id string) error {
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		var status, reason string
		if err := db.QueryRow(ctx, `SELECT status, status_reason FROM datasets WHERE id = $1`, id).Scan(&status, &reason); err != nil {
			return err
		}
		switch status {
		case "available":
			return nil
		case "failed":
			return fmt.Errorf("dataset %s failed: %s", id, reason)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("timed out waiting for the dataset")
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }

func run(ctx context.Context) error {
	base := os.Getenv("REMOTEGPU_URL")
	if base == "" {
		return errors.New("REMOTEGPU_URL is not set: run it under bin/remotegpu testenv")
	}
	db, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	hc := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	c := &client{base: strings.TrimRight(base, "/"), hc: hc}
	if err := c.login(ctx); err != nil {
		return err
	}
	// room for the bench's bytes
	if _, err := db.Exec(ctx, `UPDATE tenants SET storage_quota_bytes = 1099511627776`); err != nil {
		return err
	}
	pool := make([]byte, 64<<20)
	r := rand.New(rand.NewChaCha8([32]byte{1}))
	for i := 0; i < len(pool); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			pool[i+j] = byte(v >> (8 * j))
		}
	}
	seed := uint64(time.Now().UnixNano())
	big := newFile(pool, *size, seed)
	t0 := time.Now()
	big.hash()
	fmt.Printf("file: %d bytes (%.2f GiB), %d chunks; hashing (whole + per chunk, the console's worker) %.1fs\n",
		big.size, float64(big.size)/(1<<30), big.chunks(), time.Since(t0).Seconds())
	has := func(p string) bool { return strings.Contains(","+*parts+",", ","+p+",") }

	var productID string
	if has("throughput") {
		mc, err := minio.New(os.Getenv("S3_ENDPOINT"), &minio.Options{Creds: credentials.NewStaticV4(os.Getenv("S3_ACCESS_KEY"), os.Getenv("S3_SECRET_KEY"), "")})
		if err != nil {
			return err
		}
		bucket := envOr("S3_BUCKET_PREFIX", "remotegpu-") + "datasets"
		for round := 1; round <= *rounds; round++ {
			// direct
			key := fmt.Sprintf("bench/direct-%d", time.Now().UnixNano())
			t := time.Now()
			if _, err := mc.PutObject(ctx, bucket, key, &reader{f: big}, big.size, minio.PutObjectOptions{}); err != nil {
				return fmt.Errorf("direct PutObject: %w", err)
			}
			direct := time.Since(t)
			_ = mc.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{})
			// direct again in the protocol's shape: 5 MiB parts, 3 at once
			t = time.Now()
			if _, err := mc.PutObject(ctx, bucket, key, &reader{f: big}, big.size, minio.PutObjectOptions{PartSize: chunkSize,
				NumThreads: uint(*inflight)}); err != nil {
				return fmt.Errorf("direct PutObject (5 MiB parts): %w", err)
			}
			shaped := time.Since(t)
			_ = mc.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{})
			// product (a new file each round, so nothing is instant)
			f := big
			if round > 1 {
				f = newFile(pool, *size, seed+uint64(round))
				f.hash()
			}
			ds, err := c.start(ctx, fmt.Sprintf("bench-%d", round), f.size)
			if err != nil {
				return err
			}
			t = time.Now()
			s, err := c.initFile(ctx, ds, "big.bin", f)
			if err != nil {
				return err
			}
			if err := c.sendParts(ctx, ds, s, f, nil); err != nil {
				return err
			}
			if err := c.call(ctx, "POST", "/api/customer/datasets/"+ds+"/uploads/"+s.UploadID+"/complete", nil, nil); err != nil {
				return err
			}
			product := time.Since(t)
			t = time.Now()
			if err := c.call(ctx, "POST", "/api/customer/datasets/"+ds+"/finish", nil, nil); err != nil {
				return err
			}
			if err := waitAvailable(ctx, db, ds); err != nil {
				return err
			}
			ingest := time.Since(t)
			if round == 1 {
				productID = ds
			}
			fmt.Printf("round %d: direct PutObject %.1fs (%.0f MiB/s); direct with 5 MiB parts, %d at once %.1fs (%.0f MiB/s); "+
				"product upload %.1fs (%.0f MiB/s) = %.0f%% of direct, %.0f%% of direct in 5 MiB parts; finish → available (MD5 read-back) %.1fs\n",
				round, direct.Seconds(), mbps(big.size, direct), *inflight, shaped.Seconds(), mbps(big.size, shaped), product.Seconds(),
				mbps(f.size, product), 100*direct.Seconds()/product.Seconds(), 100*shaped.Seconds()/product.Seconds(), ingest.Seconds())
		}
	}
	if has("instant") {
		if productID == "" {
			return errors.New("instant needs the throughput part")
		}
		t := time.Now()
		ds, err := c.start(ctx, "bench-instant", big.size)
		if err != nil {
			return err
		}
		s, err := c.initFile(ctx, ds, "copy.bin", big)
		if err != nil || s.State != "done" {
			return fmt.Errorf("instant upload: %+v %v", s, err)
		}
		tInit := time.Since(t)
		if err := c.call(ctx, "POST", "/api/customer/datasets/"+ds+"/finish", nil, nil); err != nil {
			return err
		}
		if err := waitAvailable(ctx, db, ds); err != nil {
			return err
		}
		fmt.Printf("instant upload of %.2f GiB: start + init (state done) %.0f ms; start → available %.0f ms\n",
			float64(big.size)/(1<<30), ms(tInit), ms(time.Since(t)))
	}
	if has("resume") {
		if err := resume(ctx, c, pool, seed+1000); err != nil {
			return err
		}
	}
	if has("small") {
		if err := smallFiles(ctx, c, db); err != nil {
			return err
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func freeAddr() string {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	return l.Addr().String()
}

// startAPI runs bin/remotegpu api on addr with the stack's environment.
func startAPI(ctx context.Context, addr string) (*exec.Cmd, error) {
	cmd := exec.Command("bin/remotegpu", "api")
	cmd.Env = append(os.Environ(), "LISTEN_ADDR="+addr, "METRICS_ADDR=")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return nil, errors.New("the api did not start")
}

func resume(ctx context.Context, main *client, pool []byte, seed uint64) error {
	addr := freeAddr()
	api, err := startAPI(ctx, addr)
	if err != nil {
		return err
	}
	c := &client{base: "http://" + addr, hc: main.hc, token: main.token}
	f := newFile(pool, *size, seed)
	f.hash()
	ds, err := c.start(ctx, "bench-resume", f.size)
	if err != nil {
		return err
	}
	s, err := c.initFile(ctx, ds, "big.bin", f)
	if err != nil {
		return err
	}
	var confirmed atomic.Int64
	half := int64(f.chunks() / 2)
	killed := make(chan struct{})
	var once sync.Once
	t := time.Now()
	err = c.sendParts(ctx, ds, s, f, func(int) {
		if confirmed.Add(1) >= half {
			once.Do(func() {
				_ = api.Process.Signal(syscall.SIGKILL)
				_ = api.Wait()
				close(killed)
			})
		}
	})
	<-killed
	if err == nil {
		return errors.New("the upload finished although the api was killed")
	}
	sentBefore := c.sent.Load()
	tRestart := time.Now()
	api, err = startAPI(ctx, addr)
	if err != nil {
		return err
	}
	defer func() { _ = api.Process.Kill(); _ = api.Wait() }()
	restart := time.Since(tRestart)
	s, err = c.initFile(ctx, ds, "big.bin", f)
	if err != nil {
		return err
	}
	if err := c.sendParts(ctx, ds, s, f, nil); err != nil {
		return err
	}
	if err := c.call(ctx, "POST", "/api/customer/datasets/"+ds+"/uploads/"+s.UploadID+"/complete", nil, nil); err != nil {
		return err
	}
	total := time.Since(t) - restart
	resent := c.sent.Load() - f.size
	fmt.Printf("resume: killed after %d of %d parts confirmed (%d bytes sent by then); after the restart the api had %d parts confirmed; "+
		"bytes resent %d (%.1f MiB, %.2f%% of the file); upload time without the restart %.1fs; api restart %.1fs\n",
		confirmed.Load(), f.chunks(), sentBefore, len(s.ConfirmedParts), resent, float64(resent)/(1<<20), 100*float64(resent)/float64(f.size),
		total.Seconds(), restart.Seconds())
	return nil
}

func smallFiles(ctx context.Context, c *client, db *pgx.Conn) error {
	n := *small
	type sf struct {
		path, md5, b64 string
		data           []byte
	}
	files := make([]sf, n)
	var total int64
	for i := range files {
		data := []byte(fmt.Sprintf("file %d of the bench, %d\n%s", i, time.Now().UnixNano(), strings.Repeat("x", 1024+i%3072)))
		s := md5.Sum(data)
		files[i] = sf{path: fmt.Sprintf("dir%03d/file%05d.txt", i/100, i), md5: hex.EncodeToString(s[:]),
			b64: base64.StdEncoding.EncodeToString(s[:]), data: data}
		total += int64(len(data))
	}
	t := time.Now()
	ds, err := c.start(ctx, "bench-small", total)
	if err != nil {
		return err
	}
	ids := make([]string, n)
	for lo := 0; lo < n; lo += 1000 {
		hi := min(lo+1000, n)
		batch := make([]map[string]any, 0, hi-lo)
		for _, f := range files[lo:hi] {
			batch = append(batch, map[string]any{"path": f.path, "size": len(f.data), "md5": f.md5})
		}
		var slots []slot
		if err := c.call(ctx, "POST", "/api/customer/datasets/"+ds+"/uploads", map[string]any{"files": batch}, &slots); err != nil {
			return err
		}
		for i, s := range slots {
			ids[lo+i] = s.UploadID
		}
	}
	tInit := time.Since(t)
	t2 := time.Now()
	next := make(chan int)
	var wg sync.WaitGroup
	errc := make(chan error, *inflight)
	for range *inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := c.putPart(ctx, ds, ids[i], 1, files[i].data, files[i].b64); err != nil {
					errc <- err
					for range next {
					}
					return
				}
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	tPut := time.Since(t2)
	t3 := time.Now()
	if err := c.call(ctx, "POST", "/api/customer/datasets/"+ds+"/finish", nil, nil); err != nil {
		return err
	}
	if err := waitAvailable(ctx, db, ds); err != nil {
		return err
	}
	tIngest := time.Since(t3)
	fmt.Printf("%d small files (%.1f MiB): batch init (%d calls) %.1fs; PUTs (%d in flight, one request per file) %.1fs = %.0f files/s; "+
		"finish → available %.1fs; total %.1fs\n", n, float64(total)/(1<<20), (n+999)/1000, tInit.Seconds(), *inflight, tPut.Seconds(),
		float64(n)/tPut.Seconds(), tIngest.Seconds(), time.Since(t).Seconds())
	return nil
}
