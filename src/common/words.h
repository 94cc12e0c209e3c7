/* "Did you mean …?": the word of a list closest to a mistyped one, for
 * messages about unknown keys, values and commands. Pure. */
#ifndef PVX_WORDS_H
#define PVX_WORDS_H

/* The word of the NULL-terminated list words closest to word
 * (case-insensitive edit distance, a swap of two neighbours counting as
 * one edit), or NULL when none is close: at most one edit per three
 * letters of the shorter word, and at least one. */
const char *pvx_closest_word(const char *word, const char *const *words);

#endif
