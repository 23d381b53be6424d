// SPDX-License-Identifier: Apache-2.0
// Transparent interception (agent.yaml gate.transparent): a TCP connect() from a process in an
// enrolled cgroup to a configured destination (IPv4 or IPv6 network + port range) is rewritten, in the
// kernel, to the gate's transparent listener; the original destination is kept and handed to the
// gate, which dials it with mTLS presenting the caller's own SVID. Loaded by
// Anchorage.Agent/Kernel/TransparentRedirect.cs.
//
// connect4: matches the destination against `rules4`, keeps the original under the socket cookie
//           (the source port is not bound yet) and rewrites the destination to the listener.
// connect6: the same for AF_INET6 sockets: `rules4` for IPv4-mapped destinations, rewritten to
//           the listener's IPv4-mapped address; `rules6` for IPv6 ones, rewritten to the gate's
//           IPv6 loopback listener ([::1], same port), which IPV6_V6ONLY sockets can reach too.
// sockops:  ACTIVE_ESTABLISHED moves the original to the client's (address, port), which the
//           gate reads from its accepted socket's remote end point (`original_by_client` for
//           IPv4 and v4-mapped clients, `original_by_client6` for IPv6 ones).
// The agent's own sockets are never redirected: its process id and start time are in `exempt`
// (checked first), so the gate's dial to the original destination goes out as is.
// Maps holding per-connection state are LRU hashes: a record nobody reads is evicted.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#define MAX_RULES 64
#define MAX_PENDING 65536

struct settings {
	__u32 listen_ip4;	// network order
	__u32 listen_port;	// network order in the low 16 bits, as bpf_sock_addr.user_port
	__u32 rule4_count;
	__u32 rule6_count;
	__u32 listen6;		// 1: the gate also listens on [::1]:listen_port for IPv6 destinations
};

struct rule4 {
	__u32 net;		// network order, already masked
	__u32 mask;		// network order
	__u16 port_lo;		// host order
	__u16 port_hi;		// host order
	__u32 index;		// the destination's index in gate.transparent.destinations
};

struct rule6 {
	__u32 net[4];		// network order, already masked
	__u32 mask[4];		// network order
	__u16 port_lo;		// host order
	__u16 port_hi;		// host order
	__u32 index;
};

// An IPv4 original is kept as an IPv4-mapped IPv6 address (::ffff:a.b.c.d).
struct original {
	__u32 ip6[4];		// network order
	__u16 port;		// host order
	__u16 rule;		// the destination's index
};

struct client {
	__u32 ip4;		// network order
	__u32 port;		// host order
};

struct client6 {
	__u32 ip6[4];		// network order
	__u32 port;		// host order
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct settings);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_RULES);
	__type(key, __u32);
	__type(value, struct rule4);
} rules4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_RULES);
	__type(key, __u32);
	__type(value, struct rule6);
} rules6 SEC(".maps");

// The agent: process id -> its start time in clock ticks (/proc stat field 22). The start time
// is compared too, so a process that later gets a dead agent's pid (closed mode keeps these
// programs attached while the agent is down) is not exempt.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} exempt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_PENDING);
	__type(key, __u64);
	__type(value, struct original);
} pending_original SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_PENDING);
	__type(key, struct client);
	__type(value, struct original);
} original_by_client SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_PENDING);
	__type(key, struct client6);
	__type(value, struct original);
} original_by_client6 SEC(".maps");

// The settings when this connect may be redirected: a TCP socket of a process that is not exempt.
static __always_inline struct settings *redirectable(struct bpf_sock_addr *ctx)
{
	struct task_struct *task;
	struct settings *s;
	__u32 zero = 0, tgid;
	__u64 *started;

	if (ctx->type != 1 /* SOCK_STREAM */)
		return 0;
	s = bpf_map_lookup_elem(&settings, &zero);
	if (!s || s->listen_port == 0)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	started = bpf_map_lookup_elem(&exempt, &tgid);
	if (started) {
		task = (struct task_struct *)bpf_get_current_task();
		if (BPF_CORE_READ(task, group_leader, start_boottime) / 10000000 == *started)
			return 0;
	}
	return s;
}

// The index of the first IPv4 rule ip:port matches, or -1.
static __always_inline int match4(struct settings *s, __u32 ip, __u16 port)
{
	__u32 i;

	for (i = 0; i < MAX_RULES; i++) {
		struct rule4 *r;
		__u32 k = i;

		if (i >= s->rule4_count)
			return -1;
		r = bpf_map_lookup_elem(&rules4, &k);
		if (!r)
			return -1;
		if ((ip & r->mask) == r->net && port >= r->port_lo && port <= r->port_hi)
			return (int)r->index;
	}
	return -1;
}

static __always_inline void keep(void *ctx, __u32 ip6_0, __u32 ip6_1, __u32 ip6_2, __u32 ip6_3, __u16 port, int rule)
{
	struct original orig = {};
	__u64 cookie;

	orig.ip6[0] = ip6_0;
	orig.ip6[1] = ip6_1;
	orig.ip6[2] = ip6_2;
	orig.ip6[3] = ip6_3;
	orig.port = port;
	orig.rule = (__u16)rule;
	cookie = bpf_get_socket_cookie(ctx);
	bpf_map_update_elem(&pending_original, &cookie, &orig, BPF_ANY);
}

SEC("cgroup/connect4")
int redirect_connect4(struct bpf_sock_addr *ctx)
{
	struct settings *s = redirectable(ctx);
	__u32 ip;
	__u16 port;
	int rule;

	if (!s)
		return 1;
	ip = ctx->user_ip4;
	port = bpf_ntohs((__u16)ctx->user_port);
	rule = match4(s, ip, port);
	if (rule < 0)
		return 1;
	keep(ctx, 0, 0, bpf_htonl(0xffff), ip, port, rule);
	ctx->user_ip4 = s->listen_ip4;
	ctx->user_port = s->listen_port;
	return 1;
}

// connect6: an AF_INET6 socket. An IPv4-mapped destination (::ffff:a.b.c.d) is matched against
// the IPv4 rules and redirected to the IPv4-mapped form of the IPv4 listener, so the client ends
// up a v4-mapped socket the gate accepts on its IPv4 listener. Any other destination is matched
// against the IPv6 rules and redirected to [::1] at the listener's port, where the gate has its
// IPv6 listener: a true IPv6 connection, which a socket with IPV6_V6ONLY can make too. Without
// that listener (`listen6` 0: no IPv6 loopback on the host) it goes to the v4-mapped listener
// as well, and a V6ONLY socket's connect then fails with ENETUNREACH: refused, never sent around
// the gate.
SEC("cgroup/connect6")
int redirect_connect6(struct bpf_sock_addr *ctx)
{
	struct settings *s = redirectable(ctx);
	__u32 a0, a1, a2, a3, i;
	__u16 port;
	int rule = -1;

	if (!s)
		return 1;
	a0 = ctx->user_ip6[0];
	a1 = ctx->user_ip6[1];
	a2 = ctx->user_ip6[2];
	a3 = ctx->user_ip6[3];
	port = bpf_ntohs((__u16)ctx->user_port);
	if (a0 == 0 && a1 == 0 && a2 == bpf_htonl(0xffff)) {
		rule = match4(s, a3, port);
	} else {
		for (i = 0; i < MAX_RULES; i++) {
			struct rule6 *r;
			__u32 k = i;

			if (i >= s->rule6_count)
				break;
			r = bpf_map_lookup_elem(&rules6, &k);
			if (!r)
				break;
			if ((a0 & r->mask[0]) == r->net[0] && (a1 & r->mask[1]) == r->net[1] &&
			    (a2 & r->mask[2]) == r->net[2] && (a3 & r->mask[3]) == r->net[3] &&
			    port >= r->port_lo && port <= r->port_hi) {
				rule = (int)r->index;
				break;
			}
		}
	}
	if (rule < 0)
		return 1;
	keep(ctx, a0, a1, a2, a3, port, rule);
	if (s->listen6 && !(a0 == 0 && a1 == 0 && a2 == bpf_htonl(0xffff))) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = 0;
		ctx->user_ip6[3] = bpf_htonl(1);
	} else {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = s->listen_ip4;
	}
	ctx->user_port = s->listen_port;
	return 1;
}

SEC("sockops")
int carry_original(struct bpf_sock_ops *skops)
{
	struct original *orig;
	struct client c = {};
	struct client6 c6 = {};
	__u64 cookie;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB || (skops->family != 2 /* AF_INET */ && skops->family != 10 /* AF_INET6 */))
		return 1;
	cookie = bpf_get_socket_cookie(skops);
	orig = bpf_map_lookup_elem(&pending_original, &cookie);
	if (!orig)
		return 1;
	// An AF_INET6 client sent to the v4-mapped listener is v4-mapped: local_ip4 holds its IPv4
	// address. One sent to [::1] is IPv6: keyed by its IPv6 address.
	if (skops->family == 10 && !(skops->local_ip6[0] == 0 && skops->local_ip6[1] == 0 && skops->local_ip6[2] == bpf_htonl(0xffff))) {
		c6.ip6[0] = skops->local_ip6[0];
		c6.ip6[1] = skops->local_ip6[1];
		c6.ip6[2] = skops->local_ip6[2];
		c6.ip6[3] = skops->local_ip6[3];
		c6.port = skops->local_port;	// host order already
		bpf_map_update_elem(&original_by_client6, &c6, orig, BPF_ANY);
	} else {
		c.ip4 = skops->local_ip4;
		c.port = skops->local_port;	// host order already
		bpf_map_update_elem(&original_by_client, &c, orig, BPF_ANY);
	}
	bpf_map_delete_elem(&pending_original, &cookie);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
