#!/usr/bin/env bash
# The whole product, live, on this machine: make up, then a simulated stream
# of CRM activity in real time through the HTTP collector. Prints the
# dashboard URL and a sign-in token, follows the logs. Ctrl-C stops all.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
# Demo pacing: checkouts count as abandoned after 3 minutes (30 by default),
# so abandonment alerts show within minutes of starting.
export CRM_ALERTS_ABANDONMENT_TIMEOUT="${CRM_ALERTS_ABANDONMENT_TIMEOUT:-3m}"
# Scores are calibrated probabilities of converting within 90 days: a lead
# minutes old scores in single digits, and 80 ("hot" by default) takes a deal
# in motion, days later. The demo lowers the lead tiers and the hot_lead
# threshold so the most engaged of its young leads show as hot and warm.
export CRM_SCORER_LEAD_TIER_HOT="${CRM_SCORER_LEAD_TIER_HOT:-8}"
export CRM_SCORER_LEAD_TIER_WARM="${CRM_SCORER_LEAD_TIER_WARM:-4}"
export CRM_ALERTS_HOT_THRESHOLD="${CRM_ALERTS_HOT_THRESHOLD:-8}"
scripts/up.sh

cleanup() {
  trap - INT TERM EXIT
  echo; echo "demo: stopping" >&2
  [ -n "${sim:-}" ] && kill "$sim" 2>/dev/null
  [ -n "${tail_pid:-}" ] && kill "$tail_pid" 2>/dev/null
  scripts/down.sh
}
trap cleanup INT TERM EXIT

token=$("$bin/crmctl" token --role leader --user demo-leader)
# The first leads arrive over the last 4 minutes (within the scorer's 5-minute
# allowed lateness, so none of it is late), then new ones keep coming. Each
# run's ids are its own: the simulator's ids are the same for the same seed,
# and the scorer rightly ignores an event id it has already applied, so a
# second demo on the same data would otherwise score nothing new.
"$bin/simulator" --live --to collector --collector http://127.0.0.1:8081/v1/events \
  --id-prefix "${DEMO_ID_PREFIX:-demo$(date -u +%y%m%d%H%M)}" \
  --leads "${DEMO_LEADS:-400}" --accounts "${DEMO_ACCOUNTS:-80}" --rate "${DEMO_RATE:-200}" \
  --backfill 4m --leads-per-hour "${DEMO_LEADS_PER_HOUR:-1200}" --flow-timeout "$CRM_ALERTS_ABANDONMENT_TIMEOUT" \
  >>"$run/simulator.log" 2>&1 &
sim=$!

cat <<MSG

  crmstream is running.

  Dashboard   http://127.0.0.1:8080/
  Sign in with this token (role leader):

  $token

  Collector   POST http://127.0.0.1:8081/v1/events
  Metrics     :8081 ingest, :8082 scorer, :8083 notifier, :8080 dashboard-api (/metrics)
  Logs        .run/*.log (followed below)   Stop: Ctrl-C

  Demo pacing: checkouts abandoned after $CRM_ALERTS_ABANDONMENT_TIMEOUT; leads hot from
  score $CRM_SCORER_LEAD_TIER_HOT, warm from $CRM_SCORER_LEAD_TIER_WARM (80 and 50 by default).

MSG
tail -n 0 -F "$run"/ingest.log "$run"/scorer.log "$run"/dashboard-api.log "$run"/simulator.log &
tail_pid=$!
wait "$sim"
