// SPDX-License-Identifier: Apache-2.0
// Transparent interception (agent.yaml gate.transparent): a TCP connect() from a process in an
// enrolled cgroup to a configured destination (IPv4 network + port range) is rewritten, in the
// kernel, to the gate's transparent listener; the original destination is kept and handed to the
// gate, which dials it with mTLS presenting the caller's own SVID. Loaded by
// Anchorage.Agent/Kernel/TransparentRedirect.cs.
//
// connect4: matches the destination against `rules`, keeps the original under the socket cookie
//           (the source port is not bound yet) and rewrites the destination to the listener.
// sockops:  ACTIVE_ESTABLISHED moves the original to the client's (address, port), which the
//           gate reads from its accepted socket's remote end point.
// The agent's own sockets are never redirected: its process id is in `exempt` (checked first),
// so the gate's dial to the original destination goes out as is.
// Maps holding per-connection state are LRU hashes: a record nobody reads is evicted.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_RULES 64
#define MAX_PENDING 65536

struct settings {
	__u32 listen_ip4;	// network order
	__u32 listen_port;	// network order in the low 16 bits, as bpf_sock_addr.user_port
	__u32 rule_count;
	__u32 pad;
};

struct rule {
	__u32 net;		// network order, already masked
	__u32 mask;		// network order
	__u16 port_lo;		// host order
	__u16 port_hi;		// host order
	__u32 pad;
};

struct original {
	__u32 ip4;		// network order
	__u16 port;		// host order
	__u16 rule;		// index into rules
};

struct client {
	__u32 ip4;		// network order
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
	__type(value, struct rule);
} rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u8);
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

SEC("cgroup/connect4")
int redirect_connect4(struct bpf_sock_addr *ctx)
{
	struct original orig = {};
	struct settings *s;
	__u32 zero = 0, tgid, ip, i;
	__u16 port;
	__u64 cookie;

	if (ctx->type != 1 /* SOCK_STREAM */)
		return 1;
	s = bpf_map_lookup_elem(&settings, &zero);
	if (!s || s->listen_port == 0)
		return 1;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&exempt, &tgid))
		return 1;
	ip = ctx->user_ip4;
	port = bpf_ntohs((__u16)ctx->user_port);
	for (i = 0; i < MAX_RULES; i++) {
		struct rule *r;
		__u32 k = i;

		if (i >= s->rule_count)
			return 1;
		r = bpf_map_lookup_elem(&rules, &k);
		if (!r)
			return 1;
		if ((ip & r->mask) == r->net && port >= r->port_lo && port <= r->port_hi) {
			orig.ip4 = ip;
			orig.port = port;
			orig.rule = (__u16)i;
			cookie = bpf_get_socket_cookie(ctx);
			bpf_map_update_elem(&pending_original, &cookie, &orig, BPF_ANY);
			ctx->user_ip4 = s->listen_ip4;
			ctx->user_port = s->listen_port;
			return 1;
		}
	}
	return 1;
}

SEC("sockops")
int carry_original(struct bpf_sock_ops *skops)
{
	struct original *orig;
	struct client c = {};
	__u64 cookie;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB || skops->family != 2 /* AF_INET */)
		return 1;
	cookie = bpf_get_socket_cookie(skops);
	orig = bpf_map_lookup_elem(&pending_original, &cookie);
	if (!orig)
		return 1;
	c.ip4 = skops->local_ip4;
	c.port = skops->local_port;	// host order already
	bpf_map_update_elem(&original_by_client, &c, orig, BPF_ANY);
	bpf_map_delete_elem(&pending_original, &cookie);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
