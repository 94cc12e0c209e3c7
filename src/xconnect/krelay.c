/* The kernel relay's user-space half (see krelay.h): loading and probing the
 * BPF object embedded at build time, the slots of kr_dirs (mapped into our
 * memory: reading a counter or asking for a hand-back costs no syscall) and
 * the program's events (a ring buffer, watched by the event loop). */
#include "xconnect/krelay.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum pvx_krelay_mode kmode = PVX_KRELAY_OFF;
static char kreason[160] = "--kernel-relay=off";

int pvx_krelay_mode_parse(const char *s, enum pvx_krelay_mode *m)
{
	if (strcmp(s, "off") == 0)
		*m = PVX_KRELAY_OFF;
	else if (strcmp(s, "on") == 0)
		*m = PVX_KRELAY_ON;
	else if (strcmp(s, "auto") == 0)
		*m = PVX_KRELAY_AUTO;
	else
		return -EINVAL;
	return 0;
}

const char *pvx_krelay_mode_name(enum pvx_krelay_mode m)
{
	switch (m) {
	case PVX_KRELAY_ON:
		return "on";
	case PVX_KRELAY_AUTO:
		return "auto";
	default:
		return "off";
	}
}

enum pvx_krelay_mode pvx_krelay_mode(void)
{
	return kmode;
}

const char *pvx_krelay_reason(void)
{
	return kreason;
}

#ifndef PVX_HAVE_LIBBPF

void pvx_krelay_init(struct event_base *base, enum pvx_krelay_mode mode,
		     unsigned max_sessions)
{
	(void)base;
	(void)max_sessions;
	kmode = mode;
	snprintf(kreason, sizeof(kreason), "%s",
		 mode == PVX_KRELAY_OFF ? "--kernel-relay=off"
					: "built without libbpf");
}

void pvx_krelay_free(void)
{
}

struct pvx_hupw *pvx_krelay_hupw(void)
{
	return NULL;
}

bool pvx_krelay_active(void)
{
	return false;
}

int pvx_krelay_insert(const int fd[2], pvx_kev_cb cb, void *arg,
		      struct pvx_kpair *kp)
{
	(void)fd;
	(void)cb;
	(void)arg;
	kp->slot[0] = kp->slot[1] = -1;
	return -ENOSYS;
}

void pvx_krelay_remove(struct pvx_kpair *kp)
{
	(void)kp;
}

void pvx_krelay_handback(struct pvx_kpair *kp, int dir, uint64_t consumed,
			 uint64_t budget)
{
	(void)kp;
	(void)dir;
	(void)consumed;
	(void)budget;
}

void pvx_krelay_view(const struct pvx_kpair *kp, int dir,
		     struct pvx_kdir_view *v)
{
	(void)kp;
	(void)dir;
	memset(v, 0, sizeof(*v));
}

#else /* PVX_HAVE_LIBBPF */

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xconnect/bpf/krelay_shared.h"
#include "xconnect/hupwatch.h"

/* The object built from bpf/krelay.bpf.c (CMake embeds it). */
extern const unsigned char pvx_krelay_bpf_obj[];
extern const size_t pvx_krelay_bpf_obj_len;

struct slot_owner {
	pvx_kev_cb cb;
	void *arg;
	int dir;
};

static struct {
	struct bpf_object *obj;
	int socks_fd, slots_fd, dirs_fd;
	struct kr_dir *dirs; /* mmap of kr_dirs */
	size_t dirs_len;
	unsigned nslots;
	struct slot_owner *owner;
	uint32_t *gen;
	unsigned *free_slots; /* stack */
	unsigned nfree;
	struct ring_buffer *rb;
	struct event *rb_ev;
	struct pvx_hupw *hup;
	bool active;
} K = {.socks_fd = -1, .slots_fd = -1, .dirs_fd = -1};

/* libbpf would print to stderr: the reason line says what failed. */
static int on_libbpf_print(enum libbpf_print_level level, const char *fmt,
			   va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

bool pvx_krelay_active(void)
{
	return K.active;
}

struct pvx_hupw *pvx_krelay_hupw(void)
{
	return K.hup;
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct kr_event *ev = data;
	struct slot_owner *o;

	(void)ctx;
	if (len < sizeof(*ev) || ev->slot >= K.nslots ||
	    ev->gen != K.gen[ev->slot])
		return 0; /* a slot since freed (and maybe reused) */
	o = &K.owner[ev->slot];
	if (o->cb)
		o->cb(o->arg, o->dir,
		      ev->what == KR_EV_KERNEL ? PVX_KEV_KERNEL : PVX_KEV_PASS);
	return 0;
}

static void on_ring(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ring_buffer__consume(K.rb);
}

static int why(const char *step, int err)
{
	const char *s = strerror(err);

	if (err == EPERM || err == EACCES)
		s = "not permitted (needs CAP_BPF and CAP_NET_ADMIN)";
	snprintf(kreason, sizeof(kreason), "%s: %s", step, s);
	return -err;
}

static int tcp_listener(struct sockaddr_in *sa)
{
	socklen_t sl = sizeof(*sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0)
		return -errno;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l, (struct sockaddr *)sa, sizeof(*sa)) < 0 ||
	    listen(l, 2) < 0 ||
	    getsockname(l, (struct sockaddr *)sa, &sl) < 0) {
		int err = errno;
		close(l);
		return -err;
	}
	return l;
}

/* A client connected to a new listener: the client in fd[0], the
 * accepted end in fd[1]. */
static int tcp_pair(int fd[2])
{
	struct sockaddr_in sa;
	int l = tcp_listener(&sa), err = 0;

	fd[0] = fd[1] = -1;
	if (l < 0)
		return l;
	fd[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd[0] < 0 || connect(fd[0], (struct sockaddr *)&sa, sizeof(sa)))
		err = errno;
	else if ((fd[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0)
		err = errno;
	close(l);
	if (err) {
		if (fd[0] >= 0)
			close(fd[0]);
		fd[0] = -1;
		return -err;
	}
	return 0;
}

/* This kernel's sockmap relays, as this program uses it: bytes written to
 * one end of a pair come out of the other pair, both ways. An earlier
 * kernel lost bytes here (docs/ARCHITECTURE.md): what cannot be seen to
 * work stays off. */
static int probe(void)
{
	int a[2] = {-1, -1}, b[2] = {-1, -1}, fd[2], r, err = 0;
	struct pvx_kpair kp;
	char out[4096], in[sizeof(out)];
	size_t got;
	ssize_t n;

	if ((r = tcp_pair(a)) < 0 || (r = tcp_pair(b)) < 0) {
		err = -r;
		snprintf(kreason, sizeof(kreason),
			 "probe: loopback connection: %s", strerror(err));
		goto out;
	}
	/* a[0] client -- a[1] "accepted"; b[0] "backend dial" -- b[1]. */
	fd[0] = a[1];
	fd[1] = b[0];
	r = pvx_krelay_insert(fd, NULL, NULL, &kp);
	if (r < 0) {
		err = -r;
		snprintf(kreason, sizeof(kreason), "probe: insert: %s",
			 strerror(err));
		goto out;
	}
	pvx_krelay_handback(&kp, 0, 0, sizeof(out));
	pvx_krelay_handback(&kp, 1, 0, sizeof(out));
	for (int dir = 0; dir < 2 && !err; dir++) {
		int src = dir ? b[1] : a[0], dst = dir ? a[0] : b[1];
		struct pollfd p = {.fd = dst, .events = POLLIN};

		for (size_t i = 0; i < sizeof(out); i++)
			out[i] = (char)(i * 7 + (size_t)dir);
		if (send(src, out, sizeof(out), MSG_NOSIGNAL) !=
		    (ssize_t)sizeof(out)) {
			err = errno ? errno : EIO;
			break;
		}
		for (got = 0; got < sizeof(in);) {
			if (poll(&p, 1, 1000) <= 0) {
				err = ETIMEDOUT;
				break;
			}
			n = recv(dst, in + got, sizeof(in) - got, MSG_DONTWAIT);
			if (n <= 0) {
				err = n < 0 ? errno : EPIPE;
				break;
			}
			got += (size_t)n;
		}
		if (!err && memcmp(in, out, sizeof(in)) != 0)
			err = EILSEQ;
	}
	if (!err) {
		struct pvx_kdir_view v;

		pvx_krelay_view(&kp, 0, &v);
		if (v.sent != sizeof(out))
			err = EXDEV; /* arrived, but not through us */
	}
	pvx_krelay_remove(&kp);
	if (err)
		snprintf(kreason, sizeof(kreason),
			 "probe: loopback relay through sockmap: %s",
			 err == EXDEV ? "bytes did not take the kernel path"
				      : strerror(err));
out:
	for (int i = 0; i < 2; i++) {
		if (a[i] >= 0)
			close(a[i]);
		if (b[i] >= 0)
			close(b[i]);
	}
	return -err;
}

static int set_sizes(unsigned nslots)
{
	struct bpf_map *m;
	int r = 0;

	m = bpf_object__find_map_by_name(K.obj, "kr_socks");
	r |= m ? bpf_map__set_max_entries(m, nslots) : -1;
	m = bpf_object__find_map_by_name(K.obj, "kr_slots");
	r |= m ? bpf_map__set_max_entries(m, nslots) : -1;
	m = bpf_object__find_map_by_name(K.obj, "kr_dirs");
	r |= m ? bpf_map__set_max_entries(m, nslots) : -1;
	return r ? -EINVAL : 0;
}

static int load(struct event_base *base, unsigned nslots)
{
	struct bpf_program *prog;
	int r;

	libbpf_set_print(on_libbpf_print);
	K.obj = bpf_object__open_mem(pvx_krelay_bpf_obj, pvx_krelay_bpf_obj_len,
				     NULL);
	if (!K.obj)
		return why("open", errno);
	if (set_sizes(nslots) < 0)
		return why("object", EINVAL);
	r = bpf_object__load(K.obj);
	if (r < 0)
		return why("load", -r);
	K.socks_fd = bpf_object__find_map_fd_by_name(K.obj, "kr_socks");
	K.slots_fd = bpf_object__find_map_fd_by_name(K.obj, "kr_slots");
	K.dirs_fd = bpf_object__find_map_fd_by_name(K.obj, "kr_dirs");
	prog = bpf_object__find_program_by_name(K.obj, "kr_verdict");
	if (K.socks_fd < 0 || K.slots_fd < 0 || K.dirs_fd < 0 || !prog)
		return why("object", ENOENT);
	if (bpf_prog_attach(bpf_program__fd(prog), K.socks_fd,
			    BPF_SK_SKB_STREAM_VERDICT, 0) < 0)
		return why("attach stream verdict", errno);
	K.dirs_len = (size_t)nslots * sizeof(struct kr_dir);
	K.dirs = mmap(NULL, K.dirs_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		      K.dirs_fd, 0);
	if (K.dirs == MAP_FAILED) {
		K.dirs = NULL;
		return why("mmap", errno);
	}
	K.nslots = nslots;
	K.owner = calloc(nslots, sizeof(*K.owner));
	K.gen = calloc(nslots, sizeof(*K.gen));
	K.free_slots = calloc(nslots, sizeof(*K.free_slots));
	if (!K.owner || !K.gen || !K.free_slots)
		return why("memory", ENOMEM);
	for (unsigned i = 0; i < nslots; i++)
		K.free_slots[i] = nslots - 1 - i;
	K.nfree = nslots;
	K.rb = ring_buffer__new(
	    bpf_object__find_map_fd_by_name(K.obj, "kr_events"), on_event, NULL,
	    NULL);
	if (!K.rb)
		return why("ring buffer", errno);
	K.rb_ev = event_new(base, ring_buffer__epoll_fd(K.rb),
			    EV_READ | EV_PERSIST, on_ring, NULL);
	if (!K.rb_ev || event_add(K.rb_ev, NULL) < 0)
		return why("event", ENOMEM);
	K.hup = pvx_hupw_new(base);
	if (!K.hup)
		return why("epoll", errno);
	return 0;
}

void pvx_krelay_init(struct event_base *base, enum pvx_krelay_mode mode,
		     unsigned max_sessions)
{
	kmode = mode;
	K.active = false;
	if (mode == PVX_KRELAY_OFF) {
		snprintf(kreason, sizeof(kreason), "--kernel-relay=off");
		return;
	}
	if (max_sessions < 1)
		max_sessions = 1;
	if (load(base, 2 * max_sessions) < 0 || probe() < 0) {
		pvx_krelay_free();
		kmode = mode;
		return;
	}
	K.active = true;
	kreason[0] = '\0';
}

void pvx_krelay_free(void)
{
	pvx_hupw_free(K.hup);
	if (K.rb_ev)
		event_free(K.rb_ev);
	if (K.rb)
		ring_buffer__free(K.rb);
	if (K.dirs)
		munmap(K.dirs, K.dirs_len);
	if (K.obj)
		bpf_object__close(K.obj);
	free(K.owner);
	free(K.gen);
	free(K.free_slots);
	memset(&K, 0, sizeof(K));
	K.socks_fd = K.slots_fd = K.dirs_fd = -1;
}

static int cookie_of(int fd, uint64_t *c)
{
	socklen_t len = sizeof(*c);

	return getsockopt(fd, SOL_SOCKET, SO_COOKIE, c, &len) < 0 ? -errno : 0;
}

static void slot_put(struct pvx_kpair *kp, int i)
{
	if (kp->slot[i] < 0)
		return;
	bpf_map_delete_elem(K.slots_fd, &kp->cookie[i]);
	bpf_map_delete_elem(K.socks_fd, &kp->cookie[i]);
	K.gen[kp->slot[i]]++;
	K.owner[kp->slot[i]].cb = NULL;
	K.free_slots[K.nfree++] = (unsigned)kp->slot[i];
	kp->slot[i] = -1;
}

int pvx_krelay_insert(const int fd[2], pvx_kev_cb cb, void *arg,
		      struct pvx_kpair *kp)
{
	int r;

	kp->slot[0] = kp->slot[1] = -1;
	if (!K.dirs)
		return -ENOSYS;
	if (K.nfree < 2)
		return -ENOSPC;
	for (int i = 0; i < 2; i++) {
		r = cookie_of(fd[i], &kp->cookie[i]);
		if (r < 0)
			return r;
	}
	for (int i = 0; i < 2; i++) {
		unsigned slot = K.free_slots[--K.nfree];
		struct kr_dir *d = &K.dirs[slot];
		uint32_t s32 = slot;

		kp->slot[i] = (int)slot;
		kp->gen[i] = ++K.gen[slot];
		K.owner[slot] = (struct slot_owner){cb, arg, i};
		memset(d, 0, sizeof(*d));
		d->peer = kp->cookie[1 - i];
		d->gen = kp->gen[i];
		d->mode = KR_PASS; /* until pvx_krelay_handback */
		if (bpf_map_update_elem(K.slots_fd, &kp->cookie[i], &s32,
					BPF_ANY) < 0) {
			r = -errno;
			goto fail;
		}
	}
	/* Each socket's slot is there before its first verdict. */
	for (int i = 0; i < 2; i++) {
		uint32_t v = (uint32_t)fd[i];

		if (bpf_map_update_elem(K.socks_fd, &kp->cookie[i], &v,
					BPF_NOEXIST) < 0) {
			r = -errno;
			goto fail;
		}
	}
	return 0;
fail:
	pvx_krelay_remove(kp);
	return r;
}

void pvx_krelay_remove(struct pvx_kpair *kp)
{
	for (int i = 0; i < 2; i++)
		slot_put(kp, i);
}

void pvx_krelay_handback(struct pvx_kpair *kp, int dir, uint64_t consumed,
			 uint64_t budget)
{
	struct kr_dir *d;

	if (kp->slot[dir] < 0)
		return;
	d = &K.dirs[kp->slot[dir]];
	__atomic_store_n(&d->consumed, consumed, __ATOMIC_RELAXED);
	__atomic_store_n(&d->limit,
			 __atomic_load_n(&d->sent, __ATOMIC_RELAXED) + budget,
			 __ATOMIC_RELAXED);
	/* The program reads hb first: the fields above are in place when
	 * it sees the new value. */
	__atomic_store_n(&d->hb, d->hb + 1, __ATOMIC_RELEASE);
}

void pvx_krelay_view(const struct pvx_kpair *kp, int dir,
		     struct pvx_kdir_view *v)
{
	const struct kr_dir *d;

	memset(v, 0, sizeof(*v));
	if (kp->slot[dir] < 0)
		return;
	d = &K.dirs[kp->slot[dir]];
	v->sent = __atomic_load_n(&d->sent, __ATOMIC_RELAXED);
	v->passed = __atomic_load_n(&d->passed, __ATOMIC_ACQUIRE);
	v->drops = __atomic_load_n(&d->drops, __ATOMIC_RELAXED);
	v->kernel = __atomic_load_n(&d->mode, __ATOMIC_ACQUIRE) == KR_KERNEL;
}

#endif /* PVX_HAVE_LIBBPF */
