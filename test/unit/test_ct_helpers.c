/* test_ct_helpers.c: see ct_helpers.h. SCTs are signed here the way RFC 6962 3.2 says, so
 * that the unit under test (which verifies through OpenSSL) is checked against an
 * independent producer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/ec.h>

#include "ct_helpers.h"

EVP_PKEY *th_ec_key(void)
{
    return EVP_EC_gen("P-256");
}

X509 *th_cert(EVP_PKEY *key, EVP_PKEY *signer_key, X509 *issuer, const char *cn, int is_ca)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    X509V3_CTX v3;
    X509_EXTENSION *ext;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 30);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509_NAME_free(name);
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
                              is_ca ? "critical,CA:TRUE" : "CA:FALSE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    X509_sign(x, signer_key, EVP_sha256());
    return x;
}

static void put(unsigned char **pp, apr_uint64_t v, int n)
{
    while (n-- > 0) *(*pp)++ = (unsigned char)(v >> (8 * n));
}

ct_blob_t th_sct(apr_pool_t *p, EVP_PKEY *logkey, X509 *cert, X509 *issuer,
                 apr_uint64_t ts, const unsigned char *ext, apr_size_t extlen)
{
    unsigned char *der = NULL, *spki = NULL, *tbs, *q, *sig, *out, id[32], ikh[32];
    size_t siglen = 0;
    int len, slen;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ct_blob_t b;

    if (issuer) {
        X509 *dup = X509_dup(cert);
        int idx;
        while ((idx = X509_get_ext_by_NID(dup, NID_ct_precert_scts, -1)) >= 0)
            X509_EXTENSION_free(X509_delete_ext(dup, idx));
        len = i2d_re_X509_tbs(dup, &der);
        X509_free(dup);
        slen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(issuer), &spki);
        EVP_Digest(spki, (size_t)slen, ikh, NULL, EVP_sha256(), NULL);
        OPENSSL_free(spki);
    }
    else {
        len = i2d_X509(cert, &der);
    }
    tbs = q = apr_palloc(p, 64 + (size_t)len + extlen);
    put(&q, 0, 1);                  /* version */
    put(&q, 0, 1);                  /* certificate_timestamp */
    put(&q, ts, 8);
    put(&q, issuer ? 1 : 0, 2);
    if (issuer) { memcpy(q, ikh, 32); q += 32; }
    put(&q, (apr_uint64_t)len, 3);
    memcpy(q, der, (size_t)len); q += len;
    put(&q, extlen, 2);
    if (extlen) { memcpy(q, ext, extlen); q += extlen; }
    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, logkey);
    EVP_DigestSign(md, NULL, &siglen, tbs, (size_t)(q - tbs));
    sig = apr_palloc(p, siglen);
    EVP_DigestSign(md, sig, &siglen, tbs, (size_t)(q - tbs));
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);

    der = NULL;
    len = i2d_PUBKEY(logkey, &der);
    EVP_Digest(der, (size_t)len, id, NULL, EVP_sha256(), NULL);
    OPENSSL_free(der);
    out = q = apr_palloc(p, 64 + extlen + siglen);
    put(&q, 0, 1);
    memcpy(q, id, 32); q += 32;
    put(&q, ts, 8);
    put(&q, extlen, 2);
    if (extlen) { memcpy(q, ext, extlen); q += extlen; }
    put(&q, 4, 1);                  /* sha256 */
    put(&q, 3, 1);                  /* ecdsa */
    put(&q, siglen, 2);
    memcpy(q, sig, siglen); q += siglen;
    b.data = out;
    b.len = (apr_size_t)(q - out);
    return b;
}

void th_embed(X509 *cert, EVP_PKEY *signkey, const ct_blob_t *list)
{
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    unsigned char *der = NULL;
    int len;

    ASN1_OCTET_STRING_set(os, list->data, (int)list->len);
    len = i2d_ASN1_OCTET_STRING(os, &der);
    ASN1_OCTET_STRING_free(os);
    os = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(os, der, len);
    {
        X509_EXTENSION *ext = X509_EXTENSION_create_by_NID(NULL, NID_ct_precert_scts, 0, os);
        X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ASN1_OCTET_STRING_free(os);
    OPENSSL_free(der);
    X509_sign(cert, signkey, EVP_sha256());
}

const char *th_write_pubkey(apr_pool_t *p, EVP_PKEY *key, const char *dir, const char *name)
{
    const char *path = apr_pstrcat(p, dir, "/", name, NULL);
    FILE *f = fopen(path, "w");
    PEM_write_PUBKEY(f, key);
    fclose(f);
    return path;
}

const char *th_tmpdir(apr_pool_t *p)
{
    char *d = apr_pstrdup(p, "/tmp/ctunit-XXXXXX");
    return mkdtemp(d);
}

void th_write(const char *path, const void *data, apr_size_t len)
{
    FILE *f = fopen(path, "wb");
    if (len) fwrite(data, 1, len, f);
    fclose(f);
}

int th_run(const char *suite_name, void (*setup)(void), void (*teardown)(void),
           const TTest *const *tests)
{
    Suite *s;
    TCase *tc;
    SRunner *sr;
    int failed;

    apr_initialize();
    s = suite_create(suite_name);
    tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    for (; *tests; ++tests) tcase_add_test(tc, *tests);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
