/* Pantavisor's aliases and shorthands (docs/formats.md): each written
 * form loads to the same model, the same leases and the same graph as the
 * long form; a shorthand and a long form that disagree, and bad values in
 * the short forms, are refused with file, path and reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/graph.h"
#include "ctrl/ipam.h"
#include "ctrl/state.h"

/* The device around the container under test, "app": a pool and a
 * provider "web" of tcp service "www" and unix service "db". */
#define DEVICE                                                                 \
	"'#spec':'pantavisor-service-system@1',"                               \
	"'device.json':{'network':{'pools':{'internal':{'type':'bridge',"      \
	"'bridge':'br0','subnet':'10.0.4.0/24','gateway':'10.0.4.1'}}},"       \
	"'ingress':[{'name':'in','type':'tcp','external':'0.0.0.0:80',"        \
	"'provider':'app','service':'site'}]},"                                \
	"'web/run.json':{'network':{'pool':'internal'}},"                      \
	"'web/services.json':[{'name':'www','type':'tcp','port':80},"          \
	"{'name':'db','type':'unix','socket':'/run/db.sock'}],"                \
	"'app/services.json':[{'name':'site','type':'tcp','port':8080}],"

/* ' -> " so that states read well in C strings. */
static struct pvc_state *load(const char *run, struct pvx_errlist *el)
{
	char *text, *p;
	struct pvc_state *st;

	assert_true(asprintf(&text, "{" DEVICE "'app/run.json':%s}", run) > 0);
	for (p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	st = pvc_state_load_buf(text, strlen(text), "state.json", el);
	free(text);
	return st;
}

static struct pvc_state *load_ok(const char *what, const char *run)
{
	struct pvx_errlist el = {0};
	struct pvc_state *st = load(run, &el);

	if (!st) {
		char *all = pvx_errlist_join(&el);
		fail_msg("%s: refused:\n%s", what, all);
	}
	pvx_errlist_clear(&el);
	return st;
}

/* The graph of st with its leases, as text. */
static char *graph_of(const struct pvc_state *st, struct pvc_leases *l)
{
	struct pvx_errlist el = {0};
	json_t *g;
	char *d;

	assert_int_equal(pvc_ipam_assign(st, NULL, l, &el), 0);
	assert_true(pvx_errlist_empty(&el));
	g = pvc_graph_build(st, l, NULL);
	assert_non_null(g);
	d = pvc_graph_dump(g);
	json_decref(g);
	return d;
}

struct same_case {
	const char *what;
	const char *short_form, *long_form;
	const char *want_ip; /* app's eth0 lease */
};

static const struct same_case same_cases[] = {
    {"network.ip and network.mac",
     "{'network':{'mode':'pool','pool':'internal','ip':'10.0.4.50',"
     "'mac':'02:00:0a:00:04:32'}}",
     "{'network':{'mode':'pool','interfaces':[{'name':'eth0','pool':"
     "'internal','ipv4_address':'10.0.4.50','mac_address':"
     "'02:00:0a:00:04:32'}]}}",
     "10.0.4.50"},
    {"network.ip alone, mode implied by pool",
     "{'network':{'pool':'internal','ip':'10.0.4.7'}}",
     "{'network':{'interfaces':[{'pool':'internal','ipv4_address':"
     "'10.0.4.7'}]}}",
     "10.0.4.7"},
    {"network.ip with a prefix",
     "{'network':{'pool':'internal','ip':'10.0.4.9/24'}}",
     "{'network':{'pool':'internal','interfaces':[{'ipv4_address':"
     "'10.0.4.9/24'}]}}",
     "10.0.4.9"},
    {"network.mac alone",
     "{'network':{'pool':'internal','mac':'02:11:22:33:44:55'}}",
     "{'network':{'pool':'internal','interfaces':[{'mac_address':"
     "'02:11:22:33:44:55'}]}}",
     "10.0.4.2"},
    {"network.ip sets eth0 of network.interfaces",
     "{'network':{'pool':'internal','ip':'10.0.4.60','interfaces':"
     "[{'name':'eth1'},{'name':'eth0'}]}}",
     "{'network':{'pool':'internal','interfaces':[{'name':'eth1'},"
     "{'name':'eth0','ipv4_address':'10.0.4.60'}]}}",
     "10.0.4.60"},
    {"network.ip equal to ipv4_address",
     "{'network':{'pool':'internal','ip':'10.0.4.61','mac':"
     "'02:AA:00:00:00:01','interfaces':[{'ipv4_address':'10.0.4.61/24',"
     "'mac_address':'02:aa:00:00:00:01'}]}}",
     "{'network':{'pool':'internal','interfaces':[{'ipv4_address':"
     "'10.0.4.61/24','mac_address':'02:aa:00:00:00:01'}]}}",
     "10.0.4.61"},
    {"service for name",
     "{'network':{'pool':'internal'},'services':{'required':[{'service':"
     "'www','type':'tcp','target':'127.0.0.1:80'}]}}",
     "{'network':{'pool':'internal'},'services':{'required':[{'name':"
     "'www','type':'tcp','target':'127.0.0.1:80'}]}}",
     "10.0.4.2"},
    {"provider for role",
     "{'network':{'pool':'internal'},'services':{'required':[{'name':"
     "'www','type':'tcp','target':'127.0.0.1:80','provider':'reader'}]}}",
     "{'network':{'pool':'internal'},'services':{'required':[{'name':"
     "'www','type':'tcp','target':'127.0.0.1:80','role':'reader'}]}}",
     "10.0.4.2"},
    {"external for target",
     "{'network':{'pool':'internal'},'services':{'required':[{'name':"
     "'db','type':'unix','external':'/run/app/db.sock'}]}}",
     "{'network':{'pool':'internal'},'services':{'required':[{'name':"
     "'db','type':'unix','target':'/run/app/db.sock'}]}}",
     "10.0.4.2"},
    {"all three aliases in optional[]",
     "{'network':{'pool':'internal'},'services':{'optional':[{'service':"
     "'www','type':'http','external':'127.0.0.1:81/w','provider':"
     "'any'}]}}",
     "{'network':{'pool':'internal'},'services':{'optional':[{'name':"
     "'www','type':'http','target':'127.0.0.1:81/w','role':'any'}]}}",
     "10.0.4.2"},
    {"both forms, agreeing",
     "{'network':{'pool':'internal'},'services':{'required':[{'name':"
     "'www','service':'www','type':'tcp','target':'127.0.0.1:80',"
     "'external':'127.0.0.1:80','role':'r','provider':'r'}]}}",
     "{'network':{'pool':'internal'},'services':{'required':[{'name':"
     "'www','type':'tcp','target':'127.0.0.1:80','role':'r'}]}}",
     "10.0.4.2"},
};

static void test_same_as_long_form(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(same_cases) / sizeof(same_cases[0]);
	     i++) {
		const struct same_case *sc = &same_cases[i];
		struct pvc_state *a = load_ok(sc->what, sc->short_form);
		struct pvc_state *b = load_ok(sc->what, sc->long_form);
		struct pvc_leases la, lb;
		const struct pvc_lease *x, *y;
		char *ga, *gb, ip[INET_ADDRSTRLEN];

		if (!pvc_state_equal(a, b))
			fail_msg("%s: models differ", sc->what);
		ga = graph_of(a, &la);
		gb = graph_of(b, &lb);
		if (strcmp(ga, gb) != 0)
			fail_msg("%s: graphs differ\n%s\n%s", sc->what, ga, gb);
		assert_int_equal(la.n, lb.n);
		for (size_t k = 0; k < la.n; k++) {
			x = &la.v[k];
			y = &lb.v[k];
			assert_string_equal(x->container, y->container);
			assert_string_equal(x->iface, y->iface);
			assert_int_equal(x->ip.s_addr, y->ip.s_addr);
			assert_memory_equal(x->mac, y->mac, 6);
		}
		x = pvc_leases_find_iface(&la, "app", "eth0");
		assert_non_null(x);
		inet_ntop(AF_INET, &x->ip, ip, sizeof(ip));
		if (strcmp(ip, sc->want_ip) != 0)
			fail_msg("%s: lease %s, want %s", sc->what, ip,
				 sc->want_ip);
		free(ga);
		free(gb);
		pvc_leases_free(&la);
		pvc_leases_free(&lb);
		pvc_state_free(a);
		pvc_state_free(b);
	}
}

/* The static address of the shorthand is the lease, and its MAC the
 * interface's (not the derived 02:00:<ip>). */
static void test_short_lease(void **unused)
{
	struct pvc_state *st =
	    load_ok("lease", "{'network':{'mode':'pool','pool':'internal','ip':"
			     "'10.0.4.50','mac':'02:00:0a:00:04:99'}}");
	struct pvc_leases l;
	const struct pvc_lease *x;
	char mac[18];
	char *g;

	(void)unused;
	g = graph_of(st, &l);
	x = pvc_leases_find_iface(&l, "app", "eth0");
	assert_non_null(x);
	assert_int_equal(x->ip.s_addr, htonl(0x0a000432));
	pvc_mac_format(x->mac, mac, sizeof(mac));
	assert_string_equal(mac, "02:00:0a:00:04:99");
	assert_non_null(strstr(g, "\"socket\":\"10.0.4.50:8080\""));
	free(g);
	pvc_leases_free(&l);
	pvc_state_free(st);
}

struct bad_case {
	const char *run;
	const char *want; /* "file: path: reason" (a prefix of it) */
};

static const struct bad_case bad_cases[] = {
    {"{'network':{'pool':'internal','ip':'10.1.0.5'}}",
     "app/run.json: network.ip: 10.1.0.5 outside pool internal "
     "(10.0.4.0/24)"},
    {"{'network':{'pool':'internal','ip':'10.0.4.1'}}",
     "app/run.json: network.ip: 10.0.4.1 is the gateway of pool internal"},
    {"{'network':{'pool':'internal','ip':'10.0.4.255'}}",
     "app/run.json: network.ip: 10.0.4.255 is the broadcast address"},
    {"{'network':{'pool':'internal','ip':'10.0.4.5/16'}}",
     "app/run.json: network.ip: prefix /16 differs from pool internal"},
    {"{'network':{'pool':'internal','ip':'10.0.4'}}",
     "app/run.json: network.ip: "},
    {"{'network':{'pool':'internal','ip':5}}",
     "app/run.json: network.ip: expected string"},
    {"{'network':{'pool':'internal','mac':'01:00:00:00:00:01'}}",
     "app/run.json: network.mac: '01:00:00:00:00:01' is a multicast"},
    {"{'network':{'pool':'internal','mac':'nope'}}",
     "app/run.json: network.mac: 'nope' is not a MAC address"},
    {"{'network':{'mode':'host','ip':'10.0.4.5'}}",
     "app/run.json: network.ip: a static address needs network mode pool"},
    {"{'network':{'ip':'10.0.4.5'}}",
     "app/run.json: network.ip: a static address needs network mode pool"},
    {"{'network':{'mode':'none','mac':'02:00:00:00:00:01'}}",
     "app/run.json: network.mac: a static address needs network mode pool"},
    {"{'network':{'pool':'nope','ip':'10.0.4.5'}}",
     "app/run.json: network.pool: unknown pool 'nope'"},
    {"{'network':{'pool':'internal','ip':'10.0.4.5','interfaces':[{"
     "'ipv4_address':'10.0.4.6'}]}}",
     "app/run.json: network.ip: '10.0.4.5' disagrees with "
     "network.interfaces[0].ipv4_address"},
    {"{'network':{'pool':'internal','mac':'02:00:00:00:00:01',"
     "'interfaces':[{'mac_address':'02:00:00:00:00:02'}]}}",
     "app/run.json: network.mac: '02:00:00:00:00:01' disagrees with "
     "network.interfaces[0].mac_address"},
    {"{'network':{'pool':'internal','ip':'10.0.4.5','interfaces':[{"
     "'name':'eth1'}]}}",
     "app/run.json: network.ip: sets eth0, which network.interfaces[] "
     "does not list"},
    {"{'network':{'pool':'internal','ip':'10.0.4.2'}},'x/run.json':"
     "{'network':{'pool':'internal','ip':'10.0.4.2'}}",
     "x/run.json: network.ip: 10.0.4.2 already used by app"},
    {"{'services':{'required':[{'name':'www','service':'db','type':'tcp',"
     "'target':'127.0.0.1:80'}]}}",
     "app/run.json: services.required[0].name: 'www' disagrees with "
     "service 'db'"},
    {"{'services':{'optional':[{'name':'www','type':'tcp','target':"
     "'127.0.0.1:80','external':'127.0.0.1:81'}]}}",
     "app/run.json: services.optional[0].target: '127.0.0.1:80' disagrees "
     "with external '127.0.0.1:81'"},
    {"{'services':{'required':[{'name':'www','type':'tcp','target':"
     "'127.0.0.1:80','role':'a','provider':'b'}]}}",
     "app/run.json: services.required[0].role: 'a' disagrees with "
     "provider 'b'"},
    {"{'services':{'required':[{'service':7,'type':'tcp','target':"
     "'127.0.0.1:80'}]}}",
     "app/run.json: services.required[0].service: expected string"},
    {"{'services':{'required':[{'service':'','type':'tcp','target':"
     "'127.0.0.1:80'}]}}",
     "app/run.json: services.required[0].service: must not be empty"},
    {"{'services':{'required':[{'service':'www','type':'tcp','external':"
     "'127.0.0.1:99999'}]}}",
     "app/run.json: services.required[0].external: "},
    {"{'services':{'required':[{'service':'www','type':'unix','external':"
     "'run/x.sock'}]}}",
     "app/run.json: services.required[0].external: "},
    {"{'services':{'required':[{'type':'tcp','target':'127.0.0.1:80'}]}}",
     "app/run.json: services.required[0].name: missing (required)"},
    {"{'services':{'required':[{'service':'www','type':'tcp'}]}}",
     "app/run.json: services.required[0].target: missing (required)"},
};

static void test_bad(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct pvx_errlist el = {0};
		struct pvc_state *st = load(bad_cases[i].run, &el);

		if (st || !pvx_errlist_find(&el, bad_cases[i].want)) {
			char *all = pvx_errlist_join(&el);
			fail_msg("case %zu: want '%s', got:\n%s", i,
				 bad_cases[i].want, all);
		}
		pvx_errlist_clear(&el);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_as_long_form),
	    cmocka_unit_test(test_short_lease),
	    cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
