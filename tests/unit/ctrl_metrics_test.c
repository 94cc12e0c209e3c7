/* pv-ctrld's Prometheus text (ctrl/metrics.c): containers by status (an
 * unknown status listed once), per-container gauges and counters, leases
 * and addresses per pool (/24, /30), no state at all. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ctrl/metrics.h"

static void has(const char *text, const char *line)
{
	if (!strstr(text, line))
		fail_msg("missing '%s' in:\n%s", line, text);
}

static void test_text(void **state)
{
	struct pvx_errlist el = {0};
	const char *st_text =
	    "{\"#spec\":\"pantavisor-service-system@1\",\"device.json\":"
	    "{\"network\":{\"pools\":{\"a\":{\"bridge\":\"bra\",\"subnet\":"
	    "\"10.1.0.0/24\"},\"b\":{\"bridge\":\"brb\",\"subnet\":"
	    "\"10.2.0.0/30\"}}}}}";
	struct pvc_state *st =
	    pvc_state_load_buf(st_text, strlen(st_text), "state.json", &el);
	struct pvc_lease lv[] = {
	    {.container = "x", .iface = "eth0", .pool = "a"},
	    {.container = "y", .iface = "eth0", .pool = "a"},
	    {.container = "y", .iface = "eth1", .pool = "b"},
	};
	struct pvc_leases leases = {lv, 3};
	json_t *cs = json_loads(
	    "[{\"name\":\"x\",\"type\":\"process\",\"status\":\"running\","
	    "\"restarts\":2,\"exits\":3},"
	    "{\"name\":\"y\",\"type\":\"lxc\",\"status\":\"stopping\"},"
	    "{\"name\":\"z\",\"type\":\"process\",\"status\":\"stopping\"},"
	    "{\"name\":\"q\\\"\",\"type\":\"process\",\"status\":\"exited\"}]",
	    0, NULL);
	size_t len = 0;
	char *text;

	(void)state;
	if (!st)
		fail_msg("%s", pvx_errlist_join(&el));
	assert_non_null(cs);
	text = pvc_metrics_text(st, &leases, cs, 7, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	has(text,
	    "# TYPE pvc_graph_generation gauge\npvc_graph_generation 7\n");
	has(text, "pvc_containers{state=\"running\"} 1\n");
	has(text, "pvc_containers{state=\"exited\"} 1\n");
	has(text, "pvc_containers{state=\"error\"} 0\n");
	/* A status not known here is listed once with its count. */
	has(text, "pvc_containers{state=\"stopping\"} 2\n");
	assert_null(strstr(strstr(text, "state=\"stopping\"") + 1,
			   "state=\"stopping\""));
	has(text, "pvc_container_up{name=\"x\",type=\"process\"} 1\n");
	has(text, "pvc_container_up{name=\"y\",type=\"lxc\"} 0\n");
	has(text, "pvc_container_up{name=\"q\\\"\",type=\"process\"} 0\n");
	has(text, "# TYPE pvc_container_restarts_total counter\n");
	has(text, "pvc_container_restarts_total{name=\"x\"} 2\n");
	has(text, "pvc_container_restarts_total{name=\"y\"} 0\n");
	has(text, "pvc_container_exits_total{name=\"x\"} 3\n");
	has(text, "pvc_pool_leases{pool=\"a\"} 2\n");
	has(text, "pvc_pool_leases{pool=\"b\"} 1\n");
	assert_null(strstr(text, "pool=\"c\""));
	has(text, "pvc_pool_addresses{pool=\"a\"} 253\n"); /* 256-3 */
	has(text, "pvc_pool_addresses{pool=\"b\"} 1\n");   /* 4-3 */
	free(text);

	/* No state yet: the families are there, without samples per pool. */
	text = pvc_metrics_text(NULL, &(struct pvc_leases){0}, cs, 0, &len);
	assert_non_null(text);
	has(text, "pvc_graph_generation 0\n");
	has(text, "# TYPE pvc_pool_leases gauge\n");
	assert_null(strstr(text, "pvc_pool_leases{"));
	free(text);
	json_decref(cs);
	pvc_state_free(st);
	pvx_errlist_clear(&el);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
