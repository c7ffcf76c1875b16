#!/bin/bash
# Helpers of the watch-*.sh scenarios (sourced in the guest).
#
# vmcheck [--timeout S] [--quiet] NAME=SOCKET:SERIAL... [--free SERIAL...]
#   Poll (one python process, QMP connections kept open) until every VM NAME, reached through
#   its QMP SOCKET, holds exactly one usb-host whose hostbus/hostaddr is the guest's dongle
#   with that SERIAL *now* (new device number after a replug), with QEMU holding the device's
#   /dev/bus/usb node open (/proc/PID/fd, PID from SO_PEERCRED); and every --free SERIAL is
#   held by no VM and open in no QEMU. Prints each VM's table and `info usb`. Exit 1 on timeout.
vmcheck() {
        python3 - "$@" <<'PY'
import glob, json, os, socket, struct, sys, time

args = sys.argv[1:]
timeout, quiet, vms, free = 30.0, False, [], []
i = 0
mode = "vm"
while i < len(args):
    a = args[i]
    if a == "--timeout":
        timeout = float(args[i + 1]); i += 2; continue
    if a == "--quiet":
        quiet = True; i += 1; continue
    if a == "--free":
        mode = "free"; i += 1; continue
    if mode == "free":
        free.append(a)
    else:
        name, rest = a.split("=", 1)
        sock, serial = rest.rsplit(":", 1)
        vms.append((name, sock, serial))
    i += 1

class QMP:
    def __init__(self, path):
        for _ in range(300):
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                self.s.close(); time.sleep(0.1)
        else:
            sys.exit("cannot connect to %s" % path)
        self.s.settimeout(30)
        cred = self.s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        self.pid = struct.unpack("3i", cred)[0]
        self.f, self.wf = self.s.makefile("r"), self.s.makefile("w")
        json.loads(self.f.readline())
        self.call("qmp_capabilities")
    def call(self, c, a=None):
        m = {"execute": c}
        if a is not None:
            m["arguments"] = a
        self.wf.write(json.dumps(m) + "\n"); self.wf.flush()
        while True:
            r = json.loads(self.f.readline())
            if "return" in r:
                return r["return"]
            if "error" in r:
                return None

def host_usb():
    """(bus, devnum) -> (serial, sysfs name) of the guest's USB devices now"""
    out = {}
    for d in glob.glob("/sys/bus/usb/devices/*"):
        try:
            bus = int(open(d + "/busnum").read()); dev = int(open(d + "/devnum").read())
        except OSError:
            continue
        try:
            ser = open(d + "/serial").read().strip()
        except OSError:
            ser = None
        out[(bus, dev)] = (ser, os.path.basename(d))
    return out

def open_nodes(pid):
    nodes = set()
    for fd in glob.glob("/proc/%d/fd/*" % pid):
        try:
            t = os.readlink(fd)
        except OSError:
            continue
        if t.startswith("/dev/bus/usb/"):
            b, d = t.split("/")[-2:]
            nodes.add((int(b), int(d)))
    return nodes

def qemu_pids():
    pids = []
    for p in glob.glob("/proc/[0-9]*/comm"):
        try:
            if open(p).read().startswith("qemu-system"):
                pids.append(int(p.split("/")[2]))
        except OSError:
            pass
    return pids

conns = {name: QMP(sock) for name, sock, _ in vms}

def state():
    hu = host_usb()
    ok, lines = True, []
    for name, sock, serial in vms:
        q = conns[name]
        held = []
        for e in q.call("qom-list", {"path": "/machine/peripheral"}) or []:
            if not e["type"].startswith("child<usb-host"):
                continue
            p = "/machine/peripheral/" + e["name"]
            b = q.call("qom-get", {"path": p, "property": "hostbus"}) or 0
            a = q.call("qom-get", {"path": p, "property": "hostaddr"}) or 0
            if not b or not a:  # added with hostdevice=/dev/bus/usb/BBB/DDD
                hd = q.call("qom-get", {"path": p, "property": "hostdevice"}) or ""
                if "/bus/usb/" in hd:
                    b, a = (int(x) for x in hd.split("/")[-2:])
            ser, sysn = hu.get((b, a), (None, None))
            isopen = (b, a) in open_nodes(q.pid)
            held.append((e["name"], b, a, ser, sysn, isopen))
        good = len(held) == 1 and held[0][3] == serial and held[0][5]
        ok = ok and good
        for h in held:
            lines.append("  %-5s %-9s %s -> host %d:%d = %s (%s)%s" % (
                name, h[0], "ok " if good else "BAD", h[1], h[2], h[3] or "gone", h[4] or "-",
                ", open by QEMU pid %d" % q.pid if h[5] else ", NOT open"))
        if not held:
            lines.append("  %-5s (no usb-host)  want %s" % (name, serial))
    pids = qemu_pids()
    for serial in free:
        where = [k for k, v in hu.items() if v[0] == serial]
        holders = [pid for pid in pids for k in where if k in open_nodes(pid)]
        vmheld = [n for n, s, want in vms if want == serial]
        good = not holders and not vmheld
        ok = ok and good
        lines.append("  free  %s at %s: %s" % (serial, ",".join("%d:%d" % k for k in where) or "gone",
                     "held by no QEMU" if good else "HELD by QEMU pid %s" % holders))
    return ok, lines

deadline = time.monotonic() + timeout
t0 = time.monotonic()
while True:
    ok, lines = state()
    if ok or time.monotonic() > deadline:
        break
    time.sleep(0.05)
print("vmcheck: %s after %.2f s" % ("OK" if ok else "TIMEOUT", time.monotonic() - t0))
print("\n".join(lines))
if not quiet:
    for name, sock, _ in vms:
        out = conns[name].call("human-monitor-command", {"command-line": "info usb"}) or ""
        for l in out.replace("\r", "").splitlines():
            print("  %-5s info usb: %s" % (name, l.strip()))
sys.exit(0 if ok else 1)
PY
}

# guest_sysfs SERIAL: the guest's sysfs name of the dongle with that serial ("2-1"), or fail
guest_sysfs() {
        local d
        for d in /sys/bus/usb/devices/*; do
                [ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] || continue
                basename "$d"
                return 0
        done
        return 1
}
