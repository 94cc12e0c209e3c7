/* The daemon core without its socket: apply, refusal, ETag changes and the
 * change callback, adoption, the container view; the runtime is disabled
 * (nothing touches the network). Also the JSON helpers of --check. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctrl/daemon.h"

#define EXAMPLE PVX_EXAMPLES "/ingress-hybrid/state.json"

struct fx {
	char dir[64];
	struct event_base *base;
	struct pvc_daemon *d;
	int changes;
};

static void on_change(void *arg)
{
	((struct fx *)arg)->changes++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pvx_errlist errors = {0}, warnings = {0};
	struct pvc_daemon_conf conf = {0};

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/pvx-daemon-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->base = event_base_new();
	assert_non_null(f->base);
	conf.state_path = EXAMPLE;
	conf.state_dir = f->dir;
	conf.runtime.enabled = false;
	f->d = pvc_daemon_new(f->base, &conf, &errors, &warnings);
	assert_non_null(f->d);
	assert_true(pvx_errlist_empty(&errors));
	pvc_daemon_set_graph_cb(f->d, on_change, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char path[128];

	pvc_daemon_free(f->d);
	event_base_free(f->base);
	snprintf(path, sizeof(path), "%s/leases.json", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/runtime.json", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void test_apply_and_refuse(void **state)
{
	struct fx *f = *state;
	struct pvx_errlist errors = {0}, warnings = {0};
	char etag[PVC_ETAG_LEN], *graph;
	static const char *bad[] = {
	    "",
	    "not json",
	    "[]",
	    "{\"#spec\": \"nope\"}",
	    "{\"#spec\": \"pantavisor-service-system@1\", \"device.json\": "
	    "{\"ingress\": [{\"name\": \"a\", \"type\": \"tcp\", "
	    "\"external\": \"0.0.0.0:70000\", \"provider\": \"x\", "
	    "\"service\": \"y\"}]}}",
	};
	size_t len;
	char *good = slurp(EXAMPLE, &len);

	/* Before any state: an empty graph. */
	assert_string_equal(pvc_daemon_graph(f->d), "[]");
	assert_int_equal(
	    pvc_daemon_load_buf(f->d, good, len, &errors, &warnings), 0);
	assert_true(pvx_errlist_empty(&errors));
	assert_int_equal(f->changes, 1);
	assert_non_null(strstr(pvc_daemon_graph(f->d), "\"10.0.4.2:80\""));
	pvc_etag_compute(pvc_daemon_graph(f->d), etag);
	assert_string_equal(etag, pvc_daemon_etag(f->d));

	/* The same state again: no change, no callback. */
	assert_int_equal(
	    pvc_daemon_load_buf(f->d, good, len, &errors, &warnings), 0);
	assert_int_equal(f->changes, 1);
	assert_string_equal(etag, pvc_daemon_etag(f->d));

	/* Refusals change nothing and say why. */
	graph = strdup(pvc_daemon_graph(f->d));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = pvc_daemon_load_buf(f->d, bad[i], strlen(bad[i]),
					    &errors, &warnings);
		if (r != -EINVAL)
			fail_msg("bad[%zu]: %d", i, r);
		assert_false(pvx_errlist_empty(&errors));
		pvx_errlist_clear(&errors);
		pvx_errlist_clear(&warnings);
		assert_string_equal(graph, pvc_daemon_graph(f->d));
		assert_string_equal(etag, pvc_daemon_etag(f->d));
	}
	assert_int_equal(f->changes, 1);

	/* Reload of the source: same state, same graph. */
	assert_int_equal(pvc_daemon_reload(f->d, &errors, &warnings), 0);
	assert_string_equal(graph, pvc_daemon_graph(f->d));
	free(graph);
	free(good);
	pvx_errlist_clear(&warnings);
}

static void test_adopt_and_containers(void **state)
{
	struct fx *f = *state;
	struct pvx_errlist errors = {0}, warnings = {0};
	char err[256], before[PVC_ETAG_LEN], want[32];
	json_t *cs, *c;

	assert_int_equal(pvc_daemon_reload(f->d, &errors, &warnings), 0);
	memcpy(before, pvc_daemon_etag(f->d), sizeof(before));
	f->changes = 0;

	assert_int_equal(
	    pvc_daemon_adopt(f->d, "nope", getpid(), err, sizeof(err)),
	    -ENOENT);
	assert_int_equal(pvc_daemon_adopt(f->d, "example-nginx-ingress",
					  2147483647, err, sizeof(err)),
			 -ESRCH);
	assert_int_equal(f->changes, 0);
	assert_int_equal(pvc_daemon_adopt(f->d, "example-nginx-ingress",
					  getpid(), err, sizeof(err)),
			 0);
	assert_int_equal(f->changes, 1);
	assert_string_not_equal(before, pvc_daemon_etag(f->d));
	snprintf(want, sizeof(want), "\"provider_pid\":%d", (int)getpid());
	assert_non_null(strstr(pvc_daemon_graph(f->d), want));

	assert_int_equal(pvc_daemon_action(f->d, "example-nginx-ingress",
					   "stop", err, sizeof(err)),
			 -ENOTSUP);
	assert_int_equal(
	    pvc_daemon_action(f->d, "nope", "stop", err, sizeof(err)), -ENOENT);

	cs = pvc_daemon_containers(f->d);
	assert_int_equal(json_array_size(cs), 1);
	c = json_array_get(cs, 0);
	assert_string_equal(json_string_value(json_object_get(c, "name")),
			    "example-nginx-ingress");
	assert_string_equal(json_string_value(json_object_get(c, "mode")),
			    "pool");
	assert_int_equal(json_integer_value(json_object_get(c, "pid")),
			 getpid());
	assert_int_equal(json_array_size(json_object_get(c, "addresses")), 1);
	json_decref(cs);
	assert_null(pvc_daemon_container(f->d, "nope"));
	pvx_errlist_clear(&warnings);
}

static void test_lease_json(void **state)
{
	struct pvc_lease l = {.container = "c",
			      .iface = "eth0",
			      .pool = "internal",
			      .prefix = 24,
			      .mac = {0x02, 0x00, 0x0a, 0x00, 0x04, 0x02}};
	struct pvc_leases ls = {.v = &l, .n = 1};
	json_t *j, *plan, *g = json_array();
	char *s;

	(void)state;
	inet_pton(AF_INET, "10.0.4.2", &l.ip);
	j = pvc_lease_to_json(&l);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"address\":\"10.0.4.2/24\",\"interface\":"
			       "\"eth0\",\"mac\":\"02:00:0a:00:04:02\","
			       "\"pool\":\"internal\"}");
	free(s);
	json_decref(j);
	plan = pvc_plan_to_json(&ls, g);
	s = json_dumps(plan, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(
	    s, "{\"graph\":[],\"leases\":[{\"address\":\"10.0.4.2/24\","
	       "\"container\":\"c\",\"interface\":\"eth0\",\"mac\":"
	       "\"02:00:0a:00:04:02\",\"pool\":\"internal\"}]}");
	free(s);
	json_decref(plan);
	json_decref(g);
}

struct done_log {
	int calls;
	int r[8];
	enum pvc_op_kind kind[8];
	size_t n_errors[8];
	char err[8][128];
};

static void on_done(const struct pvc_op_result *res, void *arg)
{
	struct done_log *l = arg;
	int i = l->calls++;

	assert_true(i < 8);
	l->r[i] = res->r;
	l->kind[i] = res->kind;
	l->n_errors[i] = res->errors->n;
	snprintf(l->err[i], sizeof(l->err[i]), "%s", res->err);
}

/* Operations through the queue: with nothing to wait for, each completes
 * at once, done called exactly once with the outcome of the synchronous
 * call; refusals come back the same way. */
static void test_ops(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *good = slurp(EXAMPLE, &len);
	static const char bad[] = "{\"#spec\": 1}";
	const struct {
		struct pvc_op_req req;
		int r;
		const char *err; /* substring of err, or NULL */
	} cases[] = {
	    {{.kind = PVC_OP_STATE, .buf = good, .len = len}, 0, NULL},
	    {{.kind = PVC_OP_STATE, .buf = bad, .len = sizeof(bad) - 1},
	     -EINVAL,
	     NULL},
	    {{.kind = PVC_OP_RELOAD}, 0, NULL},
	    {{.kind = PVC_OP_ACTION, .name = "nope", .action = "stop"},
	     -ENOENT,
	     "no container"},
	    {{.kind = PVC_OP_ACTION,
	      .name = "example-nginx-ingress",
	      .action = "restart"},
	     -ENOTSUP,
	     "without runtime"},
	    {{.kind = PVC_OP_ADOPT, .name = "nope", .pid = 1},
	     -ENOENT,
	     "no container"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct done_log l = {0};
		bool completed = false;
		struct pvc_op *op = pvc_daemon_submit(f->d, &cases[i].req,
						      on_done, &l, &completed);

		assert_null(op);
		assert_true(completed);
		assert_int_equal(l.calls, 1);
		assert_int_equal(l.kind[0], cases[i].req.kind);
		assert_int_equal(l.r[0], cases[i].r);
		if (cases[i].r == -EINVAL)
			assert_true(l.n_errors[0] > 0);
		if (cases[i].err)
			assert_non_null(strstr(l.err[0], cases[i].err));
	}
	/* Without a callback (SIGHUP): runs all the same. */
	{
		struct pvc_op_req req = {.kind = PVC_OP_RELOAD};
		bool completed = false;
		assert_null(
		    pvc_daemon_submit(f->d, &req, NULL, NULL, &completed));
		assert_true(completed);
	}
	free(good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_apply_and_refuse, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_adopt_and_containers, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ops, setup, teardown),
	    cmocka_unit_test(test_lease_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
