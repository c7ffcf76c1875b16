/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the XML model: arbitrary bytes either parse or give a clean
 * "NAME:LINE: message" error; whatever parses must format, re-parse, and format to the same
 * bytes (validate(validate(x)) == validate(x)). Never a crash, leak or hang. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostdev-xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *a, const char *b) {
        fprintf(stderr, "fuzz-xml: %s\n--- first:\n%s\n--- second:\n%s\n", what, a ? a : "(null)", b ? b : "(null)");
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct hostdev_file *f = NULL, *g = NULL;
        char *err = NULL, *out = NULL, *out2 = NULL;
        int r;

        r = hostdev_file_parse_buffer((const char *) data, size, "fuzz.xml", &f, &err);
        if (r < 0) {
                if (f)
                        die("parse failed but returned a file", NULL, NULL);
                if (r == -EINVAL && (!err || strncmp(err, "fuzz.xml:", 9) != 0))
                        die("invalid input without a fuzz.xml:LINE: message", err, NULL);
                free(err);
                return 0;
        }
        if (err)
                die("parse succeeded but set a message", err, NULL);
        for (size_t i = 0; i < f->n_defs; i++) {
                char *sel = NULL;
                if (hostdev_def_format_source(f->defs[i], &sel) < 0 || !sel || strncmp(sel, "<source", 7) != 0)
                        die("format_source failed", sel, NULL);
                if (strchr(sel, '\n'))
                        die("format_source is not one line", sel, NULL);
                free(sel);
        }
        if (hostdev_file_format(f, &out) < 0)
                die("format failed", NULL, NULL);
        r = hostdev_file_parse_buffer(out, strlen(out), "fuzz.xml", &g, &err);
        if (r < 0)
                die("our own output does not parse", out, err);
        if (g->n_defs != f->n_defs)
                die("re-parse changed the number of devices", out, NULL);
        if (hostdev_file_format(g, &out2) < 0)
                die("second format failed", out, NULL);
        if (strcmp(out, out2) != 0)
                die("format(parse(format(x))) != format(x)", out, out2);
        free(out);
        free(out2);
        hostdev_file_free(f);
        hostdev_file_free(g);
        return 0;
}
