//go:build faults

package faults

import (
	"context"
	"syscall"
	"testing"
	"time"
)

const (
	qStored    = "SELECT count() FROM {db}.events FINAL"
	qUnique    = "SELECT uniqExact(event_id) FROM {db}.events"
	qScored    = "SELECT uniqExact(lead_id) FROM {db}.lead_scores"
	qDupAlerts = "SELECT count() FROM (SELECT kind, lead_id, account_id, event_time, count() AS c FROM {db}.alerts FINAL GROUP BY kind, lead_id, account_id, event_time HAVING c > 1)"
)

// sendWhile runs the sender in the background and returns a wait function.
func sendWhile(t *testing.T, s *sender, total, rate int) func() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	errc := make(chan error, 1)
	go func() { errc <- s.run(ctx, total, rate) }()
	return func() {
		defer cancel()
		if err := <-errc; err != nil {
			t.Fatalf("sender: %v", err)
		}
	}
}

// checkExactlyOnce waits for the pipeline to catch up and checks what
// readers see: every accepted event once, every lead scored, no alert twice.
func checkExactlyOnce(t *testing.T, st *stack, s *sender, total, leads int) {
	t.Helper()
	if got := s.accepted.Load(); got != int64(total) {
		t.Fatalf("collector accepted %d of %d", got, total)
	}
	d := st.waitFor("events stored (FINAL)", qStored, int64(total), 3*time.Minute)
	st.waitFor("distinct event ids", qUnique, int64(total), 30*time.Second)
	d2 := st.waitFor("leads scored", qScored, int64(leads), 3*time.Minute)
	if n := st.count(qDupAlerts); n != 0 {
		t.Errorf("%d alert episodes written twice", n)
	}
	t.Logf("sent %d (retried batches %d, statuses 200=%d 503=%d 429=%d conn-errors=%d); stored after %s, scored after %s more",
		total, s.retries.Load(), s.statusCount(200), s.statusCount(503), s.statusCount(429), s.statusCount(0), d.Round(time.Millisecond), d2.Round(time.Millisecond))
}

func TestKillNine(t *testing.T) {
	st := newStack(t, 1)
	const total, leads = 40000, 4000
	s := &sender{url: st.ingestURL, leads: leads, batch: 200}
	wait := sendWhile(t, s, total, 1500)

	time.Sleep(6 * time.Second)
	t.Log("kill -9 ingest")
	st.ingest.stop(syscall.SIGKILL)
	time.Sleep(2 * time.Second)
	st.ingest.start()

	time.Sleep(6 * time.Second)
	t.Log("kill -9 scorer")
	st.scorers[0].stop(syscall.SIGKILL)
	time.Sleep(2 * time.Second)
	st.scorers[0].start()

	wait()
	checkExactlyOnce(t, st, s, total, leads)
}

func TestClickHouseOutage(t *testing.T) {
	st := newStack(t, 1)
	const total, leads = 60000, 5000
	s := &sender{url: st.ingestURL, leads: leads, batch: 100}
	wait := sendWhile(t, s, total, 650)

	time.Sleep(10 * time.Second)
	t.Log("stopping ClickHouse for 60 s")
	if err := clickhouse("stop"); err != nil {
		t.Fatal(err)
	}
	maxRSS, startRSS := 0, st.ingest.rssKiB()
	for i := 0; i < 60; i++ {
		time.Sleep(time.Second)
		maxRSS = max(maxRSS, st.ingest.rssKiB())
	}
	if err := clickhouse("start"); err != nil {
		t.Fatal(err)
	}
	t.Logf("ingest RSS %d KiB before the outage, at most %d KiB during it; 503 answers so far %d", startRSS, maxRSS, s.statusCount(503))
	wait()
	checkExactlyOnce(t, st, s, total, leads)
	if maxRSS > 512*1024 {
		t.Errorf("ingest RSS reached %d KiB during the outage: memory is not bounded", maxRSS)
	}
}

func TestBrokerRestart(t *testing.T) {
	st := newStack(t, 1)
	const total, leads = 30000, 3000
	s := &sender{url: st.ingestURL, leads: leads, batch: 200}
	wait := sendWhile(t, s, total, 1500)
	time.Sleep(6 * time.Second)
	t.Log("restarting the broker")
	st.broker.stop(syscall.SIGTERM)
	time.Sleep(3 * time.Second)
	st.broker.start()
	wait()
	checkExactlyOnce(t, st, s, total, leads)
}

func TestRebalance(t *testing.T) {
	st := newStack(t, 2)
	const total, leads = 30000, 3000
	s := &sender{url: st.ingestURL, leads: leads, batch: 200}
	wait := sendWhile(t, s, total, 1500)
	time.Sleep(8 * time.Second)
	t.Log("stopping one of two scorers: its partitions move to the other")
	st.scorers[1].stop(syscall.SIGTERM)
	wait()
	checkExactlyOnce(t, st, s, total, leads)

}
