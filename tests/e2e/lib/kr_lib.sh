# Helpers of the kernel relay's tests (tests/e2e/kr_*.sh), on top of
# xc_tcp_lib.sh (sourced first by the test).
KP="$PVX_SRC/tests/e2e/lib/kr_peers.py"

# sessions_py EXPR: EXPR evaluated on the parsed GET /sessions as `s`.
sessions_py() {
	curl -sS --unix-socket "$XC_STATUS" http://x/sessions |
		"$PY" -c 'import json,sys; s=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# kr_require: exits 77 (skipped, with the reason) when the running
# pv-xconnect could not load the kernel relay (xc_tcp_lib.sh).
kr_require() { xc_check_kernel_relay on; }

# wait_idle LINK: until the link has no session open (5 s).
wait_idle() {
	local i
	for ((i = 0; i < 100; i++)); do
		[[ $(status_field "$1" active) == 0 ]] && return 0
		sleep 0.05
	done
	fail "$1: sessions still open after 5 s"
}
