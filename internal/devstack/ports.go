package devstack

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("unable to find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// checkPortFree fails with a helpful message when something already answers
// on 127.0.0.1:port — most often a stack started earlier that is still running.
func checkPortFree(name string, port int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return nil
	}
	c.Close()
	return fmt.Errorf("%s: port %d on 127.0.0.1 is already in use (is another `remotegpu dev` running? pick another port or stop it)", name, port)
}
