/* Per-address connection counts (see addrcount.h): linear probing with
 * backward-shift deletion (no tombstones), grown at half load, freed when
 * the last address goes. */
#include "xconnect/addrcount.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct pvx_addrcount_slot {
	struct pvx_addr_key key;
	unsigned count; /* 0: empty slot */
};

#define MIN_CAP 16

int pvx_addr_key_of(const struct sockaddr *sa, socklen_t len,
		    struct pvx_addr_key *k)
{
	memset(k, 0, sizeof(*k));
	if (!sa)
		return -EINVAL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		if (len < sizeof(*in))
			return -EINVAL;
		k->b[10] = 0xff;
		k->b[11] = 0xff;
		memcpy(&k->b[12], &in->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		if (len < sizeof(*in6))
			return -EINVAL;
		memcpy(k->b, &in6->sin6_addr, 16);
		return 0;
	}
	return -EAFNOSUPPORT;
}

void pvx_addr_key_format(const struct pvx_addr_key *k, char *buf, size_t len)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
					   0, 0, 0, 0, 0xff, 0xff};
	char ip[INET6_ADDRSTRLEN];

	if (memcmp(k->b, mapped, sizeof(mapped)) == 0)
		inet_ntop(AF_INET, &k->b[12], ip, sizeof(ip));
	else
		inet_ntop(AF_INET6, k->b, ip, sizeof(ip));
	snprintf(buf, len, "%s", ip);
}

uint64_t pvx_addrcount_seed(void)
{
	struct timespec ts;
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == sizeof(seed))
		return seed;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
	       (uint64_t)ts.tv_sec ^ (uint64_t)getpid();
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static size_t slot_of(const struct pvx_addrcount *ac,
		      const struct pvx_addr_key *k)
{
	uint64_t lo, hi;

	memcpy(&lo, k->b, 8);
	memcpy(&hi, k->b + 8, 8);
	return (size_t)(mix(mix(lo ^ ac->seed) ^ hi) & (ac->cap - 1));
}

void pvx_addrcount_init(struct pvx_addrcount *ac, uint64_t seed)
{
	memset(ac, 0, sizeof(*ac));
	ac->seed = seed;
}

void pvx_addrcount_clear(struct pvx_addrcount *ac)
{
	free(ac->slots);
	ac->slots = NULL;
	ac->cap = 0;
	ac->n = 0;
}

/* The slot holding k, or the empty slot where it would go. */
static struct pvx_addrcount_slot *find(const struct pvx_addrcount *ac,
				       const struct pvx_addr_key *k)
{
	size_t i = slot_of(ac, k);

	while (ac->slots[i].count &&
	       memcmp(&ac->slots[i].key, k, sizeof(*k)) != 0)
		i = (i + 1) & (ac->cap - 1);
	return &ac->slots[i];
}

unsigned pvx_addrcount_get(const struct pvx_addrcount *ac,
			   const struct pvx_addr_key *k)
{
	return ac->cap ? find(ac, k)->count : 0;
}

static int grow(struct pvx_addrcount *ac)
{
	struct pvx_addrcount slots_old = *ac;
	size_t cap = ac->cap ? ac->cap * 2 : MIN_CAP;

	ac->slots = calloc(cap, sizeof(*ac->slots));
	if (!ac->slots) {
		*ac = slots_old;
		return -ENOMEM;
	}
	ac->cap = cap;
	for (size_t i = 0; i < slots_old.cap; i++)
		if (slots_old.slots[i].count)
			*find(ac, &slots_old.slots[i].key) = slots_old.slots[i];
	free(slots_old.slots);
	return 0;
}

int pvx_addrcount_take(struct pvx_addrcount *ac, const struct pvx_addr_key *k,
		       unsigned limit)
{
	struct pvx_addrcount_slot *s;

	if (ac->cap && (s = find(ac, k))->count) {
		if (limit && s->count >= limit)
			return -EUSERS;
		return (int)++s->count;
	}
	if ((ac->n + 1) * 2 > ac->cap && grow(ac) < 0)
		return -ENOMEM;
	s = find(ac, k);
	s->key = *k;
	s->count = 1;
	ac->n++;
	return 1;
}

void pvx_addrcount_put(struct pvx_addrcount *ac, const struct pvx_addr_key *k)
{
	struct pvx_addrcount_slot *s;
	size_t i, j, home;

	if (!ac->cap)
		return;
	s = find(ac, k);
	if (!s->count || --s->count)
		return;
	ac->n--;
	if (ac->n == 0) {
		pvx_addrcount_clear(ac);
		return;
	}
	/* Backward shift: move up every later entry of the run whose home
	 * slot is not between the hole and it, so lookups never stop at a
	 * hole in front of their key. */
	i = (size_t)(s - ac->slots);
	j = i;
	for (;;) {
		j = (j + 1) & (ac->cap - 1);
		if (!ac->slots[j].count)
			break;
		home = slot_of(ac, &ac->slots[j].key);
		if (((j - home) & (ac->cap - 1)) >= ((j - i) & (ac->cap - 1))) {
			ac->slots[i] = ac->slots[j];
			ac->slots[j].count = 0;
			i = j;
		}
	}
	ac->slots[i].count = 0;
}
