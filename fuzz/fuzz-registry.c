/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the claims registry loader (src/lib/registry.c): arbitrary bytes as the
 * registry file must load or be refused (-EBADMSG/-EPROTONOSUPPORT), never crash or leak; what
 * loads must format to text that loads again and formats to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct registry *reg = NULL, *again = NULL;
        char *text, *out = NULL, *out2 = NULL;

        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        if (registry_parse_text(text, &reg) == 0) {
                for (size_t i = 0; i < registry_n_claims(reg); i++) {
                        char *d = claim_describe(registry_claim_at(reg, i));
                        free(d);
                }
                if (registry_format_text(reg, &out) == 0) {
                        if (registry_parse_text(out, &again) != 0)
                                abort(); /* our own output must load */
                        if (registry_format_text(again, &out2) != 0 || strcmp(out, out2) != 0)
                                abort(); /* and be stable */
                }
        }
        free(out);
        free(out2);
        registry_free(again);
        registry_free(reg);
        free(text);
        return 0;
}
