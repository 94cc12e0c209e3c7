/* Fuzz target: the state loader and validator (pvc_state_load_buf), then
 * what pv-ctrld does with an accepted state: IPAM and the graph. A refusal
 * must say why; an accepted state must give a graph that is valid JSON. */
#include "fuzz.h"

#include <jansson.h>
#include <string.h>

#include "common/errlist.h"
#include "ctrl/graph.h"
#include "ctrl/ipam.h"
#include "ctrl/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pvx_errlist el = {0};
	struct pvc_leases leases = {0}, again = {0};
	struct pvc_state *st;
	json_t *g;

	st = pvc_state_load_buf((const char *)data, size, "state.json", &el);
	if (!st) {
		FUZZ_CHECK(!pvx_errlist_empty(&el));
		for (size_t i = 0; i < el.n; i++)
			FUZZ_CHECK(el.msgs[i] && el.msgs[i][0]);
		pvx_errlist_clear(&el);
		return 0;
	}
	/* Loading validates: validating again finds nothing new. */
	pvx_errlist_clear(&el);
	FUZZ_CHECK(pvc_state_validate(st, &el) == 0);
	pvx_errlist_clear(&el);
	FUZZ_CHECK(pvc_ipam_assign(st, NULL, &leases, &el) == 0);
	/* Assignment is stable: the leases as previous leases give the same
	 * leases again. */
	FUZZ_CHECK(pvc_ipam_assign(st, &leases, &again, &el) == 0);
	FUZZ_CHECK(again.n == leases.n);
	for (size_t i = 0; i < leases.n; i++)
		FUZZ_CHECK(leases.v[i].ip.s_addr == again.v[i].ip.s_addr);
	g = pvc_graph_build(st, &leases, NULL);
	FUZZ_CHECK(g && json_is_array(g));
	{
		char *text = json_dumps(g, JSON_COMPACT);
		json_error_t jerr;
		json_t *back;
		FUZZ_CHECK(text);
		back = json_loads(text, 0, &jerr);
		FUZZ_CHECK(back && json_equal(back, g));
		json_decref(back);
		free(text);
	}
	json_decref(g);
	pvc_leases_free(&leases);
	pvc_leases_free(&again);
	pvx_errlist_clear(&el);
	pvc_state_free(st);
	return 0;
}
