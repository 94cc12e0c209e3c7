/* The closest word of a list, for "did you mean" hints (words.h). */
#include "common/words.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>

#define WORD_MAX 64 /* longer words are never "close" to another */

/* Optimal string alignment distance of two strings of at most WORD_MAX
 * bytes: insertions, deletions, substitutions and swaps of two neighbours
 * ("requried") each count one. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[WORD_MAX + 1][WORD_MAX + 1];

	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

static int lower(const char *s, char *out)
{
	size_t n = strlen(s);

	if (n > WORD_MAX)
		return -1;
	for (size_t i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	return 0;
}

const char *pvx_closest_word(const char *word, const char *const *words)
{
	char lw[WORD_MAX + 1], lc[WORD_MAX + 1];
	const char *best = NULL;
	size_t best_d = (size_t)-1;

	if (lower(word, lw) < 0)
		return NULL;
	for (; *words; words++) {
		size_t d, max, lenw = strlen(lw), lenc;
		if (lower(*words, lc) < 0)
			continue;
		lenc = strlen(lc);
		d = distance(lw, lc);
		max = (lenw < lenc ? lenw : lenc) / 3;
		if (max < 1)
			max = 1;
		if (d <= max && d < best_d) {
			best = *words;
			best_d = d;
		}
	}
	return best;
}
