/* The kernel relay (docs/ARCHITECTURE.md, "The session's life on the kernel
 * path"): loads the BPF program of bpf/krelay.bpf.c at start if it can, and
 * hands the sockets of established sessions to it. The relay core (relay.c)
 * decides when; this module owns the BPF objects, the slots and the events
 * of the program. */
#ifndef PVX_KRELAY_H
#define PVX_KRELAY_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

struct pvx_hupw; /* xconnect/hupwatch.h */

enum pvx_krelay_mode {
	PVX_KRELAY_OFF,	 /* never: every session in user space */
	PVX_KRELAY_ON,	 /* every session that can, once established */
	PVX_KRELAY_AUTO, /* request/response sessions only (docs) */
};

/* Sessions on the kernel path at once, all links together (a slot per
 * direction: 64 bytes each, mapped at start). */
#define PVX_KRELAY_MAX_SESSIONS 16384

/* "off", "on", "auto" -> 0, else -EINVAL. */
int pvx_krelay_mode_parse(const char *s, enum pvx_krelay_mode *m);
const char *pvx_krelay_mode_name(enum pvx_krelay_mode m);

/* Loads and probes the program unless mode is off: a map, the verdict,
 * a loopback connection relayed through it. Never fails the caller: when
 * anything is missing the relay stays in user space and
 * pvx_krelay_reason() says why. max_sessions bounds the sessions on the
 * kernel path at once (more stay in user space). Logs nothing. */
void pvx_krelay_init(struct event_base *base, enum pvx_krelay_mode mode,
		     unsigned max_sessions);
void pvx_krelay_free(void);
enum pvx_krelay_mode pvx_krelay_mode(void);
/* Whether sessions may go on the kernel path. */
bool pvx_krelay_active(void);
/* Why not ("" when active): "off", "built without libbpf",
 * "load: Operation not permitted", ... */
const char *pvx_krelay_reason(void);

/* One direction of a session on the kernel path, as the program sees it:
 * a view into shared memory, fields as in bpf/krelay_shared.h. */
struct pvx_kdir_view {
	uint64_t sent;	 /* redirected to the peer */
	uint64_t passed; /* left on the source for user space */
	uint64_t drops;	 /* empty skbs dropped */
	bool kernel;	 /* the program redirects (not passing) */
};

/* What the program said about direction dir (0: fd[0] -> fd[1]). */
enum pvx_kev {
	PVX_KEV_PASS,	/* it passes bytes to user space now */
	PVX_KEV_KERNEL, /* a hand-back took effect */
};
typedef void (*pvx_kev_cb)(void *arg, int dir, enum pvx_kev what);

/* A pair of sockets on the kernel path. */
struct pvx_kpair {
	int slot[2];	 /* -1: none */
	uint32_t gen[2]; /* of the slots, for events of a slot reused */
	uint64_t cookie[2];
};

/* Puts both sockets (connected TCP, both established) on the kernel
 * path, each direction in pass mode: nothing is redirected before
 * pvx_krelay_handback. 0, or -errno with nothing left behind: -ENOSPC
 * (no slot), -EOPNOTSUPP (a socket not established), ... */
int pvx_krelay_insert(const int fd[2], pvx_kev_cb cb, void *arg,
		      struct pvx_kpair *kp);
/* Forgets the pair (before its sockets are closed). Idempotent. */
void pvx_krelay_remove(struct pvx_kpair *kp);
/* Asks the program to redirect direction dir again, up to budget more
 * bytes, once it has seen that user space read consumed passed bytes in
 * all. PVX_KEV_KERNEL tells when it took effect. */
void pvx_krelay_handback(struct pvx_kpair *kp, int dir, uint64_t consumed,
			 uint64_t budget);
void pvx_krelay_view(const struct pvx_kpair *kp, int dir,
		     struct pvx_kdir_view *v);

/* Where the relay watches its kernel-path sockets for a close (their data
 * does not wake the loop): NULL unless active. */
struct pvx_hupw *pvx_krelay_hupw(void);

#endif
