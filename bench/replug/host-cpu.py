#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The host's side of the replug benchmark: how much of the time the test VM's QEMU threads
were ready to run but waited for one of the host's CPUs (the kernel's per-thread schedstat:
time on a CPU, time waiting on a run queue). The guest cannot see this: under TCG a vCPU
thread that waits makes the guest's clock move on while nothing in the guest runs.

Usage: host-cpu.py --parent PID   (PID: run-vm; follows its qemu-system-x86_64 until it exits)
"""
import argparse
import os
import sys
import time


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def find_qemu(parent):
    todo, seen = [parent], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/comm") as f:
                if f.read().startswith("qemu-system"):
                    return p
        except OSError:
            continue
        todo.extend(children(p))
    return None


def snapshot(pid):
    """{tid: (name, ns on a CPU, ns waiting on a run queue)}; {} once the process is gone"""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                run, wait = (int(x) for x in f.read().split()[:2])
        except (OSError, ValueError):
            continue
        out[int(tid)] = (name, run, wait)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parent", type=int, required=True)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--main-loop-nice", type=int, default=None,
                    help="give the QEMU's main loop thread (where its USB controller is emulated) this nice value")
    a = ap.parse_args()
    qemu = None
    while qemu is None:
        if not os.path.exists(f"/proc/{a.parent}"):
            return 0
        qemu = find_qemu(a.parent)
        time.sleep(0.2)
    if a.main_loop_nice is not None:
        os.setpriority(os.PRIO_PROCESS, qemu, a.main_loop_nice)  # on Linux: that one thread
        print(f"host side: the test VM's QEMU main loop (tid {qemu}) at nice {a.main_loop_nice}", flush=True)
    first, last, t0 = {}, {}, time.monotonic()
    while True:
        s = snapshot(qemu)
        if not s:
            break
        for tid, v in s.items():
            first.setdefault(tid, v)
        last.update(s)
        time.sleep(a.interval)
    if not last:
        return 0
    secs = time.monotonic() - t0
    groups = {}
    for tid, (name, run, wait) in last.items():
        name0, run0, wait0 = first[tid]
        key = "main loop" if tid == qemu else ("vCPU " + name if "/TCG" in name else "other threads")
        g = groups.setdefault(key, [0, 0])
        g[0] += run - run0
        g[1] += wait - wait0
    print(f"host side: the test VM's QEMU (pid {qemu}) over {secs:.0f} s, on a host with {os.cpu_count()} CPUs:")
    for key in sorted(groups):
        run, wait = (x / 1e9 for x in groups[key])
        if run < 0.05 and wait < 0.05:
            continue
        print(f"  {key:16s} on a CPU {run:7.1f} s, ready but waiting for one {wait:6.1f} s"
              f" ({100 * wait / (run + wait) if run + wait else 0:.0f}% of its ready time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
