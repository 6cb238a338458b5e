/* Unit tests of md_jws: JWK, thumbprint, signatures that OpenSSL verifies, EAB HMAC. */
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>
#include "md_unit.h"
#include "md_crypt.h"
#include "md_jws.h"

static EVP_PKEY *gen(md_pkey_type_t type, unsigned bits, const char *curve)
{
    md_pkey_spec_t spec = { type, bits, curve };
    EVP_PKEY *k = NULL;
    ck_assert_int_eq(md_pkey_gen(&k, &spec, pool), APR_SUCCESS);
    return k;
}

static const char *b64dec(const char *s, long *plen)
{
    unsigned char *d;
    *plen = md_util_base64url_decode(pool, s, &d);
    ck_assert_int_ge(*plen, 0);
    return (const char *)d;
}

/* Verify a flattened JWS with OpenSSL, independently of md_jws's signing code. */
static json_t *verify(const char *jws, EVP_PKEY *key, int ec_width)
{
    json_t *j = json_loads(jws, 0, NULL), *prot;
    const char *p64 = json_string_value(json_object_get(j, "protected"));
    const char *pl64 = json_string_value(json_object_get(j, "payload"));
    const char *sig64 = json_string_value(json_object_get(j, "signature"));
    const char *input = apr_pstrcat(pool, p64, ".", pl64, NULL), *sig, *ptext;
    long siglen, plen;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    int derlen = 0;

    ck_assert_ptr_nonnull(j);
    sig = b64dec(sig64, &siglen);
    if (ec_width) {
        ECDSA_SIG *es = ECDSA_SIG_new();
        ck_assert_int_eq(siglen, 2 * ec_width);
        ECDSA_SIG_set0(es, BN_bin2bn((const unsigned char *)sig, ec_width, NULL),
                       BN_bin2bn((const unsigned char *)sig + ec_width, ec_width, NULL));
        derlen = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        sig = (const char *)der;
        siglen = derlen;
    }
    ck_assert_int_eq(EVP_DigestVerifyInit(ctx, NULL, ec_width == 48 ? EVP_sha384() : EVP_sha256(), NULL, key), 1);
    ck_assert_int_eq(EVP_DigestVerify(ctx, (const unsigned char *)sig, (size_t)siglen,
                                      (const unsigned char *)input, strlen(input)), 1);
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    ptext = b64dec(p64, &plen);
    prot = json_loadb(ptext, (size_t)plen, 0, NULL);
    ck_assert_ptr_nonnull(prot);
    json_decref(j);
    return prot;
}

START_TEST(rsa_sign_with_jwk)
{
    EVP_PKEY *k = gen(MD_PKEY_RSA, 2048, NULL);
    const char *jws, *err = NULL;
    json_t *prot;

    ck_assert_int_eq(md_jws_sign(&jws, k, NULL, "nonce1", "https://ca/new-acct", "{\"a\":1}",
                                 pool, &err), APR_SUCCESS);
    prot = verify(jws, k, 0);
    ck_assert_str_eq(json_string_value(json_object_get(prot, "alg")), "RS256");
    ck_assert_str_eq(json_string_value(json_object_get(prot, "nonce")), "nonce1");
    ck_assert_str_eq(json_string_value(json_object_get(prot, "url")), "https://ca/new-acct");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(prot, "jwk"), "kty")), "RSA");
    ck_assert_ptr_null(json_object_get(prot, "kid"));
    json_decref(prot);
}
END_TEST

START_TEST(ec_sign_with_kid_and_post_as_get)
{
    EVP_PKEY *k256 = gen(MD_PKEY_EC, 0, "secp256r1"), *k384 = gen(MD_PKEY_EC, 0, "secp384r1");
    const char *jws, *err = NULL;
    json_t *prot, *j;

    ck_assert_int_eq(md_jws_sign(&jws, k256, "https://ca/acct/1", "n", "https://ca/order", "",
                                 pool, &err), APR_SUCCESS);
    prot = verify(jws, k256, 32);
    ck_assert_str_eq(json_string_value(json_object_get(prot, "alg")), "ES256");
    ck_assert_str_eq(json_string_value(json_object_get(prot, "kid")), "https://ca/acct/1");
    ck_assert_ptr_null(json_object_get(prot, "jwk"));
    json_decref(prot);
    j = json_loads(jws, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(j, "payload")), "");   /* POST-as-GET */
    json_decref(j);
    ck_assert_int_eq(md_jws_sign(&jws, k384, "kid", "n", "u", "{}", pool, &err), APR_SUCCESS);
    prot = verify(jws, k384, 48);
    ck_assert_str_eq(json_string_value(json_object_get(prot, "alg")), "ES384");
    json_decref(prot);
}
END_TEST

START_TEST(jwk_and_thumbprint)
{
    EVP_PKEY *k = gen(MD_PKEY_EC, 0, "secp256r1");
    json_t *jwk = md_jws_jwk(k);
    char *canon;
    unsigned char h[32];
    unsigned int hl = 0;
    long xl;

    ck_assert_str_eq(json_string_value(json_object_get(jwk, "crv")), "P-256");
    b64dec(json_string_value(json_object_get(jwk, "x")), &xl);
    ck_assert_int_eq(xl, 32);
    /* RFC 7638: SHA-256 of the required members, sorted, no white space */
    canon = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_ptr_nonnull(strstr(canon, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\""));
    EVP_Digest(canon, strlen(canon), h, &hl, EVP_sha256(), NULL);
    ck_assert_str_eq(md_jws_thumbprint(k, pool), md_util_base64url_encode(pool, h, hl));
    free(canon);
    json_decref(jwk);
}
END_TEST

START_TEST(eab_is_hs256_over_the_account_jwk)
{
    EVP_PKEY *k = gen(MD_PKEY_EC, 0, "secp256r1");
    static const unsigned char mac_key[] = "0123456789abcdef0123456789abcdef";
    json_t *eab = md_jws_eab(k, "kid-1", mac_key, 32, "https://ca/new-acct", pool), *prot, *pl, *jwk;
    const char *p64 = json_string_value(json_object_get(eab, "protected"));
    const char *pl64 = json_string_value(json_object_get(eab, "payload"));
    const char *input = apr_pstrcat(pool, p64, ".", pl64, NULL), *text;
    unsigned char mac[32];
    unsigned int ml = 0;
    long len;

    ck_assert_ptr_nonnull(eab);
    HMAC(EVP_sha256(), mac_key, 32, (const unsigned char *)input, strlen(input), mac, &ml);
    ck_assert_str_eq(json_string_value(json_object_get(eab, "signature")),
                     md_util_base64url_encode(pool, mac, ml));
    text = b64dec(p64, &len);
    prot = json_loadb(text, (size_t)len, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(prot, "alg")), "HS256");
    ck_assert_str_eq(json_string_value(json_object_get(prot, "kid")), "kid-1");
    ck_assert_str_eq(json_string_value(json_object_get(prot, "url")), "https://ca/new-acct");
    text = b64dec(pl64, &len);
    pl = json_loadb(text, (size_t)len, 0, NULL);
    jwk = md_jws_jwk(k);
    ck_assert(json_equal(pl, jwk));
    json_decref(prot);
    json_decref(pl);
    json_decref(jwk);
    json_decref(eab);
}
END_TEST

/* found by fuzz/fuzz_md_jws: a Replay-Nonce that is no UTF-8 was left out of the signed
 * header (the request went out without a nonce), a kid that is none crashed the EAB */
START_TEST(values_that_are_no_text_are_refused)
{
    EVP_PKEY *k = gen(MD_PKEY_EC, 0, "secp256r1");
    static const unsigned char mac_key[] = "0123456789abcdef0123456789abcdef";
    const char *jws = NULL, *err = NULL;

    ck_assert_int_eq(md_jws_sign(&jws, k, "https://ca/acct/1", "n\xff", "https://ca/order", "{}",
                                 pool, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "Replay-Nonce"));
    ck_assert_int_eq(md_jws_sign(&jws, k, "https://ca/acct/\xc3", "n", "https://ca/order", "{}",
                                 pool, &err), APR_EINVAL);
    ck_assert_int_eq(md_jws_sign(&jws, k, NULL, "n", "https://ca/\xfe", "{}", pool, &err), APR_EINVAL);
    ck_assert_ptr_null(md_jws_eab(k, "kid-\xff", mac_key, 32, "https://ca/new-acct", pool));
}
END_TEST

static Suite *jws_suite(void)
{
    Suite *s = suite_create("md_jws");
    TCase *tc = tcase_create("jws");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_add_test(tc, rsa_sign_with_jwk);
    tcase_add_test(tc, ec_sign_with_kid_and_post_as_get);
    tcase_add_test(tc, jwk_and_thumbprint);
    tcase_add_test(tc, eab_is_hs256_over_the_account_jwk);
    tcase_add_test(tc, values_that_are_no_text_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(jws_suite)
