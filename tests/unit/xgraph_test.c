/* Graph parsing of pv-xconnect (pvx_graph_parse) and the HTTP response
 * parser of its control-socket client: table-driven, many bad inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/stat.h>

#include "ctrl/graph.h"
#include "ctrl/ipam.h"
#include "ctrl/state.h"
#include "xconnect/client.h"
#include "xconnect/link.h"

/* One link entry with the given field overrides spliced in as raw JSON.
 * Fields set to NULL in the template keep their defaults. */
#define ENTRY_FMT                                                              \
	"{\"type\":%s,\"name\":%s,\"consumer\":%s,\"consumer_pid\":%s,"        \
	"\"provider\":%s,\"provider_pid\":%s,\"role\":%s,\"interface\":%s,"    \
	"\"target\":%s,\"socket\":%s%s}"

struct entry {
	const char *type, *name, *consumer, *consumer_pid, *provider,
	    *provider_pid, *role, *interface, *target, *socket, *extra;
};

static char *entry_json(const struct entry *e)
{
	char *s = NULL;
	int r = asprintf(&s, ENTRY_FMT, e->type ? e->type : "\"tcp\"",
			 e->name ? e->name : "\"web\"",
			 e->consumer ? e->consumer : "\"EXTERNAL\"",
			 e->consumer_pid ? e->consumer_pid : "0",
			 e->provider ? e->provider : "\"nginx\"",
			 e->provider_pid ? e->provider_pid : "0",
			 e->role ? e->role : "\"EXTERNAL\"",
			 e->interface ? e->interface : "\"\"",
			 e->target ? e->target : "\"0.0.0.0:80\"",
			 e->socket ? e->socket : "\"10.0.4.2:80\"",
			 e->extra ? e->extra : "");
	assert_true(r > 0);
	return s;
}

struct field_case {
	struct entry e;
	const char *err; /* NULL: accepted; else a substring of one error */
};

static const struct field_case field_cases[] = {
    /* good */
    {{0}, NULL},
    {{.socket = "\"\""}, NULL},
    {{.socket = "\"[fd00::2]:443\""}, NULL},
    {{.socket = "\"/run/nginx/http.sock\""}, NULL},
    {{.target = "\"[::]:8080\""}, NULL},
    {{.target = "\"127.0.0.1:65535\""}, NULL},
    {{.type = "\"http\"", .target = "\"0.0.0.0:8080/api\""}, NULL},
    {{.type = "\"unix\"",
      .target = "\"/run/pv/raw.sock\"",
      .socket = "\"/run/example/raw.sock\""},
     NULL},
    {{.type = "\"dbus\"",
      .target = "\"org.example\"",
      .socket = "\"whatever\""},
     NULL},
    {{.consumer_pid = "1234", .provider_pid = "4321"}, NULL},
    {{.extra = ",\"ingress\":\"nginx-http-ingress\",\"status\":\"ok\""}, NULL},
    {{.extra = ",\"ingress\":42"}, NULL},
    /* missing / wrong types */
    {{.type = "null"}, "graph[0].type: expected a string"},
    {{.type = "\"\""}, "graph[0].type: empty"},
    {{.name = "7"}, "graph[0].name: expected a string"},
    {{.name = "\"\""}, "graph[0].name: empty"},
    {{.consumer = "[]"}, "graph[0].consumer: expected a string"},
    {{.provider = "{}"}, "graph[0].provider: expected a string"},
    {{.role = "true"}, "graph[0].role: expected a string"},
    {{.interface = "1.5"}, "graph[0].interface: expected a string"},
    {{.target = "80"}, "graph[0].target: expected a string"},
    {{.socket = "null"}, "graph[0].socket: expected a string"},
    {{.consumer_pid = "\"12\""},
     "graph[0].consumer_pid: expected an "
     "integer"},
    {{.consumer_pid = "-1"}, "graph[0].consumer_pid: -1 is not a valid pid"},
    {{.provider_pid = "-5"}, "graph[0].provider_pid: -5 is not a valid pid"},
    {{.provider_pid = "1.0"}, "graph[0].provider_pid: expected an integer"},
    {{.provider_pid = "99999999999"}, "not a valid pid"},
    /* target */
    {{.target = "\"0.0.0.0:0\""}, "graph[0].target: port 0 out of range"},
    {{.target = "\"0.0.0.0:70000\""},
     "graph[0].target: port 70000 out of range (1-65535)"},
    {{.target = "\"0.0.0.0\""},
     "graph[0].target: '0.0.0.0': expected "
     "IP:PORT"},
    {{.target = "\"localhost:80\""},
     "graph[0].target: 'localhost:80': "
     "invalid IPv4"},
    {{.target = "\"::1:80\""}, "must be written [addr]:port"},
    {{.target = "\"[::1:80\""}, "missing ']'"},
    {{.target = "\"\""}, "graph[0].target: empty address"},
    {{.target = "\"0.0.0.0:80/api\""}, "graph[0].target:"},
    {{.type = "\"http\"", .target = "\"0.0.0.0:8080/a/../b\""},
     "not a normalized path"},
    {{.type = "\"http\"", .target = "\"0.0.0.0:0/api\""}, "out of range"},
    {{.type = "\"unix\"", .target = "\"run/raw.sock\""},
     "graph[0].target: 'run/raw.sock' is not an absolute path"},
    {{.type = "\"unix\"", .target = "\"/run/../etc/x\""},
     "graph[0].target: '/run/../etc/x' contains a '..' component"},
    /* socket */
    {{.socket = "\"10.0.4.2:0\""}, "graph[0].socket: port 0 out of range"},
    {{.socket = "\"10.0.4.2:70000\""},
     "graph[0].socket: port 70000 out "
     "of range"},
    {{.socket = "\"10.0.4.256:80\""},
     "graph[0].socket: '10.0.4.256:80': "
     "invalid IPv4"},
    {{.socket = "\"[fd00::g]:80\""}, "invalid IPv6"},
    {{.socket = "\"10.0.4.2:http\""}, "not a number"},
    {{.socket = "\"run/nginx.sock\""},
     "graph[0].socket: 'run/nginx.sock' is not an absolute path"},
    {{.socket = "\"nginx.sock\""}, "is not an absolute path"},
    {{.socket = "\"/run/../etc/passwd\""},
     "graph[0].socket: '/run/../etc/passwd' contains a '..' component"},
    {{.socket = "\"/run/x/..\""}, "contains a '..' component"},
    {{.socket = "\"/"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"\""},
     "longer than"},
    {{.type = "\"unix\"",
      .target = "\"/run/a.sock\"",
      .socket = "\"rel/b.sock\""},
     "graph[0].socket: 'rel/b.sock' is not an absolute path"},
};

static void test_fields(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(field_cases) / sizeof(field_cases[0]);
	     i++) {
		const struct field_case *c = &field_cases[i];
		struct pvx_errlist el = {0};
		struct pvx_link_conf *v = NULL;
		size_t n = 99;
		char *e = entry_json(&c->e), *g = NULL;
		int r;

		assert_true(asprintf(&g, "[%s]", e) > 0);
		r = pvx_graph_parse(g, strlen(g), &v, &n, &el);
		if (!c->err) {
			if (r != 0)
				fail_msg("case %zu %s: refused: %s", i, g,
					 el.n ? el.msgs[0] : "?");
			assert_int_equal(n, 1);
			assert_non_null(v);
		} else {
			if (r != -EINVAL)
				fail_msg("case %zu %s: accepted", i, g);
			assert_null(v);
			assert_int_equal(n, 0);
			if (!pvx_errlist_find(&el, c->err))
				fail_msg(
				    "case %zu %s: no error '%s' (got '%s')", i,
				    g, c->err, el.n ? el.msgs[0] : "none");
		}
		pvx_link_confs_free(v, n == 99 ? 0 : n);
		pvx_errlist_clear(&el);
		free(e);
		free(g);
	}
}

struct doc_case {
	const char *json;
	const char *err; /* NULL: accepted */
	size_t n;	 /* links when accepted */
};

#define E1                                                                     \
	"{\"type\":\"tcp\",\"name\":\"a\",\"consumer\":\"EXTERNAL\","          \
	"\"consumer_pid\":0,\"provider\":\"p\",\"provider_pid\":0,"            \
	"\"role\":\"EXTERNAL\",\"interface\":\"\",\"target\":"                 \
	"\"0.0.0.0:80\",\"socket\":\"\"}"
#define E2                                                                     \
	"{\"type\":\"tcp\",\"name\":\"a\",\"consumer\":\"EXTERNAL\","          \
	"\"consumer_pid\":0,\"provider\":\"q\",\"provider_pid\":3,"            \
	"\"role\":\"EXTERNAL\",\"interface\":\"\",\"target\":"                 \
	"\"0.0.0.0:81\",\"socket\":\"\"}"
#define E1_SOCK_BAD                                                            \
	"{\"type\":\"tcp\",\"name\":\"b\",\"consumer\":\"EXTERNAL\","          \
	"\"consumer_pid\":0,\"provider\":\"p\",\"provider_pid\":0,"            \
	"\"role\":\"EXTERNAL\",\"interface\":\"\",\"target\":"                 \
	"\"0.0.0.0:80\",\"socket\":\"../x\"}"

static const struct doc_case doc_cases[] = {
    {"[]", NULL, 0},
    {" [ ] \n", NULL, 0},
    {"[" E1 "]", NULL, 1},
    {"[" E1 "," E2 "]", NULL, 2},
    {"", "graph: line", 0},
    {"not json", "graph: line 1", 0},
    {"[" E1 ",]", "graph: line 1", 0},
    {"[" E1, "graph: line", 0},
    {"{}", "graph: expected a JSON array", 0},
    {"{\"graph\": []}", "expected a JSON array", 0},
    {"\"[]\"", "expected a JSON array", 0},
    {"42", "expected a JSON array", 0},
    {"null", "expected a JSON array", 0},
    {"[1]", "graph[0]: expected an object", 0},
    {"[" E1 ",\"x\"]", "graph[1]: expected an object", 0},
    {"[" E1 ",null]", "graph[1]: expected an object", 0},
    {"[[]]", "graph[0]: expected an object", 0},
    {"[{}]", "graph[0].socket: missing", 0},
    {"[{}]", "graph[0].type: missing", 0},
    {"[{}]", "graph[0].consumer_pid: missing", 0},
    {"[" E1 "," E1 "]",
     "graph[1]: duplicate link (consumer 'EXTERNAL', "
     "name 'a', target '0.0.0.0:80') of graph[0]",
     0},
    {"[" E1 "," E1_SOCK_BAD "]",
     "graph[1].socket: '../x' is not an "
     "absolute path",
     0},
    {"[{\"type\":\"tcp\",\"type\":\"tcp\"}]", "duplicate object key", 0},
};

static void test_documents(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(doc_cases) / sizeof(doc_cases[0]); i++) {
		const struct doc_case *c = &doc_cases[i];
		struct pvx_errlist el = {0};
		struct pvx_link_conf *v = NULL;
		size_t n = 0;
		int r = pvx_graph_parse(c->json, strlen(c->json), &v, &n, &el);

		if (!c->err) {
			if (r != 0)
				fail_msg("doc %zu: refused: %s", i,
					 el.n ? el.msgs[0] : "?");
			assert_int_equal(n, c->n);
		} else {
			if (r != -EINVAL)
				fail_msg("doc %zu '%s': accepted", i, c->json);
			if (!pvx_errlist_find(&el, c->err)) {
				char *all = pvx_errlist_join(&el);
				fail_msg("doc %zu: no '%s' in:\n%s", i, c->err,
					 all);
			}
		}
		pvx_link_confs_free(v, n);
		pvx_errlist_clear(&el);
	}
}

/* Every problem is reported, not only the first. */
static void test_all_errors_reported(void **state)
{
	const char *g =
	    "[" E1_SOCK_BAD ",{\"type\":\"tcp\"},7,"
	    "{\"type\":\"tcp\",\"name\":\"c\",\"consumer\":\"x\","
	    "\"consumer_pid\":-1,\"provider\":\"p\","
	    "\"provider_pid\":0,\"role\":\"r\",\"interface\":\"\","
	    "\"target\":\"1.2.3.4:0\",\"socket\":\"1.2.3.4:70000\"}]";
	struct pvx_errlist el = {0};
	struct pvx_link_conf *v;
	size_t n;

	(void)state;
	assert_int_equal(pvx_graph_parse(g, strlen(g), &v, &n, &el), -EINVAL);
	assert_non_null(pvx_errlist_find(&el, "graph[0].socket:"));
	assert_non_null(pvx_errlist_find(&el, "graph[1].name: missing"));
	assert_non_null(pvx_errlist_find(&el, "graph[2]: expected an object"));
	assert_non_null(pvx_errlist_find(&el, "graph[3].consumer_pid:"));
	assert_non_null(pvx_errlist_find(&el, "graph[3].target: port 0"));
	assert_non_null(pvx_errlist_find(&el, "graph[3].socket: port 70000"));
	pvx_errlist_clear(&el);
}

static void test_parsed_fields(void **state)
{
	const char *g =
	    "[{\"type\":\"tcp\",\"name\":\"web\",\"consumer\":\"EXTERNAL\","
	    "\"consumer_pid\":0,\"provider\":\"nginx\",\"provider_pid\":"
	    "42,\"role\":\"EXTERNAL\",\"interface\":\"\",\"target\":"
	    "\"0.0.0.0:8080\",\"socket\":\"10.0.4.2:80\",\"ingress\":"
	    "\"in\",\"new_field\":[1,2]},"
	    "{\"type\":\"unix\",\"name\":\"raw\",\"consumer\":\"c\","
	    "\"consumer_pid\":7,\"provider\":\"p\",\"provider_pid\":8,"
	    "\"role\":\"any\",\"interface\":\"unix\",\"target\":"
	    "\"/run/raw.sock\",\"socket\":\"/run/p/raw.sock\"},"
	    "{\"type\":\"tcp\",\"name\":\"late\",\"consumer\":\"EXTERNAL\","
	    "\"consumer_pid\":0,\"provider\":\"x\",\"provider_pid\":0,"
	    "\"role\":\"EXTERNAL\",\"interface\":\"\",\"target\":"
	    "\"[::1]:9000\",\"socket\":\"\"}]";
	struct pvx_errlist el = {0};
	struct pvx_link_conf *v, copy;
	char buf[PVX_ADDRSTRLEN];
	size_t n;

	(void)state;
	assert_int_equal(pvx_graph_parse(g, strlen(g), &v, &n, &el), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].type, "tcp");
	assert_string_equal(v[0].ingress, "in");
	assert_int_equal(v[0].provider_pid, 42);
	assert_int_equal(v[0].backend, PVX_BACKEND_TCP);
	pvx_hostport_format(&v[0].backend_hp, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.4.2:80");
	pvx_hostport_format(&v[0].listen, buf, sizeof(buf));
	assert_string_equal(buf, "0.0.0.0:8080");
	assert_int_equal(v[1].backend, PVX_BACKEND_UNIX);
	assert_string_equal(v[1].backend_path, "/run/p/raw.sock");
	assert_int_equal(v[1].consumer_pid, 7);
	assert_null(v[1].ingress);
	assert_int_equal(v[2].backend, PVX_BACKEND_NONE);
	pvx_hostport_format(&v[2].listen, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:9000");

	assert_int_equal(pvx_link_conf_copy(&copy, &v[0]), 0);
	assert_ptr_not_equal(copy.name, v[0].name);
	assert_string_equal(copy.socket, "10.0.4.2:80");
	assert_string_equal(copy.ingress, "in");
	assert_true(pvx_link_conf_same_identity(&copy, &v[0]));
	assert_false(pvx_link_conf_same_identity(&v[0], &v[2]));
	pvx_link_conf_clear(&copy);
	pvx_link_confs_free(v, n);
}

/* The contract between the planes: the graph pv-ctrld builds for every
 * shipped example (with pids, and with the sockets IPAM gives) is
 * accepted by pv-xconnect as it is. */
static void test_examples_accepted(void **state)
{
	const pid_t pids[64] = {[0 ... 63] = 4242};
	DIR *d = opendir(PVX_EXAMPLES);
	struct dirent *de;
	int checked = 0;

	(void)state;
	if (!d)
		skip();
	while ((de = readdir(d)) != NULL) {
		struct pvx_errlist el = {0};
		struct pvc_leases l = {0};
		struct pvx_link_conf *v;
		struct pvc_state *st;
		char path[512], *text;
		struct stat sb;
		json_t *g;
		size_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", PVX_EXAMPLES, de->d_name);
		if (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode))
			continue;
		st = pvc_state_load_path(path, &el);
		if (!st) {
			pvx_errlist_clear(&el);
			continue; /* not a state; the loader's tests judge */
		}
		assert_true(st->n_containers <= 64);
		assert_int_equal(pvc_ipam_assign(st, NULL, &l, &el), 0);
		for (int with_pids = 0; with_pids < 2; with_pids++) {
			g = pvc_graph_build(st, &l, with_pids ? pids : NULL);
			text = pvc_graph_dump(g);
			assert_non_null(text);
			if (pvx_graph_parse(text, strlen(text), &v, &n, &el) <
			    0)
				fail_msg("%s: graph refused: %s\n%s",
					 de->d_name, el.n ? el.msgs[0] : "?",
					 text);
			assert_int_equal(n, json_array_size(g));
			pvx_link_confs_free(v, n);
			free(text);
			json_decref(g);
		}
		checked++;
		pvx_errlist_clear(&el);
		pvc_leases_free(&l);
		pvc_state_free(st);
	}
	closedir(d);
	if (!checked)
		skip();
}

static void test_plugin_table(void **state)
{
	(void)state;
	assert_non_null(pvx_plugin_find("tcp"));
	assert_string_equal(pvx_plugin_find("tcp")->type, "tcp");
	assert_null(pvx_plugin_find("dbus"));
	assert_null(pvx_plugin_find(""));
}

/* ---------------------------------------------------------------- */

struct http_case {
	const char *in;
	bool eof;
	enum pvx_http_res res;
	int status;
	const char *body;
	const char *etag;
	const char *reason;
};

static const struct http_case http_cases[] = {
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nETag: \"ab\"\r\n\r\n[]", false,
     PVX_HTTP_DONE, 200, "[]", "\"ab\"", NULL},
    {"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n[]", false, PVX_HTTP_MORE, 0,
     NULL, NULL, NULL},
    {"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n[]", true, PVX_HTTP_BAD, 0,
     NULL, NULL, "closed after 2 of 4"},
    /* Pantavisor's: HTTP/1.0, no Content-Length, body until close */
    {"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[1,2]", false,
     PVX_HTTP_MORE, 0, NULL, NULL, NULL},
    {"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[1,2]", true,
     PVX_HTTP_DONE, 200, "[1,2]", "", NULL},
    {"HTTP/1.0 200 OK\r\n\r\n", true, PVX_HTTP_DONE, 200, "", "", NULL},
    {"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", false, PVX_HTTP_DONE,
     304, "", "\"x\"", NULL},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "2\r\n[1\r\n3\r\n,2]\r\n0\r\n\r\n",
     false, PVX_HTTP_DONE, 200, "[1,2]", "", NULL},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "2\r\n[1\r\n3\r\n,2]\r\n",
     false, PVX_HTTP_MORE, 0, NULL, NULL, NULL},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[1\r\n", true,
     PVX_HTTP_BAD, 0, NULL, NULL, "inside a chunked body"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false,
     PVX_HTTP_BAD, 0, NULL, NULL, "bad chunk size"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", false, PVX_HTTP_MORE, 0, NULL,
     NULL, NULL},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", true, PVX_HTTP_BAD, 0, NULL,
     NULL, "inside the header"},
    {"", true, PVX_HTTP_BAD, 0, NULL, NULL, "without an answer"},
    {"SSH-2.0-OpenSSH\r\n\r\n", false, PVX_HTTP_BAD, 0, NULL, NULL,
     "not an HTTP/1.x status line"},
    {"HTTP/2 200\r\n\r\n", false, PVX_HTTP_BAD, 0, NULL, NULL, "status line"},
    {"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false, PVX_HTTP_BAD, 0,
     NULL, NULL, "content-length header"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", false,
     PVX_HTTP_BAD, 0, NULL, NULL, "content-length header"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", false,
     PVX_HTTP_BAD, 0, NULL, NULL, "larger than"},
    {"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", false, PVX_HTTP_BAD, 0, NULL,
     NULL, "malformed header name"},
    {"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}", false,
     PVX_HTTP_DONE, 404, "{}", "", NULL},
    {"HTTP/1.0 200 OK\r\n\r\n0123456789abcdefg", true, PVX_HTTP_BAD, 0, NULL,
     NULL, "larger than 16"},
    /* Pantavisor's server: HTTP/1.0, the body ended by the close */
    {"HTTP/1.0 200 OK\r\nETag: \"g1\"\r\nConnection: close\r\n\r\n"
     "[{\"n\":1}]",
     true, PVX_HTTP_DONE, 200, "[{\"n\":1}]", "\"g1\"", NULL},
    {"HTTP/1.0 200 OK\r\nETag: \"g1\"\r\n\r\n[{\"n\":1}]", false, PVX_HTTP_MORE,
     0, NULL, NULL, NULL},
    /* what the proxy refuses, refused here too, with the reason */
    {"HTTP/1.0 200 OK\n\n[]", true, PVX_HTTP_BAD, 0, NULL, NULL, "bare LF"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\n[]", false, PVX_HTTP_BAD, 0,
     NULL, NULL, "bare LF"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\n[]\r\n0\r\n"
     "\r\n",
     false, PVX_HTTP_BAD, 0, NULL, NULL, "without CRLF"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n[]", true, PVX_HTTP_BAD,
     0, NULL, NULL, "Transfer-Encoding other than chunked"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
     "2\r\n[]\r\n0\r\n\r\n",
     false, PVX_HTTP_BAD, 0, NULL, NULL,
     "Transfer-Encoding other than chunked"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n"
     "\r\n0\r\n\r\n",
     false, PVX_HTTP_BAD, 0, NULL, NULL, "content-length"},
    {"HTTP/1.1 200 OK\r\nETag: \"0123456789012345678901234567890123456789"
     "0123456789012345678901234567890123456789012345678901234567890123456789"
     "0123456789012345678901234567890123456789\"\r\nContent-Length: 0\r\n"
     "\r\n",
     false, PVX_HTTP_BAD, 0, NULL, NULL, "ETag longer than 127 bytes"},
};

static void test_http(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(http_cases) / sizeof(http_cases[0]);
	     i++) {
		const struct http_case *c = &http_cases[i];
		char *buf = strdup(c->in);
		struct pvx_http_resp r;
		enum pvx_http_res res;

		res = pvx_http_resp_parse(buf, strlen(buf), c->eof, 16, &r);
		if (res != c->res)
			fail_msg("http %zu: result %d, want %d (%s)", i, res,
				 c->res, r.reason);
		if (res == PVX_HTTP_DONE) {
			assert_int_equal(r.status, c->status);
			assert_int_equal(r.body_len, strlen(c->body));
			assert_memory_equal(r.body, c->body, r.body_len);
			assert_string_equal(r.etag, c->etag);
			pvx_http_resp_free(&r);
		} else {
			assert_null(r.body);
		}
		if (res == PVX_HTTP_BAD && !strstr(r.reason, c->reason))
			fail_msg("http %zu: reason '%s' lacks '%s'", i,
				 r.reason, c->reason);
		free(buf);
	}
}

/* The answer arrives one byte at a time: complete only at the end. */
static void test_http_pieces(void **state)
{
	const char *full = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
			   "ETag: \"e1\"\r\n\r\n[1,2]";
	size_t len = strlen(full);
	char buf[128];
	struct pvx_http_resp r;

	(void)state;
	for (size_t i = 0; i < len; i++) {
		memcpy(buf, full, i);
		assert_int_equal(
		    pvx_http_resp_parse(buf, i, false, 1 << 20, &r),
		    PVX_HTTP_MORE);
	}
	memcpy(buf, full, len);
	assert_int_equal(pvx_http_resp_parse(buf, len, false, 1 << 20, &r),
			 PVX_HTTP_DONE);
	assert_int_equal(r.body_len, 5);
	assert_string_equal(r.etag, "\"e1\"");
	pvx_http_resp_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_documents),
	    cmocka_unit_test(test_all_errors_reported),
	    cmocka_unit_test(test_parsed_fields),
	    cmocka_unit_test(test_plugin_table),
	    cmocka_unit_test(test_examples_accepted),
	    cmocka_unit_test(test_http),
	    cmocka_unit_test(test_http_pieces),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
