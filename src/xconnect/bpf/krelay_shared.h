/* What the kernel relay's BPF program (krelay.bpf.c) and pv-xconnect
 * (krelay.c) share: one slot per direction of a kernel-relayed session, in
 * an array map that both map into memory. docs/ARCHITECTURE.md, "The
 * session's life on the kernel path", says how the fields are used. */
#ifndef PVX_KRELAY_SHARED_H
#define PVX_KRELAY_SHARED_H

#include <linux/types.h>

/* kr_dir.mode */
enum {
	KR_PASS = 0,   /* bytes stay on the source socket for user space */
	KR_KERNEL = 1, /* bytes are redirected to the peer socket */
};

/* kr_event.what */
enum {
	KR_EV_PASS = 1,	  /* the direction went to KR_PASS (budget, no peer) */
	KR_EV_KERNEL = 2, /* a hand-back took effect: KR_KERNEL again */
};

/* One direction, named after its source socket. Fields marked "user" are
 * written only by pv-xconnect, those marked "bpf" only by the program. */
struct kr_dir {
	__u64 peer;	/* user: socket cookie of the destination */
	__u64 limit;	/* user: redirect while sent + len <= limit */
	__u64 consumed; /* user: passed bytes read by user space */
	__u32 hb;	/* user: bumped to ask for a hand-back */
	__u32 gen;	/* user: slot generation, echoed in events */
	__u64 sent;	/* bpf: bytes redirected to peer */
	__u64 passed;	/* bpf: bytes left on the source (KR_PASS) */
	__u64 drops;	/* bpf: zero-length skbs (the FIN) dropped */
	__u32 mode;	/* bpf: KR_PASS or KR_KERNEL */
	__u32 hb_done;	/* bpf: the last hb honoured */
};

struct kr_event {
	__u32 slot;
	__u32 gen;
	__u32 what;
	__u32 pad;
};

#endif
