#!/usr/bin/python3
"""Replug benchmark, guest side (run by bench/replug/guest.sh inside the test VM).

Two identical dongles are replugged with the same pattern at the same time:
  - "hostdev":  DONGLE-A, held by an inner QEMU through `hostdev attach-device` and
                re-attached by the `hostdev watch` daemon;
  - "autoscan": DONGLE-B, held by an inner QEMU's own usb-host autoscan
                (-device usb-host,hostbus=B,hostport=P).
Per replug and per dongle it measures the time from the device's appearance in the guest
kernel (receipt of the kernel's "add" uevent on a NETLINK_KOBJECT_UEVENT socket, CLOCK_MONOTONIC)
to the QEMU that should hold it opening the device's /dev/bus/usb/BBB/DDD node (the time of the
inotify IN_OPEN event of that node, confirmed by the node in /proc/PID/fd). Off-times are spread over 0.1-3 s (fixed seed).

Then the synthetic load: remove+add uevent pairs for DONGLE-A written into the daemon's
injection FIFO (HOSTDEV_WATCH_INJECT): each goes through the daemon's uevent code path and
does a real device_del + DEVICE_DELETED + device_add against the inner QEMU; the daemon's
VmRSS (/proc/PID/status) is sampled before and after.
"""
import argparse
import ctypes
import glob
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--replugs", type=int, default=50)
ap.add_argument("--moves", type=int, default=20)
ap.add_argument("--synthetic", type=int, default=1000)
ap.add_argument("--hostdev-qemu", type=int, required=True)
ap.add_argument("--autoscan-qemu", type=int, required=True)
ap.add_argument("--daemon", type=int, required=True)
ap.add_argument("--daemon-log", required=True)
ap.add_argument("--fifo", required=True)
ap.add_argument("--wait", type=float, default=5.0, help="seconds to wait for a dongle to be held")
ap.add_argument("--verbose", action="store_true", help="every open of each node, and when it was seen held")
opts = ap.parse_args()

DONGLES = {  # id -> (serial, home QEMU port, other QEMU port, label, qemu pid)
    "dongle-a": ("DONGLE-A", "1", "6", "hostdev", opts.hostdev_qemu),
    "dongle-b": ("DONGLE-B", "2", "7", "autoscan", opts.autoscan_qemu),
}
SERIAL2ID = {v[0]: k for k, v in DONGLES.items()}


def vmctl(*args):
    r = subprocess.run(["vmctl"] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("vmctl %s: %s" % (" ".join(args), r.stderr.strip()))


# ---- kernel uevents: when did each dongle appear? ---------------------------------------
# Keyed by the port the device appeared on (its sysfs name, "2-1"): the bench plugs each dongle
# into a port it chose. The listener reads nothing of the device: a read of its serial would
# take the device's lock, which QEMU's open() of the node waits for (and, during the host's
# usb-storage probe of the other dongle, would hold the listener up). The serial is checked
# once QEMU holds the node.
appeared = {}          # sysname -> list of (t_monotonic, bus, devnum)
cv = threading.Condition()


def uevent_listener():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 15)  # NETLINK_KOBJECT_UEVENT
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((0, 1))  # kernel multicast group
    while True:
        data = s.recv(65536)
        t = time.monotonic()
        fields = data.split(b"\0")
        props = dict(f.split(b"=", 1) for f in fields[1:] if b"=" in f)
        if props.get(b"ACTION") != b"add" or props.get(b"DEVTYPE") != b"usb_device":
            continue
        sysname = props[b"DEVPATH"].decode().rsplit("/", 1)[-1]
        with cv:
            appeared.setdefault(sysname, []).append(
                (t, int(props[b"BUSNUM"]), int(props[b"DEVNUM"])))
            cv.notify_all()


threading.Thread(target=uevent_listener, daemon=True).start()
time.sleep(0.2)


def root_bus():
    """The bus both dongles are on at the start, on their home ports ("2" for 2-1 and 2-2)."""
    names = {}
    for f in glob.glob("/sys/bus/usb/devices/*/serial"):
        try:
            names[open(f).read().strip()] = os.path.basename(os.path.dirname(f))
        except OSError:
            pass
    want = {v[0]: "-" + v[1] for v in DONGLES.values()}
    for serial, suffix in want.items():
        if not names.get(serial, "").endswith(suffix):
            sys.exit("%s is not on its home port (QEMU port %s) at the start: %s" %
                     (serial, suffix[1:], names.get(serial, "absent")))
    buses = {names[s].split("-", 1)[0] for s in want}
    if len(buses) != 1:
        sys.exit("the dongles are on different root hubs: %s" % sorted(buses))
    return buses.pop()


ROOT_BUS = root_bus()


def holds(pid, bus, dev):
    want = "/dev/bus/usb/%03d/%03d" % (bus, dev)
    for fd in glob.glob("/proc/%d/fd/*" % pid):
        try:
            if os.readlink(fd) == want:
                return True
        except OSError:
            pass
    return False


# ---- who opened which /dev/bus/usb node, when ---------------------------------------------
# inotify IN_OPEN on every /dev/bus/usb/BBB directory reports each open of a node in it as it
# happens, without polling (a 0.5 ms /proc poll loop in Python eats a whole vCPU of the TCG
# guest, and so slows down what it measures). The open is then checked to be the right QEMU's
# by /proc/PID/fd.
opens = {}             # (bus, devnum) -> [t_monotonic of each IN_OPEN]
IN_OPEN = 0x20
libc = ctypes.CDLL(None, use_errno=True)


def open_listener():
    fd = libc.inotify_init1(0)
    if fd < 0:
        sys.exit("inotify_init1 failed: errno %d" % ctypes.get_errno())
    wd2bus = {}
    for d in sorted(glob.glob("/dev/bus/usb/[0-9][0-9][0-9]")):
        wd = libc.inotify_add_watch(fd, d.encode(), IN_OPEN)
        if wd < 0:
            sys.exit("inotify_add_watch %s failed: errno %d" % (d, ctypes.get_errno()))
        wd2bus[wd] = int(os.path.basename(d))
    while True:
        buf = os.read(fd, 65536)
        t = time.monotonic()
        i = 0
        while i + 16 <= len(buf):
            wd, mask, _cookie, ln = struct.unpack_from("iIII", buf, i)
            name = buf[i + 16:i + 16 + ln].split(b"\0", 1)[0].decode()
            i += 16 + ln
            if mask & IN_OPEN and wd in wd2bus and name.isdigit():
                with cv:
                    opens.setdefault((wd2bus[wd], int(name)), []).append(t)
                    cv.notify_all()


threading.Thread(target=open_listener, daemon=True).start()
time.sleep(0.2)


errors = []            # a measurement that found the wrong device (threads cannot exit)
measured = {}          # serial -> [(t0 kernel add uevent, t1 QEMU's open)] of each measured replug


def port_sysname(port):
    """The guest's name of QEMU's USB port `port` (the dongles' root hub: "2-6" for 6)."""
    return "%s-%s" % (ROOT_BUS, port)


def measure(serial, port, since, pid, result):
    """Wait for a device's next appearance on `port` after `since`, then for pid to open its
    node; then check that it is the dongle with this serial."""
    deadline = time.monotonic() + 15
    sysname = port_sysname(port)
    with cv:
        while True:
            ev = [e for e in appeared.get(sysname, []) if e[0] > since]
            if ev:
                t0, bus, dev = ev[-1]
                break
            if not cv.wait(timeout=max(0, deadline - time.monotonic())):
                result[serial] = None
                return
    end = t0 + opts.wait
    while time.monotonic() < end:
        with cv:
            seen = [t for t in opens.get((bus, dev), []) if t >= t0]
            if not seen:
                cv.wait(timeout=max(0, min(0.05, end - time.monotonic())))
                continue
        # an open happened: is it the right QEMU's? (checked every 20 ms; the time taken is
        # the last open before the check that finds QEMU holding the node: if some other
        # process opened it later, the figure only grows)
        if holds(pid, bus, dev):
            with cv:
                ts = [t for t in opens.get((bus, dev), []) if t >= t0]
            t1 = max(ts)
            try:
                got = open("/sys/bus/usb/devices/%s/serial" % sysname).read().strip()
            except OSError as e:
                got = "unreadable (%s)" % e
            if got != serial:
                errors.append("%s (QEMU port %s): the device there is %s, not %s" % (sysname, port, got, serial))
                result[serial] = None
                return
            result[serial] = (t1 - t0) * 1000.0
            with cv:
                measured.setdefault(serial, []).append((t0, t1))
            if opts.verbose:
                print("    %s: opens at %s ms, held at %.1f ms" % (serial, ", ".join("%.1f" % ((t - t0) * 1000)
                      for t in ts), (time.monotonic() - t0) * 1000), flush=True)
            return
        time.sleep(0.02)
    result[serial] = None


def replug_round(targets, off):
    """targets: id -> QEMU port to plug into. Unplug both, wait off, plug both, measure."""
    for i in targets:
        vmctl("unplug", i)
    time.sleep(off)
    since = time.monotonic()
    result = {}
    threads = []
    for i, port in targets.items():
        serial, _, _, _, pid = DONGLES[i]
        th = threading.Thread(target=measure, args=(serial, port, since, pid, result))
        th.start()
        threads.append(th)
    for i, port in targets.items():
        vmctl("plug", i, "port=" + port)
    for th in threads:
        th.join()
    if errors:
        sys.exit("; ".join(errors))
    return result


def pct(v, p):
    v = sorted(v)
    if not v:
        return float("nan")
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def table(title, rows):
    print("\n%s" % title)
    print("  %-10s %10s %10s %10s %10s" % ("", "came back", "p50 ms", "p99 ms", "max ms"))
    for label, lat in rows:
        ok = [x for x in lat if x is not None]
        print("  %-10s %6d/%-3d %10.1f %10.1f %10.1f" % (
            label, len(ok), len(lat), pct(ok, 50), pct(ok, 99), max(ok) if ok else float("nan")))


def rss_kb(pid):
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
    return -1


rng = random.Random(14)
print("replug benchmark: %d replugs on the same port, %d moves, %d synthetic uevent pairs" %
      (opts.replugs, opts.moves, opts.synthetic))
print("daemon pid %d VmRSS at start: %d kB" % (opts.daemon, rss_kb(opts.daemon)))

# ---- same port -------------------------------------------------------------------------
lat = {"DONGLE-A": [], "DONGLE-B": []}
for n in range(opts.replugs):
    off = 0.1 + (2.9 * n / max(1, opts.replugs - 1)) if n % 2 == 0 else rng.uniform(0.1, 3.0)
    r = replug_round({"dongle-a": "1", "dongle-b": "2"}, off)
    for s in lat:
        lat[s].append(r.get(s))
    print("  same port #%-3d off %.2f s: hostdev %s, autoscan %s" % (
        n + 1, off, "%.1f ms" % r["DONGLE-A"] if r.get("DONGLE-A") is not None else "NOT BACK",
        "%.1f ms" % r["DONGLE-B"] if r.get("DONGLE-B") is not None else "NOT BACK"), flush=True)
table("same port (%d replugs, off 0.1-3 s): appearance in the guest kernel -> QEMU holds /dev/bus/usb node"
      % opts.replugs, [("hostdev", lat["DONGLE-A"]), ("autoscan", lat["DONGLE-B"])])
same = lat

# ---- another port ------------------------------------------------------------------------
moved = {"DONGLE-A": [], "DONGLE-B": []}
home = {"DONGLE-A": [], "DONGLE-B": []}
for n in range(opts.moves * 2):
    away = n % 2 == 0
    off = rng.uniform(0.1, 1.0)
    r = replug_round({"dongle-a": "6" if away else "1", "dongle-b": "7" if away else "2"}, off)
    for s in moved:
        (moved if away else home)[s].append(r.get(s))
    print("  %s #%-3d off %.2f s: hostdev %s, autoscan %s" % (
        "to another port" if away else "back home      ", n // 2 + 1, off,
        "%.1f ms" % r["DONGLE-A"] if r.get("DONGLE-A") is not None else "NOT BACK",
        "%.1f ms" % r["DONGLE-B"] if r.get("DONGLE-B") is not None else "NOT BACK"), flush=True)
table("onto another port (%d moves: QEMU port 1->6 for hostdev, 2->7 for autoscan)" % opts.moves,
      [("hostdev", moved["DONGLE-A"]), ("autoscan", moved["DONGLE-B"])])
table("back onto the original port (%d moves)" % opts.moves,
      [("hostdev", home["DONGLE-A"]), ("autoscan", home["DONGLE-B"])])
rss_real = rss_kb(opts.daemon)
real = opts.replugs + 2 * opts.moves
print("\ndaemon VmRSS after %d real replugs of its dongle: %d kB" % (real, rss_real))

# ---- the daemon's own split of the real replugs ------------------------------------------
# its debug line per re-attach: "bench-h: T ms from the uevent to device_add, Q ms in QEMU's
# device_add (reading sysfs and finding the claim R ms, then waiting W ms for WHAT)"
split = []
for line in open(opts.daemon_log):
    m = re.search(r"bench-h: ([0-9.]+) ms from the uevent to device_add, ([0-9.]+) ms in QEMU's device_add "
                  r"\(reading sysfs and finding the claim ([0-9.]+) ms, then waiting ([0-9.]+) ms for ([^;]*);"
                  r" uevent received at ([0-9.]+) s", line)
    if m:
        split.append((float(m.group(1)), float(m.group(2)), float(m.group(3)), float(m.group(4)), m.group(5),
                      float(m.group(6))))
if split:
    print("\nthe daemon's split of its %d real re-attaches (its uevent receipt -> QEMU's device_add reply), ms:"
          % len(split))
    for k, name in ((2, "sysfs read + claim lookup"), (3, "waiting before device_add"),
                    (0, "uevent -> device_add sent"), (1, "QEMU's device_add")):
        v = [x[k] for x in split]
        print("  %-28s p50 %7.1f  p99 %7.1f  max %7.1f" % (name, pct(v, 50), pct(v, 99), max(v)))
    # how long after the measurement saw the kernel's add uevent did the daemon receive it?
    t0s = sorted(t for port in (DONGLES["dongle-a"][1], DONGLES["dongle-a"][2])
                 for t, _b, _d in appeared.get(port_sysname(port), []))
    lag, unmatched = [], 0
    for x in split:
        before = [t for t in t0s if x[5] - 2.0 <= t <= x[5] + 0.0005]
        if before:
            lag.append((x[5] - before[-1]) * 1000.0)
        else:
            unmatched += 1
    if lag:
        print("  %-28s p50 %7.1f  p99 %7.1f  max %7.1f%s" % (
            "kernel uevent -> daemon", pct(lag, 50), pct(lag, 99), max(lag),
            "  (%d not matched to an uevent the bench saw)" % unmatched if unmatched else ""))
    # each measured replug of DONGLE-A in three parts: kernel uevent -> the daemon has it ->
    # device_add sent -> QEMU opens the node (the same clock: the guest's CLOCK_MONOTONIC)
    parts = []
    for t0, t1 in measured.get("DONGLE-A", []):
        x = [x for x in split if t0 - 0.0005 <= x[5] <= t1]
        if len(x) == 1:
            sent = x[0][5] + x[0][0] / 1000.0
            parts.append(((x[0][5] - t0) * 1000.0, x[0][0], (t1 - sent) * 1000.0, (t1 - t0) * 1000.0))
    if parts:
        print("  each measured replug (%d of %d matched), ms:" % (len(parts), len(measured.get("DONGLE-A", []))))
        for k, name in ((0, "kernel uevent -> daemon"), (1, "daemon -> device_add sent"),
                        (2, "device_add sent -> QEMU opens"), (3, "total")):
            v = [p[k] for p in parts]
            print("    %-28s p50 %7.1f  p99 %7.1f  max %7.1f" % (name, pct(v, 50), pct(v, 99), max(v)))
        print("    the 5 slowest (kernel->daemon / daemon / QEMU = total): " + ", ".join(
            "%.1f/%.1f/%.1f=%.1f" % p for p in sorted(parts, key=lambda p: -p[3])[:5]))
    reasons = {}
    for x in split:
        reasons[x[4]] = reasons.get(x[4], 0) + 1
    print("  waited for: " + ", ".join("%s %d" % kv for kv in sorted(reasons.items())))

# ---- synthetic uevents through the daemon ------------------------------------------------
if opts.synthetic > 0:
    sysname = [d for d in glob.glob("/sys/bus/usb/devices/*")
               if os.path.exists(d + "/serial") and open(d + "/serial").read().strip() == "DONGLE-A"][0]
    real_dir = os.path.realpath(sysname)
    devpath = real_dir[len("/sys"):]
    bus = int(open(real_dir + "/busnum").read())
    dev = int(open(real_dir + "/devnum").read())
    base = "SUBSYSTEM=usb DEVTYPE=usb_device DEVPATH=%s BUSNUM=%d DEVNUM=%d PRODUCT=46f4/1/100 TYPE=0/0/0" % (devpath, bus, dev)
    logf = open(opts.daemon_log, "rb")
    logf.seek(0, 2)
    fifo = open(opts.fifo, "w")
    done, t_start, ms = 0, time.monotonic(), []
    for k in range(opts.synthetic):
        fifo.write("ACTION=remove %s\nACTION=add %s\n" % (base, base))
        fifo.flush()
        deadline = time.monotonic() + 10
        got = False
        while time.monotonic() < deadline and not got:
            raw = logf.readline()
            if not raw.endswith(b"\n"):
                # nothing new, or the daemon's line only half written yet (a write that crosses
                # a page boundary shows up in two steps): read it again whole
                if raw:
                    logf.seek(-len(raw), 1)
                time.sleep(0.001)
                continue
            line = raw.decode(errors="replace")
            if "re-attached" in line and "DONGLE-A" in line:
                got = True
                try:
                    ms.append(float(line.rsplit(" in ", 1)[1].split()[0]))
                except (IndexError, ValueError):
                    pass
        if not got:
            print("  synthetic pair %d: no re-attach within 10 s" % (k + 1))
            break
        done += 1
        if (k + 1) % 100 == 0:
            print("  synthetic %d pairs, daemon VmRSS %d kB" % (k + 1, rss_kb(opts.daemon)), flush=True)
    el = time.monotonic() - t_start
    ok = holds(opts.hostdev_qemu, bus, dev)
    rss_syn = rss_kb(opts.daemon)
    print("\nsynthetic: %d/%d remove+add pairs completed in %.1f s (each a real device_del, "
          "DEVICE_DELETED, device_add on the inner QEMU); QEMU holds the dongle at the end: %s" %
          (done, opts.synthetic, el, "yes" if ok else "NO"))
    if ms:
        print("  the daemon's own uevent->device_add-reply times: p50 %.1f ms, p99 %.1f ms, max %.1f ms" %
              (pct(ms, 50), pct(ms, 99), max(ms)))
    print("daemon VmRSS after %d real replugs + %d synthetic replugs: %d kB" % (real, done, rss_syn))

# ---- verdict -------------------------------------------------------------------------------
hd = same["DONGLE-A"] + moved["DONGLE-A"] + home["DONGLE-A"]
ok = [x for x in hd if x is not None]
print("\nsummary (hostdev): %d/%d replugs back, p99 %.1f ms (goal < 50 ms), daemon VmRSS %d kB (goal < 5120 kB)"
      % (len(ok), len(hd), pct(ok, 99), rss_kb(opts.daemon)))
sys.exit(0 if len(ok) == len(hd) else 1)
