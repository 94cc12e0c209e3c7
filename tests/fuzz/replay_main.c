/* Replays inputs through a fuzz target without libFuzzer (any compiler):
 * each argument is a file or a directory of files, run once each. Used by
 * ctest to replay the seeds and tests/fuzz/regressions/<target>/ in every
 * build, ASan included (docs/testing.md, fuzzing). */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			uint8_t *nb;
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	/* A copy of exactly len bytes: ASan sees any read past the end. */
	{
		uint8_t *exact = malloc(len ? len : 1);
		if (!exact) {
			free(buf);
			return -1;
		}
		memcpy(exact, buf, len);
		free(buf);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	int n = 0, bad = 0;

	for (int i = 1; i < argc; i++) {
		struct stat sb;
		if (stat(argv[i], &sb) < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			bad++;
			continue;
		}
		if (!S_ISDIR(sb.st_mode)) {
			bad += run_file(argv[i]) < 0;
			n++;
			continue;
		}
		{
			DIR *d = opendir(argv[i]);
			struct dirent *e;
			char **names = NULL;
			size_t k = 0, cap = 0;
			while (d && (e = readdir(d))) {
				char *p;
				if (e->d_name[0] == '.')
					continue;
				if (asprintf(&p, "%s/%s", argv[i], e->d_name) <
				    0)
					return 2;
				if (k == cap) {
					cap = cap ? cap * 2 : 64;
					names = realloc(names,
							cap * sizeof(*names));
					if (!names)
						return 2;
				}
				names[k++] = p;
			}
			if (d)
				closedir(d);
			qsort(names, k, sizeof(*names), cmp);
			for (size_t j = 0; j < k; j++) {
				bad += run_file(names[j]) < 0;
				n++;
				free(names[j]);
			}
			free(names);
		}
	}
	printf("replayed %d inputs\n", n);
	return bad ? 1 : 0;
}
