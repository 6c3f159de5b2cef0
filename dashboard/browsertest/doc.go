// Package browsertest is the dashboard's end-to-end test in a real browser:
// Debian's headless Chromium, driven over the Chrome DevTools protocol with
// chromedp, against dashboard-api's server on a fresh seeded ClickHouse
// database.
//
// The test signs in with a token, waits for the live funnel, checks that the
// numbers on the page equal GET /api/v1/funnel, inserts an alert into
// ClickHouse and waits for it to appear in the live feed, opens a lead page
// (score history chart, reasons with evidence) and the model health page,
// and saves screenshots (desktop and phone widths) under
// artifacts/screenshots/ at the repository root.
//
// scripts/chromium.sh installs the browser when it is missing; the test skips,
// saying why, only when that fails (no root, no package mirror). Set
// CRM_CHROMIUM to use another Chromium-based browser.
package browsertest
