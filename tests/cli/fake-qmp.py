#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A scripted fake QMP server on a unix socket, for CLI tests of attach-device/detach-device.

    fake-qmp.py SOCKET SCRIPT...

Plays each SCRIPT (the format of tests/unit/qmp-fake.h: send / sendraw / expect NAME [ARGS] /
reply JSON / sleep MS / close / eof) to the next client that connects, printing "played NAME"
after each, then exits 0; any mismatch: a message on stderr and exit 1. One process plays a
whole VM, as QEMU would stay up between hostdev commands (hostdev records the peer's pid).
Creates SOCKET before it prints "ready" on stdout."""
import json, os, socket, sys, time

sock_path = sys.argv[1]
try:
    os.unlink(sock_path)
except FileNotFoundError:
    pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sock_path)
srv.listen(1)
print("ready", flush=True)
srv.settimeout(60)


def fail(msg):
    sys.stderr.write("fake-qmp: %s\n" % msg)
    sys.exit(1)


def play(script):
    conn, _ = srv.accept()
    conn.settimeout(30)
    rf = conn.makefile("rb")
    last_id = None

    def send(text):
        conn.sendall(text.encode() + b"\r\n")

    for line in open(script).read().split("\n"):
        if not line or line.startswith("#"):
            continue
        word, _, arg = line.partition(" ")
        if word == "send":
            send(arg)
        elif word == "sendraw":
            conn.sendall(arg.encode())
        elif word == "expect":
            name, _, want = arg.partition(" ")
            got = rf.readline()
            if not got:
                fail("%s: expected command %s, got EOF" % (script, name))
            cmd = json.loads(got)
            if cmd.get("execute") != name:
                fail("%s: expected command %s, got %s" % (script, name, got.decode().strip()))
            last_id = cmd.get("id")
            if want:
                args = cmd.get("arguments", {})
                for k, v in json.loads(want).items():
                    if args.get(k) != v:
                        fail("%s: command %s: argument %s is %r, want %r" % (script, name, k, args.get(k), v))
        elif word == "reply":
            r = json.loads(arg)
            if last_id is not None:
                r["id"] = last_id
            send(json.dumps(r))
        elif word == "sleep":
            time.sleep(int(arg) / 1000)
        elif word == "close":
            break
        elif word == "eof":
            extra = rf.readline()
            if extra:
                fail("%s: unexpected command after the script: %s" % (script, extra.decode().strip()))
        else:
            fail("bad script line: %s" % line)
    conn.close()
    print("played %s" % os.path.basename(script).rsplit(".", 1)[0], flush=True)


for sc in sys.argv[2:]:
    play(sc)
os.unlink(sock_path)
