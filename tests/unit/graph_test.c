/* The xconnect graph (SPEC §5): exact upstream fields for ingress and
 * container links, the socket rule (lease, host, none, unix path), optional
 * requirements, pids, stable order and byte-identical dumps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <sys/stat.h>

#include "ctrl/graph.h"
#include "pvc_fake_state.h"

/* Builds, dumps, compares with the expected text, frees. */
static void expect_graph(const struct pvc_state *st,
			 const struct pvc_leases *leases, const pid_t *pids,
			 const char *want)
{
	json_t *g = pvc_graph_build(st, leases, pids);
	char *got;

	assert_non_null(g);
	got = pvc_graph_dump(g);
	assert_non_null(got);
	if (strcmp(got, want) != 0)
		fail_msg("graph\n got: %s\nwant: %s", got, want);
	free(got);
	json_decref(g);
}

static void assign(const struct pvc_state *st, struct pvc_leases *l)
{
	struct pvx_errlist el = {0};
	assert_int_equal(pvc_ipam_assign(st, NULL, l, &el), 0);
	assert_true(pvx_errlist_empty(&el));
}

/* The seed's scenario (its "Test 11"). */
static struct pvc_state *seed_state(void)
{
	struct pvc_state *st = fake_state_new();
	struct pvc_container *c;

	fake_pool(st, "internal", "10.0.4.0/24", "10.0.4.1");
	c = fake_pooled(st, "example-nginx-ingress", "internal");
	fake_export(c, "nginx-http", "tcp", NULL, 80);
	fake_export(c, "nginx-https", "tcp", NULL, 443);
	fake_ingress(st, "nginx-http-ingress", "tcp", "0.0.0.0:80",
		     "example-nginx-ingress", "nginx-http");
	fake_ingress(st, "nginx-https-ingress", "tcp", "0.0.0.0:443",
		     "example-nginx-ingress", "nginx-https");
	return st;
}

static void test_seed_exact(void **unused)
{
	struct pvc_state *st = seed_state();
	struct pvc_leases l;
	pid_t pids[] = {4242};

	(void)unused;
	assign(st, &l);
	expect_graph(
	    st, &l, pids,
	    "[{\"consumer\":\"EXTERNAL\",\"consumer_pid\":0,\"provider\":"
	    "\"example-nginx-ingress\",\"provider_pid\":4242,\"name\":"
	    "\"nginx-http\",\"type\":\"tcp\",\"role\":\"EXTERNAL\","
	    "\"interface\":\"\",\"target\":\"0.0.0.0:80\",\"socket\":"
	    "\"10.0.4.2:80\",\"ingress\":\"nginx-http-ingress\"},"
	    "{\"consumer\":\"EXTERNAL\",\"consumer_pid\":0,\"provider\":"
	    "\"example-nginx-ingress\",\"provider_pid\":4242,\"name\":"
	    "\"nginx-https\",\"type\":\"tcp\",\"role\":\"EXTERNAL\","
	    "\"interface\":\"\",\"target\":\"0.0.0.0:443\",\"socket\":"
	    "\"10.0.4.2:443\",\"ingress\":\"nginx-https-ingress\"}]");
	/* Not running: pid 0; before IPAM ran: socket "" and still listed. */
	expect_graph(
	    st, NULL, NULL,
	    "[{\"consumer\":\"EXTERNAL\",\"consumer_pid\":0,\"provider\":"
	    "\"example-nginx-ingress\",\"provider_pid\":0,\"name\":"
	    "\"nginx-http\",\"type\":\"tcp\",\"role\":\"EXTERNAL\","
	    "\"interface\":\"\",\"target\":\"0.0.0.0:80\",\"socket\":"
	    "\"\",\"ingress\":\"nginx-http-ingress\"},"
	    "{\"consumer\":\"EXTERNAL\",\"consumer_pid\":0,\"provider\":"
	    "\"example-nginx-ingress\",\"provider_pid\":0,\"name\":"
	    "\"nginx-https\",\"type\":\"tcp\",\"role\":\"EXTERNAL\","
	    "\"interface\":\"\",\"target\":\"0.0.0.0:443\",\"socket\":"
	    "\"\",\"ingress\":\"nginx-https-ingress\"}]");
	pvc_leases_free(&l);
	fake_state_free(st);
}

/* One ingress link per case; socket and target as the table says. */
struct sock_case {
	const char *what;
	enum pvc_net_mode mode;
	bool lease;	    /* run IPAM first */
	const char *socket; /* export's socket path or NULL */
	uint16_t port;
	const char *type, *external;
	const char *want_socket;
};

static const struct sock_case sock_cases[] = {
    {"pool with lease", PVC_NET_POOL, true, NULL, 8080, "tcp", "0.0.0.0:80",
     "10.0.4.2:8080"},
    {"pool, no lease yet", PVC_NET_POOL, false, NULL, 80, "tcp", "0.0.0.0:80",
     ""},
    {"host mode", PVC_NET_HOST, true, NULL, 8080, "tcp", "127.0.0.1:80",
     "127.0.0.1:8080"},
    {"host mode, no leases at all", PVC_NET_HOST, false, NULL, 8080, "tcp",
     "0.0.0.0:80", "127.0.0.1:8080"},
    {"none mode", PVC_NET_NONE, true, NULL, 80, "tcp", "0.0.0.0:80", ""},
    {"unix socket export", PVC_NET_POOL, true, "/run/example/raw.sock", 0,
     "tcp", "0.0.0.0:9000", "/run/example/raw.sock"},
    {"socket wins over port", PVC_NET_POOL, true, "/run/a.sock", 80, "tcp",
     "0.0.0.0:81", "/run/a.sock"},
    {"unix socket, none mode", PVC_NET_NONE, false, "/run/x.sock", 0, "tcp",
     "0.0.0.0:9000", "/run/x.sock"},
    {"http rule, path kept", PVC_NET_POOL, true, NULL, 3000, "http",
     "0.0.0.0:8080/api", "10.0.4.2:3000"},
    {"ipv6 external as written", PVC_NET_POOL, true, NULL, 443, "tcp",
     "[::]:443", "10.0.4.2:443"},
    {"neither socket nor port", PVC_NET_POOL, true, NULL, 0, "tcp",
     "0.0.0.0:80", ""},
};

static void test_socket_rule_table(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(sock_cases) / sizeof(sock_cases[0]);
	     i++) {
		const struct sock_case *sc = &sock_cases[i];
		struct pvc_state *st = fake_state_new();
		struct pvc_leases l = {NULL, 0};
		struct pvc_container *c;
		pid_t pids[] = {77};
		char want[1024];
		json_t *g;
		char *got;

		fake_pool(st, "internal", "10.0.4.0/24", "10.0.4.1");
		c = fake_container(st, "svc", sc->mode);
		if (sc->mode == PVC_NET_POOL)
			fake_iface(c, "eth0", "internal", NULL, NULL);
		fake_export(c, "s", "tcp", sc->socket, sc->port);
		fake_ingress(st, "rule", sc->type, sc->external, "svc", "s");
		if (sc->lease)
			assign(st, &l);
		snprintf(want, sizeof(want),
			 "[{\"consumer\":\"EXTERNAL\",\"consumer_pid\":0,"
			 "\"provider\":\"svc\",\"provider_pid\":77,\"name\":"
			 "\"s\",\"type\":\"%s\",\"role\":\"EXTERNAL\","
			 "\"interface\":\"\",\"target\":\"%s\",\"socket\":"
			 "\"%s\",\"ingress\":\"rule\"}]",
			 sc->type, sc->external, sc->want_socket);
		g = pvc_graph_build(st, &l, pids);
		assert_non_null(g);
		got = pvc_graph_dump(g);
		if (strcmp(got, want) != 0)
			fail_msg("case '%s'\n got: %s\nwant: %s", sc->what, got,
				 want);
		free(got);
		json_decref(g);
		pvc_leases_free(&l);
		fake_state_free(st);
	}
}

/* A small mesh: "app" requires "db"'s unix socket (defaults), "cache"'s
 * tcp port (explicit role and interface) and an optional service nobody
 * exports; "web" optionally requires "db" too. */
static struct pvc_state *mesh_state(void)
{
	struct pvc_state *st = fake_state_new();
	struct pvc_container *c;

	fake_pool(st, "p", "10.0.4.0/24", "10.0.4.1");
	c = fake_pooled(st, "app", "p");
	fake_require(c, "db-sock", "unix", "/run/db.sock", NULL, NULL, false);
	fake_require(c, "kv", "tcp", "127.0.0.1:6379", "reader", "cachenet",
		     false);
	fake_require(c, "metrics", "tcp", "127.0.0.1:9100", NULL, NULL, true);
	c = fake_pooled(st, "cache", "p");
	fake_export(c, "kv", "tcp", NULL, 6379);
	c = fake_container(st, "db", PVC_NET_NONE);
	fake_export(c, "db-sock", "unix", "/run/pg/db.sock", 0);
	c = fake_container(st, "web", PVC_NET_HOST);
	fake_require(c, "db-sock", "unix", "/run/db.sock", NULL, NULL, true);
	fake_export(c, "www", "http", NULL, 8080);
	fake_ingress(st, "site", "http", "0.0.0.0:80/", "web", "www");
	return st;
}

static void test_mesh(void **unused)
{
	struct pvc_state *st = mesh_state();
	struct pvc_leases l;
	pid_t pids[] = {100, 0, 300, 400}; /* app, cache, db, web */

	(void)unused;
	assign(st, &l);
	expect_graph(
	    st, &l, pids,
	    "["
	    "{\"consumer\":\"app\","
	    "\"consumer_pid\":100,\"provider\":\"db\",\"provider_pid\":300,"
	    "\"name\":\"db-sock\",\"type\":\"unix\",\"role\":\"any\","
	    "\"interface\":\"unix\",\"target\":\"/run/"
	    "db.sock\",\"socket\":\"/run/pg/db.sock\"},"
	    "{\"consumer\":\"app\","
	    "\"consumer_pid\":100,\"provider\":\"cache\",\"provider_pid\":0,"
	    "\"name\":\"kv\",\"type\":\"tcp\",\"role\":\"reader\","
	    "\"interface\":\"cachenet\",\"target\":"
	    "\"127.0.0.1:6379\",\"socket\":\"10.0.4.3:6379\"},"
	    "{\"consumer\":\"web\","
	    "\"consumer_pid\":400,\"provider\":\"db\",\"provider_pid\":300,"
	    "\"name\":\"db-sock\",\"type\":\"unix\",\"role\":\"any\","
	    "\"interface\":\"unix\",\"target\":\"/run/"
	    "db.sock\",\"socket\":\"/run/pg/db.sock\"},"
	    "{\"consumer\":\"EXTERNAL\","
	    "\"consumer_pid\":0,\"provider\":\"web\",\"provider_pid\":400,"
	    "\"name\":\"www\",\"type\":\"http\",\"role\":\"EXTERNAL\","
	    "\"interface\":\"\",\"target\":"
	    "\"0.0.0.0:80/\",\"socket\":\"127.0.0.1:8080\",\"ingress\":"
	    "\"site\"}"
	    "]");
	pvc_leases_free(&l);
	fake_state_free(st);
}

/* Every link has exactly the upstream fields (plus "ingress" on ingress
 * links), with the right JSON types. */
static void test_field_set(void **unused)
{
	/* Pantavisor's order, written out here as the contract. */
	static const char *const fields[] = {
	    "consumer", "consumer_pid", "provider",  "provider_pid", "name",
	    "type",	"role",		"interface", "target",	     "socket",
	};
	struct pvc_state *st = mesh_state();
	json_t *g, *link;
	size_t i;

	(void)unused;
	g = pvc_graph_build(st, NULL, NULL);
	assert_int_equal(json_array_size(g), 4);
	json_array_foreach(g, i, link)
	{
		size_t want = json_object_get(link, "ingress") ? 11 : 10;
		assert_int_equal(json_object_size(link), want);
		for (size_t k = 0; k < 10; k++) {
			json_t *v = json_object_get(link, fields[k]);
			assert_non_null(v);
			if (strstr(fields[k], "_pid"))
				assert_true(json_is_integer(v));
			else
				assert_true(json_is_string(v));
		}
	}
	json_decref(g);
	fake_state_free(st);
}

/* Keys appear in Pantavisor's order in the dump (its consumer takes the
 * first matching string token), added keys after them; an ingress rule's
 * interface is echoed. */
static void test_key_order(void **unused)
{
	static const char *const keys[] = {
	    "consumer", "consumer_pid", "provider", "provider_pid",
	    "name",	"type",		"role",	    "interface",
	    "target",	"socket",	"ingress",
	};
	struct pvc_state *st = mesh_state();
	json_t *g, *link;
	size_t i;

	(void)unused;
	st->ingress[0].interface = strdup("wlan0");
	g = pvc_graph_build(st, NULL, NULL);
	assert_int_equal(json_array_size(g), 4);
	json_array_foreach(g, i, link)
	{
		char *d = json_dumps(link, JSON_COMPACT | JSON_PRESERVE_ORDER);
		const char *at = d, *hit;
		char k[32];
		size_t n = json_object_get(link, "ingress") ? 11 : 10;

		assert_non_null(d);
		for (size_t j = 0; j < n; j++) {
			snprintf(k, sizeof(k), "\"%s\":", keys[j]);
			hit = strstr(d, k);
			if (!hit || hit < at)
				fail_msg("link %zu: key %s out of order: %s", i,
					 keys[j], d);
			at = hit;
		}
		if (n == 11)
			assert_string_equal(json_string_value(json_object_get(
						link, "interface")),
					    "wlan0");
		free(d);
	}
	json_decref(g);
	fake_state_free(st);
}

/* Order does not depend on the containers array order, and the same
 * inputs give byte-identical dumps. */
static void test_stable_order(void **unused)
{
	struct pvc_state *a = mesh_state(), *b = mesh_state();
	struct pvc_container tmp;
	char *da, *db, *da2;
	json_t *ga, *gb, *ga2;

	(void)unused;
	/* Reverse b's containers (and so the pid indexing, all 0 here). */
	for (size_t i = 0; i < b->n_containers / 2; i++) {
		tmp = b->containers[i];
		b->containers[i] = b->containers[b->n_containers - 1 - i];
		b->containers[b->n_containers - 1 - i] = tmp;
	}
	ga = pvc_graph_build(a, NULL, NULL);
	ga2 = pvc_graph_build(a, NULL, NULL);
	gb = pvc_graph_build(b, NULL, NULL);
	da = pvc_graph_dump(ga);
	da2 = pvc_graph_dump(ga2);
	db = pvc_graph_dump(gb);
	assert_string_equal(da, da2);
	assert_string_equal(da, db);
	assert_null(strchr(da, ' '));
	assert_null(strchr(da, '\n'));
	free(da);
	free(da2);
	free(db);
	json_decref(ga);
	json_decref(ga2);
	json_decref(gb);
	fake_state_free(a);
	fake_state_free(b);
}

/* Pids follow the container index even when provider and consumer sit at
 * any position. */
static void test_pids_passed_through(void **unused)
{
	struct pvc_state *st = mesh_state();
	pid_t pids[] = {11, 22, 33, 44};
	json_t *g, *link;
	size_t i;

	(void)unused;
	g = pvc_graph_build(st, NULL, pids);
	json_array_foreach(g, i, link)
	{
		const char *c =
		    json_string_value(json_object_get(link, "consumer"));
		const char *p =
		    json_string_value(json_object_get(link, "provider"));
		json_int_t cp =
		    json_integer_value(json_object_get(link, "consumer_pid"));
		json_int_t pp =
		    json_integer_value(json_object_get(link, "provider_pid"));
		for (size_t k = 0; k < st->n_containers; k++) {
			if (strcmp(st->containers[k].name, c) == 0)
				assert_int_equal(cp, pids[k]);
			if (strcmp(st->containers[k].name, p) == 0)
				assert_int_equal(pp, pids[k]);
		}
		if (strcmp(c, "EXTERNAL") == 0)
			assert_int_equal(cp, 0);
	}
	json_decref(g);
	fake_state_free(st);
}

/* Empty state: an empty array, never NULL. */
static void test_empty(void **unused)
{
	struct pvc_state *st = fake_state_new();

	(void)unused;
	expect_graph(st, NULL, NULL, "[]");
	fake_state_free(st);
}

/* The shipped examples, end to end through the loader, IPAM and the
 * graph: one expected link of each (skipped in a tree without them). */
struct example_case {
	const char *dir;
	const char *name, *consumer, *provider, *role, *target, *socket;
};

static const struct example_case example_cases[] = {
    {"ingress-hybrid", "nginx-http", "EXTERNAL", "example-nginx-ingress",
     "EXTERNAL", "0.0.0.0:80", "10.0.4.2:80"},
    {"ingress-hybrid", "nginx-https", "EXTERNAL", "example-nginx-ingress",
     "EXTERNAL", "0.0.0.0:443", "10.0.4.2:443"},
    {"ingress-direct", "raw-unix", "EXTERNAL", "raw-server", "EXTERNAL",
     "0.0.0.0:9000", "/run/example/raw.sock"},
    {"ingress-direct", "api", "EXTERNAL", "api-server", "EXTERNAL",
     "0.0.0.0:8080/api", "/run/api/api.sock"},
    {"mesh-unix", "raw-unix", "app", "provider", "client", "/run/pvx/raw.sock",
     "/run/example/raw.sock"},
};

static const char *field(json_t *link, const char *key)
{
	return json_string_value(json_object_get(link, key));
}

/* A Unix socket path is a path in the provider's root: published only
 * while the provider runs (and in a plan), never for a stopped one, which
 * would make a reader resolve the container's path on the host. */
static void test_unix_socket_needs_running_provider(void **unused)
{
	struct pvx_errlist el = {0};
	struct pvc_state *st;
	struct pvc_leases l;
	char path[512];
	pid_t pids[8] = {0};
	const char *want[] = {"", "/run/example/raw.sock",
			      "/run/example/raw.sock"};
	json_t *g, *link;
	size_t i;
	int found;

	(void)unused;
	snprintf(path, sizeof(path), "%s/mesh-unix", PVX_EXAMPLES);
	st = pvc_state_load_path(path, &el);
	assert_non_null(st);
	assert_true(st->n_containers <= 8);
	assign(st, &l);
	for (int run = 0; run < 3; run++) {
		for (size_t c = 0; c < st->n_containers; c++)
			pids[c] = run == 1 ? (pid_t)(100 + c) : 0;
		g = pvc_graph_build(st, &l, run == 2 ? NULL : pids);
		assert_non_null(g);
		found = 0;
		json_array_foreach(g, i, link)
		{
			if (strcmp(field(link, "name"), "raw-unix") != 0)
				continue;
			assert_string_equal(field(link, "socket"), want[run]);
			found++;
		}
		assert_int_equal(found, 1);
		json_decref(g);
	}
	pvc_leases_free(&l);
	pvc_state_free(st);
}

static void test_examples(void **unused)
{
	size_t checked = 0;

	(void)unused;
	for (size_t t = 0; t < sizeof(example_cases) / sizeof(example_cases[0]);
	     t++) {
		const struct example_case *ec = &example_cases[t];
		struct pvx_errlist el = {0};
		struct pvc_state *st;
		struct pvc_leases l;
		char path[512];
		struct stat sb;
		json_t *g, *link;
		size_t i;
		int found = 0;

		snprintf(path, sizeof(path), "%s/%s", PVX_EXAMPLES, ec->dir);
		if (stat(path, &sb) < 0)
			continue;
		st = pvc_state_load_path(path, &el);
		if (!st)
			fail_msg("%s: %s", ec->dir, el.n ? el.msgs[0] : "?");
		assign(st, &l);
		g = pvc_graph_build(st, &l, NULL);
		json_array_foreach(g, i, link)
		{
			if (strcmp(field(link, "name"), ec->name) != 0 ||
			    strcmp(field(link, "consumer"), ec->consumer) != 0)
				continue;
			found++;
			assert_string_equal(field(link, "provider"),
					    ec->provider);
			assert_string_equal(field(link, "role"), ec->role);
			assert_string_equal(field(link, "target"), ec->target);
			assert_string_equal(field(link, "socket"), ec->socket);
		}
		if (found != 1)
			fail_msg("%s: %d links %s/%s", ec->dir, found, ec->name,
				 ec->consumer);
		checked++;
		json_decref(g);
		pvc_leases_free(&l);
		pvc_state_free(st);
	}
	if (checked == 0)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed_exact),
	    cmocka_unit_test(test_socket_rule_table),
	    cmocka_unit_test(test_mesh),
	    cmocka_unit_test(test_field_set),
	    cmocka_unit_test(test_key_order),
	    cmocka_unit_test(test_stable_order),
	    cmocka_unit_test(test_pids_passed_through),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_examples),
	    cmocka_unit_test(test_unix_socket_needs_running_provider),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
