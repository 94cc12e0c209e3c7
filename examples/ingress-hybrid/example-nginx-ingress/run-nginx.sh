#!/bin/sh
# Starts nginx in the foreground inside the container. pv-ctrld runs this
# with the state directory as working directory and $PVX_STATE_DIR set to
# it; /tmp is private to the container, so nginx keeps its files there.
set -e
mkdir -p /tmp/nginx
exec nginx -e stderr -p /tmp/nginx/ \
	-c "$PVX_STATE_DIR/example-nginx-ingress/nginx.conf" -g 'daemon off;'
