#!/bin/sh
# Starts nginx in the foreground inside the container. pv-ctrld runs this
# with the state directory as working directory ($PVX_STATE_DIR names it);
# /tmp and /run are private to the container, so nginx keeps its files in
# /tmp/nginx. The config is copied by a path relative to the working
# directory: that still works when the state itself lives under /tmp or
# /run, whose absolute paths the private mounts hide.
set -e
mkdir -p /tmp/nginx
cp example-nginx-ingress/nginx.conf /tmp/nginx/nginx.conf
exec nginx -e stderr -p /tmp/nginx/ -c /tmp/nginx/nginx.conf -g 'daemon off;'
