#!/usr/bin/env bash
# Regenerates docs/template-status.md from the results database: validates every model type
# (`templates validate --all`, stored in the database) and writes the stored outcomes as
# Markdown (`templates report --format markdown`). The table is never written by hand.
#   scripts/template_status.sh [BINARY] [DATABASE]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
binary="${1:-$root/build/ipfs-accelerate}"
db="${2:-$(mktemp -d)/templates.duckdb}"
# Exit status 1 only says a template failed; the report shows which, so go on to write it.
"$binary" templates validate --all --db "$db" >/dev/null || [ $? -eq 1 ]
"$binary" templates report --format markdown --db "$db" >"$root/docs/template-status.md.tmp"
mv "$root/docs/template-status.md.tmp" "$root/docs/template-status.md"
echo "wrote docs/template-status.md from $db" >&2
