/* md_crypt.c: see md_crypt.h. */
#include <string.h>

#include <apr_strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <openssl/core_names.h>

#include "md_crypt.h"

static apr_status_t pkey_cleanup(void *data) { EVP_PKEY_free(data); return APR_SUCCESS; }
static apr_status_t cert_cleanup(void *data) { X509_free(data); return APR_SUCCESS; }

const char *md_crypt_last_error(apr_pool_t *p)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    if (!e) return "no OpenSSL error recorded";
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return apr_pstrdup(p, buf);
}

apr_status_t md_pkey_gen(EVP_PKEY **ppkey, const md_pkey_spec_t *spec, apr_pool_t *p)
{
    EVP_PKEY *pkey = NULL;

    switch (spec->type) {
    case MD_PKEY_EC: {
        const char *curve = md_pkey_curve_canonical(p, spec->curve);
        if (curve && !strcmp(curve, "secp256r1")) curve = "prime256v1";
        if (curve) pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
        break;
    }
    case MD_PKEY_RSA:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)spec->bits);
        break;
    default:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)MD_PKEY_RSA_DEFAULT_BITS);
        break;
    }
    if (!pkey) return APR_EGENERAL;
    apr_pool_cleanup_register(p, pkey, pkey_cleanup, apr_pool_cleanup_null);
    *ppkey = pkey;
    return APR_SUCCESS;
}

static const char *bio_to_str(BIO *bio, apr_pool_t *p)
{
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    return apr_pstrmemdup(p, data, (apr_size_t)len);
}

apr_status_t md_pkey_to_pem(const char **ppem, EVP_PKEY *pkey, const unsigned char *pass,
                            apr_size_t pass_len, apr_pool_t *p)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int ok;

    if (!bio) return APR_ENOMEM;
    if (pass && pass_len)
        ok = PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_256_cbc(), (const char *)pass,
                                           (int)pass_len, NULL, NULL);
    else
        ok = PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
    if (ok) *ppem = bio_to_str(bio, p);
    BIO_free(bio);
    return ok ? APR_SUCCESS : APR_EGENERAL;
}

typedef struct { const unsigned char *pass; apr_size_t len; } pass_ctx;

static int pass_cb(char *buf, int size, int rwflag, void *u)
{
    pass_ctx *ctx = u;
    (void)rwflag;
    if (!ctx || !ctx->pass || (int)ctx->len > size) return 0;
    memcpy(buf, ctx->pass, ctx->len);
    return (int)ctx->len;
}

apr_status_t md_pkey_from_pem(EVP_PKEY **ppkey, const char *pem, apr_size_t len,
                              const unsigned char *pass, apr_size_t pass_len, apr_pool_t *p)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    pass_ctx ctx = { pass, pass_len };
    EVP_PKEY *pkey;

    if (!bio) return APR_ENOMEM;
    pkey = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, &ctx);
    BIO_free(bio);
    if (!pkey) return APR_EINVAL;
    apr_pool_cleanup_register(p, pkey, pkey_cleanup, apr_pool_cleanup_null);
    *ppkey = pkey;
    return APR_SUCCESS;
}

apr_status_t md_pkey_load(EVP_PKEY **ppkey, const char *path, const unsigned char *pass,
                          apr_size_t pass_len, apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    apr_status_t rv = md_util_file_read(&data, &len, path, 1024 * 1024, p);
    if (rv != APR_SUCCESS) return rv;
    return md_pkey_from_pem(ppkey, data, len, pass, pass_len, p);
}

apr_status_t md_chain_from_pem(apr_array_header_t **pchain, const char *pem, apr_size_t len,
                               apr_pool_t *p)
{
    apr_array_header_t *chain = apr_array_make(p, 3, sizeof(X509 *));
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *x;

    if (!bio) return APR_ENOMEM;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        apr_pool_cleanup_register(p, x, cert_cleanup, apr_pool_cleanup_null);
        APR_ARRAY_PUSH(chain, X509 *) = x;
    }
    BIO_free(bio);
    ERR_clear_error();   /* the loop ends on "no start line" */
    if (!chain->nelts) return APR_ENOENT;
    *pchain = chain;
    return APR_SUCCESS;
}

apr_status_t md_chain_load(apr_array_header_t **pchain, const char *path, apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    apr_status_t rv = md_util_file_read(&data, &len, path, 1024 * 1024, p);
    if (rv != APR_SUCCESS) return rv;
    return md_chain_from_pem(pchain, data, len, p);
}

const char *md_chain_to_pem(const apr_array_header_t *chain, apr_pool_t *p)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const char *s;
    int i;
    for (i = 0; i < chain->nelts; ++i) PEM_write_bio_X509(bio, APR_ARRAY_IDX(chain, i, X509 *));
    s = bio_to_str(bio, p);
    BIO_free(bio);
    return s;
}

apr_status_t md_cert_self_sign(X509 **pcert, const char *cn, const apr_array_header_t *domains,
                               EVP_PKEY *pkey, apr_interval_time_t valid, apr_pool_t *p)
{
    X509 *x = X509_new();
    X509_NAME *n;
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    const char *san = NULL;
    int i, ok = 0;

    if (!x) return APR_ENOMEM;
    apr_pool_cleanup_register(p, x, cert_cleanup, apr_pool_cleanup_null);
    if (RAND_bytes(serial, sizeof(serial)) != 1) goto out;
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) goto out;
    if (!X509_set_version(x, 2)) goto out;
    n = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
                                    (const unsigned char *)"Apache Managed Domain Fallback", -1, -1, 0)
        || !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0)
        || !X509_set_issuer_name(x, n))
        goto out;
    if (!X509_gmtime_adj(X509_getm_notBefore(x), -60)
        || !X509_gmtime_adj(X509_getm_notAfter(x), (long)apr_time_sec(valid)))
        goto out;
    for (i = 0; i < domains->nelts; ++i) {
        const char *d = APR_ARRAY_IDX(domains, i, const char *);
        const char *entry = apr_pstrcat(p, md_util_is_ip(d) ? "IP:" : "DNS:", d, NULL);
        san = san ? apr_pstrcat(p, san, ",", entry, NULL) : entry;
    }
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if (san) {
        if (!(ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san))) goto out;
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (!(ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:FALSE"))) goto out;
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (!X509_set_pubkey(x, pkey) || !X509_sign(x, pkey, EVP_sha256())) goto out;
    ok = 1;
out:
    BN_free(bn);
    if (!ok) return APR_EGENERAL;
    *pcert = x;
    return APR_SUCCESS;
}

static apr_time_t asn1_time_to_apr(const ASN1_TIME *t)
{
    struct tm tm;
    apr_time_exp_t exp;
    apr_time_t result;

    if (!t || !ASN1_TIME_to_tm(t, &tm)) return 0;
    memset(&exp, 0, sizeof(exp));
    exp.tm_sec = tm.tm_sec;
    exp.tm_min = tm.tm_min;
    exp.tm_hour = tm.tm_hour;
    exp.tm_mday = tm.tm_mday;
    exp.tm_mon = tm.tm_mon;
    exp.tm_year = tm.tm_year;
    return apr_time_exp_gmt_get(&result, &exp) == APR_SUCCESS ? result : 0;
}

apr_time_t md_cert_not_before(const X509 *cert) { return asn1_time_to_apr(X509_get0_notBefore(cert)); }
apr_time_t md_cert_not_after(const X509 *cert) { return asn1_time_to_apr(X509_get0_notAfter(cert)); }

const char *md_cert_serial_hex(const X509 *cert, apr_pool_t *p)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    const char *s = hex ? apr_pstrdup(p, hex) : "";
    OPENSSL_free(hex);
    BN_free(bn);
    return s;
}

const char *md_cert_digest_hex(const X509 *cert, const EVP_MD *type, apr_pool_t *p)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0, i;
    char *hex;

    if (!X509_digest(cert, type, md, &len)) return NULL;
    hex = apr_palloc(p, 2 * len + 1);
    for (i = 0; i < len; ++i) apr_snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[2 * len] = '\0';
    return hex;
}

const char *md_cert_sha256_hex(const X509 *cert, apr_pool_t *p)
{
    const char *hex = md_cert_digest_hex(cert, EVP_sha256(), p);
    return hex ? hex : "";
}

const char *md_cert_issuer_name(const X509 *cert, apr_pool_t *p)
{
    /* OpenSSL's one-line form ("/C=US/O=.../CN=..."), as the reference shows it */
    char *s = X509_NAME_oneline(X509_get_issuer_name(cert), NULL, 0);
    const char *r = s ? apr_pstrdup(p, s) : "";
    OPENSSL_free(s);
    return r;
}

int md_cert_covers_domains(X509 *cert, const apr_array_header_t *domains)
{
    int i;
    for (i = 0; i < domains->nelts; ++i) {
        const char *d = APR_ARRAY_IDX(domains, i, const char *);
        if (md_util_is_ip(d)) {
            if (X509_check_ip_asc(cert, d, 0) != 1) return 0;
        }
        else if (X509_check_host(cert, d, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1) {
            return 0;
        }
    }
    return 1;
}

int md_cert_matches_key(X509 *cert, EVP_PKEY *pkey)
{
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    return pub && EVP_PKEY_eq(pub, pkey) == 1;
}

const char *md_cert_key_type(X509 *cert, apr_pool_t *p)
{
    EVP_PKEY *pkey = X509_get0_pubkey(cert);
    char group[64];
    size_t len = 0;

    if (!pkey) return "unknown";
    if (EVP_PKEY_is_a(pkey, "RSA")) return "rsa";
    if (EVP_PKEY_is_a(pkey, "EC")
        && EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len)) {
        return strcmp(group, "prime256v1") ? apr_pstrdup(p, group) : "secp256r1";
    }
    return md_util_str_tolower(p, EVP_PKEY_get0_type_name(pkey));
}

const char *md_cert_issuer_uri(X509 *cert, apr_pool_t *p)
{
    AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(cert, NID_info_access, NULL, NULL);
    const char *uri = NULL;
    int i;

    for (i = 0; aia && i < sk_ACCESS_DESCRIPTION_num(aia) && !uri; ++i) {
        ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
        if (OBJ_obj2nid(ad->method) == NID_ad_ca_issuers && ad->location->type == GEN_URI) {
            const ASN1_IA5STRING *s = ad->location->d.uniformResourceIdentifier;
            uri = apr_pstrmemdup(p, (const char *)ASN1_STRING_get0_data(s), (apr_size_t)ASN1_STRING_length(s));
        }
    }
    AUTHORITY_INFO_ACCESS_free(aia);
    return uri;
}

const char *md_cert_ari_id(X509 *cert, apr_pool_t *p)
{
    const ASN1_OCTET_STRING *keyid = X509_get0_authority_key_id(cert);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    unsigned char *serial;
    int n;
    const char *id = NULL;

    if (keyid && bn) {
        /* the DER content octets of the INTEGER: big-endian, a leading 0 when the top bit is set */
        serial = apr_pcalloc(p, (apr_size_t)BN_num_bytes(bn) + 1);
        n = BN_bn2bin(bn, serial + 1);
        if (n == 0 || (serial[1] & 0x80)) ++n;
        else ++serial;
        id = apr_pstrcat(p, md_util_base64url_encode(p, ASN1_STRING_get0_data(keyid),
                                                     (apr_size_t)ASN1_STRING_length(keyid)),
                         ".", md_util_base64url_encode(p, serial, (apr_size_t)n), NULL);
    }
    BN_free(bn);
    return id;
}
