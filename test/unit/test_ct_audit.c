/* test_ct_audit.c: audit record codec (ct_audit.c), including truncation at every byte. */
#include <check.h>

#include "ct_helpers.h"
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "ct_audit.h"

static apr_pool_t *pool;

static void setup(void) { apr_pool_create(&pool, NULL); }
static void teardown(void) { apr_pool_destroy(pool); }

static ct_audit_entry_t *entry(const char *key, int ncerts, int nscts)
{
    ct_audit_entry_t *e = apr_pcalloc(pool, sizeof(*e));
    int i;

    e->key = key;
    e->certs = apr_array_make(pool, 2, sizeof(ct_blob_t));
    e->scts = apr_array_make(pool, 2, sizeof(ct_blob_t));
    for (i = 0; i < ncerts; ++i) {
        ct_blob_t *b = apr_array_push(e->certs);
        b->len = 300 + (apr_size_t)i;
        b->data = memset(apr_palloc(pool, b->len), 'A' + i, b->len);
    }
    for (i = 0; i < nscts; ++i) {
        ct_blob_t *b = apr_array_push(e->scts);
        b->len = 50 + (apr_size_t)i;
        b->data = memset(apr_palloc(pool, b->len), 'a' + i, b->len);
    }
    return e;
}

START_TEST(roundtrip_and_wire_format)
{
    ct_blob_t b1, b2;
    unsigned char *all;
    apr_array_header_t *out;
    apr_size_t good;
    const ct_audit_entry_t *d;

    ck_assert_int_eq(ct_audit_encode(&b1, entry("k1", 2, 3), pool), APR_SUCCESS);
    ck_assert_int_eq(ct_audit_encode(&b2, entry("key-two", 1, 0), pool), APR_SUCCESS);
    /* u16 1 | u16 2 | u16 2 "k1" | u16 3 u24 300 ... */
    ck_assert_int_eq(b1.data[0], 0); ck_assert_int_eq(b1.data[1], 1);
    ck_assert_int_eq(b1.data[2], 0); ck_assert_int_eq(b1.data[3], 2);
    ck_assert_int_eq(b1.data[4], 0); ck_assert_int_eq(b1.data[5], 2);
    ck_assert(!memcmp(b1.data + 6, "k1", 2));
    ck_assert_int_eq(b1.data[9], 3);
    ck_assert_int_eq(b1.data[10], 0); ck_assert_int_eq(b1.data[11], 1);
    ck_assert_int_eq(b1.data[12], 44);
    all = apr_palloc(pool, b1.len + b2.len);
    memcpy(all, b1.data, b1.len);
    memcpy(all + b1.len, b2.data, b2.len);
    ck_assert_int_eq(ct_audit_decode(&out, &good, all, b1.len + b2.len, pool), APR_SUCCESS);
    ck_assert_int_eq(out->nelts, 2);
    d = &APR_ARRAY_IDX(out, 0, ct_audit_entry_t);
    ck_assert_str_eq(d->key, "k1");
    ck_assert_int_eq(d->certs->nelts, 2);
    ck_assert_int_eq(d->scts->nelts, 3);
    ck_assert_uint_eq(APR_ARRAY_IDX(d->certs, 1, ct_blob_t).len, 301);
    ck_assert_int_eq(APR_ARRAY_IDX(d->scts, 2, ct_blob_t).data[0], 'c');
    d = &APR_ARRAY_IDX(out, 1, ct_audit_entry_t);
    ck_assert_str_eq(d->key, "key-two");
    ck_assert_int_eq(d->scts->nelts, 0);
}
END_TEST

START_TEST(truncated_everywhere)
{
    ct_blob_t b1, b2;
    unsigned char *all;
    apr_size_t n, total, good;
    apr_array_header_t *out;

    ck_assert_int_eq(ct_audit_encode(&b1, entry("first", 1, 2), pool), APR_SUCCESS);
    ck_assert_int_eq(ct_audit_encode(&b2, entry("second", 2, 1), pool), APR_SUCCESS);
    total = b1.len + b2.len;
    for (n = 0; n < total; ++n) {
        apr_status_t rv;
        all = malloc(n ? n : 1);
        memcpy(all, b1.data, n < b1.len ? n : b1.len);
        if (n > b1.len) memcpy(all + b1.len, b2.data, n - b1.len);
        rv = ct_audit_decode(&out, &good, all, n, pool);
        if (n == 0) {
            ck_assert_int_eq(rv, APR_SUCCESS);
            ck_assert_int_eq(out->nelts, 0);
        }
        else if (n <= b1.len) {
            /* a cut at a record boundary keeps what came before; inside a record it drops
             * the entry; a cut right after an SCT record cannot be told from the end */
            ck_assert(rv == APR_INCOMPLETE || rv == APR_SUCCESS);
            ck_assert_int_le(out->nelts, 1);
            ck_assert_uint_le(good, n);
        }
        else if (n == b1.len + 1) {
            /* one byte of a record type: the first entry may lack a record, it goes too */
            ck_assert_int_eq(rv, APR_INCOMPLETE);
            ck_assert_int_eq(out->nelts, 0);
            ck_assert_uint_eq(good, 0);
        }
        else {
            /* the first entry is never lost once it is complete */
            ck_assert_int_ge(out->nelts, 1);
            ck_assert_str_eq(APR_ARRAY_IDX(out, 0, ct_audit_entry_t).key, "first");
            ck_assert_int_eq(APR_ARRAY_IDX(out, 0, ct_audit_entry_t).scts->nelts, 2);
            ck_assert_uint_ge(good, b1.len);
            ck_assert_uint_le(good, n);
        }
        free(all);
    }
}
END_TEST

/* One rule for a cut of any length inside a record: the entry is dropped and the cut is
 * reported. The entry here ends with two SCT records; the data ends 1 or 2 bytes into the
 * last one, or 1 or 2 bytes before its end. */
START_TEST(cut_by_one_or_two_bytes)
{
    ct_blob_t b1, b2;
    apr_size_t last_rec, cuts[4], good;
    apr_array_header_t *out;
    unsigned char *all;
    int i;

    ck_assert_int_eq(ct_audit_encode(&b1, entry("first", 1, 1), pool), APR_SUCCESS);
    ck_assert_int_eq(ct_audit_encode(&b2, entry("second", 1, 2), pool), APR_SUCCESS);
    all = apr_palloc(pool, b1.len + b2.len);
    memcpy(all, b1.data, b1.len);
    memcpy(all + b1.len, b2.data, b2.len);
    last_rec = b1.len + b2.len - (4 + 51);         /* the second entry's last SCT record */
    cuts[0] = last_rec + 1;
    cuts[1] = last_rec + 2;
    cuts[2] = b1.len + b2.len - 1;
    cuts[3] = b1.len + b2.len - 2;
    for (i = 0; i < 4; ++i) {
        ck_assert_int_eq(ct_audit_decode(&out, &good, all, cuts[i], pool), APR_INCOMPLETE);
        ck_assert_msg(out->nelts == 1, "cut at %lu: %d entries", (unsigned long)cuts[i], out->nelts);
        ck_assert_str_eq(APR_ARRAY_IDX(out, 0, ct_audit_entry_t).key, "first");
        ck_assert_uint_eq(good, b1.len);
    }
    /* the same cuts in a file of one entry: nothing is left */
    for (i = 0; i < 4; ++i) {
        ck_assert_int_eq(ct_audit_decode(&out, &good, all + b1.len, cuts[i] - b1.len, pool), APR_INCOMPLETE);
        ck_assert_int_eq(out->nelts, 0);
        ck_assert_uint_eq(good, 0);
    }
}
END_TEST

START_TEST(keys_printed_escaped)
{
    static const char raw[] = "ab\x1b[31m\n\\x\x7f\xc3\0z";
    ck_assert_str_eq(ct_audit_printable(pool, raw, sizeof(raw) - 1),
                     "ab\\x1b[31m\\x0a\\x5cx\\x7f\\xc3\\x00z");
    ck_assert_str_eq(ct_audit_printable(pool, "0123abcdef", 10), "0123abcdef");
    ck_assert_str_eq(ct_audit_printable(pool, "", 0), "");
}
END_TEST

START_TEST(garbage)
{
    const unsigned char junk[] = { 0, 9, 0, 0, 1, 2, 3 };
    const unsigned char nokey[] = { 0, 1, 0, 3, 0, 0, 1, 0 };
    apr_array_header_t *out;
    apr_size_t good;

    ck_assert_int_eq(ct_audit_decode(&out, &good, junk, sizeof(junk), pool), APR_EINVAL);
    ck_assert_int_eq(out->nelts, 0);
    ck_assert_int_eq(ct_audit_decode(&out, &good, nokey, sizeof(nokey), pool), APR_EINVAL);
    ck_assert_int_eq(out->nelts, 0);
}
END_TEST

/* found by fuzz/fuzz_ct_audit: a key with a NUL byte came back cut at the NUL */
START_TEST(key_with_nul_is_garbage)
{
    ct_blob_t b;
    unsigned char *bad;
    apr_array_header_t *out;
    apr_size_t good;

    ck_assert_int_eq(ct_audit_encode(&b, entry("first", 1, 1), pool), APR_SUCCESS);
    bad = apr_palloc(pool, 2 * b.len);
    memcpy(bad, b.data, b.len);
    memcpy(bad + b.len, b.data, b.len);
    bad[b.len + 7] = '\0';                      /* "first" -> "f\0rst" in the second entry */
    ck_assert_int_eq(ct_audit_decode(&out, &good, bad, 2 * b.len, pool), APR_EINVAL);
    ck_assert_int_eq(out->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(out, 0, ct_audit_entry_t).key, "first");
    ck_assert_int_eq(good, b.len);
}
END_TEST

int main(void)
{
    const TTest *tests[] = { roundtrip_and_wire_format, truncated_everywhere, cut_by_one_or_two_bytes,
                             keys_printed_escaped, garbage, key_with_nul_is_garbage, NULL };
    return th_run("ct_audit", setup, teardown, tests);
}
