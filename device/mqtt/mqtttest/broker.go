// Package mqtttest runs a real MQTT broker for tests: mosquitto, started on
// a free loopback port with its own configuration file in a temporary
// directory, stopped when the test ends. It also has a small MQTT 5 client
// that records what it receives, to look at what tweetpi publishes.
//
// It never touches a broker it did not start. Without mosquitto a test
// fails when CI=true and skips otherwise, saying how to install it.
package mqtttest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MosquittoPath is where Debian's mosquitto package puts the broker.
const MosquittoPath = "/usr/sbin/mosquitto"

// startTimeout bounds how long the broker may take to listen.
const startTimeout = 20 * time.Second

// Options shape the broker.
type Options struct {
	// Users are the broker's users and their passwords; with none, anyone
	// may connect without a password.
	Users map[string]string
	// ACL is the text of mosquitto's acl_file ("user mypi\ntopic readwrite
	// tweetpi/mypi/#"); "" for none (every user may use every topic).
	ACL string
	// TLS makes the listener TLS (mqtts://) with a certificate for
	// 127.0.0.1 signed by a CA made for the test (Broker.CAFile).
	TLS bool
	// Persist keeps retained messages and sessions across Restart, as a
	// broker with persistence true does.
	Persist bool
	// Port is the port to listen on; 0 picks a free one.
	Port int
	// Nagle leaves mosquitto's default set_tcp_nodelay false; the
	// broker here sets it true, as deploy/mosquitto/tweetpi.conf does (else
	// small messages wait for the peer's delayed ACK, up to 40 ms).
	Nagle bool
}

// Broker is a running mosquitto.
type Broker struct {
	URL    string // mqtt://127.0.0.1:PORT or mqtts://127.0.0.1:PORT
	Port   int
	CAFile string // the CA of the TLS listener's certificate, with Options.TLS
	Dir    string // the broker's files: its configuration, password file, ACL, persistence

	t    testing.TB
	conf string

	mu   sync.Mutex
	cmd  *exec.Cmd
	log  bytes.Buffer
	done chan struct{}
}

// Find returns the mosquitto binary, or fails the test under CI=true and
// skips it otherwise.
func Find(t testing.TB) string {
	t.Helper()
	path := MosquittoPath
	if _, err := os.Stat(path); err != nil {
		p, lerr := exec.LookPath("mosquitto")
		if lerr != nil {
			msg := "no mosquitto broker (" + MosquittoPath + "): install the Debian package mosquitto (apt-get install mosquitto) to run the MQTT tests"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		path = p
	}
	return path
}

// Start starts a broker for the test; it is stopped when the test ends.
func Start(t testing.TB, opt Options) *Broker {
	t.Helper()
	bin := Find(t)
	dir := t.TempDir()
	b := &Broker{t: t, Dir: dir, Port: opt.Port}
	if b.Port == 0 {
		b.Port = freePort(t)
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "listener %d 127.0.0.1\n", b.Port)
	if os.Geteuid() == 0 {
		conf.WriteString("user root\n") // else mosquitto drops to user mosquitto, who cannot read the test's files
	}
	if !opt.Nagle {
		conf.WriteString("set_tcp_nodelay true\n")
	}
	conf.WriteString("log_dest stderr\nlog_type all\nconnection_messages true\nlog_timestamp true\nlog_timestamp_format %H:%M:%S\n")
	if len(opt.Users) > 0 {
		pw := filepath.Join(dir, "passwd")
		if err := os.WriteFile(pw, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for u, p := range opt.Users {
			if out, err := exec.Command(passwdTool(t), "-b", pw, u, p).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
			}
		}
		fmt.Fprintf(&conf, "allow_anonymous false\npassword_file %s\n", pw)
	} else {
		conf.WriteString("allow_anonymous true\n")
	}
	if opt.ACL != "" {
		acl := filepath.Join(dir, "acl")
		if err := os.WriteFile(acl, []byte(opt.ACL), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&conf, "acl_file %s\n", acl)
	}
	if opt.Persist {
		fmt.Fprintf(&conf, "persistence true\npersistence_location %s/\n", dir)
	}
	if opt.TLS {
		ca, cert, key := makeCerts(t, dir)
		b.CAFile = ca
		fmt.Fprintf(&conf, "cafile %s\ncertfile %s\nkeyfile %s\n", ca, cert, key)
		b.URL = fmt.Sprintf("mqtts://127.0.0.1:%d", b.Port)
	} else {
		b.URL = fmt.Sprintf("mqtt://127.0.0.1:%d", b.Port)
	}
	b.conf = filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(b.conf, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	b.start(bin)
	t.Cleanup(func() {
		b.Stop()
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", b.Log())
		}
	})
	return b
}

func passwdTool(t testing.TB) string {
	for _, p := range []string{"/usr/bin/mosquitto_passwd", "/usr/sbin/mosquitto_passwd"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		t.Fatal("no mosquitto_passwd (it comes with the mosquitto package)")
	}
	return p
}

// freePort finds a loopback port nobody listens on.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (b *Broker) start(bin string) {
	b.t.Helper()
	cmd := exec.Command(bin, "-c", b.conf)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	done := make(chan struct{})
	b.mu.Lock()
	b.cmd, b.done = cmd, done
	b.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			b.mu.Lock()
			b.log.WriteString(sc.Text() + "\n")
			b.mu.Unlock()
		}
		cmd.Wait()
		close(done)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(b.Port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			b.t.Fatalf("mosquitto exited at start:\n%s", b.Log())
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto does not listen on port %d after %s:\n%s", b.Port, startTimeout, b.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop stops the broker (SIGTERM: it saves what it persists) and waits for
// it. Stopping a stopped broker does nothing.
func (b *Broker) Stop() {
	b.mu.Lock()
	cmd, done := b.cmd, b.done
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// Restart stops the broker and starts it again on the same port.
func (b *Broker) Restart() {
	b.t.Helper()
	b.Stop()
	b.start(Find(b.t))
}

// Log is what the broker has logged so far.
func (b *Broker) Log() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.log.String()
}

// makeCerts writes a CA and a certificate for 127.0.0.1 it signed; it
// returns the paths of the CA, the certificate and its key.
func makeCerts(t testing.TB, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tweetpi test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER)
}

// ctxFor is a context that ends with the test or after d.
func ctxFor(t testing.TB, d time.Duration) (context.Context, context.CancelFunc) {
	ctx := context.Background()
	if tt, ok := t.(interface{ Context() context.Context }); ok {
		ctx = tt.Context()
	}
	return context.WithTimeout(ctx, d)
}
