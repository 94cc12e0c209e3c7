/* Shared by the libFuzzer targets (docs/testing.md, fuzzing): each target
 * defines LLVMFuzzerTestOneInput and checks its own invariants with
 * FUZZ_CHECK, which aborts so that libFuzzer (or the replay driver) keeps
 * the input as a crash. */
#ifndef PVX_FUZZ_H
#define PVX_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#endif
