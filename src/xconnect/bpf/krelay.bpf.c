/* The kernel relay's BPF program (docs/ARCHITECTURE.md, "The session's
 * life on the kernel path"): an sk_skb stream verdict on every socket of
 * kr_socks that redirects the socket's bytes to its peer, within an
 * in-flight budget set by pv-xconnect, and otherwise leaves them on the
 * socket (SK_PASS) for user space, which it tells through kr_events. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "krelay_shared.h"

/* Sizes are set by the loader (krelay.c) before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 2);
	__type(key, __u64); /* socket cookie */
	__type(value, __u32);
} kr_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2);
	__type(key, __u64);   /* socket cookie of the source */
	__type(value, __u32); /* its slot in kr_dirs */
} kr_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct kr_dir);
} kr_dirs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} kr_events SEC(".maps");

static void tell(__u32 slot, const struct kr_dir *d, __u32 what)
{
	struct kr_event ev = {.slot = slot, .gen = d->gen, .what = what};

	/* A full ring loses the event; user space then finds the state
	 * at its next look (timer, status), see krelay.c. */
	bpf_ringbuf_output(&kr_events, &ev, sizeof(ev), 0);
}

/* The bytes stay on the source socket, charged to it: its receive window
 * closes and TCP pushes the sender back while user space reads them. */
static int pass(__u32 slot, struct kr_dir *d, __u32 len)
{
	if (d->mode != KR_PASS) {
		d->mode = KR_PASS;
		tell(slot, d, KR_EV_PASS);
	}
	d->passed += len;
	return SK_PASS;
}

SEC("sk_skb/stream_verdict")
int kr_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	__u32 len = skb->len, *slot;
	struct kr_dir *d;
	long r;

	slot = bpf_map_lookup_elem(&kr_slots, &cookie);
	if (!slot)
		return SK_PASS;
	d = bpf_map_lookup_elem(&kr_dirs, slot);
	if (!d)
		return SK_PASS;
	/* The FIN's empty skb: redirected, the peer would see EPIPE. User
	 * space learns the EOF from EPOLLRDHUP and passes it on itself. */
	if (len == 0) {
		d->drops++;
		return SK_DROP;
	}
	if (d->mode == KR_PASS) {
		/* Back to the kernel only once user space has read every
		 * byte passed so far: no byte overtakes another. */
		if (d->hb == d->hb_done || d->consumed != d->passed) {
			d->passed += len;
			return SK_PASS;
		}
		d->hb_done = d->hb;
		d->mode = KR_KERNEL;
		tell(*slot, d, KR_EV_KERNEL);
	}
	if (d->sent + len > d->limit)
		return pass(*slot, d, len);
	/* A peer not (or no longer) in the map: redirecting would drop
	 * bytes TCP has acknowledged already. */
	r = bpf_sk_redirect_hash(skb, &kr_socks, &d->peer, 0);
	if (r != SK_PASS)
		return pass(*slot, d, len);
	d->sent += len;
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
