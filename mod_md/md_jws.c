/* md_jws.c: see md_jws.h. */
#include <string.h>

#include <apr_strings.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>

#include "md_util.h"
#include "md_jws.h"

static const char *b64(apr_pool_t *p, const unsigned char *d, size_t n)
{
    return md_util_base64url_encode(p, d, n);
}

/* A big number as base64url of its minimal big-endian bytes (pad to width if > 0). */
static const char *bn_b64(apr_pool_t *p, const BIGNUM *bn, int width)
{
    int n = BN_num_bytes(bn);
    int len = width > n ? width : n;
    unsigned char *buf = apr_pcalloc(p, (apr_size_t)len + 1);
    BN_bn2binpad(bn, buf, len);
    return b64(p, buf, (size_t)len);
}

static int ec_size(EVP_PKEY *key)
{
    return (EVP_PKEY_get_bits(key) + 7) / 8;
}

json_t *md_jws_jwk(EVP_PKEY *key)
{
    apr_pool_t *p;
    json_t *jwk = NULL;
    BIGNUM *a = NULL, *b = NULL;
    char curve[64];

    apr_pool_create_unmanaged(&p);
    if (EVP_PKEY_is_a(key, "RSA")) {
        if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &a)
            && EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &b))
            jwk = json_pack("{s:s,s:s,s:s}", "e", bn_b64(p, a, 0), "kty", "RSA", "n", bn_b64(p, b, 0));
    }
    else if (EVP_PKEY_is_a(key, "EC")
             && EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve), NULL)) {
        const char *crv = !strcmp(curve, "prime256v1") ? "P-256" : !strcmp(curve, "secp384r1") ? "P-384"
                          : !strcmp(curve, "secp521r1") ? "P-521" : NULL;
        if (crv && EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &a)
            && EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &b))
            jwk = json_pack("{s:s,s:s,s:s,s:s}", "crv", crv, "kty", "EC",
                            "x", bn_b64(p, a, ec_size(key)), "y", bn_b64(p, b, ec_size(key)));
    }
    BN_free(a);
    BN_free(b);
    apr_pool_destroy(p);
    return jwk;
}

const char *md_jws_thumbprint(EVP_PKEY *key, apr_pool_t *p)
{
    json_t *jwk = md_jws_jwk(key);
    char *s;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const char *r = NULL;

    if (!jwk) return NULL;
    s = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(jwk);
    if (s && EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL)) r = b64(p, md, mdlen);
    free(s);
    return r;
}

static const char *dump(json_t *j, apr_pool_t *p)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    const char *r = s ? apr_pstrdup(p, s) : NULL;
    free(s);
    return r;
}

/* Sign data; EC signatures are turned from DER into the fixed-width r||s of JWS. */
static apr_status_t sign(const char **psig, EVP_PKEY *key, const char *data, apr_pool_t *p)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const EVP_MD *md = EVP_sha256();
    unsigned char *sig = NULL;
    size_t siglen = 0;
    apr_status_t rv = APR_EGENERAL;
    int is_ec = EVP_PKEY_is_a(key, "EC");

    if (is_ec && ec_size(key) == 48) md = EVP_sha384();
    else if (is_ec && ec_size(key) == 66) md = EVP_sha512();
    if (!ctx || EVP_DigestSignInit(ctx, NULL, md, NULL, key) != 1
        || EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)data, strlen(data)) != 1)
        goto leave;
    sig = apr_palloc(p, siglen);
    if (EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)data, strlen(data)) != 1) goto leave;
    if (is_ec) {
        const unsigned char *q = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)siglen);
        int w = ec_size(key);
        unsigned char *raw = apr_pcalloc(p, (apr_size_t)(2 * w));
        if (!es) goto leave;
        BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, w);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + w, w);
        ECDSA_SIG_free(es);
        sig = raw;
        siglen = (size_t)(2 * w);
    }
    *psig = b64(p, sig, siglen);
    rv = APR_SUCCESS;
leave:
    EVP_MD_CTX_free(ctx);
    return rv;
}

static const char *alg_of(EVP_PKEY *key)
{
    if (EVP_PKEY_is_a(key, "RSA")) return "RS256";
    if (EVP_PKEY_is_a(key, "EC")) {
        int w = ec_size(key);
        return w == 32 ? "ES256" : w == 48 ? "ES384" : w == 66 ? "ES512" : NULL;
    }
    return NULL;
}

/* o[key] = val when val is text JSON can hold (UTF-8), else nothing. */
static void set_str(json_t *o, const char *key, const char *val)
{
    json_t *s = json_string(val);
    if (s) json_object_set_new(o, key, s);
}

apr_status_t md_jws_sign(const char **pjws, EVP_PKEY *key, const char *kid, const char *nonce,
                         const char *url, const char *payload, apr_pool_t *p, const char **perr)
{
    const char *alg = alg_of(key), *prot64, *pay64, *sig;
    json_t *prot, *jws;
    apr_status_t rv;

    if (!alg) {
        *perr = "the account key type cannot sign ACME requests (use RSA or EC P-256/P-384)";
        return APR_ENOTIMPL;
    }
    prot = json_pack("{s:s}", "alg", alg);
    if (kid) set_str(prot, "kid", kid);
    else json_object_set_new(prot, "jwk", md_jws_jwk(key));
    if (nonce) set_str(prot, "nonce", nonce);
    set_str(prot, "url", url);
    /* a value that is no UTF-8 text cannot be in JSON: never sign the request without it */
    if ((kid && !json_object_get(prot, "kid")) || (!kid && !json_object_get(prot, "jwk"))
        || (nonce && !json_object_get(prot, "nonce")) || !json_object_get(prot, "url")) {
        json_decref(prot);
        *perr = apr_psprintf(p, "cannot sign a request to %s: its URL, the account URL or the "
                             "CA's Replay-Nonce is not valid UTF-8 text", url);
        return APR_EINVAL;
    }
    prot64 = b64(p, (const unsigned char *)dump(prot, p), strlen(dump(prot, p)));
    json_decref(prot);
    pay64 = b64(p, (const unsigned char *)payload, strlen(payload));
    rv = sign(&sig, key, apr_pstrcat(p, prot64, ".", pay64, NULL), p);
    if (rv != APR_SUCCESS) {
        *perr = "signing the request failed";
        return rv;
    }
    jws = json_pack("{s:s,s:s,s:s}", "protected", prot64, "payload", pay64, "signature", sig);
    *pjws = dump(jws, p);
    json_decref(jws);
    return APR_SUCCESS;
}

json_t *md_jws_eab(EVP_PKEY *account_key, const char *eab_kid, const unsigned char *hmac_key,
                   apr_size_t hmac_len, const char *url, apr_pool_t *p)
{
    json_t *prot = json_pack("{s:s,s:s,s:s}", "alg", "HS256", "kid", eab_kid, "url", url);
    json_t *jwk = md_jws_jwk(account_key);
    const char *prot64, *pay64, *input;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    json_t *r = NULL;

    if (!jwk || !prot) goto leave;          /* no prot: kid or url is no UTF-8 text */
    prot64 = b64(p, (const unsigned char *)dump(prot, p), strlen(dump(prot, p)));
    pay64 = b64(p, (const unsigned char *)dump(jwk, p), strlen(dump(jwk, p)));
    input = apr_pstrcat(p, prot64, ".", pay64, NULL);
    if (!HMAC(EVP_sha256(), hmac_key, (int)hmac_len, (const unsigned char *)input, strlen(input),
              mac, &maclen))
        goto leave;
    r = json_pack("{s:s,s:s,s:s}", "protected", prot64, "payload", pay64,
                  "signature", b64(p, mac, maclen));
leave:
    json_decref(prot);
    json_decref(jwk);
    return r;
}
