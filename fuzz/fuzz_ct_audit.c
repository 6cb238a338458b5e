/* fuzz_ct_audit: the records of CTAuditStorage files (ct_audit.c), as ctauditscts reads them.
 *
 * The input is an audit file. Properties: a clean decode consumed everything; the entries
 * re-encode to as many bytes as the part reported good, and decoding those (or the good
 * part itself) gives the same entries cleanly; every blob points inside the input.
 */
#include <unistd.h>

#include "fuzz.h"
#include "ct_audit.h"
#include "ct_helpers.h"

static int initialised;

static void write_seeds(apr_pool_t *p)
{
    EVP_PKEY *key = th_ec_key(), *logkey = th_ec_key();
    X509 *ca = th_cert(key, key, NULL, "Fuzz CA", 1);
    X509 *leaf = th_cert(key, key, ca, "fuzz.example.org", 0);
    ct_audit_entry_t e;
    ct_blob_t b, one, two;
    unsigned char *der = NULL;
    int len;

    e.key = "fuzz.example.org:443";
    e.certs = apr_array_make(p, 2, sizeof(ct_blob_t));
    e.scts = apr_array_make(p, 2, sizeof(ct_blob_t));
    len = i2d_X509(leaf, &der);
    b.data = apr_pmemdup(p, der, (apr_size_t)len);
    b.len = (apr_size_t)len;
    OPENSSL_free(der);
    APR_ARRAY_PUSH(e.certs, ct_blob_t) = b;
    der = NULL;
    len = i2d_X509(ca, &der);
    b.data = apr_pmemdup(p, der, (apr_size_t)len);
    b.len = (apr_size_t)len;
    OPENSSL_free(der);
    APR_ARRAY_PUSH(e.certs, ct_blob_t) = b;
    APR_ARRAY_PUSH(e.scts, ct_blob_t) = th_sct(p, logkey, leaf, NULL, 1700000000000ULL, NULL, 0);
    ct_audit_encode(&one, &e, p);
    fuzz_seed("one-entry", -1, one.data, one.len);
    e.key = "backend.example.org:8443";
    apr_array_pop(e.certs);
    ct_audit_encode(&two, &e, p);
    {
        unsigned char *both = apr_palloc(p, one.len + two.len);
        memcpy(both, one.data, one.len);
        memcpy(both + one.len, two.data, two.len);
        fuzz_seed("two-entries", -1, both, one.len + two.len);
        fuzz_seed("truncated", -1, both, one.len + two.len - 5);
    }
    _exit(0);
}

static void check_entries_equal(const apr_array_header_t *a, const apr_array_header_t *b)
{
    int i, k;

    FUZZ_ASSERT(a->nelts == b->nelts);
    for (i = 0; i < a->nelts; ++i) {
        const ct_audit_entry_t *x = &APR_ARRAY_IDX(a, i, ct_audit_entry_t);
        const ct_audit_entry_t *y = &APR_ARRAY_IDX(b, i, ct_audit_entry_t);
        FUZZ_ASSERT(!strcmp(x->key, y->key));
        FUZZ_ASSERT(x->certs->nelts == y->certs->nelts && x->scts->nelts == y->scts->nelts);
        for (k = 0; k < x->certs->nelts; ++k) {
            const ct_blob_t *c = &APR_ARRAY_IDX(x->certs, k, ct_blob_t);
            const ct_blob_t *d = &APR_ARRAY_IDX(y->certs, k, ct_blob_t);
            FUZZ_ASSERT(c->len == d->len && !memcmp(c->data, d->data, c->len));
        }
        for (k = 0; k < x->scts->nelts; ++k) {
            const ct_blob_t *c = &APR_ARRAY_IDX(x->scts, k, ct_blob_t);
            const ct_blob_t *d = &APR_ARRAY_IDX(y->scts, k, ct_blob_t);
            FUZZ_ASSERT(c->len == d->len && !memcmp(c->data, d->data, c->len));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_array_header_t *entries, *again;
    apr_size_t good = 0, pos = 0, again_good = 0;
    unsigned char *buf;
    apr_status_t rv;
    apr_pool_t *p;
    int i, k;

    if (!initialised) {
        fuzz_init_begin();
        initialised = 1;
        if (fuzz_seeds_wanted()) write_seeds(fuzz_root());
        fuzz_init_end();
    }
    p = fuzz_run_pool();
    rv = ct_audit_decode(&entries, &good, data, size, p);
    FUZZ_ASSERT(good <= size);
    if (rv == APR_SUCCESS) FUZZ_ASSERT(good == size);
    else FUZZ_ASSERT(rv == APR_INCOMPLETE || rv == APR_EINVAL);
    /* re-encoded, the entries take as many bytes as the good part (a writer puts an entry's
     * certificates before its SCTs; a reader also takes them mixed) and read back the same */
    buf = apr_palloc(p, good + 1);
    for (i = 0; i < entries->nelts; ++i) {
        const ct_audit_entry_t *e = &APR_ARRAY_IDX(entries, i, ct_audit_entry_t);
        ct_blob_t enc;
        for (k = 0; k < e->certs->nelts; ++k) {
            const ct_blob_t *b = &APR_ARRAY_IDX(e->certs, k, ct_blob_t);
            FUZZ_ASSERT(b->data >= data && b->data + b->len <= data + size);
        }
        for (k = 0; k < e->scts->nelts; ++k) {
            const ct_blob_t *b = &APR_ARRAY_IDX(e->scts, k, ct_blob_t);
            FUZZ_ASSERT(b->data >= data && b->data + b->len <= data + size);
        }
        FUZZ_ASSERT(ct_audit_encode(&enc, e, p) == APR_SUCCESS);
        FUZZ_ASSERT(pos + enc.len <= good);
        memcpy(buf + pos, enc.data, enc.len);
        pos += enc.len;
    }
    FUZZ_ASSERT(pos == good);
    FUZZ_ASSERT(ct_audit_decode(&again, &again_good, buf, pos, p) == APR_SUCCESS);
    FUZZ_ASSERT(again_good == pos);
    check_entries_equal(entries, again);
    /* and the good part alone reads cleanly */
    FUZZ_ASSERT(ct_audit_decode(&again, &again_good, data, good, p) == APR_SUCCESS);
    check_entries_equal(entries, again);
    fuzz_run_end(p);
    return 0;
}
