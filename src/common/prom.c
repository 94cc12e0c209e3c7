/* Prometheus text format writer (see prom.h). */
#include "common/prom.h"

#include <inttypes.h>

void pvx_prom_family(FILE *f, const char *name, const char *type,
		     const char *help)
{
	/* HELP text escapes only \ and newline. */
	fprintf(f, "# HELP %s ", name);
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fprintf(f, "\n# TYPE %s %s\n", name, type);
}

void pvx_prom_escape(FILE *f, const char *v)
{
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '"')
			fputs("\\\"", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
}

void pvx_prom_sample(FILE *f, const char *name, const char *const *labels,
		     uint64_t value)
{
	fputs(name, f);
	if (labels && labels[0]) {
		fputc('{', f);
		for (size_t i = 0; labels[i]; i += 2) {
			if (i)
				fputc(',', f);
			fprintf(f, "%s=\"", labels[i]);
			pvx_prom_escape(f, labels[i + 1]);
			fputc('"', f);
		}
		fputc('}', f);
	}
	fprintf(f, " %" PRIu64 "\n", value);
}
