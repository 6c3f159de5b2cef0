package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crmstream/crmstream/internal/benchcpu"
)

// Child is one process of a target, its output in a log file.
type Child struct {
	Name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error
}

// startChild starts bin with args and env (added to the harness's own
// environment), stdout and stderr to logDir/<name>.log.
func startChild(name, bin string, args, env []string, logDir string) (*Child, error) {
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("log dir: %w", err)
	}
	f, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &Child{Name: name, cmd: cmd, log: f, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// Exited reports whether the child has ended, and how.
func (c *Child) Exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.err
	default:
		return false, nil
	}
}

// Stop ends the child: SIGTERM, then SIGKILL after grace. It returns the
// tail of the child's log when the child had failed.
func (c *Child) Stop(grace time.Duration) error {
	defer c.log.Close()
	select {
	case <-c.done:
	default:
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(grace):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
	return nil
}

// LogTail returns the last n bytes of the child's log.
func (c *Child) LogTail(n int64) string {
	f, err := os.Open(c.log.Name())
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// CPU returns the user+system time the child has used so far.
func (c *Child) CPU() (time.Duration, error) { return benchcpu.Process(c.cmd.Process.Pid) }

// RSS returns the child's resident set size in bytes (VmRSS).
func (c *Child) RSS() (int64, error) { return procStatusKB(c.cmd.Process.Pid, "VmRSS:") }

// PeakRSS returns the child's peak resident set size in bytes (VmHWM).
func (c *Child) PeakRSS() (int64, error) { return procStatusKB(c.cmd.Process.Pid, "VmHWM:") }

func procStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("proc status: no %s", field)
}

// clickhousePID finds the local ClickHouse server among the processes, for
// its CPU figure; 0 when not found (a remote server).
func clickhousePID() int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err == nil && strings.TrimSpace(string(comm)) == "clickhouse-serv" { // comm is cut at 15 bytes
			return pid
		}
	}
	return 0
}

// loadavg returns the first line of /proc/loadavg, what uptime prints.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// waitHTTP polls url until it answers 200 or ctx ends.
func waitHTTP(ctx context.Context, url string) error {
	for {
		if err := httpGet(ctx, url, io.Discard); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", url, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
