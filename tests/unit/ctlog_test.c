/* The container output log: appends, rotation at the cap, reads by offset
 * across a rotation, reopening the files of an earlier run, a symlink at
 * the log's path refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctrl/ctlog.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pvx-ctlog-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *read_all(struct pvc_ctlog *l, uint64_t off, uint64_t *end)
{
	char *b;
	size_t n;

	assert_int_equal(pvc_ctlog_read(l, off, &b, &n, end), 0);
	assert_int_equal(strlen(b), n);
	return b;
}

static void test_rotate_and_read(void **state)
{
	struct pvc_ctlog l;
	char chunk[1000], sub[80], *b;
	uint64_t end;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/logs", dir);
	assert_int_equal(pvc_ctlog_open(&l, sub, "web", 100), 0);
	assert_int_equal(l.max, PVC_CTLOG_MIN); /* raised to the minimum */
	b = read_all(&l, 0, &end);
	assert_string_equal(b, "");
	assert_int_equal(end, 0);
	free(b);
	/* 10 lines of 1000 bytes: 4096 per file, so rotations happen. */
	for (int i = 0; i < 10; i++) {
		memset(chunk, 'a' + i, sizeof(chunk));
		chunk[sizeof(chunk) - 1] = '\n';
		assert_int_equal(pvc_ctlog_write(&l, chunk, sizeof(chunk)), 0);
		assert_true(l.size <= l.max);
	}
	assert_int_equal(l.total, 10000);
	/* From 0: the oldest kept (line 'g' or earlier) up to the end. */
	b = read_all(&l, 0, &end);
	assert_int_equal(end, 10000);
	assert_true(strlen(b) >= 4096 && strlen(b) <= 2 * 4096);
	assert_int_equal(b[strlen(b) - 2], 'j');
	assert_int_equal(b[0], 'a' + (int)(10 - strlen(b) / 1000));
	free(b);
	/* From an offset inside the kept range: exactly what came after. */
	b = read_all(&l, 8500, &end);
	assert_int_equal(strlen(b), 1500);
	assert_int_equal(b[0], 'i');
	assert_int_equal(b[500], 'j');
	free(b);
	/* At or past the end: nothing. */
	b = read_all(&l, 10000, &end);
	assert_string_equal(b, "");
	free(b);
	b = read_all(&l, 99999, &end);
	assert_string_equal(b, "");
	assert_int_equal(end, 10000);
	free(b);
	/* A chunk over the cap keeps its tail. */
	{
		char big[9000];
		memset(big, 'x', sizeof(big));
		big[sizeof(big) - 1] = 'Z';
		assert_int_equal(pvc_ctlog_write(&l, big, sizeof(big)), 0);
		assert_int_equal(l.total, 19000);
		b = read_all(&l, 18999, &end);
		assert_string_equal(b, "Z");
		free(b);
	}
	pvc_ctlog_close(&l);
	pvc_ctlog_close(&l); /* idempotent */

	/* A later run takes up the files: offsets continue. */
	assert_int_equal(pvc_ctlog_open(&l, sub, "web", 4096), 0);
	assert_true(l.total > 4096);
	b = read_all(&l, l.total - 1, &end);
	assert_string_equal(b, "Z");
	free(b);
	assert_int_equal(pvc_ctlog_write(&l, "more\n", 5), 0);
	b = read_all(&l, end, &end);
	assert_string_equal(b, "more\n");
	free(b);
	pvc_ctlog_close(&l);
}

static void test_symlink_refused(void **state)
{
	struct pvc_ctlog l;
	char sub[80], link[120], target[120];

	(void)state;
	snprintf(sub, sizeof(sub), "%s/logs2", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(link, sizeof(link), "%s/evil.log", sub);
	snprintf(target, sizeof(target), "%s/target", dir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(pvc_ctlog_open(&l, sub, "evil", 4096), -ELOOP);
	assert_int_equal(access(target, F_OK), -1);
	/* A directory that cannot be made. */
	assert_true(pvc_ctlog_open(&l, "/proc/nonexistent/x", "a", 4096) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rotate_and_read),
	    cmocka_unit_test(test_symlink_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
