/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The public API (include/hostdev/hostdev.h): thin wrappers over the internal modules. */
#include "config.h"
#include "hostdev/hostdev.h"

#include "error.h"
#include "hostdev-xml.h"
#include "inventory.h"
#include "macro.h"
#include "registry.h"
#include "resolve.h"

_public_ const char *hostdev_version(void) {
        return HOSTDEV_VERSION;
}

/* ---- resolution --------------------------------------------------------------------------- */
struct hostdev_resolution {
        struct hostdev_file *file;
        struct inventory *inv; /* results borrow its devices */
        struct resolve_result *results;
        size_t n;
};

_public_ void hostdev_resolution_free(hostdev_resolution *res) {
        if (!res)
                return;
        resolve_results_free(res->results, res->n);
        inventory_free(res->inv);
        hostdev_file_free(res->file);
        free(res);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(hostdev_resolution *, hostdev_resolution_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct hostdev_file *, hostdev_file_free);

static int parse_and_scan(const char *path, struct hostdev_file **ret_file, struct inventory **ret_inv,
                          char **reterr) {
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        int r;

        if (!path)
                return error_set(reterr, -EINVAL, "no input file");
        r = hostdev_file_parse_path(path, &f, reterr);
        if (r < 0)
                return r;
        r = inventory_scan(&inv, reterr);
        if (r < 0)
                return r;
        *ret_file = TAKE_PTR(f);
        *ret_inv = TAKE_PTR(inv);
        return 0;
}

_public_ int hostdev_resolve_file(const char *path, const char *domain, hostdev_resolution **ret, char **reterr) {
        _cleanup_(hostdev_resolution_freep) hostdev_resolution *res = calloc(1, sizeof(*res));
        _cleanup_(registry_freep) struct registry *reg = NULL;
        int r;

        if (!res || !ret)
                return res ? -EINVAL : -ENOMEM;
        r = parse_and_scan(path, &res->file, &res->inv, reterr);
        if (r < 0)
                return r;
        if (access(state_dir(), F_OK) == 0) {
                r = registry_open(&reg, reterr);
                if (r < 0)
                        return r;
        }
        r = resolve_file(res->inv, reg, res->file, domain ? domain : res->file->domain_name, &res->results, &res->n);
        if (r < 0)
                return error_set(reterr, r, "resolving %s: %s", path, strerror(-r));
        *ret = TAKE_PTR(res);
        return 0;
}

static const struct resolve_result *result_at(const hostdev_resolution *res, size_t i) {
        return res && i < res->n ? &res->results[i] : NULL;
}

_public_ size_t hostdev_resolution_count(const hostdev_resolution *res) {
        return res ? res->n : 0;
}

_public_ const char *hostdev_resolution_status(const hostdev_resolution *res, size_t i) {
        const struct resolve_result *r = result_at(res, i);
        return r ? resolve_status_to_string(r->status) : NULL;
}

_public_ const char *hostdev_resolution_selector(const hostdev_resolution *res, size_t i) {
        const struct resolve_result *r = result_at(res, i);
        return r ? r->selector : NULL;
}

_public_ const char *hostdev_resolution_device(const hostdev_resolution *res, size_t i) {
        const struct resolve_result *r = result_at(res, i);
        return r && r->device ? r->device->name : NULL;
}

_public_ const char *hostdev_resolution_owner(const hostdev_resolution *res, size_t i) {
        const struct resolve_result *r = result_at(res, i);
        return r ? r->owner : NULL;
}

_public_ const char *hostdev_resolution_message(const hostdev_resolution *res, size_t i) {
        const struct resolve_result *r = result_at(res, i);
        return r ? r->message : NULL;
}

_public_ size_t hostdev_resolution_n_candidates(const hostdev_resolution *res, size_t i) {
        const struct resolve_result *r = result_at(res, i);
        return r ? strv_length(r->candidates) : 0;
}

_public_ const char *hostdev_resolution_candidate(const hostdev_resolution *res, size_t i, size_t k) {
        const struct resolve_result *r = result_at(res, i);
        return r && k < strv_length(r->candidates) ? r->candidates[k] : NULL;
}

_public_ int hostdev_resolution_to_json(const hostdev_resolution *res, char **ret) {
        if (!res || !ret)
                return -EINVAL;
        return resolve_results_to_json(res->results, res->n, ret);
}

/* ---- claims ------------------------------------------------------------------------------- */
_public_ int hostdev_claim(const char *domain, const char *path, pid_t pid, char **reterr) {
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        _cleanup_(registry_freep) struct registry *reg = NULL;
        struct domain_record rec = { 0 };
        int r;

        if (isempty(domain))
                return error_set(reterr, -EINVAL, "claiming devices needs a domain name");
        if (pid > 0) {
                r = domain_record_set_process(&rec, pid);
                if (r < 0)
                        return error_set(reterr, r, "process %d: %s", (int) pid, strerror(-r));
        }
        r = parse_and_scan(path, &f, &inv, reterr);
        if (r < 0)
                return r;
        r = registry_open(&reg, reterr);
        if (r < 0)
                return r;
        return resolve_and_claim(reg, inv, f, domain, pid > 0 ? &rec : NULL, NULL, NULL, reterr);
}

_public_ int hostdev_release_domain(const char *domain, char **reterr) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        struct claim **released = NULL;
        size_t n = 0;
        int r, ret;

        if (isempty(domain))
                return error_set(reterr, -EINVAL, "release needs a domain name");
        r = registry_open(&reg, reterr);
        if (r < 0)
                return r;
        ret = registry_release_domain(reg, domain, &released, &n, reterr);
        if (ret < 0)
                return ret;
        for (size_t i = 0; i < n; i++) {
                r = registry_giveback(released[i], reterr);
                if (r < 0 && ret >= 0)
                        ret = r;
                claim_free(released[i]);
        }
        free(released);
        return ret;
}

_public_ int hostdev_status(char **ret_json, char **reterr) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        int r;

        if (!ret_json)
                return -EINVAL;
        if (access(state_dir(), F_OK) == 0) {
                r = registry_open(&reg, reterr);
                if (r < 0)
                        return r;
        }
        r = registry_status_json(reg, NULL, ret_json);
        if (r < 0)
                return error_set(reterr, r, "out of memory");
        return 0;
}
