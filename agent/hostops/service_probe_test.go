package hostops

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/remotegpu/remotegpu/internal/agentproto"
)

// Any HTTP answer is up, with its status; a refused connection or a
// service that does not answer within the timeout is down.
func TestProbeService(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			t.Errorf("probed %s", r.URL.Path)
		}
		http.Error(w, "not here", http.StatusNotFound)
	}))
	p := ProbeService(ctx, srv.URL+"/", time.Second)
	if !p.Up || p.Status != 404 || p.CheckedAt.IsZero() || p.Error != "" {
		t.Fatalf("a service that answers 404: %+v", p)
	}
	srv.Close()
	if p := ProbeService(ctx, srv.URL+"/", time.Second); p.Up || p.Status != 0 || p.Error == "" {
		t.Fatalf("a closed port: %+v", p)
	}

	// a listener that accepts and never answers
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	release := make(chan struct{})
	defer close(release)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { <-release; c.Close() }()
		}
	}()
	began := time.Now()
	if p := ProbeService(ctx, "http://"+l.Addr().String()+"/", 50*time.Millisecond); p.Up || p.Error == "" {
		t.Fatalf("a service that does not answer: %+v", p)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("the probe took %v", d)
	}
}

// WatchService reports a probe at once, then one each period, until its context ends.
func TestWatchService(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	ctx, cancel := context.WithCancel(context.Background())
	probes := make(chan agentproto.ServiceProbe)
	done := make(chan struct{})
	go func() {
		defer close(done)
		WatchService(ctx, srv.URL+"/", time.Millisecond, time.Second, func(p agentproto.ServiceProbe) {
			select {
			case probes <- p:
			case <-ctx.Done():
			}
		})
	}()
	if p := <-probes; !p.Up || p.Status != 200 {
		t.Fatalf("first probe %+v", p)
	}
	srv.Close()
	for p := range probes {
		if !p.Up {
			break
		}
	}
	cancel()
	<-done
}
