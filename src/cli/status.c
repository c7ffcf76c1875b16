/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostdev status [--json] [--connect URI]: every claim: device, identity, domain, since, state. */
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "error.h"
#include "registry.h"
#include "util.h"
#include "virt-cli.h"

int verb_status(int argc, char **argv) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "connect", required_argument, NULL, 'c' },
                {},
        };
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_free_ char *err = NULL;
        const char *uri = NULL;
        bool json = false;
        struct stat st;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'c':
                        uri = optarg;
                        break;
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind != argc) {
                log_error("usage: hostdev status [--json] [--connect URI]");
                return EXIT_USAGE;
        }

        if (uri)
                virt_cli_sync(uri); /* what libvirt holds on its own shows up as claims */
        if (stat(state_dir(), &st) >= 0) {
                r = registry_open(&reg, &err);
                if (r < 0) {
                        report_error(r, err, "reading the claims registry");
                        return EXIT_FAIL;
                }
                char *const *msgs = registry_recovery_messages(reg);
                for (size_t i = 0; msgs && msgs[i]; i++)
                        log_warning("%s", msgs[i]);
        }
        size_t n = reg ? registry_n_claims(reg) : 0;

        if (json) {
                _cleanup_free_ char *text = NULL;
                r = registry_status_json(reg, uri, &text);
                if (r < 0)
                        return report_error(r, NULL, "status"), EXIT_FAIL;
                puts(text);
                return EXIT_OK;
        }

        if (n == 0) {
                printf("no claims\n");
                return EXIT_OK;
        }
        int wdev = 6, wid = 8, wdom = 6;
        for (size_t i = 0; i < n; i++) {
                const struct claim *cl = registry_claim_at(reg, i);
                _cleanup_free_ char *id = claim_identity_string(cl);
                int l = cl->node ? (int) strlen(cl->node) : 11;
                wdev = l > wdev ? l : wdev;
                l = id ? (int) strlen(id) : 0;
                wid = l > wid ? l : wid;
                l = (int) strlen(cl->domain);
                wdom = l > wdom ? l : wdom;
        }
        printf("%-*s  %-*s  %-*s  %-19s  %s\n", wdev, "DEVICE", wid, "IDENTITY", wdom, "DOMAIN", "SINCE", "STATE");
        for (size_t i = 0; i < n; i++) {
                const struct claim *cl = registry_claim_at(reg, i);
                _cleanup_free_ char *id = claim_identity_string(cl);
                char since[32];
                if (!registry_domain_has_uri(reg, cl->domain, uri))
                        continue;
                format_claim_time(cl->since, since);
                printf("%-*s  %-*s  %-*s  %-19s  %s%s\n", wdev, cl->node ? cl->node : "(unplugged)", wid, strna(id),
                       wdom, cl->domain, since, claim_state_to_string(cl->state),
                       registry_domain_alive(reg, cl->domain) ? "" : " (stale: domain process gone)");
        }
        return EXIT_OK;
}
