/* bench-replug-stamp: the replug benchmark's clock (bench/replug/measure.py runs it at a
 * real-time priority). It prints, as they happen, on the guest's CLOCK_MONOTONIC:
 *
 *   add USEC SYSNAME BUSNUM DEVNUM   a kernel "add" uevent of a USB device (not an interface)
 *   open USEC BUSNUM DEVNUM          an open of /dev/bus/usb/BBB/DDD (inotify IN_OPEN)
 *
 * after one "ready" line once both are watched. It reads nothing of a device (a read of its
 * serial would take the device's lock, which QEMU's open() waits for) and does nothing else,
 * so that it costs the guest almost no CPU at the moments it measures: the bench's own work
 * (Python, the control channel) runs at SCHED_IDLE and cannot delay what it measures.
 * The time is taken once per wakeup, before anything is parsed. The uevents come through the
 * watch daemon's own kernel monitor (uevent.h), so the bench sees them as the daemon does. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "macro.h"
#include "uevent.h"
#include "util.h"

#define USB_DEV_DIR "/dev/bus/usb"
#define MAX_BUSES 64

static int fail(const char *what, int r) {
        fprintf(stderr, "bench-replug-stamp: %s: %s\n", what, strerror(r < 0 ? -r : r));
        return EXIT_FAILURE;
}

/* every kernel uevent waiting on the monitor: print the USB devices' adds */
static void drain_uevents(struct uevent_monitor *mon, uint64_t t) {
        for (;;) {
                _cleanup_(usb_uevent_freep) struct usb_uevent *ev = NULL;
                if (uevent_monitor_receive(mon, &ev) <= 0)
                        return;
                if (ev->action == UEVENT_ADD && ev->sysname && ev->bus && ev->devnum)
                        printf("add %" PRIu64 " %s %u %u\n", t, ev->sysname, ev->bus, ev->devnum);
        }
}

/* every inotify event waiting: print the opens of device nodes */
static void drain_opens(int fd, const int *wd_bus, int n_wd, uint64_t t) {
        char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n <= 0)
                        return;
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *e = (const struct inotify_event *) p;
                        p += sizeof *e + e->len;
                        if (!(e->mask & IN_OPEN) || e->len == 0 || e->wd < 0 || e->wd >= n_wd || wd_bus[e->wd] < 0)
                                continue;
                        char *end;
                        long dev = strtol(e->name, &end, 10);
                        if (end != e->name && *end == '\0')
                                printf("open %" PRIu64 " %d %ld\n", t, wd_bus[e->wd], dev);
                }
        }
}

int main(void) {
        /* the kernel's own messages, not udevd's: the moment the device appears */
        _cleanup_(uevent_monitor_freep) struct uevent_monitor *mon = NULL;
        _cleanup_free_ char *err = NULL;
        int r = uevent_monitor_new_source(&mon, UEVENT_SOURCE_KERNEL, &err);
        if (r < 0) {
                fprintf(stderr, "bench-replug-stamp: %s\n", err ? err : strerror(-r));
                return EXIT_FAILURE;
        }

        _cleanup_close_ int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (ino < 0)
                return fail("inotify_init1", errno);
        int wd_bus[MAX_BUSES * 4];
        int n_wd = 0;
        for (size_t i = 0; i < ELEMENTSOF(wd_bus); i++)
                wd_bus[i] = -1;
        _cleanup_closedir_ DIR *dir = opendir(USB_DEV_DIR);
        if (!dir)
                return fail(USB_DEV_DIR, errno);
        for (struct dirent *de; (de = readdir(dir));) {
                char *end;
                long bus = strtol(de->d_name, &end, 10);
                if (end == de->d_name || *end != '\0' || bus <= 0 || bus >= MAX_BUSES)
                        continue;
                char path[sizeof USB_DEV_DIR + 8];
                snprintf(path, sizeof path, USB_DEV_DIR "/%03ld", bus);
                int wd = inotify_add_watch(ino, path, IN_OPEN);
                if (wd < 0)
                        return fail(path, errno);
                if (wd >= (int) ELEMENTSOF(wd_bus))
                        return fail("too many inotify watches", E2BIG);
                wd_bus[wd] = (int) bus;
                n_wd = wd + 1 > n_wd ? wd + 1 : n_wd;
        }
        if (n_wd == 0)
                return fail("no bus directory in " USB_DEV_DIR, ENOENT);

        _cleanup_close_ int ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
                return fail("epoll_create1", errno);
        struct epoll_event ev_mon = { .events = EPOLLIN, .data.u32 = 0 };
        struct epoll_event ev_ino = { .events = EPOLLIN, .data.u32 = 1 };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, uevent_monitor_get_fd(mon), &ev_mon) < 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, ino, &ev_ino) < 0)
                return fail("epoll_ctl", errno);

        printf("ready\n");
        fflush(stdout);
        for (;;) {
                struct epoll_event evs[2];
                int n = epoll_wait(ep, evs, ELEMENTSOF(evs), -1);
                uint64_t t = now_usec();
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return fail("epoll_wait", errno);
                }
                for (int i = 0; i < n; i++) {
                        if (evs[i].data.u32 == 0)
                                drain_uevents(mon, t);
                        else
                                drain_opens(ino, wd_bus, n_wd, t);
                }
                if (fflush(stdout) != 0)
                        return EXIT_SUCCESS; /* the reader has gone */
        }
}
