/* pv-xconnect's status: the reason shown beside a link's state
 * (docs/xconnect.md), from its state, its start error, its backend and
 * its provider's pid. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "xconnect/status.h"

static void test_reason(void **state)
{
	static const struct {
		enum pvx_rc_state st;
		const char *error;
		const char *socket;
		pid_t provider_pid;
		const char *want;
	} cases[] = {
	    {PVX_RC_LISTENING, "", "10.0.4.2:80", 42, "bound"},
	    {PVX_RC_LISTENING, "", "/run/x.sock", 42, "bound"},
	    {PVX_RC_LISTENING, "", "", 42, "waiting for address"},
	    {PVX_RC_LISTENING, "", "", 0, "waiting for address"},
	    {PVX_RC_LISTENING, "", "10.0.4.2:80", 0, "provider stopped"},
	    {PVX_RC_FAILED, "bind 0.0.0.0:80: Address already in use", "x", 1,
	     "bind failed: Address already in use"},
	    {PVX_RC_FAILED, "bind [::]:80 in netns of pid 7: Permission denied",
	     "x", 1, "bind failed: Permission denied"},
	    {PVX_RC_FAILED, "enter netns of pid 9 for bind: No such process",
	     "x", 1, "failed: enter netns of pid 9 for bind: No such process"},
	    {PVX_RC_FAILED, "", "x", 1, "failed"},
	    {PVX_RC_WAITING, "", "x", 1, "waiting for consumer (not running)"},
	    {PVX_RC_UNSUPPORTED, "", "x", 1, "unsupported type 'dbus'"},
	    {PVX_RC_DRAINING, "", "x", 1, "draining (gone from the graph)"},
	};
	char buf[300];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pvx_link_conf c = {
		    .type = (char *)"dbus",
		    .provider = (char *)"web",
		    .socket = (char *)cases[i].socket,
		    .provider_pid = cases[i].provider_pid,
		};
		struct pvx_link_stats s = {0};
		struct pvx_rc_info info = {.conf = &c,
					   .stats = &s,
					   .state = cases[i].st,
					   .error = cases[i].error};
		pvx_status_reason(&info, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
