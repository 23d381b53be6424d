// SPDX-License-Identifier: Apache-2.0
// Inbound steering (agent.yaml gate.transparent.inbound): a TCP connection arriving for a
// configured local service port is handed, at socket lookup, to the gate's steering listener
// instead of the service's socket; the service keeps its port. The gate terminates mTLS, decides,
// and forwards allowed connections to the service, whose lookup is left alone for the gate's
// own forwarding sockets. Loaded by Anchorage.Agent/Kernel/InboundSteering.cs, attached to the
// agent's network namespace (sk_lookup).
//
// steer_inbound: IPv4 TCP lookups for a port in `ports` take the socket in `gate_listener`,
//                unless the connection comes from one of the gate's forwarding sockets
//                (`forwarding`, keyed by its local address and port). Without a gate socket
//                (the agent is down) a fail-closed configuration drops the lookup: refused,
//                never delivered to the service in plain text.
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
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PORTS);
	__type(key, __u32);	// port, host order
	__type(value, __u32);	// the inbound entry's index
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
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
	__u32 zero = 0, port;
	long err;

	if (ctx->protocol != 6 /* IPPROTO_TCP */ || ctx->family != 2 /* AF_INET */)
		return SK_PASS;
	port = ctx->local_port;
	if (!bpf_map_lookup_elem(&ports, &port))
		return SK_PASS;
	src.ip4 = ctx->remote_ip4;
	src.port = bpf_ntohs(ctx->remote_port);
	if (bpf_map_lookup_elem(&forwarding, &src))
		return SK_PASS;
	s = bpf_map_lookup_elem(&settings, &zero);
	sk = bpf_map_lookup_elem(&gate_listener, &zero);
	if (!sk)
		return s && s->fail_closed ? SK_DROP : SK_PASS;
	err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	if (err)
		return s && s->fail_closed ? SK_DROP : SK_PASS;
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
