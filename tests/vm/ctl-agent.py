#!/usr/bin/python3
"""Host-side control agent of the test VM (started by run-vm; see README.md).

Drives the outer QEMU's QMP socket on behalf of
  - the guest, through the virtio-serial port hostdev.ctl (QEMU chardev socket --guest), and
  - host-side scripts, through a listening unix socket (--listen, exported as VM_CTL_HOST).

Protocol, one request per line:  "#TAG COMMAND ARGS..."  (the "#TAG " prefix is optional;
the `vmctl` helper always sends a fresh one and ignores replies carrying another tag).
Reply: zero or more data lines "#TAG | TEXT", then exactly one "#TAG ok" or "#TAG err MESSAGE".

Commands:
  ping                                   -> ok
  list                                   -> "| NAME SERIAL PORT plugged|unplugged" per dongle
  unplug NAME                            device_del, waits for DEVICE_DELETED
  plug NAME [port=P] [serial=S]          device_add usb-storage (same blockdev, same serial
                                         unless serial= given) on port P (default: last port)
  replug NAME [port=P] [off=SECONDS] [serial=S]
                                         unplug, sleep SECONDS (default 0.2), plug
  hmp COMMAND...                         human-monitor-command; its output as data lines
  qmp {"execute": ...}                   raw QMP; the JSON reply as one data line
  host SCRIPT [ARGS...]                  run tests/vm/host-steps/SCRIPT on the host; its
                                         stdout+stderr as data lines; ok iff it exits 0
"""
import argparse
import json
import os
import queue
import shlex
import socket
import subprocess
import sys
import threading
import time


T0 = time.monotonic()


def log(msg):
    print("ctl-agent: [%.1f] %s" % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


def connect_unix(path, timeout):
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class QMPError(Exception):
    pass


class QMP:
    def __init__(self, path, timeout=60):
        self.sock = connect_unix(path, timeout)
        self.rfile = self.sock.makefile("r", encoding="utf-8")
        self.lock = threading.Lock()
        self.responses = queue.Queue()
        self.events = []          # (seq, event dict)
        self.seq = 0
        self.cond = threading.Condition()
        greeting = json.loads(self.rfile.readline())
        if "QMP" not in greeting:
            raise QMPError("no QMP greeting: %r" % greeting)
        threading.Thread(target=self._reader, daemon=True).start()
        self.execute("qmp_capabilities")

    def _reader(self):
        for line in self.rfile:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "event" in msg:
                with self.cond:
                    self.seq += 1
                    self.events.append((self.seq, msg))
                    del self.events[:-200]
                    self.cond.notify_all()
            else:
                self.responses.put(msg)
        self.responses.put(None)
        with self.cond:
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return self.seq

    def execute_raw(self, obj, timeout=60):
        with self.lock:
            self.sock.sendall((json.dumps(obj) + "\n").encode())
            try:
                resp = self.responses.get(timeout=timeout)
            except queue.Empty:
                raise QMPError("no QMP reply within %ss" % timeout)
            if resp is None:
                raise QMPError("QMP connection closed")
            return resp

    def execute(self, name, args=None, timeout=60):
        obj = {"execute": name}
        if args is not None:
            obj["arguments"] = args
        resp = self.execute_raw(obj, timeout)
        if "error" in resp:
            raise QMPError(resp["error"].get("desc", str(resp["error"])))
        return resp.get("return")

    def wait_event(self, after, pred, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for seq, ev in self.events:
                    if seq > after and pred(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)


class Agent:
    def __init__(self, qmp, dongles, host_steps, host_env):
        self.qmp = qmp
        self.dongles = dongles    # name -> {"serial", "port", "plugged"}
        self.host_steps = host_steps
        self.host_env = host_env
        self.usb_lock = threading.Lock()

    def dongle(self, name):
        if name not in self.dongles:
            raise QMPError("unknown dongle %r (known: %s)" % (name, " ".join(self.dongles)))
        return self.dongles[name]

    @staticmethod
    def kv(args, allowed):
        out = {}
        for a in args:
            k, sep, v = a.partition("=")
            if not sep or k not in allowed:
                raise QMPError("bad argument %r (allowed: %s)" % (a, ", ".join(allowed)))
            out[k] = v
        return out

    def unplug(self, name):
        d = self.dongle(name)
        mark = self.qmp.mark()
        self.qmp.execute("device_del", {"id": name})
        ev = self.qmp.wait_event(mark, lambda e: e["event"] == "DEVICE_DELETED"
                                 and e.get("data", {}).get("device") == name, 30)
        if ev is None:
            raise QMPError("no DEVICE_DELETED for %s within 30s" % name)
        d["plugged"] = False

    def plug(self, name, port=None, serial=None):
        d = self.dongle(name)
        port = port or d["port"]
        serial = serial or d["serial"]
        self.qmp.execute("device_add", {"driver": "usb-storage", "id": name,
                                        "drive": name + "-disk", "serial": serial,
                                        "bus": "xhci.0", "port": port})
        d.update(port=port, serial=serial, plugged=True)

    def run(self, line, emit):
        words = shlex.split(line)
        if not words:
            raise QMPError("empty command")
        cmd, args = words[0], words[1:]
        if cmd == "ping":
            return
        if cmd == "list":
            for name, d in self.dongles.items():
                emit("%s %s %s %s" % (name, d["serial"], d["port"],
                                      "plugged" if d["plugged"] else "unplugged"))
            return
        if cmd in ("unplug", "plug", "replug"):
            if not args:
                raise QMPError("usage: %s NAME ..." % cmd)
            name, rest = args[0], args[1:]
            with self.usb_lock:
                if cmd == "unplug":
                    self.kv(rest, ())
                    self.unplug(name)
                elif cmd == "plug":
                    o = self.kv(rest, ("port", "serial"))
                    self.plug(name, o.get("port"), o.get("serial"))
                else:
                    o = self.kv(rest, ("port", "serial", "off"))
                    self.unplug(name)
                    time.sleep(float(o.get("off", "0.2")))
                    self.plug(name, o.get("port"), o.get("serial"))
            return
        if cmd == "hmp":
            out = self.qmp.execute("human-monitor-command", {"command-line": " ".join(args)})
            for l in (out or "").splitlines():
                emit(l)
            return
        if cmd == "qmp":
            obj = json.loads(line.split(None, 1)[1])
            emit(json.dumps(self.qmp.execute_raw(obj)))
            return
        if cmd == "host":
            if not args or "/" in args[0] or args[0].startswith("."):
                raise QMPError("usage: host SCRIPT [ARGS...] (a file in %s)" % self.host_steps)
            path = os.path.join(self.host_steps, args[0])
            if not os.access(path, os.X_OK):
                raise QMPError("no executable host step %s" % path)
            try:
                p = subprocess.run([path] + args[1:], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, env=self.host_env, timeout=300)
            except subprocess.TimeoutExpired:
                raise QMPError("host step %s timed out" % args[0])
            for l in p.stdout.decode(errors="replace").splitlines():
                emit(l)
            if p.returncode != 0:
                raise QMPError("host step %s exited %d" % (args[0], p.returncode))
            return
        raise QMPError("unknown command %r" % cmd)

    def serve(self, rfile, write):
        for raw in rfile:
            line = raw.strip()
            if not line:
                continue
            tag = ""
            if line.startswith("#"):
                tag, _, line = line.partition(" ")
                tag += " "
            log("request: %s" % line)
            try:
                self.run(line, lambda text: write("%s| %s\n" % (tag, text)))
                write("%sok\n" % tag)
                log("done: %s" % line)
            except (QMPError, ValueError, OSError) as e:
                msg = str(e).replace("\n", " ")
                log("error: %s" % msg)
                write("%serr %s\n" % (tag, msg))


def serve_socket(agent, sock):
    rfile = sock.makefile("r", encoding="utf-8", errors="replace")
    lock = threading.Lock()

    def write(text):
        with lock:
            sock.sendall(text.encode())
    try:
        agent.serve(rfile, write)
    except OSError:
        pass
    finally:
        sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qmp", required=True)
    ap.add_argument("--guest", required=True, help="QEMU chardev socket of hostdev.ctl")
    ap.add_argument("--listen", required=True, help="unix socket for host-side clients")
    ap.add_argument("--dongle", action="append", default=[], help="NAME,SERIAL,PORT")
    ap.add_argument("--host-steps", required=True)
    ap.add_argument("--ready", help="file to create once connected")
    a = ap.parse_args()

    qmp = QMP(a.qmp)
    dongles = {}
    for d in a.dongle:
        name, serial, port = d.split(",")
        dongles[name] = {"serial": serial, "port": port, "plugged": True}
    env = dict(os.environ, VM_QMP=a.qmp, VM_CTL=a.listen, VM_CTL_HOST=a.listen)
    agent = Agent(qmp, dongles, a.host_steps, env)

    guest = connect_unix(a.guest, 60)
    threading.Thread(target=serve_socket, args=(agent, guest), daemon=True).start()

    if os.path.exists(a.listen):
        os.unlink(a.listen)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(a.listen)
    srv.listen(8)
    if a.ready:
        open(a.ready, "w").close()
    log("ready")
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve_socket, args=(agent, conn), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
