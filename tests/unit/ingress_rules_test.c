/* The added fields of ingress rules (docs/formats.md, docs/graph.md):
 * proxy_protocol, allow, max_conns, connect_timeout_ms, idle_timeout_s.
 * Refused with file, JSON path and reason by pv-ctrld's loader, written
 * into the graph after Pantavisor's keys, and refused again by
 * pv-xconnect's graph parser; source prefixes and per-link limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/graph.h"
#include "ctrl/state.h"
#include "xconnect/link.h"

/* Written with ' for ", like validate_test. */
static char *dq(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

/* A state with one tcp ingress rule carrying the extra members. */
static char *state_with(const char *extra)
{
	char *s = NULL, *d;

	assert_true(
	    asprintf(&s,
		     "{'#spec':'pantavisor-service-system@1',"
		     "'device.json':{'ingress':[{'name':'web-in','type':'tcp',"
		     "'external':'0.0.0.0:80','provider':'web','service':"
		     "'http'%s%s}]},"
		     "'web/run.json':{'type':'lxc','network':{'mode':'host'}},"
		     "'web/services.json':{'#spec':'service-manifest-xconnect@"
		     "1','services':[{'name':'http','type':'tcp','port':80}]}}",
		     *extra ? "," : "", extra) > 0);
	d = dq(s);
	free(s);
	return d;
}

struct rcase {
	const char *extra;  /* members added to the rule */
	const char *expect; /* "" good, else the whole message */
};

static const struct rcase ctrl_cases[] = {
    {"", ""},
    {"'proxy_protocol':'v1'", ""},
    {"'proxy_protocol':'v2','allow':['127.0.0.1/32','::1','fd00::/8',"
     "'10.0.0.0/8'],'max_conns':5,'connect_timeout_ms':2000,"
     "'idle_timeout_s':60",
     ""},
    {"'proxy_protocol':'v3'",
     "device.json: ingress[0].proxy_protocol: unknown PROXY protocol "
     "version 'v3' (expected v1 or v2)"},
    {"'proxy_protocol':2",
     "device.json: ingress[0].proxy_protocol: expected string"},
    {"'allow':['10.0.0.0/33']",
     "device.json: ingress[0].allow[0]: '10.0.0.0/33': prefix length 33 "
     "out of range (0-32)"},
    {"'allow':['127.0.0.1/32','10.0.0.1/8']",
     "device.json: ingress[0].allow[1]: '10.0.0.1/8': host bits set "
     "(network address expected)"},
    {"'allow':['localhost']",
     "device.json: ingress[0].allow[0]: 'localhost' is not an IP address "
     "or CIDR"},
    {"'allow':['fd00::/129']",
     "device.json: ingress[0].allow[0]: 'fd00::/129': prefix length 129 "
     "out of range (0-128)"},
    {"'allow':['10.0.0.0/']",
     "device.json: ingress[0].allow[0]: '10.0.0.0/': invalid prefix "
     "length"},
    {"'allow':[7]", "device.json: ingress[0].allow[0]: expected string "
		    "(CIDR)"},
    {"'allow':'127.0.0.1/32'", "device.json: ingress[0].allow: expected array"},
    {"'allow':[]",
     "device.json: ingress[0].allow: empty list (it would refuse every "
     "client; omit the field to allow everyone)"},
    {"'max_conns':-1",
     "device.json: ingress[0].max_conns: -1 out of range (1-1000000)"},
    {"'max_conns':0",
     "device.json: ingress[0].max_conns: 0 out of range (1-1000000)"},
    {"'max_conns':'5'",
     "device.json: ingress[0].max_conns: expected integer (1-1000000)"},
    {"'connect_timeout_ms':600001",
     "device.json: ingress[0].connect_timeout_ms: 600001 out of range "
     "(1-600000)"},
    {"'idle_timeout_s':1.5",
     "device.json: ingress[0].idle_timeout_s: expected integer "
     "(1-604800)"},
};

static void test_ctrl_table(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(ctrl_cases) / sizeof(ctrl_cases[0]);
	     i++) {
		const struct rcase *c = &ctrl_cases[i];
		struct pvx_errlist el = {0};
		char *buf = state_with(c->extra);
		struct pvc_state *st =
		    pvc_state_load_buf(buf, strlen(buf), "state.json", &el);
		bool ok = *c->expect ? !st && el.n == 1 &&
					   strcmp(el.msgs[0], c->expect) == 0
				     : st && el.n == 0;

		if (!ok) {
			char *all = pvx_errlist_join(&el);
			fprintf(stderr, "case %zu: expected %s\n got:\n%s\n", i,
				*c->expect ? c->expect : "success",
				all ? all : "");
			free(all);
			failures++;
		}
		pvc_state_free(st);
		pvx_errlist_clear(&el);
		free(buf);
	}
	assert_int_equal(failures, 0);
}

/* Every bad field of one rule is reported, each on its own. */
static void test_ctrl_all_reported(void **state)
{
	struct pvx_errlist el = {0};
	char *buf = state_with("'proxy_protocol':'v3','allow':['1.2.3.4/40'],"
			       "'max_conns':-1");
	struct pvc_state *st;

	(void)state;
	st = pvc_state_load_buf(buf, strlen(buf), "state.json", &el);
	assert_null(st);
	assert_int_equal(el.n, 3);
	pvx_errlist_clear(&el);
	free(buf);
}

/* The graph keeps Pantavisor's keys first, then ingress, then the added
 * fields; a rule without them gives exactly the old link. */
static void test_graph_fields(void **state)
{
	static const char *const order[] = {
	    "ingress",	 "proxy_protocol",     "allow",
	    "max_conns", "connect_timeout_ms", "idle_timeout_s"};
	struct pvx_errlist el = {0};
	char *buf = state_with("'idle_timeout_s':60,'allow':['127.0.0.1/32'],"
			       "'max_conns':5,'proxy_protocol':'v2',"
			       "'connect_timeout_ms':2000");
	struct pvc_state *st;
	struct pvx_link_conf *v;
	size_t n;
	json_t *g, *link, *jv;
	const char *key;
	char *text;
	size_t k = 0, socket_at = 0, i = 0;

	(void)state;
	st = pvc_state_load_buf(buf, strlen(buf), "state.json", &el);
	assert_non_null(st);
	g = pvc_graph_build(st, NULL, NULL);
	assert_non_null(g);
	link = json_array_get(g, 0);
	json_object_foreach(link, key, jv)
	{
		(void)jv;
		if (strcmp(key, "socket") == 0)
			socket_at = i;
		if (i > socket_at && socket_at) {
			assert_true(k < 6);
			assert_string_equal(key, order[k]);
			k++;
		}
		i++;
	}
	assert_int_equal(k, 6);
	assert_string_equal(json_string_value(json_object_get(link, "socket")),
			    "127.0.0.1:80");
	text = pvc_graph_dump(g);
	assert_non_null(text);
	/* What pv-ctrld writes, pv-xconnect takes. */
	assert_int_equal(pvx_graph_parse(text, strlen(text), &v, &n, &el), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].proxy_protocol, PVX_PP_V2);
	assert_int_equal(v[0].n_allow, 1);
	assert_int_equal(v[0].max_conns, 5);
	assert_int_equal(v[0].connect_timeout_ms, 2000);
	assert_int_equal(v[0].idle_timeout_s, 60);
	pvx_link_confs_free(v, n);
	free(text);
	json_decref(g);
	pvc_state_free(st);
	free(buf);

	buf = state_with("");
	st = pvc_state_load_buf(buf, strlen(buf), "state.json", &el);
	assert_non_null(st);
	g = pvc_graph_build(st, NULL, NULL);
	text = pvc_graph_dump(g);
	assert_string_equal(
	    text, "[{\"consumer\":\"EXTERNAL\",\"consumer_pid\":0,"
		  "\"provider\":\"web\",\"provider_pid\":0,\"name\":\"http\","
		  "\"type\":\"tcp\",\"role\":\"EXTERNAL\",\"interface\":\"\","
		  "\"target\":\"0.0.0.0:80\",\"socket\":\"127.0.0.1:80\","
		  "\"ingress\":\"web-in\"}]");
	free(text);
	json_decref(g);
	pvc_state_free(st);
	free(buf);
}

/* Equal states compare equal only when the added fields do too (a reload
 * with a changed allowlist is a change). */
static void test_state_equal(void **state)
{
	char *a = state_with("'allow':['127.0.0.1/32']");
	char *b = state_with("'allow':['127.0.0.2/32']");
	char *c = state_with("'allow':['127.0.0.1/32']");
	struct pvx_errlist el = {0};
	struct pvc_state *sa, *sb, *sc;

	(void)state;
	sa = pvc_state_load_buf(a, strlen(a), "state.json", &el);
	sb = pvc_state_load_buf(b, strlen(b), "state.json", &el);
	sc = pvc_state_load_buf(c, strlen(c), "state.json", &el);
	assert_true(sa && sb && sc);
	assert_false(pvc_state_equal(sa, sb));
	assert_true(pvc_state_equal(sa, sc));
	pvc_state_free(sa);
	pvc_state_free(sb);
	pvc_state_free(sc);
	free(a);
	free(b);
	free(c);
}

#define XLINK(extra)                                                           \
	"[{'type':'tcp','name':'http','consumer':'EXTERNAL','consumer_pid':0," \
	"'provider':'web','provider_pid':0,'role':'EXTERNAL','interface':'',"  \
	"'target':'0.0.0.0:80','socket':'127.0.0.1:80'" extra "}]"

static const struct rcase xc_cases[] = {
    {XLINK(""), ""},
    {XLINK(",'proxy_protocol':'v1','allow':['::1','127.0.0.0/8'],"
	   "'max_conns':1,'connect_timeout_ms':1,'idle_timeout_s':1"),
     ""},
    {XLINK(",'proxy_protocol':'v3'"),
     "graph[0].proxy_protocol: expected \"v1\" or \"v2\""},
    {XLINK(",'proxy_protocol':null"),
     "graph[0].proxy_protocol: expected \"v1\" or \"v2\""},
    {XLINK(",'allow':['10.0.0.0/8','nope']"),
     "graph[0].allow[1]: 'nope' is not an IP address or CIDR"},
    {XLINK(",'allow':[]"), "graph[0].allow: expected an array of 1-256 "
			   "CIDRs"},
    {XLINK(",'allow':[1]"), "graph[0].allow[0]: expected a string"},
    {XLINK(",'max_conns':-1"),
     "graph[0].max_conns: -1 out of range (1-1000000)"},
    {XLINK(",'connect_timeout_ms':'5'"),
     "graph[0].connect_timeout_ms: expected an integer"},
    {XLINK(",'idle_timeout_s':0"),
     "graph[0].idle_timeout_s: 0 out of range (1-604800)"},
};

static void test_xc_table(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(xc_cases) / sizeof(xc_cases[0]); i++) {
		const struct rcase *c = &xc_cases[i];
		struct pvx_errlist el = {0};
		struct pvx_link_conf *v = NULL;
		char *buf = dq(c->extra);
		size_t n = 0;
		int r = pvx_graph_parse(buf, strlen(buf), &v, &n, &el);
		bool ok = *c->expect ? r < 0 && el.n == 1 &&
					   strcmp(el.msgs[0], c->expect) == 0
				     : r == 0 && n == 1;

		if (!ok) {
			char *all = pvx_errlist_join(&el);
			fprintf(stderr, "case %zu: expected %s\n got:\n%s\n", i,
				*c->expect ? c->expect : "success",
				all ? all : "");
			free(all);
			failures++;
		}
		pvx_link_confs_free(v, n);
		pvx_errlist_clear(&el);
		free(buf);
	}
	assert_int_equal(failures, 0);
}

static struct sockaddr_storage sa_of(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (void *)&ss;
	struct sockaddr_in6 *in6 = (void *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
	}
	return ss;
}

static void test_prefix_match(void **state)
{
	static const struct {
		const char *prefix, *ip;
		bool match;
	} m[] = {
	    {"127.0.0.1/32", "127.0.0.1", true},
	    {"127.0.0.1/32", "127.0.0.2", false},
	    {"127.0.0.1", "127.0.0.1", true},
	    {"10.0.0.0/8", "10.255.1.2", true},
	    {"10.0.0.0/8", "11.0.0.1", false},
	    {"10.128.0.0/9", "10.127.0.1", false},
	    {"10.128.0.0/9", "10.200.0.1", true},
	    {"0.0.0.0/0", "192.0.2.1", true},
	    {"0.0.0.0/0", "::1", false},
	    {"127.0.0.0/8", "::ffff:127.0.0.9", true},
	    {"::ffff:127.0.0.0/104", "::ffff:127.0.0.9", false},
	    {"::1", "::1", true},
	    {"::1", "::2", false},
	    {"fd00::/8", "fdff::1", true},
	    {"fd00::/8", "fe00::1", false},
	    {"2001:db8::/33", "2001:db8:7fff::1", true},
	    {"2001:db8::/33", "2001:db8:8000::1", false},
	    {"::/0", "2001:db8::1", true},
	};
	struct pvx_prefix p;
	struct sockaddr_storage ss;
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		assert_int_equal(
		    pvx_prefix_parse(m[i].prefix, &p, err, sizeof(err)), 0);
		ss = sa_of(m[i].ip);
		if (pvx_prefix_match(&p, (struct sockaddr *)&ss) != m[i].match)
			fail_msg("%s in %s: expected %d", m[i].ip, m[i].prefix,
				 m[i].match);
	}
	/* A Unix client is in no list. */
	ss.ss_family = AF_UNIX;
	assert_int_equal(pvx_prefix_parse("0.0.0.0/0", &p, err, sizeof(err)),
			 0);
	assert_false(pvx_prefix_match(&p, (struct sockaddr *)&ss));
}

static void test_link_limits(void **state)
{
	struct pvx_link_conf c = {0};
	struct pvx_limits l;
	struct pvx_prefix p;
	struct sockaddr_storage ss;
	char err[64];

	(void)state;
	l = pvx_link_limits(&c);
	assert_int_equal(l.max_conns, pvx_limits.max_conns);
	assert_int_equal(l.connect_timeout_ms, pvx_limits.connect_timeout_ms);
	assert_int_equal(l.idle_timeout_ms, pvx_limits.idle_timeout_ms);
	c.max_conns = 3;
	c.connect_timeout_ms = 250;
	c.idle_timeout_s = 7;
	l = pvx_link_limits(&c);
	assert_int_equal(l.max_conns, 3);
	assert_int_equal(l.connect_timeout_ms, 250);
	assert_int_equal(l.idle_timeout_ms, 7000);
	assert_int_equal(l.buf_size, pvx_limits.buf_size);

	ss = sa_of("127.0.0.2");
	assert_true(pvx_link_allows(&c, (struct sockaddr *)&ss));
	assert_int_equal(pvx_prefix_parse("127.0.0.1/32", &p, err, 64), 0);
	c.allow = &p;
	c.n_allow = 1;
	assert_false(pvx_link_allows(&c, (struct sockaddr *)&ss));
	ss = sa_of("127.0.0.1");
	assert_true(pvx_link_allows(&c, (struct sockaddr *)&ss));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ctrl_table),
	    cmocka_unit_test(test_ctrl_all_reported),
	    cmocka_unit_test(test_graph_fields),
	    cmocka_unit_test(test_state_equal),
	    cmocka_unit_test(test_xc_table),
	    cmocka_unit_test(test_prefix_match),
	    cmocka_unit_test(test_link_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
