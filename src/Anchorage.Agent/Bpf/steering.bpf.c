// SPDX-License-Identifier: Apache-2.0
// Inbound steering (agent.yaml gate.transparent.inbound): a TCP connection arriving for a
// configured local service port is handed, at socket lookup, to the gate's steering listener
// instead of the service's socket; the service keeps its port. The gate terminates mTLS, decides,
// and forwards allowed connections to the service, whose lookup is left alone for the gate's
// own forwarding sockets. Loaded by Anchorage.Agent/Kernel/InboundSteering.cs, attached to the
// agent's network namespace (sk_lookup).
//
// steer_inbound: TCP lookups (IPv4 and IPv6) for a port in `ports` take the gate's listener of
//                the same family in `gate_listener` (0: IPv4, 1: IPv6), unless the connection
//                comes from one of the gate's forwarding sockets (`forwarding`, keyed by its local
//                address, IPv4 as IPv4-mapped IPv6, and port). Without a gate socket of that
//                family (the agent is down, or the host has no IPv6 loopback for the gate's IPv6
//                listener) a fail-closed configuration drops the lookup: refused, never
//                delivered to the service in plain text.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_PORTS 64
#define MAX_FORWARDING 65536

struct settings {
	__u32 fail_closed;
	__u32 pad;
};

struct source {
	__u32 ip6[4];		// network order; IPv4 as ::ffff:a.b.c.d
	__u32 port;		// host order
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct settings);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PORTS);
	__type(key, __u32);	// port, host order
	__type(value, __u32);	// the inbound entry's index
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} gate_listener SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_FORWARDING);
	__type(key, struct source);
	__type(value, __u8);
} forwarding SEC(".maps");

SEC("sk_lookup")
int steer_inbound(struct bpf_sk_lookup *ctx)
{
	struct settings *s;
	struct source src = {};
	struct bpf_sock *sk;
	__u32 zero = 0, slot, port;
	long err;

	if (ctx->protocol != 6 /* IPPROTO_TCP */ || (ctx->family != 2 /* AF_INET */ && ctx->family != 10 /* AF_INET6 */))
		return SK_PASS;
	port = ctx->local_port;
	if (!bpf_map_lookup_elem(&ports, &port))
		return SK_PASS;
	if (ctx->family == 2) {
		src.ip6[2] = bpf_htonl(0xffff);
		src.ip6[3] = ctx->remote_ip4;
		slot = 0;
		// Keeps clang from merging this load with the IPv6 branch's into one load from a
		// computed context offset, which the verifier refuses ("modified ctx ptr").
		asm volatile("" ::: "memory");
	} else {
		src.ip6[0] = ctx->remote_ip6[0];
		src.ip6[1] = ctx->remote_ip6[1];
		src.ip6[2] = ctx->remote_ip6[2];
		src.ip6[3] = ctx->remote_ip6[3];
		slot = 1;
		asm volatile("" ::: "memory");
	}
	src.port = bpf_ntohs(ctx->remote_port);
	if (bpf_map_lookup_elem(&forwarding, &src))
		return SK_PASS;
	s = bpf_map_lookup_elem(&settings, &zero);
	sk = bpf_map_lookup_elem(&gate_listener, &slot);
	if (!sk)
		return s && s->fail_closed ? SK_DROP : SK_PASS;
	err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	if (err)
		return s && s->fail_closed ? SK_DROP : SK_PASS;
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
