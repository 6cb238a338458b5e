/* fuzz_ct_sct: the SCT codec and the SCT verifier of the ct core (ct_sct.c, ct_log.c).
 *
 * The first byte chooses the surface, the rest is its input:
 *   0  one TLS-encoded SCT (ct_sct_parse): what it accepts OpenSSL re-encodes to the same
 *      bytes, and it accepts neither a byte more nor a byte less;
 *   1  an SCT list (ct_sct_list_split): encoding the split list gives the input back, and
 *      a byte of trailing garbage is refused;
 *   2  tampering: a real SCT by a known log (key made at start) over a real certificate,
 *      with extensions from the input, must verify; after the input's byte edits
 *      (offset u16, xor u8, ...) it must not verify unless the bytes are unchanged.
 */
#include <unistd.h>
#include <openssl/ct.h>

#include "fuzz.h"
#include "ct_sct.h"
#include "ct_log.h"
#if __has_include("ct_sct_verify.h")
#include "ct_sct_verify.h"        /* where newer trees keep ct_sct_verify_blob() */
#endif
#include "ct_helpers.h"

static EVP_PKEY *log_key;
static X509 *leaf;
static ct_logs_t *logs;
/* a fixed "now" after the SCT timestamps, so runs are reproducible */
#define NOW_MS 1800000000000ULL
#define SCT_TS 1700000000000ULL

static void write_seeds(apr_pool_t *p)
{
    static const unsigned char ext[] = { 0x01, 0x02, 0x03 };
    static const unsigned char tamper[] = { 3, 1, 2, 3, 0x00, 0x10, 0x01, 0x00, 0x40, 0x80 };
    ct_blob_t a = th_sct(p, log_key, leaf, NULL, SCT_TS, NULL, 0);
    ct_blob_t b = th_sct(p, log_key, leaf, NULL, SCT_TS + 1, ext, sizeof(ext));
    apr_array_header_t *two = apr_array_make(p, 2, sizeof(ct_blob_t));
    ct_blob_t list;

    fuzz_seed("sct", 0, a.data, a.len);
    fuzz_seed("sct-ext", 0, b.data, b.len);
    APR_ARRAY_PUSH(two, ct_blob_t) = a;
    APR_ARRAY_PUSH(two, ct_blob_t) = b;
    ct_sct_list_encode(&list, two, -1, NULL, p);
    fuzz_seed("list", 1, list.data, list.len);
    fuzz_seed("tamper", 2, tamper, sizeof(tamper));
    fuzz_seed("tamper-none", 2, tamper, 4);
    _exit(0);
}

static void init(void)
{
    apr_pool_t *p = fuzz_root();
    apr_array_header_t *rows = apr_array_make(p, 1, sizeof(ct_log_t *));
    const char *fields[6] = { "-", NULL, "0", "-", "-", "-" }, *err = NULL, *warn = NULL;
    EVP_PKEY *leaf_key;
    ct_log_t *row;

    log_key = th_ec_key();
    leaf_key = th_ec_key();
    leaf = th_cert(leaf_key, leaf_key, NULL, "fuzz.example.org", 0);
    EVP_PKEY_free(leaf_key);
    fields[1] = th_write_pubkey(p, log_key, fuzz_tmpdir(), "log.pem");
    if (ct_log_from_fields(&row, fields, "/", p, &err) != APR_SUCCESS) {
        fprintf(stderr, "log row: %s\n", err);
        abort();
    }
    APR_ARRAY_PUSH(rows, ct_log_t *) = row;
    if (ct_logs_make(&logs, rows, NULL, fuzz_tmpdir(), p, &warn) != APR_SUCCESS) abort();
    if (fuzz_seeds_wanted()) write_seeds(p);
}

static void check_one(const uint8_t *d, size_t n, apr_pool_t *p)
{
    ct_sct_info_t info;
    unsigned char *longer, *enc = NULL;
    const unsigned char *q = d;
    SCT *sct;
    int len;

    if (ct_sct_parse(&info, d, n) != APR_SUCCESS) return;
    sct = o2i_SCT(NULL, &q, (long)n);
    FUZZ_ASSERT(sct != NULL && q == d + n);
    len = i2o_SCT(sct, &enc);
    FUZZ_ASSERT(len == (int)n && !memcmp(enc, d, n));
    FUZZ_ASSERT(SCT_get_timestamp(sct) == info.timestamp);
    OPENSSL_free(enc);
    SCT_free(sct);
    longer = apr_palloc(p, n + 1);
    memcpy(longer, d, n);
    longer[n] = 0;
    FUZZ_ASSERT(ct_sct_parse(NULL, longer, n + 1) != APR_SUCCESS);
    FUZZ_ASSERT(ct_sct_parse(NULL, d, n - 1) != APR_SUCCESS);
}

static void check_list(const uint8_t *d, size_t n, apr_pool_t *p)
{
    apr_array_header_t *scts;
    unsigned char *longer;
    ct_blob_t out;
    int count = 0, i;

    if (ct_sct_list_split(&scts, d, n, p) != APR_SUCCESS) return;
    for (i = 0; i < scts->nelts; ++i) {
        const ct_blob_t *b = &APR_ARRAY_IDX(scts, i, ct_blob_t);
        FUZZ_ASSERT(b->data >= d && b->data + b->len <= d + n);
        FUZZ_ASSERT(ct_sct_parse(NULL, b->data, b->len) == APR_SUCCESS);
    }
    if (ct_sct_list_encode(&out, scts, -1, &count, p) == APR_SUCCESS) {
        FUZZ_ASSERT(count == scts->nelts);
        FUZZ_ASSERT(out.len == n && !memcmp(out.data, d, n));
    }
    else FUZZ_ASSERT(scts->nelts == 0);
    longer = apr_palloc(p, n + 1);
    memcpy(longer, d, n);
    longer[n] = 0x00;
    FUZZ_ASSERT(ct_sct_list_split(&scts, longer, n + 1, p) != APR_SUCCESS);
}

static void check_tamper(const uint8_t *d, size_t n, apr_pool_t *p)
{
    apr_size_t extlen = n ? d[0] % 16 : 0, i;
    ct_blob_t sct, bad;
    unsigned char *b;

    if (n < 1 + extlen) return;
    sct = th_sct(p, log_key, leaf, NULL, SCT_TS, d + 1, extlen);
    FUZZ_ASSERT(ct_sct_verify_blob(&sct, SCT_SOURCE_TLS_EXTENSION, leaf, NULL, logs, NOW_MS)
                == CT_SCT_VALID);
    b = apr_pmemdup(p, sct.data, sct.len);
    for (i = 1 + extlen; i + 3 <= n; i += 3) {
        apr_size_t off = (((apr_size_t)d[i] << 8) | d[i + 1]) % sct.len;
        b[off] ^= d[i + 2];
    }
    bad.data = b;
    bad.len = sct.len;
    if (ct_sct_verify_blob(&bad, SCT_SOURCE_TLS_EXTENSION, leaf, NULL, logs, NOW_MS) == CT_SCT_VALID)
        FUZZ_ASSERT(!memcmp(b, sct.data, sct.len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;

    if (!logs) {
        fuzz_init_begin();
        init();
        fuzz_init_end();
    }
    if (size < 1) return 0;
    p = fuzz_run_pool();
    switch (data[0] % 3) {
    case 0: if (size > 1) check_one(data + 1, size - 1, p); break;
    case 1: check_list(data + 1, size - 1, p); break;
    default: check_tamper(data + 1, size - 1, p); break;
    }
    fuzz_run_end(p);
    return 0;
}
