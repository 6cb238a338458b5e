/* Unit tests of md_acme_order's certificates: the CSR and the tls-alpn-01 answer. */
#include <string.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include "md_unit.h"
#include "md_crypt.h"
#include "md_acme_order.h"

START_TEST(csr_has_all_names_and_must_staple)
{
    md_t *md = unit_md("a.example.org www.a.example.org *.b.example.org");
    md_pkey_spec_t spec = { MD_PKEY_EC, 0, "secp256r1" };
    EVP_PKEY *k;
    unsigned char *der;
    const unsigned char *q;
    apr_size_t len;
    X509_REQ *req;
    STACK_OF(X509_EXTENSION) *exts;
    GENERAL_NAMES *gens;
    int i, staple = 0;

    ck_assert_int_eq(md_pkey_gen(&k, &spec, pool), APR_SUCCESS);
    md->must_staple = 1;
    ck_assert_int_eq(md_acme_csr_der(&der, &len, md, k, pool), APR_SUCCESS);
    q = der;
    req = d2i_X509_REQ(NULL, &q, (long)len);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(X509_REQ_verify(req, k), 1);
    exts = X509_REQ_get_extensions(req);
    gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    ck_assert_int_eq(sk_GENERAL_NAME_num(gens), 3);
    for (i = 0; i < 3; ++i) {
        ASN1_IA5STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, i), NULL);
        ck_assert_str_eq((const char *)ASN1_STRING_get0_data(s), APR_ARRAY_IDX(md->domains, i, const char *));
    }
    for (i = 0; i < sk_X509_EXTENSION_num(exts); ++i)
        if (OBJ_obj2nid(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i))) == NID_tlsfeature) staple = 1;
    ck_assert(staple);
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
}
END_TEST

START_TEST(tls_alpn01_certificate)
{
    const char *cpem, *kpem, *ka = "token.thumbprint";
    apr_array_header_t *chain;
    X509 *x;
    EVP_PKEY *k;
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    X509_EXTENSION *ext;
    const ASN1_OCTET_STRING *v;
    unsigned char h[32];
    unsigned int hl;
    int idx;
    apr_array_header_t *names = apr_array_make(pool, 1, sizeof(const char *));

    /* the MD's key type: RSA by default (a client accepting only RSA signatures is answered) */
    md_pkey_spec_t rsa = { MD_PKEY_DEFAULT, 0, NULL }, ec = { MD_PKEY_EC, 0, "P-384" };

    ck_assert_int_eq(md_acme_tls_alpn01_cert(&cpem, &kpem, "a.example.org", ka, &ec, pool), APR_SUCCESS);
    ck_assert_int_eq(md_pkey_from_pem(&k, kpem, strlen(kpem), NULL, 0, pool), APR_SUCCESS);
    ck_assert(EVP_PKEY_is_a(k, "EC"));
    ck_assert_int_eq(md_acme_tls_alpn01_cert(&cpem, &kpem, "a.example.org", ka, &rsa, pool), APR_SUCCESS);
    ck_assert_int_eq(md_chain_from_pem(&chain, cpem, strlen(cpem), pool), APR_SUCCESS);
    ck_assert_int_eq(md_pkey_from_pem(&k, kpem, strlen(kpem), NULL, 0, pool), APR_SUCCESS);
    x = APR_ARRAY_IDX(chain, 0, X509 *);
    ck_assert(md_cert_matches_key(x, k));
    ck_assert(EVP_PKEY_is_a(k, "RSA"));
    APR_ARRAY_PUSH(names, const char *) = "a.example.org";
    ck_assert(md_cert_covers_domains(x, names));
    idx = X509_get_ext_by_OBJ(x, oid, -1);
    ck_assert_int_ge(idx, 0);
    ext = X509_get_ext(x, idx);
    ck_assert(X509_EXTENSION_get_critical(ext));
    v = X509_EXTENSION_get_data(ext);
    EVP_Digest(ka, strlen(ka), h, &hl, EVP_sha256(), NULL);
    ck_assert_int_eq(ASN1_STRING_length(v), 34);
    ck_assert_int_eq(ASN1_STRING_get0_data(v)[0], 0x04);
    ck_assert(!memcmp(ASN1_STRING_get0_data(v) + 2, h, 32));
    ASN1_OBJECT_free(oid);
}
END_TEST

static Suite *order_suite(void)
{
    Suite *s = suite_create("md_acme_order");
    TCase *tc = tcase_create("certs");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_add_test(tc, csr_has_all_names_and_must_staple);
    tcase_add_test(tc, tls_alpn01_certificate);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(order_suite)
