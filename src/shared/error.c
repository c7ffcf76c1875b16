/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "error.h"

#include <stdarg.h>

#include "util.h"

int error_set(char **reterr, int err, const char *fmt, ...) {
        if (err > 0)
                err = -err;
        if (reterr && !*reterr) {
                va_list ap;
                char *s = NULL;
                va_start(ap, fmt);
                if (vasprintf(&s, fmt, ap) < 0)
                        s = NULL;
                va_end(ap);
                *reterr = s;
        }
        return err;
}

int error_prefix(char **reterr, int err, const char *fmt, ...) {
        if (err > 0)
                err = -err;
        if (reterr) {
                va_list ap;
                char *p = NULL, *s;
                va_start(ap, fmt);
                if (vasprintf(&p, fmt, ap) < 0)
                        p = NULL;
                va_end(ap);
                if (!p)
                        return err;
                if (*reterr)
                        s = strdup_printf("%s: %s", p, *reterr);
                else
                        s = strdup_printf("%s: %s", p, strerror(-err));
                free(p);
                if (s) {
                        free(*reterr);
                        *reterr = s;
                }
        }
        return err;
}
