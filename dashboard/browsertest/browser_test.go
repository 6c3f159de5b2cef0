package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crmstream/crmstream/dashboard"
	"github.com/crmstream/crmstream/dashboard/auth"
	"github.com/crmstream/crmstream/dashboard/dashtest"
	"github.com/crmstream/crmstream/dashboard/reports"
)

var secret = []byte("browser-test-secret-0123456789ab")

func repoRoot(t *testing.T) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

// browser installs Chromium if needed and returns its path, or skips.
func browser(t *testing.T, root string) string {
	if p := os.Getenv("CRM_CHROMIUM"); p != "" {
		return p
	}
	out, err := exec.Command(filepath.Join(root, "scripts", "chromium.sh"), "install").Output()
	if err != nil {
		t.Skipf("browser test skipped: chromium is not installed and scripts/chromium.sh could not install it: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	root := repoRoot(t)
	chromium := browser(t, root)
	shots := filepath.Join(root, "artifacts", "screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// A seeded world and the real server.
	conn, db := dashtest.NewDB(t)
	now := time.Now().UTC().Truncate(time.Second)
	if _, err := dashtest.Seed(context.Background(), conn, db, dashtest.Options{Events: 6000, Now: now, Seed: 11, Owners: 5, Span: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	reader, err := reports.New(reports.Config{Conn: conn, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := auth.NewVerifier(auth.Config{Secret: secret})
	srv, err := dashboard.New(dashboard.Config{Reader: reader, Verifier: v, AlertPoll: 300 * time.Millisecond, LivePoll: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	t.Cleanup(func() { stop(); <-served })
	token, _ := auth.Issue(secret, "lee", auth.Leader, time.Hour, time.Now())

	// The browser.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 960),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644)
		})
	}

	// 1. Sign in.
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1440, 960),
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		shot("01-signin"),
		chromedp.SendKeys(chromedp.CSS("#token"), "not-a-token"),
		chromedp.Click(chromedp.CSS("#signin-button")),
		chromedp.WaitVisible(chromedp.CSS("#signin-error")),
		chromedp.SetValue(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#signin-button")),
		chromedp.WaitVisible(chromedp.CSS("#funnel-bars .funnel-row")),
		chromedp.WaitVisible(chromedp.CSS("#hot-table")),
		chromedp.WaitVisible(chromedp.CSS("#health .model-row")),
		chromedp.Sleep(700*time.Millisecond), // bar transitions
		shot("02-overview"),
	); err != nil {
		t.Fatalf("sign in and overview: %v", err)
	}

	// 2. The funnel on the page equals the API's (same default query as the
	// page: last 24 hours by hour). Retry once across a minute boundary.
	var ok bool
	for attempt := 0; attempt < 3 && !ok; attempt++ {
		page, err := chromedp.Run(ctx, chromedp.Evaluate[[][]any](`[...document.querySelectorAll('#funnel-bars .funnel-row')].map(r => [r.dataset.stage, r.dataset.count, r.querySelector('.fill').textContent])`))
		if err != nil {
			t.Fatal(err)
		}
		kpis, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#kpis .kpi .value')].map(v => v.textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		apiF := getFunnel(t, base, token)
		ok = len(page) == len(apiF.Stages) && len(kpis) == len(apiF.Stages)
		for i := 0; ok && i < len(page); i++ {
			s := apiF.Stages[i]
			want := strconv.FormatUint(s.Count, 10)
			shown := strings.ReplaceAll(fmt.Sprint(page[i][2]), ",", "")
			ok = page[i][0] == s.Stage && page[i][1] == want && shown == want && strings.ReplaceAll(kpis[i], ",", "") == want
		}
		if !ok {
			t.Logf("attempt %d: page %v kpis %v, api %+v", attempt, page, kpis, apiF.Stages)
			time.Sleep(time.Second)
		} else if apiF.Stages[0].Count == 0 {
			t.Fatal("funnel is empty: the comparison would prove nothing")
		}
	}
	if !ok {
		t.Fatal("the funnel on the page does not match GET /api/v1/funnel")
	}

	// 3. A new alert appears live.
	id := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	if err := dashtest.InsertAlerts(context.Background(), conn, db, dashtest.AlertRow{ID: id, Kind: "hot_lead", LeadID: "lead-0000000", OwnerID: "rep-1",
		Status: "fired", Reason: "Ana Silva viewed pricing 3× — score 91", Score: 91, FiredAt: time.Now().UTC(), Version: 1}); err != nil {
		t.Fatal(err)
	}
	sel := fmt.Sprintf(`#feed [data-alert-id="%s"]`, id)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel)), shot("03-live-alert")); err != nil {
		t.Fatalf("live alert did not appear: %v", err)
	}
	reason, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel+" .title")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reason, "score 91") {
		t.Fatalf("alert shows %q", reason)
	}
	// Acknowledge it from the page.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(sel+" button")),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#feed [data-alert-id="%s"].acknowledged`, id))),
	); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}

	// 4. Lead page: score history and reasons with evidence.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#hot-table tbody tr a.who")),
		chromedp.WaitVisible(chromedp.CSS("#history svg path")),
		chromedp.WaitVisible(chromedp.CSS("#reasons .reason-item")),
		chromedp.Sleep(300*time.Millisecond),
		shot("04-lead"),
	); err != nil {
		t.Fatalf("lead page: %v", err)
	}
	evidence, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#reasons .evidence a').length`))
	if err != nil {
		t.Fatal(err)
	}
	if evidence == 0 {
		t.Fatal("lead reasons show no evidence")
	}

	// 5. An account, model health, then the overview on a phone.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/#/account/acct-000000"),
		chromedp.WaitVisible(chromedp.CSS("#timeline li")),
		chromedp.Sleep(300*time.Millisecond),
		shot("05-account"),
		chromedp.Navigate(base+"/#/alerts"),
		chromedp.WaitVisible(chromedp.CSS("#feed .alert")),
		shot("06-alerts"),
		chromedp.Navigate(base+"/#/models"),
		chromedp.WaitVisible(chromedp.CSS("#models .card svg")),
		chromedp.Sleep(300*time.Millisecond),
		shot("07-models"),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
		chromedp.Navigate(base+"/#/"),
		chromedp.WaitVisible(chromedp.CSS("#funnel-bars .funnel-row")),
		chromedp.Sleep(700*time.Millisecond),
		shot("08-phone"),
	); err != nil {
		t.Fatalf("models and phone: %v", err)
	}
	t.Logf("screenshots in %s", shots)
}

func getFunnel(t *testing.T, base, token string) reports.Funnel {
	req, _ := http.NewRequest("GET", base+"/api/v1/funnel?bucket=hour", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var f reports.Funnel
	if err := json.NewDecoder(res.Body).Decode(&f); err != nil {
		t.Fatal(err)
	}
	return f
}
