#!/bin/sh
# Starts nginx in the foreground inside the container (see the
# ingress-hybrid example for why /tmp/nginx and a relative config path).
set -e
mkdir -p /tmp/nginx
cp example-nginx-pp/nginx.conf /tmp/nginx/nginx.conf
exec nginx -e stderr -p /tmp/nginx/ -c /tmp/nginx/nginx.conf -g 'daemon off;'
