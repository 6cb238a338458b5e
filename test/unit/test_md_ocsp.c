/* Unit tests of md_ocsp: cert ids, requests, verification of responses built here with
 * OpenSSL's OCSP API (good, revoked, delegated responder, wrong cert, bad signature,
 * expired, garbage, truncated), renew window math, the store format, pruning, the table. */
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <apr_lib.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <curl/curl.h>
#include "md_unit.h"
#include "md_crypt.h"
#include "md_ocsp.h"
#include "md_status.h"

#define DAY apr_time_from_sec(86400)
#define URL "http://127.0.0.1:9/ocsp"

/* ---- a small PKI built per test ---- */

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(k);
    return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    ck_assert_ptr_nonnull(e);
    ck_assert(X509_add_ext(x, e, -1));
    X509_EXTENSION_free(e);
}

static long serial_no = 1;

/* A certificate for key, signed by issuer/ikey (self-signed when issuer is NULL). */
static X509 *new_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, int ca,
                      const char *ocsp_url, int ocsp_signing)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    ck_assert(X509_set_version(x, 2));
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial_no++);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509_NAME_free(name);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 30 * 86400);
    X509_set_pubkey(x, key);
    add_ext(x, issuer, NID_subject_key_identifier, "hash");
    if (ca) {
        add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    }
    else {
        add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
    }
    if (ocsp_url) add_ext(x, issuer, NID_info_access, apr_pstrcat(pool, "OCSP;URI:", ocsp_url, NULL));
    if (ocsp_signing) {
        add_ext(x, issuer, NID_ext_key_usage, "OCSPSigning");
        add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
    }
    ck_assert(X509_sign(x, issuer ? ikey : key, EVP_sha256()));
    return x;
}

typedef struct {
    EVP_PKEY *root_key, *ca_key, *leaf_key, *other_key;
    X509 *root, *ca, *leaf, *other_leaf;
    md_ocsp_cert_t *c;
} pki_t;

static pki_t pki;

static void pki_setup(void)
{
    const char *err = NULL;
    pool_setup();
    pki.root_key = new_key();
    pki.root = new_cert("Test Root", pki.root_key, NULL, NULL, 1, NULL, 0);
    pki.ca_key = new_key();
    pki.ca = new_cert("Test Intermediate", pki.ca_key, pki.root, pki.root_key, 1, NULL, 0);
    pki.leaf_key = new_key();
    pki.leaf = new_cert("leaf.example.org", pki.leaf_key, pki.ca, pki.ca_key, 0, URL, 0);
    pki.other_key = new_key();
    pki.other_leaf = new_cert("other.example.org", pki.other_key, pki.ca, pki.ca_key, 0, URL, 0);
    ck_assert_int_eq(md_ocsp_cert_make(&pki.c, pki.leaf, pki.ca, pool, &err), APR_SUCCESS);
}

static void pki_teardown(void)
{
    X509_free(pki.root); X509_free(pki.ca); X509_free(pki.leaf); X509_free(pki.other_leaf);
    EVP_PKEY_free(pki.root_key); EVP_PKEY_free(pki.ca_key); EVP_PKEY_free(pki.leaf_key);
    EVP_PKEY_free(pki.other_key);
    pool_teardown();
}

/* DER of a response about 'about' (issued by pki.ca), signed by signer/skey; this and next
 * are offsets from now in seconds, next == 0 means no nextUpdate. */
static const EVP_MD *resp_id_md;     /* hash of the cert id in responses (SHA-1 if NULL) */

static unsigned char *make_resp(apr_size_t *plen, X509 *about, int status, X509 *signer,
                                EVP_PKEY *skey, STACK_OF(X509) *extra, long this_off,
                                long next_off, unsigned long flags)
{
    OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
    OCSP_CERTID *id = OCSP_cert_to_id(resp_id_md ? resp_id_md : EVP_sha1(), about, pki.ca);
    ASN1_TIME *thisu = X509_gmtime_adj(NULL, this_off);
    ASN1_TIME *nextu = next_off ? X509_gmtime_adj(NULL, next_off) : NULL;
    ASN1_TIME *revt = X509_gmtime_adj(NULL, -86400);
    OCSP_RESPONSE *r;
    unsigned char *der = NULL, *copy;
    int len;

    ck_assert_ptr_nonnull(OCSP_basic_add1_status(bs, id, status,
                                                 status == V_OCSP_CERTSTATUS_REVOKED ? OCSP_REVOKED_STATUS_KEYCOMPROMISE : -1,
                                                 status == V_OCSP_CERTSTATUS_REVOKED ? revt : NULL,
                                                 thisu, nextu));
    ck_assert(OCSP_basic_sign(bs, signer, skey, EVP_sha256(), extra, flags));
    r = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
    len = i2d_OCSP_RESPONSE(r, &der);
    ck_assert_int_gt(len, 0);
    copy = apr_pmemdup(pool, der, (apr_size_t)len);
    *plen = (apr_size_t)len;
    OPENSSL_free(der);
    OCSP_RESPONSE_free(r);
    OCSP_BASICRESP_free(bs);
    OCSP_CERTID_free(id);
    ASN1_TIME_free(thisu); ASN1_TIME_free(nextu); ASN1_TIME_free(revt);
    return copy;
}

static unsigned char *good_resp(apr_size_t *plen)
{
    return make_resp(plen, pki.leaf, V_OCSP_CERTSTATUS_GOOD, pki.ca, pki.ca_key, NULL,
                     -3600, 3 * 86400 - 3600, 0);
}

static const char *verify_fails(const unsigned char *der, apr_size_t len)
{
    md_ocsp_resp_t *r = NULL;
    const char *err = NULL;
    ck_assert_int_ne(md_ocsp_resp_verify(&r, pki.c, der, len, apr_time_now(), pool, &err), APR_SUCCESS);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(err);
    return err;
}

/* ---- tests ---- */

START_TEST(cert_facts)
{
    const char *pem, *err = NULL;
    md_ocsp_cert_t *c;
    apr_array_header_t *chain = apr_array_make(pool, 2, sizeof(X509 *));
    unsigned char sha1[20];
    unsigned int n;

    ck_assert_str_eq(pki.c->responder, URL);
    ck_assert_int_eq(strlen(pki.c->sha1_hex), 40);
    ck_assert(X509_digest(pki.leaf, EVP_sha1(), sha1, &n));
    ck_assert_int_eq(strtol(apr_pstrndup(pool, pki.c->sha1_hex, 2), NULL, 16), sha1[0]);
    ck_assert_str_eq(pki.c->sha256_hex, md_cert_sha256_hex(pki.leaf, pool)
                     ? md_util_str_tolower(pool, md_cert_sha256_hex(pki.leaf, pool)) : "");
    /* from PEM: leaf, root, intermediate; the issuer is found wherever it is */
    APR_ARRAY_PUSH(chain, X509 *) = pki.leaf;
    APR_ARRAY_PUSH(chain, X509 *) = pki.root;
    APR_ARRAY_PUSH(chain, X509 *) = pki.ca;
    pem = md_chain_to_pem(chain, pool);
    ck_assert_int_eq(md_ocsp_cert_from_pem(&c, pem, strlen(pem), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(X509_cmp(c->issuer, pki.ca), 0);
    ck_assert_str_eq(c->sha1_hex, pki.c->sha1_hex);
    ck_assert_str_eq(md_ocsp_fname(c, pool), apr_pstrcat(pool, "ocsp-", c->sha1_hex, ".json", NULL));
    /* no issuer: refused with a reason */
    apr_array_clear(chain);
    APR_ARRAY_PUSH(chain, X509 *) = pki.leaf;
    APR_ARRAY_PUSH(chain, X509 *) = pki.root;
    pem = md_chain_to_pem(chain, pool);
    ck_assert_int_eq(md_ocsp_cert_from_pem(&c, pem, strlen(pem), pool, &err), APR_ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "issuer"));
    ck_assert_int_ne(md_ocsp_cert_from_pem(&c, "garbage", 7, pool, &err), APR_SUCCESS);
    ck_assert_int_ne(md_ocsp_cert_make(&c, pki.leaf, pki.root, pool, &err), APR_SUCCESS);
}
END_TEST

START_TEST(request_carries_cert_id)
{
    unsigned char *der;
    const unsigned char *q;
    apr_size_t len;
    OCSP_REQUEST *req;
    OCSP_ONEREQ *one;

    ck_assert_int_eq(md_ocsp_req_der(&der, &len, pki.c, pool), APR_SUCCESS);
    q = der;
    req = d2i_OCSP_REQUEST(NULL, &q, (long)len);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(OCSP_request_onereq_count(req), 1);
    one = OCSP_request_onereq_get0(req, 0);
    ck_assert_int_eq(OCSP_id_cmp(OCSP_onereq_get0_id(one), pki.c->id), 0);
    OCSP_REQUEST_free(req);
}
END_TEST

START_TEST(good_response_by_issuer)
{
    apr_size_t len;
    unsigned char *der = good_resp(&len);
    md_ocsp_resp_t *r;
    const char *err = NULL;
    apr_time_t now = apr_time_now();

    ck_assert_int_eq(md_ocsp_resp_verify(&r, pki.c, der, len, now, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(r->status, MD_OCSP_GOOD);
    ck_assert_int_eq(r->der_len, len);
    ck_assert(!memcmp(r->der, der, len));
    ck_assert(r->valid_from <= now - apr_time_from_sec(3590) && r->valid_from >= now - apr_time_from_sec(3610));
    ck_assert(r->valid_until > now + 2 * DAY + apr_time_from_sec(80000));
    ck_assert_str_eq(md_ocsp_status_str(r->status), "good");
}
END_TEST

START_TEST(cert_id_with_other_hash)
{
    apr_size_t len;
    unsigned char *der;
    md_ocsp_resp_t *r;
    const char *err = NULL;

    resp_id_md = EVP_sha256();
    der = make_resp(&len, pki.leaf, V_OCSP_CERTSTATUS_GOOD, pki.ca, pki.ca_key, NULL, -60, 86400, 0);
    ck_assert_int_eq(md_ocsp_resp_verify(&r, pki.c, der, len, apr_time_now(), pool, &err), APR_SUCCESS);
    der = make_resp(&len, pki.other_leaf, V_OCSP_CERTSTATUS_GOOD, pki.ca, pki.ca_key, NULL, -60, 86400, 0);
    verify_fails(der, len);
    resp_id_md = NULL;
}
END_TEST

START_TEST(revoked_response)
{
    apr_size_t len;
    unsigned char *der = make_resp(&len, pki.leaf, V_OCSP_CERTSTATUS_REVOKED, pki.ca, pki.ca_key,
                                   NULL, -60, 86400, 0);
    md_ocsp_resp_t *r;
    const char *err = NULL;
    ck_assert_int_eq(md_ocsp_resp_verify(&r, pki.c, der, len, apr_time_now(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(r->status, MD_OCSP_REVOKED);
    ck_assert_str_eq(md_ocsp_status_str(r->status), "revoked");
}
END_TEST

START_TEST(unknown_response)
{
    apr_size_t len;
    unsigned char *der = make_resp(&len, pki.leaf, V_OCSP_CERTSTATUS_UNKNOWN, pki.ca, pki.ca_key,
                                   NULL, -60, 86400, 0);
    md_ocsp_resp_t *r;
    const char *err = NULL;
    ck_assert_int_eq(md_ocsp_resp_verify(&r, pki.c, der, len, apr_time_now(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(r->status, MD_OCSP_UNKNOWN);
}
END_TEST

START_TEST(delegated_responder)
{
    EVP_PKEY *rk = new_key();
    X509 *resp_ok = new_cert("OCSP responder", rk, pki.ca, pki.ca_key, 0, NULL, 1);
    X509 *resp_no_eku = new_cert("not a responder", rk, pki.ca, pki.ca_key, 0, NULL, 0);
    X509 *resp_root = new_cert("root's responder", rk, pki.root, pki.root_key, 0, NULL, 1);
    STACK_OF(X509) *extra = sk_X509_new_null();
    md_ocsp_resp_t *r;
    const char *err = NULL;
    unsigned char *der;
    apr_size_t len;

    /* signed by a responder the issuer certified for OCSP signing: accepted */
    der = make_resp(&len, pki.leaf, V_OCSP_CERTSTATUS_GOOD, resp_ok, rk, extra, -60, 86400, 0);
    ck_assert_int_eq(md_ocsp_resp_verify(&r, pki.c, der, len, apr_time_now(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(r->status, MD_OCSP_GOOD);
    /* same key, certificate without the OCSP-signing EKU: refused */
    der = make_resp(&len, pki.leaf, V_OCSP_CERTSTATUS_GOOD, resp_no_eku, rk, extra, -60, 86400, 0);
    verify_fails(der, len);
    /* a responder certified by the root, not by the issuer: refused */
    sk_X509_push(extra, pki.root);
    der = make_resp(&len, pki.leaf, V_OCSP_CERTSTATUS_GOOD, resp_root, rk, extra, -60, 86400, 0);
    verify_fails(der, len);
    sk_X509_free(extra);
    X509_free(resp_ok); X509_free(resp_no_eku); X509_free(resp_root);
    EVP_PKEY_free(rk);
}
END_TEST

START_TEST(response_for_other_cert)
{
    apr_size_t len;
    unsigned char *der = make_resp(&len, pki.other_leaf, V_OCSP_CERTSTATUS_GOOD, pki.ca, pki.ca_key,
                                   NULL, -60, 86400, 0);
    ck_assert_ptr_nonnull(strstr(verify_fails(der, len), "not about this certificate"));
}
END_TEST

START_TEST(bad_signatures)
{
    EVP_PKEY *k = new_key();
    X509 *rogue = new_cert("Rogue CA", k, NULL, NULL, 1, NULL, 0), *impostor;
    STACK_OF(X509) *extra = sk_X509_new_null();
    apr_size_t len;
    unsigned char *der;

    /* signed by another CA that ships its own certificate */
    der = make_resp(&len, pki.leaf, V_OCSP_CERTSTATUS_GOOD, rogue, k, extra, -60, 86400, 0);
    ck_assert_ptr_nonnull(strstr(verify_fails(der, len), "not signed"));
    /* issuer named as responder, but the signature bits are damaged (they end the DER
     * when no certificates are included) */
    der = make_resp(&len, pki.leaf, V_OCSP_CERTSTATUS_GOOD, pki.ca, pki.ca_key, NULL, -60, 86400,
                    OCSP_NOCERTS);
    der[len - 2] ^= 0x55;
    verify_fails(der, len);
    /* signed by an impostor with the issuer's name but another key */
    impostor = new_cert("Test Intermediate", k, NULL, NULL, 1, NULL, 0);
    der = make_resp(&len, pki.leaf, V_OCSP_CERTSTATUS_GOOD, impostor, k, NULL, -60, 86400, OCSP_NOCERTS);
    verify_fails(der, len);
    der = make_resp(&len, pki.leaf, V_OCSP_CERTSTATUS_GOOD, impostor, k, extra, -60, 86400, 0);
    verify_fails(der, len);
    sk_X509_free(extra);
    X509_free(rogue);
    X509_free(impostor);
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(times_checked)
{
    apr_size_t len;
    unsigned char *der;
    md_ocsp_resp_t *r;
    const char *err = NULL;

    der = make_resp(&len, pki.leaf, V_OCSP_CERTSTATUS_GOOD, pki.ca, pki.ca_key, NULL,
                    -3 * 86400, -86400, 0);
    ck_assert_ptr_nonnull(strstr(verify_fails(der, len), "expired"));
    der = make_resp(&len, pki.leaf, V_OCSP_CERTSTATUS_GOOD, pki.ca, pki.ca_key, NULL,
                    2 * 3600, 86400, 0);
    ck_assert_ptr_nonnull(strstr(verify_fails(der, len), "future"));
    der = make_resp(&len, pki.leaf, V_OCSP_CERTSTATUS_GOOD, pki.ca, pki.ca_key, NULL,
                    -60, -120, 0);
    verify_fails(der, len);
    /* small clock skew is tolerated */
    der = make_resp(&len, pki.leaf, V_OCSP_CERTSTATUS_GOOD, pki.ca, pki.ca_key, NULL, 60, 86400, 0);
    ck_assert_int_eq(md_ocsp_resp_verify(&r, pki.c, der, len, apr_time_now(), pool, &err), APR_SUCCESS);
    /* no nextUpdate: valid for a fixed time after thisUpdate */
    der = make_resp(&len, pki.leaf, V_OCSP_CERTSTATUS_GOOD, pki.ca, pki.ca_key, NULL, -60, 0, 0);
    ck_assert_int_eq(md_ocsp_resp_verify(&r, pki.c, der, len, apr_time_now(), pool, &err), APR_SUCCESS);
    ck_assert(r->valid_until == r->valid_from + MD_OCSP_NO_NEXT_UPDATE_VALID);
    /* a good response verified later than its nextUpdate is expired */
    der = good_resp(&len);
    ck_assert_int_ne(md_ocsp_resp_verify(&r, pki.c, der, len, apr_time_now() + 4 * DAY, pool, &err),
                     APR_SUCCESS);
}
END_TEST

START_TEST(garbage_and_truncated)
{
    apr_size_t len, i;
    unsigned char *der = good_resp(&len);
    OCSP_RESPONSE *r = OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER, NULL);
    unsigned char *tl = NULL;
    int tllen = i2d_OCSP_RESPONSE(r, &tl);
    unsigned char *longer = apr_palloc(pool, len + 1);

    verify_fails((const unsigned char *)"<html>oops</html>", 17);
    verify_fails(der, 0);
    verify_fails(NULL, 0);
    for (i = 1; i < len; i += (i < 64 ? 1 : 97)) verify_fails(der, len - i);
    memcpy(longer, der, len);
    longer[len] = 0;
    verify_fails(longer, len + 1);              /* trailing bytes */
    ck_assert_ptr_nonnull(strstr(verify_fails(tl, (apr_size_t)tllen), "trylater"));
    OPENSSL_free(tl);
    OCSP_RESPONSE_free(r);
}
END_TEST

START_TEST(renew_window_math)
{
    md_ocsp_resp_t r;
    md_timeslice_t pct = { 100, 33 }, abs2d = { 0, 2 * DAY }, huge = { 0, 10 * DAY };
    apr_time_t t0 = apr_time_from_sec(1700000000);

    memset(&r, 0, sizeof(r));
    r.valid_from = t0;
    r.valid_until = t0 + 3 * DAY;
    /* 33% of 3 days: renewal about 1 day before the end */
    ck_assert(md_ocsp_renew_at(&r, &pct) == r.valid_until - (apr_interval_time_t)(3.0 * DAY * 0.33));
    ck_assert(md_ocsp_renew_at(&r, &abs2d) == t0 + DAY);
    ck_assert(md_ocsp_renew_at(&r, &huge) < t0);  /* window larger than validity: renew now */
    ck_assert(md_ocsp_backoff(apr_time_from_sec(5), 1, DAY) == apr_time_from_sec(5));
    ck_assert(md_ocsp_backoff(apr_time_from_sec(5), 3, DAY) == apr_time_from_sec(20));
    ck_assert(md_ocsp_backoff(apr_time_from_sec(5), 60, apr_time_from_sec(3600)) == apr_time_from_sec(3600));
    ck_assert(md_ocsp_backoff(0, 1, DAY) == apr_time_from_sec(1));
}
END_TEST

START_TEST(store_roundtrip_and_prune)
{
    md_store_t *store;
    const char *err = NULL, *path;
    apr_size_t len;
    unsigned char *der = good_resp(&len);
    md_ocsp_resp_t *r, *back;
    json_t *j;
    apr_hash_t *keep = apr_hash_make(pool);
    int removed;
    unsigned char *raw;

    ck_assert_int_eq(md_store_open(&store, tmp_dir(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_store_setup_groups(store, pool), APR_SUCCESS);
    ck_assert_int_eq(md_ocsp_store_load(&back, store, "a.example.org", pki.c, apr_time_now(), pool, &err),
                     APR_ENOENT);
    ck_assert_int_eq(md_ocsp_resp_verify(&r, pki.c, der, len, apr_time_now(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_ocsp_store_save(store, "a.example.org", pki.c, r, pool), APR_SUCCESS);
    ck_assert_int_ne(md_ocsp_store_save(store, "../x", pki.c, r, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_load_json(store, MD_SG_OCSP, "a.example.org", md_ocsp_fname(pki.c, pool),
                                        &j, pool, &err), APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "good");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "valid"), "until")),
                     md_util_time_format(pool, r->valid_until));
    ck_assert_int_eq(md_util_base64url_decode(pool, json_string_value(json_object_get(j, "response")), &raw),
                     (long)len);
    ck_assert(!memcmp(raw, der, len));
    ck_assert_int_eq(md_ocsp_store_load(&back, store, "a.example.org", pki.c, apr_time_now(), pool, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(back->der_len, len);
    /* read back after it expired: refused */
    ck_assert_int_ne(md_ocsp_store_load(&back, store, "a.example.org", pki.c, apr_time_now() + 5 * DAY,
                                        pool, &err), APR_SUCCESS);
    /* a tampered file is verified again and refused */
    path = md_store_path(store, MD_SG_OCSP, "other", md_ocsp_fname(pki.c, pool), pool);
    ck_assert_int_eq(md_util_mkdirs(md_store_path(store, MD_SG_OCSP, "other", NULL, pool), 0x0750, pool), APR_SUCCESS);
    ck_assert_int_eq(md_util_file_write_atomic(path, "{\"response\":\"AAAA\"}", 19, 0x0640, pool), APR_SUCCESS);
    ck_assert_int_eq(md_ocsp_store_load(&back, store, "other", pki.c, apr_time_now(), pool, &err), APR_EINVAL);
    /* pruning: files older than keep go, unless in use */
    ck_assert_int_eq(md_ocsp_store_prune(store, 7 * DAY, NULL, apr_time_now(), &removed, pool), APR_SUCCESS);
    ck_assert_int_eq(removed, 0);
    apr_hash_set(keep, path, APR_HASH_KEY_STRING, "");
    ck_assert_int_eq(md_ocsp_store_prune(store, 7 * DAY, keep, apr_time_now() + 8 * DAY, &removed, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(removed, 1);
    ck_assert(md_util_file_exists(path, pool));
    ck_assert(!md_util_file_exists(md_store_path(store, MD_SG_OCSP, "a.example.org",
                                                 md_ocsp_fname(pki.c, pool), pool), pool));
}
END_TEST

START_TEST(table_publishes_valid_responses)
{
    md_ocsp_table_t *t;
    md_ocsp_slot_info_t info, got;
    apr_size_t len;
    unsigned char *der = good_resp(&len), buf[MD_OCSP_DER_MAX];
    md_ocsp_resp_t *r;
    const char *err = NULL;
    char *upper, *c;
    apr_time_t now = apr_time_now();

    ck_assert_int_eq(md_ocsp_table_create(&t, 3, pool), APR_SUCCESS);
    ck_assert_int_eq(md_ocsp_table_size(t), 3);
    ck_assert_int_eq(md_ocsp_table_get_der(t, 1, buf, now, NULL), 0);
    ck_assert_int_eq(md_ocsp_table_get_der(t, 7, buf, now, NULL), 0);
    ck_assert_int_eq(md_ocsp_resp_verify(&r, pki.c, der, len, now, pool, &err), APR_SUCCESS);
    memset(&info, 0, sizeof(info));
    info.renew_at = now + DAY;
    md_ocsp_table_put(t, 1, r, &info);
    ck_assert_int_eq(md_ocsp_table_get_der(t, 1, buf, now, NULL), len);
    ck_assert(!memcmp(buf, der, len));
    ck_assert_int_eq(md_ocsp_table_get_der(t, 1, buf, r->valid_until + 1, NULL), 0);
    md_ocsp_table_get_info(t, 1, &got);
    ck_assert(got.has_resp && got.status == MD_OCSP_GOOD && got.valid_until == r->valid_until);
    ck_assert(got.renew_at == now + DAY);
    /* info-only update keeps the response */
    got.errors = 2;
    apr_cpystrn(got.last_error, "responder down", sizeof(got.last_error));
    md_ocsp_table_put(t, 1, NULL, &got);
    ck_assert_int_eq(md_ocsp_table_get_der(t, 1, buf, now, NULL), len);
    md_ocsp_table_get_info(t, 1, &info);
    ck_assert_int_eq(info.errors, 2);
    ck_assert_str_eq(info.last_error, "responder down");
    t = md_ocsp_table_create_local(1, pool);
    md_ocsp_table_put(t, 0, r, &info);
    ck_assert_int_eq(md_ocsp_table_get_der(t, 0, buf, now, NULL), len);
    /* a slot that names its certificate serves only that certificate's handshakes */
    md_ocsp_slot_info_set_cert(&info, pki.c);
    md_ocsp_table_put(t, 0, r, &info);
    ck_assert_int_eq(md_ocsp_table_get_der(t, 0, buf, now, pki.c->sha1_hex), len);
    for (c = upper = apr_pstrdup(pool, pki.c->sha1_hex); *c; ++c) *c = (char)apr_toupper(*c);
    ck_assert_int_eq(md_ocsp_table_get_der(t, 0, buf, now, upper), len);  /* as OpenSSL writes it */
    ck_assert_int_eq(md_ocsp_table_get_der(t, 0, buf, now, "00112233445566778899aabbccddeeff00112233"), 0);
    md_ocsp_table_get_info(t, 0, &got);
    ck_assert_str_eq(got.cert_sha256, pki.c->sha256_hex);
    md_ocsp_slot_info_set_cert(&info, NULL);
    md_ocsp_table_put(t, 0, r, &info);
    ck_assert_int_eq(md_ocsp_table_get_der(t, 0, buf, now, pki.c->sha1_hex), 0);
}
END_TEST

START_TEST(fetch_errors_are_explained)
{
    unsigned char *der;
    apr_size_t len;
    const char *err = NULL;
    md_http_opts_t opts;

    memset(&opts, 0, sizeof(opts));
    opts.connect_timeout_ms = opts.timeout_ms = 2000;
    md_http_global_init();
    ck_assert_int_ne(md_ocsp_fetch(&der, &len, "http://127.0.0.1:9/", &opts, (const unsigned char *)"x", 1,
                                   pool, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "127.0.0.1:9"));
    ck_assert_int_ne(md_ocsp_fetch(&der, &len, "file:///etc/passwd", &opts, (const unsigned char *)"x", 1,
                                   pool, &err), APR_SUCCESS);
    curl_global_cleanup();
}
END_TEST

/* Readers racing a writer that alternates two responses of different lengths never see a
 * mix of both. */
typedef struct {
    md_ocsp_table_t *t;
    md_ocsp_resp_t *a, *b;
    volatile int stop;
    long reads, misses, torn;
} race_t;

static void *race_reader(void *arg)
{
    race_t *r = arg;
    unsigned char *buf = malloc(MD_OCSP_DER_MAX);
    while (!r->stop) {
        apr_size_t n = md_ocsp_table_get_der(r->t, 0, buf, apr_time_now(), NULL);
        ++r->reads;
        if (!n) ++r->misses;            /* gave up while the writer never paused */
        else if (!((n == r->a->der_len && !memcmp(buf, r->a->der, n))
              || (n == r->b->der_len && !memcmp(buf, r->b->der, n)))) ++r->torn;
    }
    free(buf);
    return NULL;
}

START_TEST(table_readers_never_see_torn_writes)
{
    race_t r;
    pthread_t th[2];
    md_ocsp_slot_info_t info;
    apr_size_t la, lb;
    STACK_OF(X509) *many = sk_X509_new_null();
    unsigned char *da, *db;
    const char *err = NULL;
    apr_time_t end;
    long writes;
    int i;

    /* a large response (a dozen certificates ride along) and a small one: a reader copying
     * while the writer switches between them would end up with a mix */
    for (i = 0; i < 12; ++i) sk_X509_push(many, (i & 1) ? pki.root : pki.other_leaf);
    da = make_resp(&la, pki.leaf, V_OCSP_CERTSTATUS_GOOD, pki.ca, pki.ca_key, many, -60, 86400, 0);
    db = make_resp(&lb, pki.leaf, V_OCSP_CERTSTATUS_REVOKED, pki.ca, pki.ca_key, NULL, -60, 86400,
                   OCSP_NOCERTS);
    sk_X509_free(many);

    memset(&r, 0, sizeof(r));
    memset(&info, 0, sizeof(info));
    ck_assert_int_ne(la, lb);
    ck_assert_int_eq(md_ocsp_resp_verify(&r.a, pki.c, da, la, apr_time_now(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_ocsp_resp_verify(&r.b, pki.c, db, lb, apr_time_now(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_ocsp_table_create(&r.t, 1, pool), APR_SUCCESS);
    md_ocsp_table_put(r.t, 0, r.a, &info);
    for (i = 0; i < 2; ++i) ck_assert_int_eq(pthread_create(&th[i], NULL, race_reader, &r), 0);
    /* enough writes and reads to mix them, stopping early once there are; the time limit
     * keeps it inside the test timeout on a loaded machine */
    end = apr_time_now() + apr_time_from_sec(2);
    for (writes = 0; (writes < 2000 || __atomic_load_n(&r.reads, __ATOMIC_RELAXED) < 400)
                     && apr_time_now() < end; ++writes) {
        md_ocsp_table_put(r.t, 0, (writes & 1) ? r.a : r.b, &info);
        sched_yield();                              /* readers get through too */
    }
    r.stop = 1;
    for (i = 0; i < 2; ++i) pthread_join(th[i], NULL);
    ck_assert_int_gt(writes, 20);
    ck_assert_int_gt(r.reads - r.misses, 20);
    ck_assert_int_eq(r.torn, 0);
}
END_TEST

static void status_cb(json_t *cj, const md_t *md, const char *sha256, void *baton, apr_pool_t *p)
{
    (void)p;
    (void)md;
    if (!strcmp(sha256, (const char *)baton)) json_object_set_new(cj, "ocsp", json_pack("{s:s}", "status", "good"));
}

START_TEST(status_shows_static_cert_with_ocsp)
{
    md_store_t *store;
    const char *err = NULL, *dir = tmp_dir(), *path = apr_pstrcat(pool, dir, "/cert.pem", NULL), *pem;
    apr_array_header_t *names = apr_array_make(pool, 1, sizeof(const char *));
    apr_array_header_t *chain = apr_array_make(pool, 2, sizeof(X509 *));
    md_t *md;
    json_t *j, *rsa;

    APR_ARRAY_PUSH(names, const char *) = "leaf.example.org";
    md = md_create(pool, names);
    md_merge(md, md_create_defaults(pool));
    md->cert_files = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(md->cert_files, const char *) = path;
    APR_ARRAY_PUSH(chain, X509 *) = pki.leaf;
    APR_ARRAY_PUSH(chain, X509 *) = pki.ca;
    pem = md_chain_to_pem(chain, pool);
    ck_assert_int_eq(md_util_file_write_atomic(path, pem, strlen(pem), 0x0644, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_open(&store, apr_pstrcat(pool, dir, "/store", NULL), pool, &err), APR_SUCCESS);
    md_status_set_cert_cb(status_cb, (void *)pki.c->sha256_hex);
    j = md_status_md_json(md, store, 0, pool);
    md_status_set_cert_cb(NULL, NULL);
    /* a static certificate is listed by its position among MDCertificateFile, as the
     * reference lists it */
    rsa = json_object_get(json_object_get(j, "cert"), "0");
    ck_assert_ptr_nonnull(rsa);
    ck_assert_str_eq(json_string_value(json_object_get(rsa, "sha256-fingerprint")), pki.c->sha256_hex);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rsa, "ocsp"), "status")), "good");
    json_decref(j);
}
END_TEST

static Suite *ocsp_suite(void)
{
    Suite *s = suite_create("md_ocsp");
    TCase *tc = tcase_create("ocsp");
    tcase_add_checked_fixture(tc, pki_setup, pki_teardown);
    tcase_add_test(tc, cert_facts);
    tcase_add_test(tc, request_carries_cert_id);
    tcase_add_test(tc, good_response_by_issuer);
    tcase_add_test(tc, cert_id_with_other_hash);
    tcase_add_test(tc, revoked_response);
    tcase_add_test(tc, unknown_response);
    tcase_add_test(tc, delegated_responder);
    tcase_add_test(tc, response_for_other_cert);
    tcase_add_test(tc, bad_signatures);
    tcase_add_test(tc, times_checked);
    tcase_add_test(tc, garbage_and_truncated);
    tcase_add_test(tc, renew_window_math);
    tcase_add_test(tc, store_roundtrip_and_prune);
    tcase_add_test(tc, table_publishes_valid_responses);
    tcase_add_test(tc, table_readers_never_see_torn_writes);
    tcase_add_test(tc, fetch_errors_are_explained);
    tcase_add_test(tc, status_shows_static_cert_with_ocsp);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(ocsp_suite)
