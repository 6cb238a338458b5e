/* Unit tests of md_crypt: key generation, encrypted PKCS#8, self-signed certs, facts. */
#include <string.h>
#include "md_unit.h"
#include "md_crypt.h"

static apr_array_header_t *names(const char *a, const char *b)
{
    apr_array_header_t *n = apr_array_make(pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(n, const char *) = a;
    if (b) APR_ARRAY_PUSH(n, const char *) = b;
    return n;
}

START_TEST(keygen_types)
{
    md_pkey_spec_t rsa = { MD_PKEY_RSA, 2048, NULL }, ec = { MD_PKEY_EC, 0, "secp384r1" };
    md_pkey_spec_t p256 = { MD_PKEY_EC, 0, "secp256r1" };
    EVP_PKEY *k;
    ck_assert_int_eq(md_pkey_gen(&k, &rsa, pool), APR_SUCCESS);
    ck_assert_int_eq(EVP_PKEY_get_bits(k), 2048);
    ck_assert(EVP_PKEY_is_a(k, "RSA"));
    ck_assert_int_eq(md_pkey_gen(&k, &ec, pool), APR_SUCCESS);
    ck_assert_int_eq(EVP_PKEY_get_bits(k), 384);
    ck_assert_int_eq(md_pkey_gen(&k, &p256, pool), APR_SUCCESS);
    ck_assert_int_eq(EVP_PKEY_get_bits(k), 256);
}
END_TEST

START_TEST(encrypted_pkcs8_roundtrip)
{
    md_pkey_spec_t ec = { MD_PKEY_EC, 0, "secp256r1" };
    unsigned char pass[48];
    const char *pem;
    EVP_PKEY *k, *back;

    memset(pass, 0x5a, sizeof(pass));
    pass[10] = 0;        /* raw bytes, not a C string */
    ck_assert_int_eq(md_pkey_gen(&k, &ec, pool), APR_SUCCESS);
    ck_assert_int_eq(md_pkey_to_pem(&pem, k, pass, sizeof(pass), pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(pem, "BEGIN ENCRYPTED PRIVATE KEY"));
    ck_assert_int_eq(md_pkey_from_pem(&back, pem, strlen(pem), pass, sizeof(pass), pool), APR_SUCCESS);
    ck_assert(EVP_PKEY_eq(k, back) == 1);
    pass[0] ^= 1;
    ck_assert_int_ne(md_pkey_from_pem(&back, pem, strlen(pem), pass, sizeof(pass), pool), APR_SUCCESS);
    ck_assert_int_ne(md_pkey_from_pem(&back, pem, strlen(pem) / 2, NULL, 0, pool), APR_SUCCESS);
    ck_assert_int_eq(md_pkey_to_pem(&pem, k, NULL, 0, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(pem, "BEGIN PRIVATE KEY"));
}
END_TEST

START_TEST(self_signed_facts)
{
    md_pkey_spec_t ec = { MD_PKEY_EC, 0, "secp256r1" };
    EVP_PKEY *k, *other;
    X509 *x;
    apr_array_header_t *chain;
    const char *pem;
    apr_time_t now = apr_time_now();

    ck_assert_int_eq(md_pkey_gen(&k, &ec, pool), APR_SUCCESS);
    ck_assert_int_eq(md_pkey_gen(&other, &ec, pool), APR_SUCCESS);
    ck_assert_int_eq(md_cert_self_sign(&x, "a.example.org", names("a.example.org", "b.example.org"),
                                       k, apr_time_from_sec(14 * 86400), pool), APR_SUCCESS);
    ck_assert(md_cert_matches_key(x, k));
    ck_assert(!md_cert_matches_key(x, other));
    ck_assert(md_cert_covers_domains(x, names("a.example.org", "b.example.org")));
    ck_assert(!md_cert_covers_domains(x, names("a.example.org", "c.example.org")));
    ck_assert(md_cert_not_after(x) > now + apr_time_from_sec(13 * 86400));
    ck_assert(md_cert_not_before(x) <= now);
    ck_assert_int_eq(strlen(md_cert_sha256_hex(x, pool)), 64);
    ck_assert_int_gt(strlen(md_cert_serial_hex(x, pool)), 0);
    ck_assert_str_eq(md_cert_issuer_name(x, pool), "/O=Apache Managed Domain Fallback/CN=a.example.org");
    chain = apr_array_make(pool, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(chain, X509 *) = x;
    pem = md_chain_to_pem(chain, pool);
    ck_assert_int_eq(md_chain_from_pem(&chain, pem, strlen(pem), pool), APR_SUCCESS);
    ck_assert_int_eq(chain->nelts, 1);
    ck_assert_str_eq(md_cert_sha256_hex(APR_ARRAY_IDX(chain, 0, X509 *), pool), md_cert_sha256_hex(x, pool));
    ck_assert_int_eq(md_chain_from_pem(&chain, "garbage", 7, pool), APR_ENOENT);
    ck_assert_int_eq(md_chain_from_pem(&chain, pem, strlen(pem) - 40, pool), APR_ENOENT);
}
END_TEST

START_TEST(ari_id_and_key_type)
{
    md_pkey_spec_t ec = { MD_PKEY_EC, 0, "secp384r1" };
    EVP_PKEY *k;
    X509 *x;
    ck_assert_int_eq(md_pkey_gen(&k, &ec, pool), APR_SUCCESS);
    ck_assert_int_eq(md_cert_self_sign(&x, "a.example.org", names("a.example.org", NULL), k,
                                       apr_time_from_sec(86400), pool), APR_SUCCESS);
    ck_assert_str_eq(md_cert_key_type(x, pool), "secp384r1");
    ck_assert_ptr_null(md_cert_issuer_uri(x, pool));
    /* self-signed without AKI: no ARI id */
    ck_assert_ptr_null(md_cert_ari_id(x, pool));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("md_crypt");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, keygen_types);
    tcase_add_test(tc, encrypted_pkcs8_roundtrip);
    tcase_add_test(tc, self_signed_facts);
    tcase_add_test(tc, ari_id_and_key_type);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(suite)
