#!/usr/bin/env bash
# Show which parts of the local stack answer.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
printf '%-14s %s\n' clickhouse "$("$root/scripts/clickhouse.sh" status && echo up || echo down)"
for entry in "${services[@]}"; do
  name="${entry%%|*}"; check="${entry#*|}"
  printf '%-14s %s\n' "$name" "$(healthy "$check" && echo up || echo down)"
done
