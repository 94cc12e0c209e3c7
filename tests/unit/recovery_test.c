/* run.json "auto_recovery" (docs/formats.md): both spellings of policy and
 * max_retries, defaults, and every bad value refused with the file, the
 * JSON path and the reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/state.h"

/* A state with one process container "web" whose run.json gets extra
 * members; ' -> " for readability. */
static struct pvc_state *load(const char *extra, struct pvx_errlist *el)
{
	char *text = NULL;
	struct pvc_state *st;

	assert_true(asprintf(&text,
			     "{'#spec':'pantavisor-service-system@1',"
			     "'web/run.json':{'type':'process','exec':['/bin/"
			     "true']%s%s}}",
			     *extra ? "," : "", extra) > 0);
	for (char *p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	st = pvc_state_load_buf(text, strlen(text), "state.json", el);
	free(text);
	return st;
}

struct good {
	const char *extra;
	struct pvc_recovery want;
};

static const struct good goods[] = {
    {"", {PVC_RECOVER_NO, 0, 1, 2, 60}},
    {"'auto_recovery':{}", {PVC_RECOVER_NO, 0, 1, 2, 60}},
    {"'auto_recovery':null", {PVC_RECOVER_NO, 0, 1, 2, 60}},
    {"'auto_recovery':{'policy':'on-failure'}",
     {PVC_RECOVER_ON_FAILURE, 0, 1, 2, 60}},
    {"'auto_recovery':{'type':'always','maximum_retry_count':3}",
     {PVC_RECOVER_ALWAYS, 3, 1, 2, 60}},
    {"'auto_recovery':{'policy':'unless-stopped','type':'unless-stopped',"
     "'max_retries':5,'maximum_retry_count':5}",
     {PVC_RECOVER_UNLESS_STOPPED, 5, 1, 2, 60}},
    {"'auto_recovery':{'policy':'no','max_retries':0,'retry_delay':0.25,"
     "'backoff_factor':1,'reset_window':0}",
     {PVC_RECOVER_NO, 0, 0.25, 1, 0}},
    {"'auto_recovery':{'policy':'on-failure','retry_delay':10,"
     "'backoff_factor':1.5,'reset_window':3600,'policy_extra':1}",
     {PVC_RECOVER_ON_FAILURE, 0, 10, 1.5, 3600}},
};

static void test_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		struct pvx_errlist el = {0};
		struct pvc_state *st = load(goods[i].extra, &el);
		const struct pvc_recovery *r;

		if (!st) {
			char *all = pvx_errlist_join(&el);
			fail_msg("case %zu: %s", i, all);
		}
		r = &st->containers[0].recovery;
		if (r->policy != goods[i].want.policy ||
		    r->max_retries != goods[i].want.max_retries ||
		    r->retry_delay != goods[i].want.retry_delay ||
		    r->backoff_factor != goods[i].want.backoff_factor ||
		    r->reset_window != goods[i].want.reset_window)
			fail_msg("case %zu: got %s %u %g %g %g", i,
				 pvc_recovery_policy_name(r->policy),
				 r->max_retries, r->retry_delay,
				 r->backoff_factor, r->reset_window);
		pvc_state_free(st);
		pvx_errlist_clear(&el);
	}
}

struct bad {
	const char *extra;
	const char *want; /* a message containing this */
};

static const struct bad bads[] = {
    {"'auto_recovery':'always'",
     "web/run.json: auto_recovery: expected object"},
    {"'auto_recovery':[]", "web/run.json: auto_recovery: expected object"},
    {"'auto_recovery':{'policy':'sometimes'}",
     "web/run.json: auto_recovery.policy: expected one of \"no\", "
     "\"always\", \"on-failure\", \"unless-stopped\""},
    {"'auto_recovery':{'policy':'On-Failure'}",
     "auto_recovery.policy: expected one of"},
    {"'auto_recovery':{'policy':1}", "auto_recovery.policy: expected one of"},
    {"'auto_recovery':{'type':''}", "auto_recovery.type: expected one of"},
    {"'auto_recovery':{'policy':'always','type':'no'}",
     "web/run.json: auto_recovery.policy: 'policy' and 'type' are both "
     "given and differ"},
    {"'auto_recovery':{'max_retries':3,'maximum_retry_count':4}",
     "web/run.json: auto_recovery.max_retries: 'max_retries' and "
     "'maximum_retry_count' are both given and differ"},
    {"'auto_recovery':{'max_retries':-1}",
     "auto_recovery.max_retries: expected an integer in 0-1000000"},
    {"'auto_recovery':{'max_retries':2.5}",
     "auto_recovery.max_retries: expected an integer"},
    {"'auto_recovery':{'maximum_retry_count':'3'}",
     "auto_recovery.maximum_retry_count: expected an integer"},
    {"'auto_recovery':{'max_retries':1000001}",
     "auto_recovery.max_retries: expected an integer in 0-1000000"},
    {"'auto_recovery':{'retry_delay':-1}",
     "web/run.json: auto_recovery.retry_delay: expected seconds in 0-86400"},
    {"'auto_recovery':{'retry_delay':'5'}",
     "auto_recovery.retry_delay: expected seconds"},
    {"'auto_recovery':{'retry_delay':86401}",
     "auto_recovery.retry_delay: expected seconds"},
    {"'auto_recovery':{'backoff_factor':0.5}",
     "auto_recovery.backoff_factor: expected a factor in 1-100"},
    {"'auto_recovery':{'backoff_factor':true}",
     "auto_recovery.backoff_factor: expected a factor"},
    {"'auto_recovery':{'reset_window':-0.1}",
     "auto_recovery.reset_window: expected seconds in 0-604800"},
};

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct pvx_errlist el = {0};
		struct pvc_state *st = load(bads[i].extra, &el);

		if (st || !pvx_errlist_find(&el, bads[i].want)) {
			char *all = pvx_errlist_join(&el);
			fail_msg("case %zu: want '%s', got:\n%s", i,
				 bads[i].want, all ? all : "(accepted)");
		}
		pvx_errlist_clear(&el);
	}
	/* Every problem at once, not only the first. */
	{
		struct pvx_errlist el = {0};

		assert_null(load("'auto_recovery':{'policy':'x',"
				 "'retry_delay':-1,'backoff_factor':0}",
				 &el));
		assert_int_equal(el.n, 3);
		pvx_errlist_clear(&el);
	}
}

static void test_names_and_equal(void **state)
{
	struct pvx_errlist el = {0};
	struct pvc_state *a, *b;

	(void)state;
	assert_string_equal(pvc_recovery_policy_name(PVC_RECOVER_NO), "no");
	assert_string_equal(pvc_recovery_policy_name(PVC_RECOVER_ON_FAILURE),
			    "on-failure");
	assert_string_equal(
	    pvc_recovery_policy_name(PVC_RECOVER_UNLESS_STOPPED),
	    "unless-stopped");
	a = load("'auto_recovery':{'policy':'always'}", &el);
	b = load("'auto_recovery':{'type':'always'}", &el);
	assert_true(a && b && pvc_state_equal(a, b));
	pvc_state_free(b);
	b = load("'auto_recovery':{'policy':'always','retry_delay':2}", &el);
	assert_true(b && !pvc_state_equal(a, b));
	pvc_state_free(a);
	pvc_state_free(b);
	pvx_errlist_clear(&el);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_names_and_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
