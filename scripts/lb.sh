#!/usr/bin/env bash
# The load balancer of `make run` (Procfile, line `lb`): HAProxy with config/haproxy.cfg on
# $SITE_PORT, short-code GETs to the redirect tier on $EDGE_PORT, the rest to Django on $WSGI_PORT.
# The paths that are Django's come from the URLconf (`manage.py routing_paths`), written first.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${SITE_PORT:?}" "${EDGE_PORT:?}" "${WSGI_PORT:?}"
export EDGE_LISTEN="127.0.0.1:$SITE_PORT"
export EDGE_ASYNC="127.0.0.1:$EDGE_PORT"
export EDGE_WSGI="127.0.0.1:$WSGI_PORT"
export EDGE_NBTHREAD="${EDGE_NBTHREAD:-1}"
export EDGE_RESERVED="${EDGE_RESERVED:-.run/django-paths.lst}"

mkdir -p "$(dirname "$EDGE_RESERVED")"
.venv/bin/python manage.py routing_paths --output "$EDGE_RESERVED"
exec haproxy -f config/haproxy.cfg -db
