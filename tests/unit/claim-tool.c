/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* claim-tool DOMAIN FILE [--hold]: claim every device FILE selects for DOMAIN, all or nothing,
 * recording the calling process as the domain's live process. With --hold, stay alive (the
 * claims stay live) until killed; otherwise exit at once (the claims go stale with us).
 * Test helper for tests/cli/test-claims-race.sh; not installed.
 * Exit: 0 claimed ("claimed KEY NODE" per device on stdout), 1 refused or failed (one
 * "hostdev: error: MESSAGE" line per problem on stderr), 2 bad usage or input. */
#include <signal.h>

#include "error.h"
#include "hostdev-xml.h"
#include "inventory.h"
#include "registry.h"
#include "resolve.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct hostdev_file *, hostdev_file_free);

static int fail(int r, const char *msg, const char *what) {
        if (msg)
                fprintf(stderr, "hostdev: error: %s\n", msg);
        else
                fprintf(stderr, "hostdev: error: %s: %s\n", what, strerror(r < 0 ? -r : r));
        return 1;
}

int main(int argc, char **argv) {
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_free_ char *err = NULL;
        struct domain_record rec = { 0 };
        struct resolve_result *rs = NULL;
        size_t n = 0;
        bool hold = argc == 4 && streq(argv[3], "--hold");
        int r;

        if (argc != 3 && !hold) {
                fprintf(stderr, "usage: claim-tool DOMAIN FILE [--hold]\n");
                return 2;
        }
        rec.name = argv[1];
        r = hostdev_file_parse_path(argv[2], &f, &err);
        if (r < 0)
                return fail(r, err, argv[2]) + 1;
        bool usb_only = true;
        for (size_t i = 0; i < f->n_defs; i++)
                if (f->defs[i]->type != HOSTDEV_TYPE_USB)
                        usb_only = false;
        r = usb_only ? inventory_scan_usb(&inv, &err) : inventory_scan(&inv, &err);
        if (r < 0)
                return fail(r, err, "scan");
        r = registry_open(&reg, &err);
        if (r < 0)
                return fail(r, err, "registry");
        r = domain_record_set_process(&rec, getpid());
        if (r < 0)
                return fail(r, NULL, "own start time");

        /* one critical section: resolve against the current claims, claim all, save */
        r = resolve_and_claim(reg, inv, f, rec.name, &rec, &rs, &n, &err);
        if (r < 0)
                return fail(r, err, "claim");
        for (size_t i = 0; i < n; i++)
                if (rs[i].device) {
                        _cleanup_free_ char *key = claim_key_for(f->defs[i], rs[i].device);
                        printf("claimed %s %s\n", strna(key), rs[i].device->name);
                }
        resolve_results_free(rs, n);
        fflush(stdout);
        if (hold)
                for (;;)
                        pause();
        return 0;
}
