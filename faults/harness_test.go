//go:build faults

package faults

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crmstream/crmstream/internal/chstore"
)

var (
	binDir   string // built binaries
	repoRoot string
	chAddr   = "127.0.0.1:19000" // the fault tests' own ClickHouse
)

func TestMain(m *testing.M) {
	wd, _ := os.Getwd()
	repoRoot = filepath.Dir(wd)
	dir, err := os.MkdirTemp("", "crmstream-faults-bin")
	if err != nil {
		panic(err)
	}
	binDir = dir
	build := exec.Command("go", "build", "-o", binDir+"/", "./cmd/...")
	build.Dir, build.Stdout, build.Stderr = repoRoot, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "faults: build:", err)
		os.Exit(1)
	}
	if err := clickhouse("start"); err != nil {
		fmt.Fprintln(os.Stderr, "faults: clickhouse:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = clickhouse("stop")
	os.RemoveAll(binDir)
	os.Exit(code)
}

// clickhouse runs scripts/clickhouse.sh for the fault tests' own server
// (ports 19000/18123, data under .data/clickhouse-faults), so stopping it
// does not disturb anything else.
func clickhouse(action string) error {
	cmd := exec.Command(filepath.Join(repoRoot, "scripts/clickhouse.sh"), action)
	cmd.Env = append(os.Environ(), "CRM_CLICKHOUSE_DATA="+filepath.Join(repoRoot, ".data/clickhouse-faults"),
		"CRM_CLICKHOUSE_TCP_PORT=19000", "CRM_CLICKHOUSE_HTTP_PORT=18123",
		"CRM_CLICKHOUSE_PIDFILE="+filepath.Join(repoRoot, ".run/clickhouse-faults.pid"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// freePort returns a loopback port nobody listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is one child process of the system under test.
type proc struct {
	t      *testing.T
	name   string
	args   []string
	env    []string
	health string // URL answering 200 when up; "" = tcp check of tcpAddr
	tcp    string
	log    *os.File

	mu  sync.Mutex
	cmd *exec.Cmd
}

func newProc(t *testing.T, name string, args []string, env []string, health, tcp string) *proc {
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, name: name, args: args, env: env, health: health, tcp: tcp, log: logf}
	t.Cleanup(func() {
		p.stop(syscall.SIGKILL)
		if t.Failed() {
			p.dumpLog()
		}
	})
	return p
}

func (p *proc) start() {
	p.t.Helper()
	p.mu.Lock()
	cmd := exec.Command(filepath.Join(binDir, p.name), p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.cmd = cmd
	p.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if p.up() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.dumpLog()
	p.t.Fatalf("%s did not become healthy in 60 s", p.name)
}

func (p *proc) up() bool {
	if p.health != "" {
		c := http.Client{Timeout: time.Second}
		resp, err := c.Get(p.health)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	conn, err := net.DialTimeout("tcp", p.tcp, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// stop sends sig and waits for the process to exit.
func (p *proc) stop(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}

// rssKiB reads the process's resident set size.
func (p *proc) rssKiB() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func (p *proc) dumpLog() {
	b, _ := os.ReadFile(p.log.Name())
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	p.t.Logf("--- %s log (tail) ---\n%s", p.name, b)
}

// stack is one system under test: broker, ingest, scorer(s), a database.
type stack struct {
	t         *testing.T
	db        string
	kafka     string
	ingestURL string
	broker    *proc
	ingest    *proc
	scorers   []*proc
	store     *chstore.Store
}

func newStack(t *testing.T, scorers int) *stack {
	s := &stack{t: t, db: fmt.Sprintf("crmfault_%d", time.Now().UnixNano()%1e9)}
	kport := freePort(t)
	s.kafka = fmt.Sprintf("127.0.0.1:%d", kport)
	s.broker = newProc(t, "devkafka", []string{"--port", strconv.Itoa(kport), "--data", filepath.Join(t.TempDir(), "kafka")}, nil, "", s.kafka)
	s.broker.start()
	common := []string{"CRM_KAFKA_BROKERS=" + s.kafka, "CRM_CLICKHOUSE_ADDR=" + chAddr, "CRM_CLICKHOUSE_DATABASE=" + s.db, "CRM_LOG_LEVEL=warn"}
	iport := freePort(t)
	s.ingestURL = fmt.Sprintf("http://127.0.0.1:%d", iport)
	// A stable instance id: a restarted ingest takes its partitions back at
	// once (static group membership) instead of after the session timeout.
	s.ingest = newProc(t, "ingest", nil, append(common, fmt.Sprintf("CRM_HTTP_ADDR=127.0.0.1:%d", iport), "CRM_INGEST_INSTANCE_ID=ingest-1"), s.ingestURL+"/healthz", "")
	s.ingest.start()
	for i := 0; i < scorers; i++ {
		port := freePort(t)
		p := newProc(t, "scorer", nil, append(common, fmt.Sprintf("CRM_HTTP_ADDR=127.0.0.1:%d", port)),
			fmt.Sprintf("http://127.0.0.1:%d/healthz", port), "")
		p.name = "scorer"
		p.start()
		s.scorers = append(s.scorers, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := chstore.Open(ctx, chstore.Config{Addr: []string{chAddr}, Database: s.db}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.store = store
	t.Cleanup(func() {
		_ = store.Conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+s.db)
		store.Close()
	})
	return s
}

// count runs a query returning one number; errors count as -1 (the server
// may be down on purpose).
func (s *stack) count(q string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n uint64
	if err := s.store.Conn.QueryRow(ctx, strings.ReplaceAll(q, "{db}", s.db)).Scan(&n); err != nil {
		return -1
	}
	return int64(n)
}

// waitFor polls until the query returns want, or fails the test after d.
func (s *stack) waitFor(what, q string, want int64, d time.Duration) time.Duration {
	s.t.Helper()
	start := time.Now()
	var got int64
	for time.Since(start) < d {
		if got = s.count(q); got == want {
			return time.Since(start)
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.t.Fatalf("%s: got %d, want %d after %s", what, got, want, d)
	return 0
}

// sender posts events to the collector at a steady rate, retrying each
// batch until it is accepted, as a well-behaved client does. Event ids are
// deterministic, so a retried batch repeats the same ids.
type sender struct {
	url      string
	leads    int
	batch    int
	accepted atomic.Int64
	retries  atomic.Int64
	status   sync.Map // HTTP status → *atomic.Int64
}

func (s *sender) note(code int) {
	v, _ := s.status.LoadOrStore(code, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (s *sender) statusCount(code int) int64 {
	if v, ok := s.status.Load(code); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

// run sends total events, spread over the leads, at about rate events/s.
func (s *sender) run(ctx context.Context, total, rate int) error {
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	client := http.Client{Timeout: 10 * time.Second}
	tick := time.NewTicker(time.Duration(float64(time.Second) * float64(s.batch) / float64(rate)))
	defer tick.Stop()
	var buf bytes.Buffer
	for start := 0; start < total; start += s.batch {
		buf.Reset()
		n := min(s.batch, total-start)
		for i := start; i < start+n; i++ {
			lead := i % s.leads
			typ := "page_view"
			if i < s.leads {
				typ = "lead_created"
			}
			fmt.Fprintf(&buf, `{"event_id":"f-%d","type":%q,"occurred_at":%q,"lead_id":"lead-%d","owner_id":"rep-%d","source":"web","properties":{"page_type":"pricing"}}`+"\n",
				i, typ, base.Add(time.Duration(i)*time.Second).Format(time.RFC3339), lead, lead%5)
		}
		body := buf.Bytes()
		for attempt := 0; ; attempt++ {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			req, _ := http.NewRequestWithContext(ctx, "POST", s.url+"/v1/events", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-ndjson")
			resp, err := client.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				s.note(resp.StatusCode)
				if resp.StatusCode == http.StatusOK {
					s.accepted.Add(int64(n))
					break
				}
				if resp.StatusCode != 503 && resp.StatusCode != 429 {
					return fmt.Errorf("batch at %d: status %d", start, resp.StatusCode)
				}
			} else {
				s.note(0)
			}
			s.retries.Add(1)
			time.Sleep(time.Duration(min(attempt+1, 10)) * 100 * time.Millisecond)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
