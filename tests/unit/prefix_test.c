/* device.json ingress "strip_prefix" (docs/formats.md): accepted on http
 * rules only, a boolean, carried into the graph as an added field (only
 * when false: a state without it gives the graph it always gave), and
 * read back by pv-xconnect's graph parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/graph.h"
#include "ctrl/ipam.h"
#include "ctrl/state.h"
#include "xconnect/link.h"

/* One http (or tcp) rule with extra members, to container web. */
static struct pvc_state *load(const char *type, const char *extra,
			      struct pvx_errlist *el)
{
	char *text = NULL;
	struct pvc_state *st;

	assert_true(
	    asprintf(&text,
		     "{'#spec':'pantavisor-service-system@1',"
		     "'device.json':{'ingress':[{'name':'r','type':'%s',"
		     "'external':'0.0.0.0:8080%s','provider':'web',"
		     "'service':'api'%s%s}]},"
		     "'web/run.json':{'type':'lxc','network':{'mode':'host'}},"
		     "'web/services.json':[{'name':'api','type':'tcp',"
		     "'port':80}]}",
		     type, strcmp(type, "http") == 0 ? "/api" : "",
		     *extra ? "," : "", extra) > 0);
	for (char *p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	st = pvc_state_load_buf(text, strlen(text), "state.json", el);
	free(text);
	return st;
}

static void test_state(void **state)
{
	static const struct {
		const char *type, *extra, *err; /* err NULL: accepted */
		bool keep;
	} cases[] = {
	    {"http", "", NULL, false},
	    {"http", "'strip_prefix':true", NULL, false},
	    {"http", "'strip_prefix':false", NULL, true},
	    {"http", "'strip_prefix':null", NULL, false},
	    {"http", "'strip_prefix':'false'",
	     "device.json: ingress[0].strip_prefix: expected boolean", false},
	    {"http", "'strip_prefix':0",
	     "device.json: ingress[0].strip_prefix: expected boolean", false},
	    {"tcp", "'strip_prefix':false",
	     "device.json: ingress[0].strip_prefix: only for http rules (a "
	     "tcp rule has no path)",
	     false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pvx_errlist el = {0};
		struct pvc_state *st = load(cases[i].type, cases[i].extra, &el);

		if (cases[i].err) {
			if (st || !pvx_errlist_find(&el, cases[i].err)) {
				char *all = pvx_errlist_join(&el);
				fail_msg("case %zu: want %s, got %s", i,
					 cases[i].err, all ? all : "accepted");
			}
		} else {
			if (!st) {
				char *all = pvx_errlist_join(&el);
				fail_msg("case %zu: %s", i, all);
			}
			assert_int_equal(st->ingress[0].keep_prefix,
					 cases[i].keep);
		}
		pvc_state_free(st);
		pvx_errlist_clear(&el);
	}
}

/* The graph of a state, parsed back by pv-xconnect. */
static void graph_of(const char *extra, char **text,
		     struct pvx_link_conf **confs, size_t *n)
{
	struct pvx_errlist el = {0};
	struct pvc_leases leases = {0};
	struct pvc_state *st = load("http", extra, &el);
	json_t *g;

	assert_non_null(st);
	g = pvc_graph_build(st, &leases, NULL);
	assert_non_null(g);
	*text = pvc_graph_dump(g);
	assert_non_null(*text);
	assert_int_equal(pvx_graph_parse(*text, strlen(*text), confs, n, &el),
			 0);
	assert_int_equal(*n, 1);
	json_decref(g);
	pvc_state_free(st);
}

static void test_graph(void **state)
{
	struct pvx_link_conf *confs;
	struct pvx_errlist el = {0};
	size_t n;
	char *text;

	(void)state;
	graph_of("", &text, &confs, &n);
	assert_null(strstr(text, "strip_prefix"));
	assert_false(confs[0].keep_prefix);
	free(text);
	pvx_link_confs_free(confs, n);

	graph_of("'strip_prefix':true", &text, &confs, &n);
	assert_null(strstr(text, "strip_prefix"));
	pvx_link_confs_free(confs, n);
	free(text);

	graph_of("'strip_prefix':false", &text, &confs, &n);
	/* An added field, after Pantavisor's keys. */
	assert_non_null(strstr(text, "\"strip_prefix\":false"));
	assert_true(strstr(text, "\"strip_prefix\"") >
		    strstr(text, "\"socket\""));
	assert_true(confs[0].keep_prefix);
	free(text);
	pvx_link_confs_free(confs, n);

	/* pv-xconnect refuses a graph whose strip_prefix is no boolean. */
	text = strdup("[{\"type\":\"http\",\"name\":\"a\",\"consumer\":"
		      "\"EXTERNAL\",\"consumer_pid\":0,\"provider\":\"p\","
		      "\"provider_pid\":0,\"role\":\"EXTERNAL\",\"interface\":"
		      "\"\",\"target\":\"0.0.0.0:80/a\",\"socket\":"
		      "\"127.0.0.1:81\",\"strip_prefix\":\"no\"}]");
	assert_int_equal(pvx_graph_parse(text, strlen(text), &confs, &n, &el),
			 -EINVAL);
	assert_non_null(
	    pvx_errlist_find(&el, "graph[0].strip_prefix: expected true or "
				  "false"));
	pvx_errlist_clear(&el);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_state),
	    cmocka_unit_test(test_graph),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
