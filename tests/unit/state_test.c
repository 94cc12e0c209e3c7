/* State loading (SPEC §3): the examples load, the directory and the
 * state.json forms give the same model, defaults are applied, syntax
 * errors carry line:column, unused keys are ignored, and every fixture
 * under tests/fixtures gives exactly the errors it lists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctrl/state.h"

static struct pvc_state *load_path_ok(const char *path)
{
	struct pvx_errlist el = {0};
	struct pvc_state *st = pvc_state_load_path(path, &el);

	if (!st) {
		char *all = pvx_errlist_join(&el);
		fprintf(stderr, "%s:\n%s\n", path, all);
		free(all);
	}
	assert_non_null(st);
	assert_int_equal(el.n, 0);
	pvx_errlist_clear(&el);
	return st;
}

/* ' -> " so that states read well in C strings. */
static struct pvc_state *load_buf(const char *text, struct pvx_errlist *el)
{
	char *d = strdup(text);
	struct pvc_state *st;

	assert_non_null(d);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	st = pvc_state_load_buf(d, strlen(d), "state.json", el);
	free(d);
	return st;
}

static void ip_is(struct in_addr a, const char *want)
{
	char buf[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_examples_load(void **state)
{
	static const char *const ex[] = {"ingress-hybrid",
					 "ingress-hybrid/state.json",
					 "ingress-direct", "mesh-unix"};
	char path[512];

	(void)state;
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", PVX_EXAMPLES, ex[i]);
		pvc_state_free(load_path_ok(path));
	}
}

static void test_hybrid_model(void **state)
{
	struct pvc_state *d = load_path_ok(PVX_EXAMPLES "/ingress-hybrid");
	struct pvc_state *j =
	    load_path_ok(PVX_EXAMPLES "/ingress-hybrid/state.json");
	const struct pvc_container *c;
	const struct pvc_export *e;
	char ext[PVX_ADDRSTRLEN];

	(void)state;
	assert_true(pvc_state_equal(d, j));

	assert_int_equal(d->n_pools, 1);
	assert_string_equal(d->pools[0].name, "internal");
	assert_string_equal(d->pools[0].type, "bridge");
	assert_string_equal(d->pools[0].bridge, "br0");
	ip_is(d->pools[0].subnet.addr, "10.0.4.0");
	assert_int_equal(d->pools[0].subnet.prefix, 24);
	ip_is(d->pools[0].gateway, "10.0.4.1");
	assert_true(d->pools[0].nat);

	assert_int_equal(d->n_containers, 1);
	c = pvc_state_find(d, "example-nginx-ingress");
	assert_non_null(c);
	assert_string_equal(c->type, "process");
	assert_string_equal(c->exec[0], "/bin/sh");
	assert_string_equal(c->exec[1], "example-nginx-ingress/run-nginx.sh");
	assert_null(c->exec[2]);
	assert_int_equal(c->mode, PVC_NET_POOL);
	assert_int_equal(c->n_ifaces, 1);
	assert_string_equal(c->ifaces[0].name, "eth0");
	assert_string_equal(c->ifaces[0].pool, "internal");
	assert_false(c->ifaces[0].has_static);
	assert_null(c->ifaces[0].mac);
	assert_int_equal(c->n_exports, 2);
	e = pvc_container_find_export(c, "nginx-http");
	assert_non_null(e);
	assert_string_equal(e->type, "tcp");
	assert_int_equal(e->port, 80);
	assert_null(e->socket);
	assert_int_equal(pvc_container_find_export(c, "nginx-https")->port,
			 443);

	assert_int_equal(d->n_ingress, 2);
	assert_string_equal(d->ingress[0].name, "nginx-http-ingress");
	assert_string_equal(d->ingress[0].type, "tcp");
	assert_string_equal(d->ingress[0].external, "0.0.0.0:80");
	pvx_hostport_format(&d->ingress[0].ext, ext, sizeof(ext));
	assert_string_equal(ext, "0.0.0.0:80");
	assert_string_equal(d->ingress[0].path, "");
	assert_string_equal(d->ingress[0].provider, "example-nginx-ingress");
	assert_string_equal(d->ingress[0].service, "nginx-http");
	assert_string_equal(d->ingress[1].service, "nginx-https");
	assert_int_equal(d->ingress[1].ext.port, 443);

	assert_ptr_equal(pvc_state_find_provider(d, "nginx-http", &e), c);
	assert_int_equal(e->port, 80);
	assert_null(pvc_state_find_provider(d, "nope", &e));
	assert_null(e);
	pvc_state_free(d);
	pvc_state_free(j);
}

static void test_direct_and_mesh(void **state)
{
	struct pvc_state *st = load_path_ok(PVX_EXAMPLES "/ingress-direct");
	const struct pvc_container *c;
	const struct pvc_export *e;

	(void)state;
	assert_int_equal(st->n_ingress, 2);
	assert_string_equal(st->ingress[1].type, "http");
	assert_string_equal(st->ingress[1].path, "/api");
	assert_int_equal(st->ingress[1].ext.port, 8080);
	c = pvc_state_find(st, "api-server");
	assert_int_equal(c->mode, PVC_NET_HOST);
	assert_int_equal(c->n_ifaces, 0);
	c = pvc_state_find_provider(st, "raw-unix", &e);
	assert_string_equal(c->name, "raw-server");
	assert_string_equal(c->type, "lxc");
	assert_null(c->exec);
	assert_int_equal(c->mode, PVC_NET_NONE);
	assert_string_equal(e->socket, "/run/example/raw.sock");
	assert_int_equal(e->port, 0);
	pvc_state_free(st);

	st = load_path_ok(PVX_EXAMPLES "/mesh-unix");
	assert_int_equal(st->n_pools, 0);
	assert_int_equal(st->n_ingress, 0);
	c = pvc_state_find(st, "app");
	assert_int_equal(c->n_requires, 1);
	assert_string_equal(c->requires[0].name, "raw-unix");
	assert_string_equal(c->requires[0].type, "unix");
	assert_string_equal(c->requires[0].target, "/run/pvx/raw.sock");
	assert_string_equal(c->requires[0].role, "client");
	assert_null(c->requires[0].interface);
	assert_false(c->requires[0].optional);
	assert_string_equal(pvc_state_find_provider(st, "raw-unix", NULL)->name,
			    "provider");
	pvc_state_free(st);
}

static void test_defaults(void **state)
{
	struct pvx_errlist el = {0};
	struct pvc_state *st = load_buf(
	    "{'#spec':'pantavisor-service-system@1',"
	    "'device.json':{'network':{'pools':{'p':{'bridge':'brp',"
	    "'subnet':'10.1.0.0/16'},'q':{'bridge':'brq','subnet':"
	    "'10.2.0.0/24'}}}},"
	    "'zeta/run.json':{'network':{'pool':'p'}},"
	    "'alpha/run.json':{'type':'lxc'},"
	    "'mid/run.json':{'type':'process','exec':['/bin/x','-a'],"
	    "'env':{'A':'1','B':''},'network':{'hostname':'h1',"
	    "'interfaces':[{'pool':'q','ipv4_address':'10.2.0.9',"
	    "'mac_address':'02:aa:bb:cc:dd:ee'},{'name':'eth1'}],"
	    "'pool':'p'},'services':{'required':[{'name':'s','type':'unix',"
	    "'target':'/run/s.sock'}],'optional':[{'name':'o','type':'tcp',"
	    "'target':'127.0.0.1:99','role':'r','interface':'i'}]}},"
	    "'alpha/services.json':[{'name':'s','type':'unix','socket':"
	    "'/s.sock'}]}",
	    &el);
	const struct pvc_container *c;

	(void)state;
	assert_non_null(st);
	/* sorted by name */
	assert_int_equal(st->n_containers, 3);
	assert_string_equal(st->containers[0].name, "alpha");
	assert_string_equal(st->containers[1].name, "mid");
	assert_string_equal(st->containers[2].name, "zeta");
	assert_string_equal(st->pools[0].name, "p");
	ip_is(st->pools[0].gateway, "10.1.0.1"); /* default: first address */
	assert_string_equal(st->pools[0].type, "bridge");
	assert_false(st->pools[0].nat);

	c = &st->containers[0];
	assert_string_equal(c->type, "lxc");	 /* default type */
	assert_int_equal(c->mode, PVC_NET_NONE); /* no pool: none */
	assert_null(c->hostname);
	assert_null(c->env);

	c = &st->containers[2];
	assert_int_equal(c->mode, PVC_NET_POOL); /* pool given: pool */
	assert_int_equal(c->n_ifaces, 1);
	assert_string_equal(c->ifaces[0].name, "eth0");
	assert_string_equal(c->ifaces[0].pool, "p");
	assert_int_equal(c->ifaces[0].src_index, -1);

	c = &st->containers[1];
	assert_string_equal(c->exec[1], "-a");
	assert_string_equal(c->env[0], "A=1");
	assert_string_equal(c->env[1], "B=");
	assert_null(c->env[2]);
	assert_string_equal(c->hostname, "h1");
	assert_int_equal(c->n_ifaces, 2);
	assert_string_equal(c->ifaces[0].name, "eth0");
	assert_string_equal(c->ifaces[0].pool, "q");
	assert_true(c->ifaces[0].has_static);
	ip_is(c->ifaces[0].static_ip, "10.2.0.9");
	assert_string_equal(c->ifaces[0].mac, "02:aa:bb:cc:dd:ee");
	assert_string_equal(c->ifaces[1].name, "eth1");
	assert_string_equal(c->ifaces[1].pool, "p"); /* network.pool */
	assert_int_equal(c->n_requires, 2);
	assert_false(c->requires[0].optional);
	assert_null(c->requires[0].role);
	assert_true(c->requires[1].optional);
	assert_string_equal(c->requires[1].role, "r");
	assert_string_equal(c->requires[1].interface, "i");
	assert_string_equal(pvc_net_mode_name(c->mode), "pool");
	pvc_state_free(st);
	pvx_errlist_clear(&el);
}

static void test_syntax_errors(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"{\n  'a': 1,\n}", "state.json:3:1: "},
	    {"{'#spec':'pantavisor-service-system@1',\n'device.json':{},"
	     "\n'device.json':{}}",
	     "state.json:3:13: duplicate object key"},
	    {"{'#spec':'pantavisor-service-system@1','device.json':"
	     "{'ingress':[],'ingress':[]}}",
	     "state.json:1:"},
	    {"", "state.json:"},
	    {"{} trailing", "state.json:1:"},
	    {"[]", "state.json: expected a JSON object"},
	    {"{'device.json':{}}", "state.json: #spec: missing (expected "
				   "'pantavisor-service-system@1')"},
	    {"{'#spec':1}", "state.json: #spec: unsupported spec"},
	    {"{'#spec':'pantavisor-service-system@1','device.json':[]}",
	     "device.json: expected object"},
	    {"{'#spec':'pantavisor-service-system@1','x/run.json':5}",
	     "x/run.json: expected object"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pvx_errlist el = {0};
		struct pvc_state *st = load_buf(cases[i].in, &el);
		if (st || !pvx_errlist_find(&el, cases[i].want)) {
			char *all = pvx_errlist_join(&el);
			fprintf(stderr, "case %zu: want %s, got:\n%s\n", i,
				cases[i].want, all);
			free(all);
			fail();
		}
		pvx_errlist_clear(&el);
	}
}

static void test_origin_and_paths(void **state)
{
	struct pvx_errlist el = {0};

	(void)state;
	assert_null(pvc_state_load_buf("{", 1, "PUT /state", &el));
	assert_non_null(pvx_errlist_find(&el, "PUT /state:1:"));
	pvx_errlist_clear(&el);
	assert_null(pvc_state_load_path("/nonexistent/pvx-state", &el));
	assert_non_null(pvx_errlist_find(
	    &el, "/nonexistent/pvx-state: No such file or directory"));
	pvx_errlist_clear(&el);
}

static void test_equal(void **state)
{
	struct pvc_state *a = load_path_ok(PVX_EXAMPLES "/ingress-hybrid");
	struct pvc_state *b = load_path_ok(PVX_EXAMPLES "/ingress-hybrid");
	char *saved;

	(void)state;
	assert_true(pvc_container_equal(&a->containers[0], &b->containers[0]));
	saved = b->containers[0].exec[1];
	b->containers[0].exec[1] = "other.sh";
	assert_false(pvc_container_equal(&a->containers[0], &b->containers[0]));
	assert_false(pvc_state_equal(a, b));
	b->containers[0].exec[1] = saved;
	b->ingress[1].ext.port = 444;
	assert_false(pvc_state_equal(a, b));
	pvc_state_free(a);
	pvc_state_free(b);
}

/* Loads tests/fixtures/<kind>/<case>: its state.json if there is one,
 * else the directory itself. */
static struct pvc_state *load_fixture(const char *dir, struct pvx_errlist *el)
{
	char path[1024];
	struct stat sb;
	int n = snprintf(path, sizeof(path), "%s/state.json", dir);

	assert_true(n > 0 && (size_t)n < sizeof(path));
	if (stat(path, &sb) == 0)
		return pvc_state_load_path(path, el);
	return pvc_state_load_path(dir, el);
}

static size_t read_lines(const char *path, char ***out)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;

	assert_non_null(f);
	*out = NULL;
	while ((len = getline(&line, &cap, f)) > 0) {
		while (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (!len)
			continue;
		*out = realloc(*out, (n + 1) * sizeof(**out));
		assert_non_null(*out);
		(*out)[n++] = strdup(line);
	}
	free(line);
	fclose(f);
	return n;
}

static void test_fixtures(void **state)
{
	static const char *const kinds[] = {"good", "bad"};
	int failures = 0, seen = 0;

	(void)state;
	for (int k = 0; k < 2; k++) {
		char base[512];
		struct dirent *de;
		DIR *d;

		snprintf(base, sizeof(base), "%s/%s", PVX_FIXTURES, kinds[k]);
		d = opendir(base);
		assert_non_null(d);
		while ((de = readdir(d)) != NULL) {
			struct pvx_errlist el = {0};
			struct pvc_state *st;
			char dir[1024], exp[1100], **want = NULL;
			size_t nwant = 0;
			bool ok;

			if (de->d_name[0] == '.')
				continue;
			snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name);
			st = load_fixture(dir, &el);
			seen++;
			if (k == 0) {
				ok = st && el.n == 0;
			} else {
				snprintf(exp, sizeof(exp), "%s/expected-error",
					 dir);
				nwant = read_lines(exp, &want);
				ok = !st && nwant > 0 && el.n == nwant;
				for (size_t i = 0; i < nwant; i++) {
					ok = ok &&
					     pvx_errlist_find(&el, want[i]);
					free(want[i]);
				}
				free(want);
			}
			if (!ok) {
				char *all = pvx_errlist_join(&el);
				fprintf(stderr,
					"fixture %s/%s: got (%s):\n%s\n",
					kinds[k], de->d_name,
					st ? "loaded" : "refused", all);
				free(all);
				failures++;
			}
			pvc_state_free(st);
			pvx_errlist_clear(&el);
		}
		closedir(d);
	}
	assert_true(seen >= 10);
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_examples_load),
	    cmocka_unit_test(test_hybrid_model),
	    cmocka_unit_test(test_direct_and_mesh),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_origin_and_paths),
	    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_fixtures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
