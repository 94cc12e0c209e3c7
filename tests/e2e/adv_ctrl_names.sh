#!/usr/bin/env bash
# Container names in PUT/GET /containers/<name> that try to escape or are
# not text (issue 2, done-when 5): traversal, encoded slashes, NUL, long
# names, invalid UTF-8. Each must get 400 or 404 with a JSON error (never
# 200 or 5xx), and the graph must stay byte-identical. Unix socket only,
# pv-ctrld --no-runtime.
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

start_ctrld "$PVX_SRC/examples/mesh-unix"
api -o "$T/g0" http://pvx/xconnect-graph

long=$(printf 'x%.0s' {1..5000})
for n in '..%2f..' '..%2F..%2Fetc%2Fpasswd' '%2e%2e' '%2e%2e%2f%2e%2e' '.' '..' \
	'%00' 'provider%00' 'provider%2f..' 'a%2fb' '%2fprovider' 'provider%20' \
	'provider;id' '%252e%252e' "$long" '%ff%fe' 'provider%ff' '%c0%af' '%e2%82'; do
	for m in PUT GET; do
		code=$(status_of -X "$m" --data-binary '{"pid": 1}' "http://pvx/containers/$n")
		[[ $code =~ ^(400|404|414|431)$ ]] ||
			fail "$m /containers/${n:0:40}: HTTP $code, want 400 or 404: $(head -c 200 "$T/body")"
		if [[ $code =~ ^(400|404)$ ]]; then
			grep -q '"error"' "$T/body" || fail "$m /containers/${n:0:40}: $(head -c 200 "$T/body")"
		fi
	done
	alive "/containers/${n:0:40}"
done
api -o "$T/g1" http://pvx/xconnect-graph
cmp -s "$T/g0" "$T/g1" || fail "graph changed"
ok "traversal-ish and non-text container names: 400/404 with an error, graph unchanged"
stop_ctrld
