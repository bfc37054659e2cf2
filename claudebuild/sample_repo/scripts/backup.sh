#!/usr/bin/env sh
# Nightly backup of the Shopfront database; cron runs it on the app server.
set -eu

DB="${SHOPFRONT_DB:-/srv/shopfront/shopfront.sqlite3}"
DEST="/var/backups/shopfront/$(date +%Y-%m-%d).sqlite3"

mkdir -p "$(dirname "$DEST")"
sqlite3 "$DB" ".backup '$DEST'"
gzip -f "$DEST"
find /var/backups/shopfront -name '*.gz' -mtime +14 -delete
