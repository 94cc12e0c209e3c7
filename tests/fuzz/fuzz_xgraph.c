/* Fuzz target: pv-xconnect's graph parser (pvx_graph_parse). A refusal
 * says why and hands out nothing; an accepted graph's links can be copied
 * and compared. */
#include "fuzz.h"

#include <string.h>

#include "common/errlist.h"
#include "xconnect/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pvx_errlist el = {0};
	struct pvx_link_conf *v = NULL;
	size_t n = 0;
	int r;

	r = pvx_graph_parse((const char *)data, size, &v, &n, &el);
	if (r < 0) {
		FUZZ_CHECK(!pvx_errlist_empty(&el));
		FUZZ_CHECK(v == NULL || n == 0);
		pvx_link_confs_free(v, n);
		pvx_errlist_clear(&el);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct pvx_link_conf c = {0};
		FUZZ_CHECK(v[i].type && v[i].name);
		FUZZ_CHECK(pvx_link_conf_copy(&c, &v[i]) == 0);
		FUZZ_CHECK(pvx_link_conf_same_identity(&c, &v[i]));
		FUZZ_CHECK(strlen(v[i].backend_path) <
			   sizeof(v[i].backend_path));
		pvx_link_conf_clear(&c);
	}
	pvx_link_confs_free(v, n);
	pvx_errlist_clear(&el);
	return 0;
}
