/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The library's log lines (watch.h's watch loop, virt.h's libvirt flows) printed on stderr the
 * CLI's way. Self-contained (no log_error()): hostdev-watch, which does not link hostdev.c,
 * uses it too. */
#include <stdio.h>

#include "cli.h"
#include "util.h"

void cli_log_line(const struct cli_log_style *style, int level, const char *line) {
        static const struct cli_log_style plain = {};

        if (!style)
                style = &plain;
        switch (level) {
        case WATCH_LOG_ERROR:
                fprintf(stderr, "hostdev: error: %s\n", line);
                break;
        case WATCH_LOG_WARNING:
                fprintf(stderr, "hostdev: warning: %s\n", line);
                break;
        case WATCH_LOG_INFO:
                fprintf(stderr, "%s%s\n", style->prefix_info ? "hostdev: " : "", line);
                break;
        default:
                /* with CLOCK_MONOTONIC seconds, the clock of "uevent received at": where time went */
                if (style->debug)
                        fprintf(stderr, "%s[%.6f] %s\n", style->prefix_info ? "hostdev: " : "debug: ",
                                now_usec() / 1e6, line);
                break;
        }
}

void cli_watch_log(void *userdata, enum watch_log_level level, const char *line) {
        cli_log_line(userdata, (int) level, line);
}

void cli_virt_log(void *userdata, int level, const char *line) {
        cli_log_line(userdata, level, line);
}
