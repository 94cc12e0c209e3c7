/* Deterministic mutation fuzzing of every pure parser: good seeds (the
 * examples' states, a graph pv-ctrld builds, a lease file, HTTP answers,
 * addresses) get thousands of seeded random mutations; each result must be
 * refused with at least one message or accepted with sane values.
 * PVX_FUZZ_SEED and PVX_FUZZ_ITERS override the fixed seed and the count;
 * a failure prints the seed, the iteration and the input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/httpc.h"
#include "ctrl/graph.h"
#include "ctrl/ipam.h"
#include "ctrl/state.h"
#include "xconnect/client.h"
#include "common/http1.h"
#include "xconnect/link.h"

/* ------------------------------------------------------------ random */

static uint64_t rng_state;
static uint64_t base_seed = 0x5eed5eed1234abcdULL;
static unsigned iters_scale = 1000; /* per mille of the default counts */
/* PVX_FUZZ_KEEP_GOING=1: report every failure, do not stop at the first
 * (to survey a run; the test then passes whatever it finds). */
static bool keep_going;

static uint64_t rnd(void)
{
	/* xorshift64*: fast, good enough, the same on every machine. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

static void rng_seed(uint64_t salt)
{
	rng_state = base_seed ^ (salt * 0x9E3779B97F4A7C15ULL);
	if (!rng_state)
		rng_state = 1;
	for (int i = 0; i < 8; i++)
		rnd();
}

static unsigned iters(unsigned dflt)
{
	unsigned long n = (unsigned long)dflt * iters_scale / 1000;
	return n ? (unsigned)n : 1;
}

/* ------------------------------------------------------------ buffers */

struct buf {
	char *p;
	size_t len;
};

static void buf_set(struct buf *b, const char *p, size_t len)
{
	free(b->p);
	b->p = malloc(len + 1);
	assert_non_null(b->p);
	memcpy(b->p, p, len);
	b->p[len] = '\0';
	b->len = len;
}

/* Replaces [at, at+del) by ins[0..ilen). */
static void buf_splice(struct buf *b, size_t at, size_t del, const char *ins,
		       size_t ilen)
{
	char *n;

	if (at > b->len)
		at = b->len;
	if (del > b->len - at)
		del = b->len - at;
	n = malloc(b->len - del + ilen + 1);
	assert_non_null(n);
	memcpy(n, b->p, at);
	memcpy(n + at, ins, ilen);
	memcpy(n + at + ilen, b->p + at + del, b->len - at - del);
	b->len = b->len - del + ilen;
	n[b->len] = '\0';
	free(b->p);
	b->p = n;
}

/* Prints what failed so that it can be replayed. */
static void report(const char *what, unsigned it, const struct buf *b,
		   const char *why)
{
	size_t n = b->len < 600 ? b->len : 600;

	fprintf(stderr,
		"FUZZ FAIL %s seed=0x%llx iter=%u len=%zu: %s\ninput: ", what,
		(unsigned long long)base_seed, it, b->len, why);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b->p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fprintf(stderr, "%s\n", n < b->len ? "..." : "");
}

#define CHECK(cond, what, it, b)                                               \
	do {                                                                   \
		if (!(cond)) {                                                 \
			report(what, it, b, #cond);                            \
			if (!keep_going)                                       \
				fail_msg("%s: %s", what, #cond);               \
		}                                                              \
	} while (0)

/* ------------------------------------------------------------ mutations */

/* Tokens that parsers tend to get wrong. */
static const char *const tokens[] = {
    "99999999999999999999999",
    "-1",
    "0",
    "65536",
    "65535",
    "70000",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "1e400",
    "1.5",
    "\"80\"",
    "\"-1\"",
    "\"0x50\"",
    "\" 80\"",
    "\"..\"",
    "\"../../etc/passwd\"",
    "\"/run/../x.sock\"",
    "\"/run//x.sock\"",
    "\"run/x.sock\"",
    "\"\"",
    "\"/\"",
    "\"0.0.0.0:0\"",
    "\"0.0.0.0:65536\"",
    "\"10.0.4.2:80\"",
    "\"[::]:80\"",
    "\"[::1]:0\"",
    "\"[fd00::1]:443/api\"",
    "\"[fd00::1\"",
    "\"256.1.1.1:80\"",
    "\"10.0.4.0/33\"",
    "\"10.0.4.1/24\"",
    "\"0.0.0.0/0\"",
    "\"br0\"",
    "\"EXTERNAL\"",
    "\"tcp\"",
    "\"http\"",
    "\"unix\"",
    "\"pool\"",
    "\"host\"",
    "\"none\"",
    "\"process\"",
    "\"internal\"",
    "\"\\u0000\"",
    "\"a\\u0000b\"",
    "\"\\ud800\"",
    "\"\xff\xfe\"",
    "\"\xc3\x28\"",
    "null",
    "true",
    "false",
    "{}",
    "[]",
    "[{}]",
    "[null]",
    "{\"\":1}",
    "\"name\":\"dup\",",
    "\"port\":80,",
    "\"#spec\":\"x\",",
    "\"#spec\":\"pantavisor-service-system@1\",",
    ",",
    ":",
    "\"",
    "\\",
    "{",
    "}",
    "[",
    "]",
    "\r\n",
    "\r\n\r\n",
    "Content-Length: 5\r\n",
    "Content-Length: 99999999999999999999\r\n",
    "Transfer-Encoding: chunked\r\n",
    "ffffffffffffffff\r\n",
    "0\r\n\r\n",
    "HTTP/1.1 ",
};

/* Big tokens, built once: a long string, deep nesting, a long number. */
static char *tok_long_str, *tok_deep, *tok_long_num, *tok_deep_obj;

static void big_tokens_init(void)
{
	size_t n;

	if (tok_long_str)
		return;
	n = 70000;
	tok_long_str = malloc(n + 3);
	assert_non_null(tok_long_str);
	tok_long_str[0] = '"';
	memset(tok_long_str + 1, 'A', n);
	tok_long_str[n + 1] = '"';
	tok_long_str[n + 2] = '\0';

	n = 10000;
	tok_deep = malloc(2 * n + 1);
	assert_non_null(tok_deep);
	memset(tok_deep, '[', n);
	memset(tok_deep + n, ']', n);
	tok_deep[2 * n] = '\0';

	tok_long_num = malloc(5001);
	assert_non_null(tok_long_num);
	memset(tok_long_num, '9', 5000);
	tok_long_num[5000] = '\0';

	/* {"a":{"a":{… 5000 deep */
	n = 5000;
	tok_deep_obj = malloc(n * 6 + n + 2);
	assert_non_null(tok_deep_obj);
	tok_deep_obj[0] = '\0';
	{
		char *p = tok_deep_obj;
		for (size_t i = 0; i < n; i++) {
			memcpy(p, "{\"a\":", 5);
			p += 5;
		}
		*p++ = '1';
		memset(p, '}', n);
		p[n] = '\0';
	}
}

static void pick_token(const char **t, size_t *tlen)
{
	size_t k = rnd_below(sizeof(tokens) / sizeof(tokens[0]) + 6);

	switch ((int)k - (int)(sizeof(tokens) / sizeof(tokens[0]))) {
	case 0:
		*t = tok_long_str;
		break;
	case 1:
		*t = tok_deep;
		break;
	case 2:
		*t = tok_long_num;
		break;
	case 3:
		*t = tok_deep_obj;
		break;
	case 4:
		*t = "\0";
		*tlen = 1;
		return;
	case 5:
		*t = "\0\0\0\0";
		*tlen = 4;
		return;
	default:
		*t = tokens[k];
		break;
	}
	*tlen = strlen(*t);
}

/* Start of a JSON value after a ':' (or an array's '[' / ','): its extent
 * as far as a shallow scan can tell. */
static bool find_value(const struct buf *b, size_t *at, size_t *len)
{
	for (int tries = 0; tries < 8; tries++) {
		size_t i = rnd_below(b->len);
		while (i < b->len && b->p[i] != ':')
			i++;
		if (i >= b->len)
			continue;
		i++;
		while (i < b->len && (b->p[i] == ' ' || b->p[i] == '\n'))
			i++;
		size_t j = i;
		if (j < b->len && b->p[j] == '"') {
			j++;
			while (j < b->len && b->p[j] != '"')
				j += b->p[j] == '\\' ? 2 : 1;
			j = j < b->len ? j + 1 : b->len;
		} else {
			while (j < b->len && b->p[j] != ',' && b->p[j] != '}' &&
			       b->p[j] != ']' && b->p[j] != '\n' &&
			       b->p[j] != '{' && b->p[j] != '[')
				j++;
		}
		*at = i;
		*len = j - i;
		return true;
	}
	return false;
}

/* One random mutation of b. */
static void mutate_once(struct buf *b)
{
	const char *t;
	size_t tlen, at, len;
	char c;

	switch (rnd_below(11)) {
	case 0: /* byte set */
		if (!b->len)
			break;
		b->p[rnd_below(b->len)] = (char)rnd();
		break;
	case 1: /* bit flip */
		if (!b->len)
			break;
		b->p[rnd_below(b->len)] ^= (char)(1u << rnd_below(8));
		break;
	case 2: /* truncation */
		b->len = rnd_below(b->len + 1);
		b->p[b->len] = '\0';
		break;
	case 3: /* delete a short range */
		buf_splice(b, rnd_below(b->len + 1), 1 + rnd_below(16), "", 0);
		break;
	case 4: /* insert a token anywhere */
	case 5:
		pick_token(&t, &tlen);
		buf_splice(b, rnd_below(b->len + 1), 0, t, tlen);
		break;
	case 6: /* replace a value */
	case 7:
	case 8:
		if (!find_value(b, &at, &len))
			break;
		pick_token(&t, &tlen);
		buf_splice(b, at, len, t, tlen);
		break;
	case 9: /* duplicate a range (duplicate keys, repeated entries) */
		if (!b->len)
			break;
		at = rnd_below(b->len);
		len = 1 + rnd_below(b->len - at < 200 ? b->len - at : 200);
		{
			char *copy = malloc(len);
			assert_non_null(copy);
			memcpy(copy, b->p + at, len);
			buf_splice(b, at + len, 0, copy, len);
			free(copy);
		}
		break;
	case 10: /* swap a digit for another one */
		for (int tries = 0; tries < 16 && b->len; tries++) {
			at = rnd_below(b->len);
			if (b->p[at] >= '0' && b->p[at] <= '9') {
				c = (char)('0' + rnd_below(10));
				b->p[at] = c;
				break;
			}
		}
		break;
	}
}

static void mutate(struct buf *b, const struct buf *seed)
{
	unsigned n = 1 + (unsigned)rnd_below(4);

	buf_set(b, seed->p, seed->len);
	for (unsigned i = 0; i < n; i++)
		mutate_once(b);
}

/* Structure-aware mutations: parse the seed, change one node of the
 * tree (a value swapped for an odd one or for another value of the same
 * document, a member dropped, renamed or added, an entry repeated), dump
 * it again. These get past the JSON syntax check and reach validation. */
struct node {
	json_t *parent; /* object or array; NULL for the root */
	const char *key;
	size_t idx;
	json_t *val;
};

struct nodes {
	struct node *v;
	size_t n, cap;
};

static void nodes_add(struct nodes *ns, json_t *parent, const char *key,
		      size_t idx, json_t *val)
{
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? 2 * ns->cap : 64;
		ns->v = realloc(ns->v, ns->cap * sizeof(*ns->v));
		assert_non_null(ns->v);
	}
	ns->v[ns->n++] = (struct node){parent, key, idx, val};
}

static void nodes_walk(struct nodes *ns, json_t *parent, const char *key,
		       size_t idx, json_t *val)
{
	const char *k;
	json_t *v;
	size_t i;

	nodes_add(ns, parent, key, idx, val);
	if (json_is_object(val)) {
		json_object_foreach(val, k, v) nodes_walk(ns, val, k, 0, v);
	} else if (json_is_array(val)) {
		json_array_foreach(val, i, v) nodes_walk(ns, val, NULL, i, v);
	}
}

static json_t *odd_value(const struct nodes *ns)
{
	for (int tries = 0; tries < 8; tries++) {
		const char *t;
		size_t tlen;
		json_t *j;

		if (rnd_below(2) && ns->n) {
			/* Another value of the same document. */
			return json_deep_copy(ns->v[rnd_below(ns->n)].val);
		}
		pick_token(&t, &tlen);
		j = json_loadb(t, tlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		if (j)
			return j;
	}
	return json_string("x");
}

static const char *some_key(const struct nodes *ns)
{
	static const char *const keys[] = {
	    "port",	    "socket",	    "type",	    "name",
	    "pool",	    "mode",	    "target",	    "external",
	    "provider",	    "service",	    "ip",	    "prefix",
	    "mac",	    "subnet",	    "gateway",	    "bridge",
	    "ipv4_address", "interfaces",   "required",	    "#spec",
	    "exec",	    "env",	    "hostname",	    "role",
	    "interface",    "consumer_pid", "provider_pid", "version",
	    "leases",	    "container",
	};
	for (int tries = 0; tries < 4 && ns->n; tries++) {
		const struct node *x = &ns->v[rnd_below(ns->n)];
		if (x->key && rnd_below(2))
			return x->key;
	}
	return keys[rnd_below(sizeof(keys) / sizeof(keys[0]))];
}

static bool mutate_tree_once(json_t **root)
{
	struct nodes ns = {0};
	struct node *x;
	json_t *nv;
	char *key;

	nodes_walk(&ns, NULL, NULL, 0, *root);
	x = &ns.v[rnd_below(ns.n)];
	switch (rnd_below(6)) {
	case 0: /* replace the value */
	case 1:
		nv = odd_value(&ns);
		if (!x->parent) {
			json_decref(*root);
			*root = nv;
		} else if (x->key) {
			json_object_set_new(x->parent, x->key, nv);
		} else {
			json_array_set_new(x->parent, x->idx, nv);
		}
		break;
	case 2: /* drop it */
		if (x->parent && x->key)
			json_object_del(x->parent, x->key);
		else if (x->parent)
			json_array_remove(x->parent, x->idx);
		break;
	case 3: /* repeat an array entry */
		if (x->parent && !x->key)
			json_array_append_new(x->parent,
					      json_deep_copy(x->val));
		break;
	case 4: /* rename a member */
		if (x->parent && x->key) {
			key = strdup(some_key(&ns));
			assert_non_null(key);
			nv = json_incref(x->val);
			json_object_del(x->parent, x->key);
			json_object_set_new(x->parent, key, nv);
			free(key);
		}
		break;
	case 5: /* add a member */
		if (json_is_object(x->val)) {
			key = strdup(some_key(&ns));
			assert_non_null(key);
			json_object_set_new(x->val, key, odd_value(&ns));
			free(key);
		}
		break;
	}
	free(ns.v);
	return *root != NULL;
}

/* Mutates b (a copy of seed) at the tree level when the seed is JSON. */
static void mutate_tree(struct buf *b, const struct buf *seed)
{
	json_t *root = json_loadb(seed->p, seed->len,
				  JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	unsigned n = 1 + (unsigned)rnd_below(3);
	char *s;

	if (!root) {
		mutate(b, seed);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		if (!mutate_tree_once(&root))
			break;
	s = root ? json_dumps(root, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	json_decref(root);
	if (!s) {
		mutate(b, seed);
		return;
	}
	buf_set(b, s, strlen(s));
	free(s);
	/* Sometimes a byte-level change on top. */
	if (rnd_below(4) == 0)
		mutate_once(b);
}

/* Half of the mutants at each level. */
static void mutate_any(struct buf *b, const struct buf *seed)
{
	if (rnd_below(2))
		mutate_tree(b, seed);
	else
		mutate(b, seed);
}

/* ------------------------------------------------------------ seeds */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* A state.json built from an example directory: every *.json file under
 * it, keyed by its path relative to the directory. */
static void add_dir(json_t *root, const char *top, const char *rel)
{
	char path[1024];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s%s%s", top, *rel ? "/" : "", rel);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d))) {
		char sub[512], full[1600];
		struct stat sb;
		size_t nl = strlen(e->d_name);

		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "",
			 e->d_name);
		snprintf(full, sizeof(full), "%s/%s", top, sub);
		assert_int_equal(stat(full, &sb), 0);
		if (S_ISDIR(sb.st_mode)) {
			add_dir(root, top, sub);
		} else if (nl > 5 && strcmp(e->d_name + nl - 5, ".json") == 0 &&
			   strcmp(e->d_name, "state.json") != 0) {
			json_error_t jerr;
			json_t *j = json_load_file(full, 0, &jerr);
			assert_non_null(j);
			json_object_set_new(root, sub, j);
		}
	}
	closedir(d);
}

static void seed_from_dir(struct buf *b, const char *dir)
{
	json_t *root = json_object();
	char *s;

	json_object_set_new(root, "#spec", json_string(PVC_STATE_SPEC));
	add_dir(root, dir, "");
	s = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	assert_non_null(s);
	json_decref(root);
	buf_set(b, s, strlen(s));
	free(s);
}

/* ------------------------------------------------------------ states */

/* An accepted state: sane values, re-validates cleanly, and the graph it
 * gives is accepted by pv-xconnect's parser with sane confs. */
static void check_graph_confs(const struct pvx_link_conf *v, size_t n,
			      const char *what, unsigned it,
			      const struct buf *in)
{
	for (size_t i = 0; i < n; i++) {
		const struct pvx_link_conf *c = &v[i];
		CHECK(c->type && c->name && c->consumer && c->target &&
			  c->socket,
		      what, it, in);
		if (strcmp(c->type, "tcp") == 0 || strcmp(c->type, "http") == 0)
			CHECK(c->listen.port != 0, what, it, in);
		if (c->backend == PVX_BACKEND_TCP)
			CHECK(c->backend_hp.port != 0, what, it, in);
		if (c->backend == PVX_BACKEND_UNIX) {
			CHECK(c->backend_path[0] == '/', what, it, in);
			CHECK(strstr(c->backend_path, "/../") == NULL, what, it,
			      in);
			size_t bl = strlen(c->backend_path);
			CHECK(!(bl >= 3 &&
				strcmp(c->backend_path + bl - 3, "/..") == 0),
			      what, it, in);
		}
		CHECK(c->consumer_pid >= 0 && c->provider_pid >= 0, what, it,
		      in);
	}
}

static void check_state(struct pvc_state *st, unsigned it, const struct buf *in)
{
	struct pvx_errlist el = {0};
	struct pvc_leases leases = {0};
	json_t *g;
	char *text;
	struct pvx_link_conf *confs = NULL;
	size_t n = 0;
	int r;

	CHECK(pvc_state_validate(st, &el) == 0, "state revalidate", it, in);
	CHECK(pvx_errlist_empty(&el), "state revalidate", it, in);
	for (size_t i = 0; i < st->n_ingress; i++) {
		const struct pvc_ingress *ig = &st->ingress[i];
		CHECK(ig->ext.port != 0, "state ingress port", it, in);
		CHECK(ig->name && ig->provider && ig->service, "state ingress",
		      it, in);
		CHECK(pvc_state_find(st, ig->provider) != NULL,
		      "state ingress provider", it, in);
	}
	for (size_t i = 0; i < st->n_containers; i++) {
		const struct pvc_container *c = &st->containers[i];
		char err[160];
		CHECK(c->name && pvx_name_is_safe(c->name), "state name", it,
		      in);
		for (size_t k = 0; k < c->n_exports; k++)
			if (c->exports[k].socket)
				CHECK(pvx_path_check(c->exports[k].socket, err,
						     sizeof(err)) == 0,
				      "state export socket", it, in);
		if (c->mode == PVC_NET_POOL)
			CHECK(c->n_ifaces > 0, "state pool ifaces", it, in);
	}
	/* Down the pipeline, as pv-ctrld does it. */
	r = pvc_ipam_assign(st, NULL, &leases, &el);
	CHECK(r == 0, "state ipam", it, in);
	g = pvc_graph_build(st, &leases, NULL);
	CHECK(g != NULL, "state graph build", it, in);
	text = pvc_graph_dump(g);
	CHECK(text != NULL, "state graph dump", it, in);
	pvx_errlist_clear(&el);
	r = pvx_graph_parse(text, strlen(text), &confs, &n, &el);
	if (r != 0) {
		for (size_t i = 0; i < el.n; i++)
			fprintf(stderr, "graph error: %s\n", el.msgs[i]);
		fprintf(stderr, "graph: %s\n", text);
	}
	CHECK(r == 0, "graph of an accepted state refused by pv-xconnect", it,
	      in);
	CHECK(n == json_array_size(g), "graph size", it, in);
	check_graph_confs(confs, n, "graph of accepted state", it, in);
	pvx_link_confs_free(confs, n);
	free(text);
	json_decref(g);
	pvc_leases_free(&leases);
	pvx_errlist_clear(&el);
}

static void fuzz_state_seed(const struct buf *seed, unsigned salt,
			    unsigned count, unsigned *accepted)
{
	struct buf b = {0};

	rng_seed(salt);
	for (unsigned it = 0; it < count; it++) {
		struct pvx_errlist el = {0};
		struct pvc_state *st;

		mutate_any(&b, seed);
		st = pvc_state_load_buf(b.p, b.len, "state.json", &el);
		if (!st) {
			CHECK(!pvx_errlist_empty(&el), "state refusal", it, &b);
			for (size_t i = 0; i < el.n; i++)
				CHECK(el.msgs[i] && el.msgs[i][0],
				      "state message", it, &b);
		} else {
			CHECK(pvx_errlist_empty(&el), "state accepted", it, &b);
			check_state(st, it, &b);
			pvc_state_free(st);
			(*accepted)++;
		}
		pvx_errlist_clear(&el);
	}
	free(b.p);
}

static void test_fuzz_state(void **ts)
{
	struct buf seeds[4] = {{0}};
	unsigned accepted = 0;
	char path[512];
	size_t len;
	char *p;
	struct pvx_errlist el = {0};

	(void)ts;
	big_tokens_init();
	snprintf(path, sizeof(path), "%s/ingress-hybrid/state.json",
		 PVX_EXAMPLES);
	p = slurp(path, &len);
	buf_set(&seeds[0], p, len);
	free(p);
	seed_from_dir(&seeds[1], PVX_EXAMPLES "/ingress-direct");
	seed_from_dir(&seeds[2], PVX_EXAMPLES "/mesh-unix");
	seed_from_dir(&seeds[3], PVX_EXAMPLES "/ingress-hybrid");
	for (unsigned i = 0; i < 4; i++) {
		/* Every seed itself is a good state. */
		struct pvc_state *st =
		    pvc_state_load_buf(seeds[i].p, seeds[i].len, "s", &el);
		if (!st)
			for (size_t k = 0; k < el.n; k++)
				fprintf(stderr, "seed %u: %s\n", i, el.msgs[k]);
		assert_non_null(st);
		check_state(st, 0, &seeds[i]);
		pvc_state_free(st);
		fuzz_state_seed(&seeds[i], 100 + i, iters(1500), &accepted);
		free(seeds[i].p);
	}
	/* The mutations must not all be caught by the JSON syntax check:
	 * some have to reach validation and pass it. */
	print_message("state: %u mutants accepted\n", accepted);
	assert_true(accepted > 0 || iters_scale < 1000);
}

/* ------------------------------------------------------------ graphs */

static const char graph_seed2[] =
    "[{\"type\":\"tcp\",\"name\":\"web\",\"consumer\":\"EXTERNAL\","
    "\"consumer_pid\":0,\"provider\":\"nginx\",\"provider_pid\":42,"
    "\"role\":\"EXTERNAL\",\"interface\":\"\",\"target\":\"0.0.0.0:80\","
    "\"socket\":\"10.0.4.2:80\",\"ingress\":\"web-in\"},"
    "{\"type\":\"tcp\",\"name\":\"raw\",\"consumer\":\"EXTERNAL\","
    "\"consumer_pid\":0,\"provider\":\"raw\",\"provider_pid\":0,"
    "\"role\":\"EXTERNAL\",\"interface\":\"\",\"target\":\"[::]:9000\","
    "\"socket\":\"/run/raw/raw.sock\"},"
    "{\"type\":\"unix\",\"name\":\"db\",\"consumer\":\"app\","
    "\"consumer_pid\":7,\"provider\":\"dbs\",\"provider_pid\":8,"
    "\"role\":\"any\",\"interface\":\"unix\",\"target\":\"/run/db.sock\","
    "\"socket\":\"/run/dbs/db.sock\"},"
    "{\"type\":\"http\",\"name\":\"api\",\"consumer\":\"EXTERNAL\","
    "\"consumer_pid\":0,\"provider\":\"api\",\"provider_pid\":0,"
    "\"role\":\"EXTERNAL\",\"interface\":\"\","
    "\"target\":\"[fd00::1]:8080/api\",\"socket\":\"[fd00::2]:80\"},"
    "{\"type\":\"dbus\",\"name\":\"bus\",\"consumer\":\"app\","
    "\"consumer_pid\":0,\"provider\":\"sys\",\"provider_pid\":0,"
    "\"role\":\"any\",\"interface\":\"dbus\",\"target\":\"org.x\","
    "\"socket\":\"\"}]";

static void test_fuzz_graph(void **ts)
{
	struct buf seeds[2] = {{0}}, b = {0};
	struct pvx_errlist el = {0};
	struct pvc_state *st;
	struct pvc_leases leases = {0};
	pid_t pids[8] = {0};
	unsigned accepted = 0;
	json_t *g;
	char *text;

	(void)ts;
	big_tokens_init();
	/* Seed 1: the graph pv-ctrld builds for ingress-hybrid, with a pid. */
	st = pvc_state_load_path(PVX_EXAMPLES "/ingress-hybrid", &el);
	assert_non_null(st);
	assert_true(st->n_containers <= 8);
	assert_int_equal(pvc_ipam_assign(st, NULL, &leases, &el), 0);
	pids[0] = 1234;
	g = pvc_graph_build(st, &leases, pids);
	text = pvc_graph_dump(g);
	buf_set(&seeds[0], text, strlen(text));
	free(text);
	json_decref(g);
	pvc_leases_free(&leases);
	pvc_state_free(st);
	buf_set(&seeds[1], graph_seed2, sizeof(graph_seed2) - 1);

	for (unsigned s = 0; s < 2; s++) {
		struct pvx_link_conf *v = NULL;
		size_t n = 0;

		assert_int_equal(
		    pvx_graph_parse(seeds[s].p, seeds[s].len, &v, &n, &el), 0);
		check_graph_confs(v, n, "graph seed", 0, &seeds[s]);
		pvx_link_confs_free(v, n);
		rng_seed(200 + s);
		for (unsigned it = 0; it < iters(3000); it++) {
			int r;
			mutate_any(&b, &seeds[s]);
			pvx_errlist_clear(&el);
			v = NULL;
			n = 0;
			r = pvx_graph_parse(b.p, b.len, &v, &n, &el);
			if (r < 0) {
				CHECK(r == -EINVAL, "graph errno", it, &b);
				CHECK(!pvx_errlist_empty(&el), "graph refusal",
				      it, &b);
				CHECK(v == NULL && n == 0, "graph refusal out",
				      it, &b);
				continue;
			}
			CHECK(r == 0 && pvx_errlist_empty(&el),
			      "graph accepted", it, &b);
			check_graph_confs(v, n, "graph accepted", it, &b);
			/* Copy and identity helpers on what was accepted. */
			for (size_t i = 0; i < n; i++) {
				struct pvx_link_conf c;
				assert_int_equal(pvx_link_conf_copy(&c, &v[i]),
						 0);
				CHECK(pvx_link_conf_same_identity(&c, &v[i]),
				      "graph copy", it, &b);
				pvx_link_conf_clear(&c);
			}
			pvx_link_confs_free(v, n);
			accepted++;
		}
		free(seeds[s].p);
	}
	pvx_errlist_clear(&el);
	free(b.p);
	print_message("graph: %u mutants accepted\n", accepted);
	assert_true(accepted > 0 || iters_scale < 1000);
}

/* ------------------------------------------------------------ leases */

static const char leases_seed[] =
    "{\"version\":1,\"leases\":["
    "{\"container\":\"example-nginx-ingress\",\"interface\":\"eth0\","
    "\"pool\":\"internal\",\"ip\":\"10.0.4.2\",\"prefix\":24,"
    "\"mac\":\"02:00:0a:00:04:02\"},"
    "{\"container\":\"app\",\"interface\":\"eth1\",\"pool\":\"other\","
    "\"ip\":\"10.0.5.9\",\"prefix\":16,\"mac\":\"AA:bb:cc:dd:ee:ff\"}]}";

static void test_fuzz_leases(void **ts)
{
	char dir[] = "/tmp/pvx-fuzz-leases.XXXXXX", path[64];
	struct buf seed = {0}, b = {0};
	unsigned accepted = 0;

	(void)ts;
	big_tokens_init();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/leases.json", dir);
	buf_set(&seed, leases_seed, sizeof(leases_seed) - 1);
	rng_seed(300);
	for (unsigned it = 0; it < iters(2000); it++) {
		struct pvx_errlist el = {0};
		struct pvc_leases l = {0};
		FILE *f;
		int r;

		mutate_any(&b, &seed);
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(b.p, 1, b.len, f), b.len);
		assert_int_equal(fclose(f), 0);
		r = pvc_leases_load(path, &l, &el);
		if (r < 0) {
			CHECK(!pvx_errlist_empty(&el), "leases refusal", it,
			      &b);
			CHECK(l.n == 0, "leases refusal out", it, &b);
		} else {
			CHECK(pvx_errlist_empty(&el), "leases accepted", it,
			      &b);
			for (size_t i = 0; i < l.n; i++) {
				CHECK(l.v[i].container && *l.v[i].container &&
					  l.v[i].iface && l.v[i].pool,
				      "leases fields", it, &b);
				CHECK(l.v[i].prefix <= 32, "leases prefix", it,
				      &b);
				CHECK(pvc_leases_find_iface(
					  &l, l.v[i].container, l.v[i].iface) ==
					  &l.v[i],
				      "leases unique and findable", it, &b);
			}
			/* What was read can be written and read back. */
			{
				struct pvc_leases l2 = {0};
				assert_int_equal(pvc_leases_save(path, &l), 0);
				CHECK(pvc_leases_load(path, &l2, &el) == 0,
				      "leases round trip", it, &b);
				CHECK(l2.n == l.n, "leases round trip n", it,
				      &b);
				pvc_leases_free(&l2);
			}
			accepted++;
		}
		pvc_leases_free(&l);
		pvx_errlist_clear(&el);
	}
	unlink(path);
	{
		/* pvc_leases_save's temp file, if one was left. */
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char f[512];
			if (e->d_name[0] == '.')
				continue;
			snprintf(f, sizeof(f), "%s/%s", dir, e->d_name);
			unlink(f);
		}
		if (d)
			closedir(d);
	}
	rmdir(dir);
	free(seed.p);
	free(b.p);
	print_message("leases: %u mutants accepted\n", accepted);
}

/* ------------------------------------------------------------ addresses */

static const char *const hostport_seeds[] = {
    "10.0.4.2:80", "0.0.0.0:443",	 "[::]:80",	      "[fd00::1]:65535",
    "127.0.0.1:1", "[::ffff:1.2.3.4]:8", "255.255.255.255:9",
};
static const char *const http_seeds[] = {
    "0.0.0.0:8080/api",
    "[::]:80",
    "[fd00::1]:443/api/",
    "10.0.0.1:1/a/b",
};
static const char *const cidr_seeds[] = {
    "10.0.4.0/24",
    "0.0.0.0/0",
    "192.168.1.128/25",
    "10.0.4.5/32",
};
static const char *const path_seeds[] = {
    "/run/example/raw.sock",
    "/a",
    "/run/x/../y.sock",
    "/tmp/s",
};

static void test_fuzz_addr(void **ts)
{
	struct buf seed = {0}, b = {0};
	char err[256], path[PVX_PATH_MAX], fmt[PVX_ADDRSTRLEN];

	(void)ts;
	big_tokens_init();
	rng_seed(400);
	for (unsigned it = 0; it < iters(20000); it++) {
		struct pvx_hostport hp, hp2;
		struct pvx_cidr c;
		unsigned kind = (unsigned)rnd_below(4);
		const char *s;
		int r;

		switch (kind) {
		case 0:
			s = hostport_seeds[rnd_below(sizeof(hostport_seeds) /
						     sizeof(*hostport_seeds))];
			break;
		case 1:
			s = http_seeds[rnd_below(sizeof(http_seeds) /
						 sizeof(*http_seeds))];
			break;
		case 2:
			s = cidr_seeds[rnd_below(sizeof(cidr_seeds) /
						 sizeof(*cidr_seeds))];
			break;
		default:
			s = path_seeds[rnd_below(sizeof(path_seeds) /
						 sizeof(*path_seeds))];
			break;
		}
		buf_set(&seed, s, strlen(s));
		mutate(&b, &seed);
		/* The parsers take C strings: cut at the first NUL. */
		b.len = strlen(b.p);
		err[0] = '\0';
		switch (kind) {
		case 0:
			r = pvx_hostport_parse(b.p, &hp, err, sizeof(err));
			if (r < 0) {
				CHECK(err[0], "hostport message", it, &b);
				break;
			}
			CHECK(hp.port != 0, "hostport port", it, &b);
			CHECK(hp.family == AF_INET || hp.family == AF_INET6,
			      "hostport family", it, &b);
			pvx_hostport_format(&hp, fmt, sizeof(fmt));
			CHECK(pvx_hostport_parse(fmt, &hp2, err, sizeof(err)) ==
				      0 &&
				  pvx_hostport_equal(&hp, &hp2),
			      "hostport round trip", it, &b);
			break;
		case 1:
			r = pvx_hostport_parse_http(
			    b.p, &hp, path, sizeof(path), err, sizeof(err));
			if (r < 0) {
				CHECK(err[0], "http message", it, &b);
				break;
			}
			CHECK(hp.port != 0, "http port", it, &b);
			CHECK(path[0] == '\0' || path[0] == '/', "http path",
			      it, &b);
			{
				size_t pl = strlen(path);
				CHECK(strstr(path, "/../") == NULL &&
					  !(pl >= 3 &&
					    strcmp(path + pl - 3, "/..") == 0),
				      "http path dots", it, &b);
			}
			for (const char *q = path; *q; q++)
				CHECK((unsigned char)*q > 0x20 && *q != 0x7f,
				      "http path bytes", it, &b);
			break;
		case 2:
			r = pvx_cidr_parse(b.p, &c, err, sizeof(err));
			if (r < 0) {
				CHECK(err[0], "cidr message", it, &b);
				break;
			}
			CHECK(c.prefix <= 32, "cidr prefix", it, &b);
			CHECK((ntohl(c.addr.s_addr) &
			       ~pvx_cidr_mask(c.prefix)) == 0,
			      "cidr host bits", it, &b);
			break;
		default:
			r = pvx_path_check(b.p, err, sizeof(err));
			if (r < 0) {
				CHECK(err[0], "path message", it, &b);
				break;
			}
			CHECK(b.p[0] == '/', "path absolute", it, &b);
			CHECK(b.len < PVX_PATH_MAX, "path length", it, &b);
			CHECK(strstr(b.p, "/../") == NULL &&
				  !(b.len >= 3 &&
				    strcmp(b.p + b.len - 3, "/..") == 0),
			      "path dots", it, &b);
			/* "//" (an empty name) is accepted although addr.h
			 * says otherwise: harmless for the kernel, reported. */
			break;
		}
		/* Names: the same bytes as a container name. */
		if (pvx_name_is_safe(b.p)) {
			CHECK(b.len >= 1 && b.len <= 64 && b.p[0] != '.' &&
				  b.p[0] != '-' && strchr(b.p, '/') == NULL,
			      "safe name", it, &b);
		}
	}
	free(seed.p);
	free(b.p);
}

/* ------------------------------------------------------------ HTTP */

static const char *const resp_seeds[] = {
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nETag: \"abc\"\r\n\r\n[]",
    "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[1,2]",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    "2\r\n[]\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
    "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
    "HTTP/1.1 404 Not Found\r\nContent-Length: 13\r\n\r\n{\"error\":\"x\"}",
};

static void test_fuzz_http(void **ts)
{
	struct buf seed = {0}, b = {0};

	(void)ts;
	big_tokens_init();
	rng_seed(500);
	for (unsigned it = 0; it < iters(6000); it++) {
		const char *s = resp_seeds[rnd_below(sizeof(resp_seeds) /
						     sizeof(*resp_seeds))];
		bool eof = rnd_below(2), head = rnd_below(8) == 0;
		struct pvx_http_response resp;
		struct pvx_http_resp xr;
		char err[256];
		char *copy;
		size_t cut;
		int r;

		buf_set(&seed, s, strlen(s));
		mutate(&b, &seed);
		/* Also a random prefix, as bytes arrive in pieces. */
		cut = rnd_below(3) ? b.len : rnd_below(b.len + 1);

		/* pvcontrol's client (src/common/httpc.c), on common/http1. */
		memset(&resp, 0, sizeof(resp));
		err[0] = '\0';
		r = pvx_http_parse_response(b.p, cut, eof, head, &resp, err,
					    sizeof(err));
		CHECK(r == 1 || r == 0 || r == -EBADMSG, "httpc ret", it, &b);
		if (r == -EBADMSG)
			CHECK(err[0], "httpc message", it, &b);
		if (r == 1) {
			CHECK(resp.status >= 100 && resp.status <= 599,
			      "httpc status", it, &b);
			CHECK(resp.body && resp.body_len <= cut, "httpc body",
			      it, &b);
			pvx_http_response_free(&resp);
		}

		/* pv-xconnect's graph client (src/xconnect/client.c), on
		 * common/http1: a private copy, sized exactly, so ASan sees
		 * any overrun. */
		copy = malloc(cut ? cut : 1);
		assert_non_null(copy);
		memcpy(copy, b.p, cut);
		{
			size_t max_body = rnd_below(4) ? 8u << 20 : 4;
			enum pvx_http_res x =
			    pvx_http_resp_parse(copy, cut, eof, max_body, &xr);
			CHECK(x == PVX_HTTP_MORE || x == PVX_HTTP_DONE ||
				  x == PVX_HTTP_BAD,
			      "xc ret", it, &b);
			if (x == PVX_HTTP_BAD)
				CHECK(xr.reason[0], "xc message", it, &b);
			if (x == PVX_HTTP_MORE)
				CHECK(!eof, "xc more after eof", it, &b);
			if (x == PVX_HTTP_DONE) {
				CHECK(xr.status >= 100 && xr.status <= 599,
				      "xc status", it, &b);
				CHECK(xr.body_len <= max_body, "xc max body",
				      it, &b);
				CHECK(xr.body && xr.body_len <= cut &&
					  xr.body[xr.body_len] == '\0',
				      "xc body", it, &b);
				CHECK(memchr(xr.etag, '\0', sizeof(xr.etag)) !=
					  NULL,
				      "xc etag terminated", it, &b);
				pvx_http_resp_free(&xr);
			}
		}
		free(copy);
	}
	free(seed.p);
	free(b.p);
}

/* ------------------------------------------------------------ http plugin */

static const char *const msg_seeds[] = {
    "GET /api/x?y=1 HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\r\n",
    "POST /api/up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nhello\r\n3;e=1\r\nabc\r\n0\r\nT: x\r\n\r\n",
    "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
    "Upgrade: websocket\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    "3\r\nabc\r\n0\r\n\r\n",
    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close",
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\n\r\n",
};

struct body_acc {
	size_t n;
};

static int body_count(void *arg, const char *buf, size_t len)
{
	struct body_acc *a = arg;
	volatile char sink = 0;

	/* Touch every byte: ASan checks that the pointers are real. */
	for (size_t i = 0; i < len; i++)
		sink ^= buf[i];
	(void)sink;
	a->n += len;
	return 0;
}

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
	return n == 0 || (p >= buf && p + n <= buf + len);
}

static void test_fuzz_http_plugin(void **ts)
{
	struct buf seed = {0}, b = {0};

	(void)ts;
	big_tokens_init();
	rng_seed(600);
	for (unsigned it = 0; it < iters(8000); it++) {
		size_t k = rnd_below(sizeof(msg_seeds) / sizeof(*msg_seeds));
		bool request = strncmp(msg_seeds[k], "HTTP/", 5) != 0;
		struct pvx_http1 *h = calloc(1, sizeof(*h));
		struct body_acc acc = {0};
		char *copy;
		ssize_t hl;

		assert_non_null(h);
		buf_set(&seed, msg_seeds[k], strlen(msg_seeds[k]));
		mutate(&b, &seed);
		copy = malloc(b.len ? b.len : 1);
		assert_non_null(copy);
		memcpy(copy, b.p, b.len);
		pvx_http1_init(h, request, body_count, &acc);
		if (!request && rnd_below(8) == 0)
			h->skip_body = true;
		hl = pvx_http1_head_len(copy, b.len);
		CHECK(hl >= -1 && hl <= (ssize_t)b.len, "http head_len", it,
		      &b);
		if (hl > 0) {
			int r = pvx_http1_parse_head(h, copy, (size_t)hl);
			const struct pvx_http1_head *hd = &h->head;
			if (r < 0) {
				CHECK(r == -EINVAL && h->err[0] &&
					  h->status >= 400 && h->status <= 599,
				      "http refusal", it, &b);
			} else {
				CHECK(r == 0 && h->head_done, "http head", it,
				      &b);
				CHECK(hd->nh <= PVX_HTTP1_MAX_HEADERS,
				      "http nh", it, &b);
				for (size_t i = 0; i < hd->nh; i++)
					CHECK(inside(hd->h[i].name,
						     hd->h[i].name_len, copy,
						     (size_t)hl) &&
						  inside(hd->h[i].value,
							 hd->h[i].value_len,
							 copy, (size_t)hl),
					      "http header inside", it, &b);
				if (request)
					CHECK(hd->url &&
						  inside(hd->url, hd->url_len,
							 copy, (size_t)hl),
					      "http url inside", it, &b);
				CHECK(hd->content_length >= -1, "http CL", it,
				      &b);
				CHECK(!(hd->chunked && hd->content_length >= 0),
				      "http CL and TE both accepted", it, &b);
				/* The body in random pieces. */
				size_t pos = (size_t)hl, fed = 0, offered = 0;
				while (!h->msg_done && pos < b.len) {
					size_t n = 1 + rnd_below(b.len - pos);
					ssize_t c = pvx_http1_feed_body(
					    h, copy + pos, n);
					offered += n;
					if (c < 0) {
						CHECK(h->err[0],
						      "http body err", it, &b);
						break;
					}
					CHECK((size_t)c <= n, "http consumed",
					      it, &b);
					if (c == 0 && !h->msg_done)
						break;
					pos += (size_t)c;
					fed += (size_t)c;
				}
				if (!h->msg_done && pos >= b.len)
					(void)pvx_http1_eof(h);
				CHECK(acc.n <= offered, "http decoded > given",
				      it, &b);
				(void)fed;
				/* 1xx, 204, 304: no body whatever the
				 * headers say. */
				if (hd->content_length >= 0 && h->msg_done &&
				    !h->skip_body &&
				    (request ||
				     (hd->status >= 200 && hd->status != 204 &&
				      hd->status != 304)))
					CHECK(acc.n ==
						  (size_t)hd->content_length,
					      "http CL body size", it, &b);
			}
		}
		free(copy);
		free(h);
	}
	free(seed.p);
	free(b.p);
}

/* ------------------------------------------------------------ found bugs */

/* A state whose "app" container has the services object svc, beside a
 * provider exporting raw-unix: either refused with messages, or its graph
 * is accepted by pv-xconnect. */
static void check_state_graph_accepted(const char *svc, const char *what)
{
	struct pvx_errlist el = {0};
	struct pvc_state *st;
	struct pvc_leases leases = {0};
	struct pvx_link_conf *v = NULL;
	size_t n = 0;
	char *text, *in = NULL;
	json_t *g;
	int r;

	r = asprintf(&in,
		     "{\"#spec\":\"pantavisor-service-system@1\","
		     "\"app/run.json\":{\"name\":\"app\",\"type\":\"lxc\","
		     "\"services\":{%s}},"
		     "\"provider/run.json\":{\"name\":\"provider\","
		     "\"type\":\"lxc\"},"
		     "\"provider/services.json\":{\"#spec\":"
		     "\"service-manifest-xconnect@1\",\"services\":[{\"name\":"
		     "\"raw-unix\",\"type\":\"unix\",\"socket\":"
		     "\"/run/example/raw.sock\"}]}}",
		     svc);
	assert_true(r > 0);
	st = pvc_state_load_buf(in, strlen(in), "state.json", &el);
	free(in);
	if (!st) {
		assert_false(pvx_errlist_empty(&el));
		pvx_errlist_clear(&el);
		return;
	}
	assert_int_equal(pvc_ipam_assign(st, NULL, &leases, &el), 0);
	g = pvc_graph_build(st, &leases, NULL);
	text = pvc_graph_dump(g);
	r = pvx_graph_parse(text, strlen(text), &v, &n, &el);
	if (r != 0)
		fail_msg("%s: state accepted, its graph refused by "
			 "pv-xconnect: %s",
			 what, el.n ? el.msgs[0] : "?");
	pvx_link_confs_free(v, n);
	free(text);
	json_decref(g);
	pvc_leases_free(&leases);
	pvc_state_free(st);
	pvx_errlist_clear(&el);
}

/* Found by test_fuzz_state (seeds 2, 3, 6): a requirement of type "http"
 * whose target is not "IP:PORT[/path]" passed state validation, and the
 * graph pv-ctrld then published was refused as a whole by pv-xconnect,
 * ingress links included. Either end must give: refuse the state or
 * accept its graph. */
static void test_found_http_require_target(void **ts)
{
	static const char *const svcs[] = {
	    "\"required\":[{\"name\":\"raw-unix\",\"type\":\"http\","
	    "\"target\":\"/run/pvx/raw.sock\"}]",
	    "\"required\":[{\"name\":\"raw-unix\",\"type\":\"http\","
	    "\"target\":\"1.2.3.4:80/../x\"}]",
	    "\"required\":[{\"name\":\"raw-unix\",\"type\":\"http\","
	    "\"target\":\"0.0.0.0:0\"}]",
	};
	(void)ts;
	for (size_t i = 0; i < sizeof(svcs) / sizeof(svcs[0]); i++)
		check_state_graph_accepted(svcs[i], svcs[i]);
}

#define REQ                                                                    \
	"{\"name\":\"raw-unix\",\"type\":\"unix\",\"target\":\"/run/pvx/"      \
	"raw.sock\"}"
/* Found by test_fuzz_state (the default seed, iteration 375): the same
 * requirement twice in one run.json (or once required and once optional)
 * passed validation; the graph then held two links of one identity
 * (consumer, name, target) and pv-xconnect refused the whole graph. */
static void test_found_duplicate_require(void **ts)
{
	static const char *const reqs[] = {
	    "\"required\":[" REQ "," REQ "]",
	    "\"required\":[" REQ "],\"optional\":[" REQ "]",
	};
	(void)ts;
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		check_state_graph_accepted(reqs[i], reqs[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fuzz_state),
	    cmocka_unit_test(test_fuzz_graph),
	    cmocka_unit_test(test_fuzz_leases),
	    cmocka_unit_test(test_fuzz_addr),
	    cmocka_unit_test(test_fuzz_http),
	    cmocka_unit_test(test_fuzz_http_plugin),
	    cmocka_unit_test(test_found_http_require_target),
	    cmocka_unit_test(test_found_duplicate_require),
	};
	const char *s = getenv("PVX_FUZZ_SEED");
	const char *n = getenv("PVX_FUZZ_ITERS");
	int r;

	if (s && *s)
		base_seed = strtoull(s, NULL, 0);
	/* PVX_FUZZ_ITERS: per mille of the default counts (1000 = as is). */
	keep_going = getenv("PVX_FUZZ_KEEP_GOING") != NULL;
	if (n && *n)
		iters_scale = (unsigned)strtoul(n, NULL, 10);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	free(tok_long_str);
	free(tok_deep);
	free(tok_long_num);
	free(tok_deep_obj);
	return r;
}
