//go:build faults

// Fault tests: the real binaries (cmd/ingest, cmd/devkafka) and a private
// ClickHouse server (scripts/clickhouse.sh on free ports, data in a temp
// dir), under a steady stream of HTTP batches whose client retries each
// batch until it is answered 200. After every fault the stream must end
// stored exactly once as readers see it (count() FINAL = events sent).
//
//	go test -tags faults -run TestFaults -v -timeout 20m ./ingest/
//
// CRM_FAULT_CH_DOWN sets how long ClickHouse stays stopped (default 60s).
package ingest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
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

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

type faultEnv struct {
	t         *testing.T
	bin, tmp  string
	chTCP     string
	chHTTP    string
	chEnv     []string
	kafkaPort string
	httpAddr  string
	db        string
	static    bool // --instance-id: static group membership
	ingest    *exec.Cmd
	devkafka  *exec.Cmd
	conn      driver.Conn
	logs      map[string]*os.File
}

func newFaultEnv(t *testing.T, name string, static bool) *faultEnv {
	t.Helper()
	tmp := t.TempDir()
	e := &faultEnv{t: t, bin: sharedBin(t), tmp: tmp, db: "crmfault_" + name, static: static, logs: map[string]*os.File{}}
	e.chTCP, e.chHTTP = portOf(t), portOf(t)
	e.kafkaPort = portOf(t)
	e.httpAddr = freeAddr(t)
	e.chEnv = append(os.Environ(),
		"CRM_CLICKHOUSE_DATA="+filepath.Join(tmp, "clickhouse"),
		"CRM_CLICKHOUSE_PIDFILE="+filepath.Join(tmp, "clickhouse.pid"),
		"CRM_CLICKHOUSE_TCP_PORT="+e.chTCP, "CRM_CLICKHOUSE_HTTP_PORT="+e.chHTTP)
	e.clickhouse("start")
	t.Cleanup(func() { e.clickhouse("stop") })
	e.startKafka()
	e.startIngest()
	t.Cleanup(func() {
		for _, c := range []*exec.Cmd{e.ingest, e.devkafka} {
			if c != nil && c.Process != nil {
				_ = c.Process.Kill()
				_ = c.Wait()
			}
		}
		if t.Failed() {
			for n, f := range e.logs {
				b, _ := os.ReadFile(f.Name())
				if len(b) > 4000 {
					b = b[len(b)-4000:]
				}
				t.Logf("--- %s log (tail)\n%s", n, b)
			}
		}
	})
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{"127.0.0.1:" + e.chTCP}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	e.conn = conn
	return e
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// sharedBin builds cmd/ingest and cmd/devkafka once per test binary.
func sharedBin(t *testing.T) string {
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "crmfault-bin")
		if binErr != nil {
			return
		}
		for _, c := range []string{"ingest", "devkafka"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, c), "github.com/crmstream/crmstream/cmd/"+c).CombinedOutput()
			if err != nil {
				binErr = fmt.Errorf("build %s: %v\n%s", c, err, out)
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

func portOf(t *testing.T) string {
	a := freeAddr(t)
	return a[strings.LastIndexByte(a, ':')+1:]
}

func (e *faultEnv) clickhouse(action string) {
	e.t.Helper()
	cmd := exec.Command("bash", filepath.Join("..", "scripts", "clickhouse.sh"), action)
	cmd.Env = e.chEnv
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("clickhouse %s: %v\n%s", action, err, out)
	}
}

func (e *faultEnv) logFile(name string) *os.File {
	f, ok := e.logs[name]
	if !ok {
		var err error
		f, err = os.Create(filepath.Join(e.tmp, name+".log"))
		if err != nil {
			e.t.Fatal(err)
		}
		e.logs[name] = f
	}
	return f
}

func (e *faultEnv) startKafka() {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(e.bin, "devkafka"), "--port", e.kafkaPort, "--data", filepath.Join(e.tmp, "kafka"))
	cmd.Stdout, cmd.Stderr = e.logFile("devkafka"), e.logFile("devkafka")
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.devkafka = cmd
}

func (e *faultEnv) startIngest() {
	e.t.Helper()
	args := []string{"--kafka-brokers", "127.0.0.1:" + e.kafkaPort, "--clickhouse-addr", "127.0.0.1:" + e.chTCP,
		"--clickhouse-database", e.db, "--http-addr", e.httpAddr, "--log-format", "text",
		"--batch-rows", "5000", "--flush-every", "500ms", "--retry-after", "1s"}
	if e.static {
		args = append(args, "--instance-id", "fault-1")
	}
	cmd := exec.Command(filepath.Join(e.bin, "ingest"), args...)
	cmd.Stdout, cmd.Stderr = e.logFile("ingest"), e.logFile("ingest")
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.ingest = cmd
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + e.httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("ingest not ready after 60 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill stops a process: SIGKILL (no chance to flush) or SIGTERM (graceful).
func kill(t *testing.T, c *exec.Cmd, sig syscall.Signal) {
	t.Helper()
	if err := c.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	_ = c.Wait()
}

func (e *faultEnv) count(q string) uint64 {
	var n uint64
	if err := e.conn.QueryRow(context.Background(), strings.ReplaceAll(q, "DB.", e.db+".")).Scan(&n); err != nil {
		return 0 // ClickHouse may be down or the table not there yet
	}
	return n
}

func (e *faultEnv) waitStored(want uint64, within time.Duration) time.Duration {
	e.t.Helper()
	start := time.Now()
	for {
		n := e.count("SELECT count() FROM DB.events FINAL")
		if n == want {
			return time.Since(start)
		}
		if n > want {
			e.t.Fatalf("count() FINAL = %d > %d events sent", n, want)
		}
		if time.Since(start) > within {
			e.t.Fatalf("count() FINAL = %d after %v, want %d", n, within, want)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// rssMiB reads the resident memory of a process.
func rssMiB(pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// load posts batches of unique events until stopped, retrying each batch
// until it is answered 200, as a well-behaved client does.
type load struct {
	url      string
	batch    int
	sent     atomic.Int64 // events in batches answered 200
	statuses sync.Map     // status (or "conn") → *atomic.Int64
	stop     atomic.Bool
	done     chan struct{}
}

func startLoad(base, prefix string, batch, workers int) *load {
	l := &load{url: "http://" + base + "/v1/events", batch: batch, done: make(chan struct{})}
	var wg sync.WaitGroup
	var seq atomic.Int64
	for w := range workers {
		wg.Go(func() {
			for !l.stop.Load() {
				n := seq.Add(1)
				var body bytes.Buffer
				for i := range batch {
					fmt.Fprintf(&body, `{"event_id":"%s-%d-%d","type":"page_view","occurred_at":"2026-11-21T09:%02d:%02dZ","lead_id":"lead-%d","properties":{"url":"/pricing"}}`+"\n",
						prefix, n, i, i%60, int(n)%60, (int(n)*batch+i)%5000)
				}
				l.post(body.Bytes())
			}
			_ = w
		})
	}
	go func() { wg.Wait(); close(l.done) }()
	return l
}

func (l *load) count(k string) {
	v, _ := l.statuses.LoadOrStore(k, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (l *load) post(body []byte) {
	for {
		resp, err := http.Post(l.url, "application/x-ndjson", bytes.NewReader(body))
		if err != nil {
			l.count("conn")
			time.Sleep(200 * time.Millisecond)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		l.count(strconv.Itoa(resp.StatusCode))
		if resp.StatusCode == 200 {
			l.sent.Add(int64(l.batch))
			return
		}
		wait := time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		time.Sleep(wait)
	}
}

func (l *load) finish() int64 {
	l.stop.Store(true)
	<-l.done
	return l.sent.Load()
}

func (l *load) summary() string {
	var parts []string
	l.statuses.Range(func(k, v any) bool {
		parts = append(parts, fmt.Sprintf("%v:%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	return strings.Join(parts, " ")
}

func TestFaults(t *testing.T) {
	t.Cleanup(func() {
		if binDir != "" {
			_ = os.RemoveAll(binDir)
		}
	})
	for _, static := range []bool{true, false} {
		t.Run(fmt.Sprintf("kill -9 ingest mid-stream, static membership %v", static), func(t *testing.T) {
			e := newFaultEnv(t, fmt.Sprintf("kill_%v", static), static)
			l := startLoad(e.httpAddr, "k", 500, 2)
			time.Sleep(3 * time.Second)
			before := l.sent.Load()
			kill(t, e.ingest, syscall.SIGKILL)
			time.Sleep(time.Second)
			e.startIngest()
			time.Sleep(3 * time.Second)
			sent := l.finish()
			took := e.waitStored(uint64(sent), 90*time.Second)
			rows := e.count("SELECT count() FROM DB.events")
			t.Logf("killed after %d acknowledged events; %d acknowledged in all; count() FINAL = %d reached %v after the load stopped; %d rows before merges; answers %s",
				before, sent, sent, took.Round(time.Millisecond), rows, l.summary())
		})
	}
	t.Run("clickhouse stopped under load", func(t *testing.T) {
		down := 60 * time.Second
		if d, err := time.ParseDuration(os.Getenv("CRM_FAULT_CH_DOWN")); err == nil {
			down = d
		}
		e := newFaultEnv(t, "chdown", true)
		l := startLoad(e.httpAddr, "c", 500, 2)
		time.Sleep(3 * time.Second)
		pid := e.ingest.Process.Pid
		rssBefore := rssMiB(pid)
		e.clickhouse("stop")
		stopped := time.Now()
		var maxRSS float64
		pushback := 0
		for time.Since(stopped) < down {
			maxRSS = max(maxRSS, rssMiB(pid))
			resp, err := http.Get("http://" + e.httpAddr + "/readyz")
			if err == nil {
				if resp.StatusCode == 503 {
					pushback++
				}
				resp.Body.Close()
			}
			time.Sleep(time.Second)
		}
		sentDuring := l.sent.Load()
		e.clickhouse("start")
		time.Sleep(3 * time.Second)
		sent := l.finish()
		took := e.waitStored(uint64(sent), 120*time.Second)
		t.Logf("ClickHouse down %v: RSS %.0f MiB before, max %.0f MiB during; /readyz 503 in %d of %d samples; %d events acknowledged before restart, %d in all; stored once %v after the load stopped; answers %s",
			down, rssBefore, maxRSS, pushback, int(down/time.Second), sentDuring, sent, took.Round(time.Millisecond), l.summary())
		if pushback == 0 {
			t.Error("the service never reported unready while ClickHouse was down")
		}
		if v, _ := l.statuses.Load("503"); v == nil {
			t.Error("the collector never answered 503 while ClickHouse was down")
		}
		if maxRSS > 512 {
			t.Errorf("RSS grew to %.0f MiB while ClickHouse was down", maxRSS)
		}
	})
	t.Run("broker restart", func(t *testing.T) {
		e := newFaultEnv(t, "broker", true)
		l := startLoad(e.httpAddr, "b", 500, 2)
		time.Sleep(3 * time.Second)
		kill(t, e.devkafka, syscall.SIGTERM)
		time.Sleep(3 * time.Second)
		e.startKafka()
		time.Sleep(5 * time.Second)
		sent := l.finish()
		took := e.waitStored(uint64(sent), 120*time.Second)
		t.Logf("broker down 3 s: %d events acknowledged, stored once %v after the load stopped; answers %s", sent, took.Round(time.Millisecond), l.summary())
	})
}
