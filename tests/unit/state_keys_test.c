/* Typos in a device state (docs/formats.md, "Unknown keys"): an unknown key
 * at a level pvx knows is a warning naming the file, the JSON path and the
 * closest known key; Pantavisor's own fields are not warned about; an
 * unknown container type is an error; a state without containers is a
 * warning. The examples load without any warning. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/state.h"
#include "ctrl/state_keys.h"

/* A state of one container "web" (a process with a service and a
 * requirement) and one ingress rule, with %s spliced in: DEV into
 * device.json's root, RUN into run.json's root, ING into the ingress rule,
 * NET into run.json network, REQ into the requirement, SVC into the
 * exported service. ' stands for ". */
#define BASE                                                                   \
	"{'#spec': 'pantavisor-service-system@1',"                             \
	" 'device.json': {%s 'network': {'pools': {'internal': {"              \
	"   'bridge': 'br0', 'subnet': '10.0.4.0/24'}}},"                      \
	"  'ingress': [{%s 'name': 'in', 'type': 'tcp',"                       \
	"   'external': '0.0.0.0:80', 'provider': 'web', 'service': "          \
	"'http'}]},"                                                           \
	" 'web/run.json': {%s 'type': 'process', 'exec': ['/bin/true'],"       \
	"  'network': {%s 'pool': 'internal'},"                                \
	"  'services': {'required': [{%s 'name': 'db', 'type': 'tcp',"         \
	"   'target': '127.0.0.1:5432'}]}},"                                   \
	" 'web/services.json': {'#spec': 'service-manifest-xconnect@1',"       \
	"  'services': [{%s 'name': 'http', 'type': 'tcp', 'port': 80}]},"     \
	" 'db/run.json': {'type': 'lxc'},"                                     \
	" 'db/services.json': [{'name': 'db', 'type': 'tcp', 'port': 5432}]}"

enum at { DEV, ING, RUN, NET, REQ, SVC };

static struct pvc_state *load(enum at where, const char *insert,
			      struct pvx_errlist *el)
{
	const char *parts[6] = {"", "", "", "", "", ""};
	char text[4096];
	struct pvc_state *st;

	parts[where] = insert;
	snprintf(text, sizeof(text), BASE, parts[DEV], parts[ING], parts[RUN],
		 parts[NET], parts[REQ], parts[SVC]);
	for (char *p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	st = pvc_state_load_buf(text, strlen(text), "state.json", el);
	if (!st) {
		char *all = pvx_errlist_join(el);
		fprintf(stderr, "refused:\n%s\n", all);
		free(all);
	}
	return st;
}

static void test_typos_warned(void **state)
{
	static const struct {
		enum at at;
		const char *insert;
		const char *want; /* the whole warning */
	} cases[] = {
	    {DEV, "'ingres': [],",
	     "device.json: ingres: unknown key, ignored (did you mean "
	     "'ingress'?)"},
	    {DEV, "'Network': {},",
	     "device.json: Network: unknown key, ignored (did you mean "
	     "'network'?)"},
	    {ING, "'provder': 'x',",
	     "device.json: ingress[0].provder: unknown key, ignored (did you "
	     "mean 'provider'?)"},
	    {ING, "'max_con': 3,",
	     "device.json: ingress[0].max_con: unknown key, ignored (did you "
	     "mean 'max_conns'?)"},
	    {RUN, "'servces': {},",
	     "web/run.json: servces: unknown key, ignored (did you mean "
	     "'services'?)"},
	    {RUN, "'enx': {},",
	     "web/run.json: enx: unknown key, ignored (did you mean 'env'?)"},
	    {RUN, "'auto_recovery': {'polcy': 'always'},",
	     "web/run.json: auto_recovery.polcy: unknown key, ignored (did "
	     "you mean 'policy'?)"},
	    {NET, "'hostnme': 'w',",
	     "web/run.json: network.hostnme: unknown key, ignored (did you "
	     "mean 'hostname'?)"},
	    {NET,
	     "'interfaces': [{'pool': 'internal', 'ipv4_adress': "
	     "'10.0.4.9'}],",
	     "web/run.json: network.interfaces[0].ipv4_adress: unknown key, "
	     "ignored (did you mean 'ipv4_address'?)"},
	    {REQ, "'rloe': 'client',",
	     "web/run.json: services.required[0].rloe: unknown key, ignored "
	     "(did you mean 'role'?)"},
	    {SVC, "'prot': 8080,",
	     "web/services.json: services[0].prot: unknown key, ignored (did "
	     "you mean 'port'?)"},
	    {SVC, "'colour': 'blue',",
	     "web/services.json: services[0].colour: unknown key, ignored"},
	    {RUN, "'zzzzzzzzzzzz': 1,",
	     "web/run.json: zzzzzzzzzzzz: unknown key, ignored"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pvx_errlist el = {0};
		struct pvc_state *st = load(cases[i].at, cases[i].insert, &el);
		assert_non_null(st);
		if (st->warnings.n != 1 ||
		    strcmp(st->warnings.msgs[0], cases[i].want) != 0) {
			char *all = pvx_errlist_join(&st->warnings);
			fprintf(stderr, "case %zu: want '%s', got:\n%s\n", i,
				cases[i].want, all);
			free(all);
			fail();
		}
		pvc_state_free(st);
		pvx_errlist_clear(&el);
	}
}

/* The misspelt services.required drops a requirement: the state is valid,
 * but the warning says why. */
static void test_requried(void **state)
{
	const char *text =
	    "{\"#spec\": \"pantavisor-service-system@1\","
	    " \"app/run.json\": {\"services\": {\"requried\": "
	    "[{\"name\": \"raw\", \"type\": \"unix\", \"target\": "
	    "\"/run/raw.sock\"}]}}}";
	struct pvx_errlist el = {0};
	struct pvc_state *st;

	(void)state;
	st = pvc_state_load_buf(text, strlen(text), "state.json", &el);
	assert_non_null(st);
	assert_int_equal(st->containers[0].n_requires, 0);
	assert_int_equal(st->warnings.n, 1);
	assert_string_equal(st->warnings.msgs[0],
			    "app/run.json: services.requried: unknown key, "
			    "ignored (did you mean 'required'?)");
	pvc_state_free(st);
}

/* Known keys, pvx's and Pantavisor's, and names chosen by the user (pool
 * names, env variables) are never warned about. */
static void test_known_not_warned(void **state)
{
	static const struct {
		enum at at;
		const char *insert;
	} cases[] = {
	    {DEV, "'#spec': 'x', 'disks': [], 'groups': [], 'volumes': {},"},
	    {ING, "'proxy_protocol': 'v1', 'allow': ['127.0.0.1'], "
		  "'connect_timeout_ms':"
		  " 1, 'idle_timeout_s': 1, 'max_conns': 1,"},
	    {RUN, "'#spec': 'service-manifest-run@1', 'config': 'lxc.conf',"
		  " 'root-volume': 'root.squashfs', 'volumes': [], 'storage':"
		  " {'x': {}}, 'logs': [], 'group': 'app', 'roles': [],"
		  " 'restart_policy': 'container', 'status_goal': 'STARTED',"
		  " 'drivers': {}, 'conditions': [], 'lifecycle_goal': 'x',"
		  " 'status_substate': 'x', 'runlevel': 'app',"},
	    {RUN, "'env': {'WHATEVER_NAME': 'x', 'requried': 'y'},"},
	    {RUN, "'auto_recovery': {'policy': 'always', 'type': 'always',"
		  " 'max_retries': 1, 'maximum_retry_count': 1, 'retry_delay':"
		  " 1, 'backoff_factor': 2, 'reset_window': 1},"},
	    {NET, "'mode': 'pool', 'hostname': 'w',"},
	    {REQ, "'role': 'client', 'interface': 'tcp',"},
	    {SVC, "'socket': '/run/x.sock',"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pvx_errlist el = {0};
		struct pvc_state *st = load(cases[i].at, cases[i].insert, &el);
		assert_non_null(st);
		if (st->warnings.n) {
			char *all = pvx_errlist_join(&st->warnings);
			fprintf(stderr, "case %zu: unexpected:\n%s\n", i, all);
			free(all);
			fail();
		}
		pvc_state_free(st);
	}
}

static void test_container_type(void **state)
{
	static const struct {
		const char *type;
		const char *want; /* error, or NULL: accepted */
	} cases[] = {
	    {"process", NULL},
	    {"lxc", NULL},
	    {"proccess", "web/run.json: type: unknown container type "
			 "'proccess' (did you mean 'process'? expected "
			 "process or lxc)"},
	    {"LXC", "web/run.json: type: unknown container type 'LXC' (did "
		    "you mean 'lxc'? expected process or lxc)"},
	    {"docker", "web/run.json: type: unknown container type 'docker' "
		       "(expected process or lxc)"},
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pvx_errlist el = {0};
		struct pvc_state *st;
		snprintf(text, sizeof(text),
			 "{\"#spec\": \"pantavisor-service-system@1\","
			 " \"web/run.json\": {\"type\": \"%s\", \"exec\": "
			 "[\"/bin/true\"]}}",
			 cases[i].type);
		st = pvc_state_load_buf(text, strlen(text), "state.json", &el);
		if (!cases[i].want) {
			assert_non_null(st);
			assert_string_equal(st->containers[0].type,
					    cases[i].type);
			pvc_state_free(st);
			continue;
		}
		assert_null(st);
		assert_int_equal(el.n, 1);
		assert_string_equal(el.msgs[0], cases[i].want);
		pvx_errlist_clear(&el);
	}
}

static void test_no_container(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    {"{\"#spec\": \"pantavisor-service-system@1\"}",
	     "state.json: no container (no <container>/run.json in the "
	     "state)"},
	    {"{\"#spec\": \"pantavisor-service-system@1\", \"device.json\": "
	     "{}, \"web/services.json\": [], \"bsp/run.json\": {}}",
	     "state.json: no container (no <container>/run.json in the "
	     "state)"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pvx_errlist el = {0};
		struct pvc_state *st = pvc_state_load_buf(
		    cases[i].text, strlen(cases[i].text), "state.json", &el);
		assert_non_null(st);
		assert_int_equal(st->warnings.n, 1);
		assert_string_equal(st->warnings.msgs[0], cases[i].want);
		pvc_state_free(st);
	}
}

static void test_closest(void **state)
{
	static const struct {
		enum pvc_klevel level;
		const char *key;
		const char *want;
	} cases[] = {
	    {PVC_KL_RUN_SERVICES, "requried", "required"},
	    {PVC_KL_RUN_SERVICES, "REQUIRED", "required"},
	    {PVC_KL_RUN_SERVICES, "optinal", "optional"},
	    {PVC_KL_RUN_SERVICES, "xyz", NULL},
	    {PVC_KL_POOL, "subnt", "subnet"},
	    {PVC_KL_POOL, "gatway", "gateway"},
	    {PVC_KL_POOL, "isolat", "isolate"},
	    {PVC_KL_POOL, "", NULL},
	    {PVC_KL_EXPORT, "sockett", "socket"},
	    {PVC_KL_ANY, "anything", NULL},
	};
	char longkey[200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got =
		    pvc_keys_closest(cases[i].level, cases[i].key);
		if (!cases[i].want)
			assert_null(got);
		else
			assert_string_equal(got, cases[i].want);
	}
	memset(longkey, 'a', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	assert_null(pvc_keys_closest(PVC_KL_RUN, longkey));
}

/* Every level a row's child names has rows of its own (a level nobody can
 * fill would warn about every key), and no key is listed twice. */
static void test_table_sound(void **state)
{
	(void)state;
	for (size_t i = 0; i < pvc_n_known_keys; i++) {
		const struct pvc_known_key *k = &pvc_known_keys[i];
		bool found = k->child == PVC_KL_NONE || k->child == PVC_KL_ANY;
		for (size_t j = 0; j < pvc_n_known_keys && !found; j++)
			found = pvc_known_keys[j].level == k->child;
		assert_true(found);
		for (size_t j = 0; j < i; j++)
			assert_false(pvc_known_keys[j].level == k->level &&
				     strcmp(pvc_known_keys[j].name, k->name) ==
					 0);
	}
}

static void test_examples_quiet(void **state)
{
	static const char *const ex[] = {"ingress-hybrid",
					 "ingress-hybrid/state.json",
					 "ingress-direct", "mesh-unix"};
	char path[512];

	(void)state;
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		struct pvx_errlist el = {0};
		struct pvc_state *st;
		snprintf(path, sizeof(path), "%s/%s", PVX_EXAMPLES, ex[i]);
		st = pvc_state_load_path(path, &el);
		assert_non_null(st);
		if (st->warnings.n) {
			char *all = pvx_errlist_join(&st->warnings);
			fprintf(stderr, "%s:\n%s\n", ex[i], all);
			free(all);
			fail();
		}
		pvc_state_free(st);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_typos_warned),
	    cmocka_unit_test(test_requried),
	    cmocka_unit_test(test_known_not_warned),
	    cmocka_unit_test(test_container_type),
	    cmocka_unit_test(test_no_container),
	    cmocka_unit_test(test_closest),
	    cmocka_unit_test(test_table_sound),
	    cmocka_unit_test(test_examples_quiet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
