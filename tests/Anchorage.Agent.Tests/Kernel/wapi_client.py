"""A tiny Workload API client for the attack tests: speaks just enough HTTP/2 (no library) to
make FetchX509SVID calls on a connection it opened or inherited, so the process that connected
and the process that calls can be chosen freely (exec after connect, setuid, fork, namespaces).

Arguments are steps run in order:
  unix:PATH  tcp:HOST:PORT   connect (the socket is kept inheritable across exec)
  share                      makes the unix socket before connecting and forks: a child holds it
                             too (from before connect() on) until this process exits
  fd:N  stream:S             continue on inherited fd N, next HTTP/2 stream S (after an exec)
  call                       FetchX509SVID; prints "granted" (an SVID came), "denied" or "closed"
  wait                       reads a line from stdin (the test's go-ahead)
  pid                        prints "pid <pid>"
  ids                        prints "ids <real uid> <effective uid>"
  exec:BINARY                exec's BINARY with this script and the remaining steps
  forkexit                   forks; the parent exits at once, the child goes on
"""
import os
import socket
import struct
import sys

state = {"sock": None, "stream": 1, "preface": True}


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(name, value):
    # HPACK literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2).
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def call():
    sock, stream = state["sock"], state["stream"]
    headers = (literal(b":method", b"POST") + literal(b":scheme", b"http")
               + literal(b":path", b"/SpiffeWorkloadAPI/FetchX509SVID") + literal(b":authority", b"localhost")
               + literal(b"content-type", b"application/grpc") + literal(b"te", b"trailers")
               + literal(b"workload.spiffe.io", b"true"))
    out = b""
    if state["preface"]:
        out += b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0)
        state["preface"] = False
    out += frame(1, 4, stream, headers) + frame(0, 1, stream, b"\x00\x00\x00\x00\x00")
    sock.sendall(out)
    state["stream"] = stream + 2
    sock.settimeout(20)
    while True:
        head = read_exact(sock, 9)
        if head is None:
            return "closed"
        length = struct.unpack(">I", b"\x00" + head[:3])[0]
        kind, flags, sid = head[3], head[4], struct.unpack(">I", head[5:9])[0] & 0x7FFFFFFF
        payload = read_exact(sock, length) if length else b""
        if payload is None:
            return "closed"
        if kind == 4 and not flags & 1:
            sock.sendall(frame(4, 1, 0))
        if sid != stream:
            continue
        if kind == 0 and length > 5:
            return "granted"
        if kind == 1 and flags & 1:
            return "denied"
        if kind == 3:
            return "denied"


def main(steps):
    while steps:
        step, steps = steps[0], steps[1:]
        if step == "share":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.set_inheritable(True)
            state["sock"] = s
            r, w = os.pipe()
            if os.fork() == 0:
                os.close(w)
                os.read(r, 1)
                os._exit(0)
            os.close(r)
            state["keep"] = w
        elif step.startswith("unix:"):
            s = state["sock"] if "keep" in state else socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(step[5:])
            s.set_inheritable(True)
            state["sock"] = s
        elif step.startswith("tcp:"):
            host, port = step[4:].rsplit(":", 1)
            s = socket.create_connection((host, int(port)))
            s.set_inheritable(True)
            state["sock"] = s
        elif step.startswith("fd:"):
            state["sock"] = socket.socket(fileno=int(step[3:]))
            state["preface"] = False
        elif step.startswith("stream:"):
            state["stream"] = int(step[7:])
            state["preface"] = state["stream"] == 1
        elif step == "call":
            print(call(), flush=True)
        elif step == "wait":
            sys.stdin.readline()
        elif step == "ids":
            print("ids %d %d" % (os.getuid(), os.geteuid()), flush=True)
        elif step == "pid":
            print("pid %d" % os.getpid(), flush=True)
        elif step.startswith("exec:"):
            binary = step[5:]
            fd = state["sock"].fileno()
            rest = ["fd:%d" % fd, "stream:%d" % state["stream"]] + steps
            os.execv(binary, [binary, os.path.abspath(__file__)] + rest)
        elif step == "forkexit":
            if os.fork() != 0:
                os._exit(0)
        else:
            raise SystemExit("unknown step " + step)


main(sys.argv[1:])
