/* The reconciler against a fake plugin (passed as the plugin lookup):
 * add, update, remove, rebind on a changed target, failed starts retried
 * with backoff, unsupported types, draining links listed until freed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "xconnect/link.h"
#include "xconnect/reconcile.h"

/* What the fake plugin saw. */
static struct {
	int starts, updates, stops;
	int fail_starts;   /* the next n starts fail */
	bool keep_stopped; /* stop() does not free: the link drains */
	struct pvx_link *held[16];
	size_t nheld;
	char last[256]; /* "start web 0.0.0.0:80 10.0.4.2:80" */
} fk;

static int fake_start(struct pvx_link *l, char *err, size_t errlen)
{
	fk.starts++;
	if (fk.fail_starts > 0) {
		fk.fail_starts--;
		snprintf(err, errlen, "bind %s: Address in use",
			 l->conf.target);
		return -EADDRINUSE;
	}
	l->priv = &fk;
	snprintf(fk.last, sizeof(fk.last), "start %s %s %s", l->conf.name,
		 l->conf.target, l->conf.socket);
	return 0;
}

static void fake_update(struct pvx_link *l)
{
	fk.updates++;
	snprintf(fk.last, sizeof(fk.last), "update %s %s %s", l->conf.name,
		 l->conf.target, l->conf.socket);
}

static void fake_stop(struct pvx_link *l)
{
	fk.stops++;
	snprintf(fk.last, sizeof(fk.last), "stop %s %s %s", l->conf.name,
		 l->conf.target, l->conf.socket);
	if (fk.keep_stopped && fk.nheld < 16) {
		fk.held[fk.nheld++] = l;
		return;
	}
	pvx_link_free(l);
}

static const struct pvx_plugin fake = {
    .type = "tcp",
    .start = fake_start,
    .update = fake_update,
    .stop = fake_stop,
};

static const struct pvx_plugin *fake_find(const char *type)
{
	return strcmp(type, "tcp") == 0 ? &fake : NULL;
}

static struct pvx_link_conf *graph(const char *json, size_t *n)
{
	struct pvx_errlist el = {0};
	struct pvx_link_conf *v = NULL;

	if (pvx_graph_parse(json, strlen(json), &v, n, &el) < 0)
		fail_msg("graph refused: %s", el.n ? el.msgs[0] : "?");
	return v;
}

#define LINK(type, name, target, socket, cpid)                                 \
	"{\"type\":\"" type "\",\"name\":\"" name "\",\"consumer\":"           \
	"\"EXTERNAL\",\"consumer_pid\":" #cpid ",\"provider\":\"p\","          \
	"\"provider_pid\":0,\"role\":\"EXTERNAL\",\"interface\":\"\","         \
	"\"target\":\"" target "\",\"socket\":\"" socket "\"}"

static void apply(struct pvx_reconciler *r, const char *json)
{
	size_t n = 0;
	struct pvx_link_conf *v = graph(json, &n);

	pvx_reconciler_apply(r, v, n);
	pvx_link_confs_free(v, n);
}

struct listing {
	char s[1024];
};

static void list_cb(const struct pvx_rc_info *i, void *arg)
{
	struct listing *l = arg;
	size_t len = strlen(l->s);

	snprintf(l->s + len, sizeof(l->s) - len, "%s%s:%s:%s:%s",
		 len ? " " : "", i->conf->name, i->conf->target,
		 i->conf->socket, pvx_rc_state_name(i->state));
}

static const char *list(struct pvx_reconciler *r)
{
	static struct listing l;

	l.s[0] = '\0';
	pvx_reconciler_foreach(r, list_cb, &l);
	return l.s;
}

static int setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	pvx_log_init("reconcile_test", PVX_LOG_ERR);
	return 0;
}

static void test_add_update_remove(void **state)
{
	struct event_base *base = event_base_new();
	struct pvx_reconciler *r = pvx_reconciler_new(base, fake_find);

	(void)state;
	apply(r, "[" LINK("tcp", "web", "0.0.0.0:80", "", 0) "]");
	assert_int_equal(fk.starts, 1);
	assert_string_equal(fk.last, "start web 0.0.0.0:80 ");
	assert_string_equal(list(r), "web:0.0.0.0:80::listening");

	/* Unchanged graph: nothing happens. */
	apply(r, "[" LINK("tcp", "web", "0.0.0.0:80", "", 0) "]");
	assert_int_equal(fk.starts + fk.updates + fk.stops, 1);

	/* The seed's race: the socket appears later -> update, no restart. */
	apply(r, "[" LINK("tcp", "web", "0.0.0.0:80", "10.0.4.2:80", 0) "]");
	assert_int_equal(fk.updates, 1);
	assert_int_equal(fk.stops, 0);
	assert_string_equal(fk.last, "update web 0.0.0.0:80 10.0.4.2:80");

	/* A changed backend is an update too (not only from ""). */
	apply(r, "[" LINK("tcp", "web", "0.0.0.0:80", "10.0.4.3:80", 0) "]");
	assert_int_equal(fk.updates, 2);
	assert_string_equal(fk.last, "update web 0.0.0.0:80 10.0.4.3:80");

	/* Pids are part of the configuration as well. */
	apply(r, "[" LINK("tcp", "web", "0.0.0.0:80", "10.0.4.3:80", 5) "]");
	assert_int_equal(fk.updates, 3);

	/* A second link added, the first unchanged. */
	apply(r, "[" LINK("tcp", "web", "0.0.0.0:80", "10.0.4.3:80",
			  5) "," LINK("tcp", "api", "0.0.0.0:81", "", 0) "]");
	assert_int_equal(fk.starts, 2);
	assert_int_equal(fk.updates, 3);
	assert_int_equal(pvx_reconciler_count(r), 2);

	/* Removed from the graph -> stopped. */
	apply(r, "[" LINK("tcp", "api", "0.0.0.0:81", "", 0) "]");
	assert_int_equal(fk.stops, 1);
	assert_string_equal(fk.last, "stop web 0.0.0.0:80 10.0.4.3:80");
	assert_string_equal(list(r), "api:0.0.0.0:81::listening");

	apply(r, "[]");
	assert_int_equal(fk.stops, 2);
	assert_int_equal(pvx_reconciler_count(r), 0);
	pvx_reconciler_free(r);
	event_base_free(base);
}

/* A changed target is another identity: the old link is stopped before
 * the new one starts, so that a port can move between links. */
static void test_target_change_rebinds(void **state)
{
	struct event_base *base = event_base_new();
	struct pvx_reconciler *r = pvx_reconciler_new(base, fake_find);

	(void)state;
	apply(r, "[" LINK("tcp", "web", "0.0.0.0:80", "10.0.4.2:80", 0) "]");
	apply(r, "[" LINK("tcp", "web", "0.0.0.0:8080", "10.0.4.2:80", 0) "]");
	assert_int_equal(fk.starts, 2);
	assert_int_equal(fk.stops, 1);
	assert_int_equal(fk.updates, 0);
	assert_string_equal(fk.last, "start web 0.0.0.0:8080 10.0.4.2:80");
	assert_string_equal(list(r), "web:0.0.0.0:8080:10.0.4.2:80:listening");

	/* Same port handed from one name to another in one graph. */
	apply(r, "[" LINK("tcp", "web2", "0.0.0.0:8080", "10.0.4.2:80", 0) "]");
	assert_int_equal(fk.stops, 2);
	assert_int_equal(fk.starts, 3);
	pvx_reconciler_free(r);
	event_base_free(base);
}

static void test_failed_start_retried(void **state)
{
	struct event_base *base = event_base_new();
	struct pvx_reconciler *r = pvx_reconciler_new(base, fake_find);

	(void)state;
	pvx_reconciler_set_backoff(r, 10, 40);
	fk.fail_starts = 3;
	apply(r, "[" LINK("tcp", "web", "0.0.0.0:80", "", 0) "]");
	assert_int_equal(fk.starts, 1);
	assert_string_equal(list(r), "web:0.0.0.0:80::failed");
	/* Retries after 20, 40, 40 ms (the first delay doubled, capped). */
	for (int i = 0; i < 50 && fk.starts < 4; i++) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	assert_int_equal(fk.starts, 4);
	assert_string_equal(list(r), "web:0.0.0.0:80::listening");

	/* A failed link that leaves the graph is not stopped (never ran). */
	fk.fail_starts = 1;
	apply(r, "[" LINK("tcp", "x", "0.0.0.0:90", "", 0) "]");
	assert_int_equal(fk.stops, 1); /* web */
	assert_string_equal(list(r), "x:0.0.0.0:90::failed");
	apply(r, "[]");
	assert_int_equal(fk.stops, 1);
	assert_int_equal(pvx_reconciler_count(r), 0);

	/* An update of a failed link retries it at once. */
	fk.fail_starts = 1;
	apply(r, "[" LINK("tcp", "y", "0.0.0.0:91", "", 0) "]");
	assert_string_equal(list(r), "y:0.0.0.0:91::failed");
	apply(r, "[" LINK("tcp", "y", "0.0.0.0:91", "", 77) "]");
	assert_string_equal(list(r), "y:0.0.0.0:91::listening");
	assert_int_equal(fk.updates, 0);
	pvx_reconciler_free(r);
	event_base_free(base);
}

static void test_unsupported_and_draining(void **state)
{
	struct event_base *base = event_base_new();
	struct pvx_reconciler *r = pvx_reconciler_new(base, fake_find);

	(void)state;
	apply(r, "[" LINK("dbus", "bus", "127.0.0.1:5", "whatever",
			  0) "," LINK("tcp", "web", "0.0.0.0:80", "", 0) "]");
	assert_int_equal(fk.starts, 1);
	assert_string_equal(
	    list(r), "bus:127.0.0.1:5:whatever:unsupported web:0.0.0.0:80::"
		     "listening");
	/* A type change for one identity: a new link of the other type. */
	apply(r, "[" LINK("tcp", "bus", "127.0.0.1:5", "",
			  0) "," LINK("tcp", "web", "0.0.0.0:80", "", 0) "]");
	assert_int_equal(fk.starts, 2);

	fk.keep_stopped = true;
	apply(r, "[" LINK("tcp", "bus", "127.0.0.1:5", "", 0) "]");
	assert_int_equal(fk.stops, 1);
	assert_string_equal(list(r), "bus:127.0.0.1:5::listening "
				     "web:0.0.0.0:80::draining");
	/* The plugin lets go of the link after its drain. */
	pvx_link_free(fk.held[0]);
	assert_string_equal(list(r), "bus:127.0.0.1:5::listening");

	/* Shutdown stops the rest; a link still draining then is the
	 * plugin's and must not call back into the freed reconciler. */
	pvx_reconciler_free(r);
	assert_int_equal(fk.stops, 2);
	assert_int_equal(fk.nheld, 2);
	pvx_link_free(fk.held[1]);
	event_base_free(base);
}

#define MESH(cpid)                                                             \
	"[{\"type\":\"tcp\",\"name\":\"db\",\"consumer\":\"app\","             \
	"\"consumer_pid\":" #cpid ",\"provider\":\"p\",\"provider_pid\":0,"    \
	"\"role\":\"any\",\"interface\":\"tcp\",\"target\":\"127.0.0.1:"       \
	"5432\","                                                              \
	"\"socket\":\"10.0.4.3:5432\"}]"

/* A container consumer that is not running (pid 0) has no namespace to
 * listen in: its link waits instead of binding on the host, starts when
 * the pid comes, and gives its listener up when the pid goes again. */
static void test_container_consumer_waits(void **state)
{
	struct event_base *base = event_base_new();
	struct pvx_reconciler *r = pvx_reconciler_new(base, fake_find);

	(void)state;
	apply(r, MESH(0));
	assert_int_equal(fk.starts, 0);
	assert_string_equal(list(r), "db:127.0.0.1:5432:10.0.4.3:5432:waiting");
	apply(r, MESH(42));
	assert_int_equal(fk.starts, 1);
	assert_string_equal(list(r),
			    "db:127.0.0.1:5432:10.0.4.3:5432:listening");
	apply(r, MESH(0));
	assert_int_equal(fk.stops, 1);
	assert_int_equal(fk.starts, 1);
	assert_string_equal(list(r), "db:127.0.0.1:5432:10.0.4.3:5432:waiting");
	apply(r, MESH(43));
	assert_int_equal(fk.starts, 2);
	assert_string_equal(fk.last, "start db 127.0.0.1:5432 10.0.4.3:5432");
	apply(r, MESH(0));
	apply(r, "[]");
	assert_int_equal(fk.stops, 2); /* a waiting link has nothing to stop */
	assert_string_equal(list(r), "");
	/* EXTERNAL with pid 0 is the host: it starts at once. */
	apply(r, "[" LINK("tcp", "web", "0.0.0.0:80", "10.0.4.2:80", 0) "]");
	assert_int_equal(fk.starts, 3);
	pvx_reconciler_free(r);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_add_update_remove, setup),
	    cmocka_unit_test_setup(test_target_change_rebinds, setup),
	    cmocka_unit_test_setup(test_failed_start_retried, setup),
	    cmocka_unit_test_setup(test_unsupported_and_draining, setup),
	    cmocka_unit_test_setup(test_container_consumer_waits, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
