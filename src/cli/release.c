/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostdev release DOMAIN: drop a domain's claims and give its devices back. */
#include "cli.h"
#include "error.h"
#include "registry.h"
#include "util.h"
#include "virt-cli.h"

/* Give back claims the registry dropped on its own (dead domains, finished releases). */
static int giveback_dropped(struct registry *reg) {
        struct claim **dropped = NULL;
        size_t n = 0;
        int ret = 0;

        registry_take_dropped(reg, &dropped, &n);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *err = NULL, *desc = claim_describe(dropped[i]);
                int r = registry_giveback(dropped[i], &err);
                if (r < 0) {
                        log_error("giving back %s (stale claim of %s): %s", strna(desc), dropped[i]->domain,
                                  err ? err : strerror(-r));
                        ret = r;
                }
                claim_free(dropped[i]);
        }
        free(dropped);
        return ret;
}

int verb_release(int argc, char **argv) {
        static const struct option options[] = {
                { "connect", required_argument, NULL, 'c' },
                {},
        };
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_free_ char *err = NULL;
        _cleanup_strv_free_ char **keys = NULL;
        unsigned long long jid = 0;
        const char *domain, *uri = NULL;
        bool failed = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        uri = optarg; /* the claims are ours; libvirt's live domain lets go first */
                        break;
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind != argc - 1 || isempty(argv[optind])) {
                log_error("usage: hostdev release DOMAIN");
                return EXIT_USAGE;
        }
        domain = argv[optind];

        if (uri && virt_cli_release(uri, domain) < 0)
                return EXIT_FAIL; /* still in the domain: the claims stay */

        r = registry_open(&reg, &err);
        if (r < 0) {
                report_error(r, err, "opening the claims registry");
                return EXIT_FAIL;
        }
        char *const *msgs = registry_recovery_messages(reg);
        for (size_t i = 0; msgs && msgs[i]; i++)
                log_warning("%s", msgs[i]);
        if (giveback_dropped(reg) < 0)
                failed = true;

        for (size_t i = 0; i < registry_n_claims(reg); i++) {
                const struct claim *cl = registry_claim_at(reg, i);
                if (streq(cl->domain, domain) && strv_extend(&keys, cl->key) < 0)
                        return report_error(-ENOMEM, NULL, "release"), EXIT_FAIL;
        }
        if (!keys) {
                /* nothing to do is not a failure: release is idempotent */
                r = registry_release_domain(reg, domain, NULL, NULL, &err);
                if (r < 0) {
                        report_error(r, err, "release");
                        return EXIT_FAIL;
                }
                log_info("domain %s holds no claims", domain);
                return failed ? EXIT_FAIL : EXIT_OK;
        }

        r = registry_journal_begin(reg, "release", domain, NULL, "giving devices back", &jid, &err);
        if (r < 0) {
                report_error(r, err, "release");
                return EXIT_FAIL;
        }
        for (char **k = keys; *k; k++) {
                const struct claim *cl;
                _cleanup_(claim_freep) struct claim *copy = NULL, *released = NULL;
                _cleanup_free_ char *e = NULL, *desc = NULL;

                r = registry_set_claim_state(reg, domain, *k, CLAIM_STATE_RELEASING, &e);
                if (r == -ENOENT)
                        continue; /* released meanwhile by someone else */
                cl = registry_find_domain_claim(reg, domain, *k);
                if (r < 0 || !cl || claim_dup(cl, &copy) < 0) {
                        log_error("releasing %s: %s", *k, e ? e : strerror(r < 0 ? -r : ENOMEM));
                        failed = true;
                        continue;
                }
                desc = claim_describe(copy);
                r = registry_giveback(copy, &e);
                if (r < 0) {
                        /* keep the claim (state "releasing"): the device is not back on the host */
                        log_error("giving back %s of %s: %s", strna(desc), domain, e ? e : strerror(-r));
                        failed = true;
                        continue;
                }
                r = registry_release_claim(reg, domain, *k, &released, &e);
                if (r < 0 && r != -ENOENT) {
                        log_error("releasing %s: %s", strna(desc), e ? e : strerror(-r));
                        failed = true;
                        continue;
                }
                printf("released %s from %s\n", strna(desc), domain);
        }
        if (!failed) {
                r = registry_release_domain(reg, domain, NULL, NULL, &err);
                if (r < 0) {
                        report_error(r, err, "release");
                        failed = true;
                }
        }
        r = registry_journal_end(reg, jid, NULL);
        if (r < 0)
                failed = true;
        return failed ? EXIT_FAIL : EXIT_OK;
}
