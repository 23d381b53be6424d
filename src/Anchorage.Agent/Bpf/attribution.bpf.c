// SPDX-License-Identifier: Apache-2.0
// Connect-time attribution: records the facts of the task that calls connect() at that instant,
// so the agent never has to ask /proc later (when the process may have exec'd, passed the socket
// on, or exited and had its pid reused). Loaded by Anchorage.Agent/Kernel/KernelAttribution.cs.
//
// unix:  cgroup connect_unix (attach type BPF_CGROUP_UNIX_CONNECT) records the facts under the
//        client socket's inode; the agent finds that inode from its accepted socket with
//        sock_diag (UNIX_DIAG, UDIAG_SHOW_PEER).
// tcp:   cgroup connect4/connect6 record the facts under the socket cookie (the source port is
//        not bound yet); sockops ACTIVE_ESTABLISHED moves them to the connection's 4-tuple,
//        which the agent knows from its accepted socket.
// exec:  tp_btf/sched_process_exec notes the last exec time of each process, so the agent can
//        tell that a process exec'd after it connected.
// exit:  tp_btf/sched_process_exit notes, when a thread group ends, its tgid and exact start
//        time, so the agent can tell that the process a record names is gone even when its pid
//        already belongs to a newcomer (/proc's start time has only clock-tick resolution).
// Every map is an LRU hash: a record nobody reads is evicted, never pinned.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10
#define MAX_RECORDS 65536

struct facts {
	__u64 start_boottime;	// the thread group leader's start, ns since boot (/proc stat field 22 * 10^9/HZ)
	__u64 connect_time;	// bpf_ktime_get_boot_ns() at connect()
	__u64 exe_ino;		// mm->exe_file inode; 0 for a task without mm
	__u64 cgroup_id;
	__u32 exe_dev;		// the inode's super_block s_dev (kernel dev_t: major << 20 | minor)
	__u32 tgid;
	__u32 uid, euid, gid, egid;
	__u32 mnt_ns, user_ns;	// namespace inode numbers
};

struct tuple {
	__u8 local[16];		// the connecting (client) end, IPv4 as ::ffff:a.b.c.d
	__u8 remote[16];
	__u16 local_port;	// host order
	__u16 remote_port;	// host order
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_RECORDS);
	__type(key, __u64);
	__type(value, struct facts);
} pending_tcp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_RECORDS);
	__type(key, struct tuple);
	__type(value, struct facts);
} tcp_facts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_RECORDS);
	__type(key, __u64);
	__type(value, struct facts);
} unix_facts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_RECORDS);
	__type(key, __u32);
	__type(value, __u64);
} last_exec SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_RECORDS);
	__type(key, __u32);
	__type(value, __u64);	// the ended group leader's start_boottime
} exited SEC(".maps");

static __always_inline void read_facts(struct facts *f)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *cred = task->cred;
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);

	f->tgid = bpf_get_current_pid_tgid() >> 32;
	f->start_boottime = BPF_CORE_READ(task, group_leader, start_boottime);
	f->connect_time = bpf_ktime_get_boot_ns();
	f->cgroup_id = bpf_get_current_cgroup_id();
	f->uid = BPF_CORE_READ(cred, uid.val);
	f->euid = BPF_CORE_READ(cred, euid.val);
	f->gid = BPF_CORE_READ(cred, gid.val);
	f->egid = BPF_CORE_READ(cred, egid.val);
	f->user_ns = BPF_CORE_READ(cred, user_ns, ns.inum);
	f->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	if (exe) {
		f->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
		f->exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	}
}

static __always_inline void record_tcp(struct bpf_sock_addr *ctx)
{
	struct facts f = {};
	__u64 cookie = bpf_get_socket_cookie(ctx);

	if (ctx->type != 1 /* SOCK_STREAM */)
		return;
	read_facts(&f);
	bpf_map_update_elem(&pending_tcp, &cookie, &f, BPF_ANY);
}

SEC("cgroup/connect4")
int record_connect4(struct bpf_sock_addr *ctx)
{
	record_tcp(ctx);
	return 1;
}

SEC("cgroup/connect6")
int record_connect6(struct bpf_sock_addr *ctx)
{
	record_tcp(ctx);
	return 1;
}

// libbpf 1.1 knows no section name for BPF_CGROUP_UNIX_CONNECT: the loader sets the program
// type (cgroup sock_addr) and expected attach type (49) itself.
SEC("cgroup/unix_connect")
int record_connect_unix(struct bpf_sock_addr *ctx)
{
	struct facts f = {};
	struct bpf_sock *bsk = ctx->sk;
	struct unix_sock *us;
	struct socket *sock;
	__u64 ino;

	if (!bsk)
		return 1;
	us = bpf_skc_to_unix_sock(bsk);
	if (!us)
		return 1;
	sock = BPF_CORE_READ(us, sk.sk_socket);
	if (!sock)
		return 1;
	// struct socket_alloc { struct socket socket; struct inode vfs_inode; }: SOCK_INODE().
	ino = BPF_CORE_READ((struct socket_alloc *)sock, vfs_inode.i_ino);
	read_facts(&f);
	bpf_map_update_elem(&unix_facts, &ino, &f, BPF_ANY);
	return 1;
}

static __always_inline void mapped(__u8 *out, __u32 ip4)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, &ip4, 4);
}

SEC("sockops")
int carry_to_tuple(struct bpf_sock_ops *skops)
{
	struct tuple t = {};
	struct facts *f;
	__u64 cookie;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	cookie = bpf_get_socket_cookie(skops);
	f = bpf_map_lookup_elem(&pending_tcp, &cookie);
	if (!f)
		return 1;
	if (skops->family == AF_INET) {
		mapped(t.local, skops->local_ip4);
		mapped(t.remote, skops->remote_ip4);
	} else if (skops->family == AF_INET6) {
		__u32 l[4], r[4];
		l[0] = skops->local_ip6[0];
		l[1] = skops->local_ip6[1];
		l[2] = skops->local_ip6[2];
		l[3] = skops->local_ip6[3];
		r[0] = skops->remote_ip6[0];
		r[1] = skops->remote_ip6[1];
		r[2] = skops->remote_ip6[2];
		r[3] = skops->remote_ip6[3];
		__builtin_memcpy(t.local, l, 16);
		__builtin_memcpy(t.remote, r, 16);
	} else {
		return 1;
	}
	t.local_port = skops->local_port;	// host order already
	t.remote_port = bpf_ntohl(skops->remote_port) & 0xffff;
	bpf_map_update_elem(&tcp_facts, &t, f, BPF_ANY);
	bpf_map_delete_elem(&pending_tcp, &cookie);
	return 1;
}

SEC("tp_btf/sched_process_exec")
int note_exec(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 now = bpf_ktime_get_boot_ns();

	bpf_map_update_elem(&last_exec, &tgid, &now, BPF_ANY);
	return 0;
}

// Runs in do_exit() after signal->live was decremented and before the pid is released, so the
// note is there before any newcomer can get the pid.
SEC("tp_btf/sched_process_exit")
int note_exit(void *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid;
	__u64 start;

	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;	// other threads of the group live on
	tgid = bpf_get_current_pid_tgid() >> 32;
	start = BPF_CORE_READ(task, group_leader, start_boottime);
	bpf_map_update_elem(&exited, &tgid, &start, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
