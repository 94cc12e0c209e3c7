/* The runtime without its effects (--no-runtime): container tracking across
 * applies, statuses, refusals of actions and bad adoptions, and the death
 * of an adopted pid noticed through the event loop. Needs no root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctrl/runtime.h"

static const char state_a[] =
    "{\"#spec\": \"pantavisor-service-system@1\","
    " \"device.json\": {\"network\": {\"pools\": {\"internal\": {"
    "  \"type\": \"bridge\", \"bridge\": \"br0\","
    "  \"subnet\": \"10.0.4.0/24\", \"gateway\": \"10.0.4.1\"}}}},"
    " \"web/run.json\": {\"name\": \"web\", \"type\": \"process\","
    "  \"exec\": [\"sleep\", \"600\"], \"network\": {\"pool\": \"internal\"}},"
    " \"ext/run.json\": {\"name\": \"ext\", \"type\": \"lxc\","
    "  \"network\": {\"pool\": \"internal\"}}}";

static const char state_b[] =
    "{\"#spec\": \"pantavisor-service-system@1\","
    " \"device.json\": {},"
    " \"web/run.json\": {\"name\": \"web\", \"type\": \"process\","
    "  \"exec\": [\"sleep\", \"601\"]}}";

struct fixture {
	struct event_base *base;
	struct pvc_runtime *rt;
	struct pvc_state *st;
	struct pvc_leases leases;
	int changed;
};

static void on_changed(void *arg)
{
	struct fixture *f = arg;
	f->changed++;
	event_base_loopbreak(f->base);
}

static struct pvc_state *load(const char *text)
{
	struct pvx_errlist el = {0};
	struct pvc_state *st =
	    pvc_state_load_buf(text, strlen(text), "state.json", &el);

	if (!st) {
		char *all = pvx_errlist_join(&el);
		fprintf(stderr, "state: %s\n", all);
		free(all);
	}
	assert_non_null(st);
	pvx_errlist_clear(&el);
	return st;
}

static int setup(void **state)
{
	static struct fixture f;
	struct pvc_runtime_conf conf = {.enabled = false, .stop_grace_ms = 100};
	struct pvx_errlist el = {0};
	struct pvc_leases none = {0};

	memset(&f, 0, sizeof(f));
	f.base = event_base_new();
	assert_non_null(f.base);
	f.rt = pvc_runtime_new(f.base, &conf, on_changed, &f);
	assert_non_null(f.rt);
	f.st = load(state_a);
	assert_int_equal(pvc_ipam_assign(f.st, &none, &f.leases, &el), 0);
	assert_int_equal(pvc_runtime_apply(f.rt, f.st, &f.leases, &el), 0);
	assert_true(pvx_errlist_empty(&el));
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pvc_runtime_free(f->rt);
	pvc_state_free(f->st);
	pvc_leases_free(&f->leases);
	event_base_free(f->base);
	return 0;
}

static void test_tracking(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(pvc_runtime_status(f->rt, "web"), "stopped");
	assert_string_equal(pvc_runtime_status(f->rt, "ext"), "stopped");
	assert_null(pvc_runtime_status(f->rt, "nope"));
	assert_int_equal(pvc_runtime_pid(f->rt, "web"), 0);
	assert_int_equal(pvc_runtime_pid(f->rt, "nope"), 0);
	assert_string_equal(pvc_runtime_error(f->rt, "web"), "");
	assert_string_equal(pvc_runtime_error(f->rt, "nope"), "");
}

static void test_actions_refused(void **state)
{
	static const struct {
		const char *name, *action;
		int want;
		const char *reason;
	} cases[] = {
	    {"nope", "start", -ENOENT, "no container 'nope'"},
	    {"nope", "explode", -ENOENT, "no container"},
	    {"web", "explode", -EINVAL, "unknown action 'explode'"},
	    {"web", "", -EINVAL, "unknown action"},
	    {"web", "START", -EINVAL, "unknown action"},
	    {"web", "start", -ENOTSUP, "not supported without runtime"},
	    {"web", "stop", -ENOTSUP, "not supported without runtime"},
	    {"web", "restart", -ENOTSUP, "not supported without runtime"},
	    {"ext", "stop", -ENOTSUP, "not supported without runtime"},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		int r = pvc_runtime_action(f->rt, cases[i].name,
					   cases[i].action, err, sizeof(err));
		assert_int_equal(r, cases[i].want);
		assert_non_null(strstr(err, cases[i].reason));
	}
	assert_int_equal(f->changed, 0);
}

static void test_adopt_refused(void **state)
{
	static const struct {
		const char *name;
		pid_t pid;
		int want;
		const char *reason;
	} cases[] = {
	    {"nope", 1, -ENOENT, "no container 'nope'"},
	    {"ext", 0, -ESRCH, "no process with pid 0"},
	    {"ext", -1, -ESRCH, "no process"},
	    {"ext", 999999999, -ESRCH, "no process with pid 999999999"},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		int r = pvc_runtime_adopt(f->rt, cases[i].name, cases[i].pid,
					  err, sizeof(err));
		assert_int_equal(r, cases[i].want);
		assert_non_null(strstr(err, cases[i].reason));
	}
	assert_string_equal(pvc_runtime_status(f->rt, "ext"), "stopped");
}

/* A child that lives until its pipe is closed. */
static pid_t child(int *wfd)
{
	int p[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[1]);
		if (read(p[0], &c, 1) < 0) {
			/* exit either way */
		}
		_exit(0);
	}
	close(p[0]);
	*wfd = p[1];
	return pid;
}

static void run_loop(struct fixture *f)
{
	struct timeval tv = {2, 0};

	event_base_loopexit(f->base, &tv);
	event_base_dispatch(f->base);
}

static void test_adopt_and_death(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	int wfd, status;
	pid_t pid = child(&wfd);

	assert_int_equal(pvc_runtime_adopt(f->rt, "ext", pid, err, sizeof(err)),
			 0);
	assert_int_equal(pvc_runtime_pid(f->rt, "ext"), pid);
	assert_string_equal(pvc_runtime_status(f->rt, "ext"), "running");
	/* the same pid again: nothing new */
	assert_int_equal(pvc_runtime_adopt(f->rt, "ext", pid, err, sizeof(err)),
			 0);
	/* changed() comes from the loop, not from inside adopt */
	assert_int_equal(f->changed, 0);
	run_loop(f);
	assert_int_equal(f->changed, 1);

	/* its death is seen through the loop */
	close(wfd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	run_loop(f);
	assert_int_equal(f->changed, 2);
	assert_int_equal(pvc_runtime_pid(f->rt, "ext"), 0);
	assert_string_equal(pvc_runtime_status(f->rt, "ext"), "stopped");
}

static void test_apply_forgets(void **state)
{
	struct fixture *f = *state;
	struct pvc_state *b = load(state_b);
	struct pvc_leases lb = {0};
	struct pvx_errlist el = {0};
	char err[256];
	int wfd, status;
	pid_t pid = child(&wfd);

	assert_int_equal(pvc_runtime_adopt(f->rt, "ext", pid, err, sizeof(err)),
			 0);
	assert_int_equal(pvc_ipam_assign(b, &f->leases, &lb, &el), 0);
	assert_int_equal(pvc_runtime_apply(f->rt, b, &lb, &el), 0);
	/* the previous state may go now: nothing points into it */
	pvc_state_free(f->st);
	pvc_leases_free(&f->leases);
	f->st = b;
	f->leases = lb;
	assert_null(pvc_runtime_status(f->rt, "ext"));
	assert_string_equal(pvc_runtime_status(f->rt, "web"), "stopped");
	/* the forgotten pid's death reaches nobody */
	close(wfd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	f->changed = 0;
	run_loop(f);
	assert_int_equal(f->changed, 1); /* the adoption's own notice */
	assert_null(pvc_runtime_status(f->rt, "ext"));
	pvx_errlist_clear(&el);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tracking, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_actions_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_adopt_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_adopt_and_death, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_apply_forgets, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
