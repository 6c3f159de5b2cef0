#!/usr/bin/env bash
# make bench: the end-to-end benchmark (bench/, bench/cmd/e2e). Builds the
# product's ingest and scorer (with a pprof listener added by go build
# -overlay, for profiling; the product's sources are untouched), the floor and
# the goka peer (its own module), starts the local ClickHouse if needed, then
# runs the harness. Arguments go to the harness, e.g.
#
#   scripts/bench.sh --events 200000 --rates 10000 --rate-for 10s
#   scripts/bench.sh --targets crmstream --profile 10s --rates ''
#
# Results are printed, never written into the repo; child logs and profiles
# go to artifacts/bench/ (ignored). BENCH_FROM=head builds the last commit
# (an export of HEAD) instead of the work tree, for a run that others' edits
# in progress cannot break.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/bin/bench"
work="$root/artifacts/bench"
mkdir -p "$out" "$work"
src="$root"
if [ "${BENCH_FROM:-worktree}" = head ]; then
  src="$work/src"
  rm -rf "$src" && mkdir -p "$src"
  git -C "$root" archive HEAD | tar -x -C "$src"
  echo "bench: building HEAD $(git -C "$root" rev-parse --short HEAD)" >&2
fi
cd "$src"

overlay="$work/overlay.json"
{
  printf '{"Replace":{'
  sep=""
  for cmd in ingest scorer; do
    if [ -f "cmd/$cmd/main.go" ]; then
      printf '%s"%s":"%s"' "$sep" "$src/cmd/$cmd/zz_bench_pprof.go" "$src/bench/overlay/pprof.go.txt"
      sep=","
    fi
  done
  printf '}}\n'
} >"$overlay"

echo "bench: building into $out" >&2
scorer_flag=()
for cmd in ingest scorer; do
  if [ -f "cmd/$cmd/main.go" ]; then
    go build -overlay "$overlay" -o "$out/$cmd" "./cmd/$cmd"
  elif [ "$cmd" = scorer ]; then
    echo "bench: cmd/scorer is missing: crmstream runs as ingest alone" >&2
    scorer_flag=(--scorer=false)
  fi
done
go build -o "$out/bench-floor" ./bench/floor
(cd bench/goka && go build -o "$out/bench-goka" .)
go build -o "$out/e2e" ./bench/cmd/e2e

"$root/scripts/clickhouse.sh" start >/dev/null
echo "bench: load before: $(uptime)" >&2
"$out/e2e" --bin "$out" --workdir "$work" "${scorer_flag[@]}" "$@"
echo "bench: load after: $(uptime)" >&2
