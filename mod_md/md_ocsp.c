/* md_ocsp.c: see md_ocsp.h.
 *
 * Verification leans entirely on OpenSSL's OCSP code: OCSP_basic_verify() with a store
 * whose only trust anchor is the certificate's issuer (partial chains allowed, since the
 * issuer is usually an intermediate). That accepts exactly two signers: the issuer itself,
 * and a responder certificate issued by the issuer that carries the OCSP-signing EKU
 * (OpenSSL's delegation check). Everything else, including a response signed by another
 * CA that ships its own chain, fails.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "md_crypt.h"
#include "md_ocsp.h"

const char *md_ocsp_status_str(md_ocsp_status_t status)
{
    switch (status) {
    case MD_OCSP_GOOD: return "good";
    case MD_OCSP_REVOKED: return "revoked";
    default: return "unknown";
    }
}

int md_ocsp_status_parse(const char *s)
{
    if (!s) return -1;
    if (!strcmp(s, "good")) return MD_OCSP_GOOD;
    if (!strcmp(s, "revoked")) return MD_OCSP_REVOKED;
    if (!strcmp(s, "unknown")) return MD_OCSP_UNKNOWN;
    return -1;
}

static apr_status_t certid_cleanup(void *d) { OCSP_CERTID_free(d); return APR_SUCCESS; }
static apr_status_t x509_cleanup(void *d) { X509_free(d); return APR_SUCCESS; }

static const char *first_ocsp_url(X509 *x, apr_pool_t *p)
{
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(x);
    const char *url = NULL;
    if (urls && sk_OPENSSL_STRING_num(urls) > 0)
        url = apr_pstrdup(p, sk_OPENSSL_STRING_value(urls, 0));
    X509_email_free(urls);
    return url;
}

apr_status_t md_ocsp_cert_make(md_ocsp_cert_t **pc, X509 *cert, X509 *issuer,
                               apr_pool_t *p, const char **perr)
{
    md_ocsp_cert_t *c = apr_pcalloc(p, sizeof(*c));

    *pc = NULL;
    if (X509_check_issued(issuer, cert) != X509_V_OK) {
        *perr = "the certificate given as issuer did not issue the certificate";
        return APR_EINVAL;
    }
    if (!X509_up_ref(cert)) return APR_ENOMEM;
    c->cert = cert;
    apr_pool_cleanup_register(p, cert, x509_cleanup, apr_pool_cleanup_null);
    if (!X509_up_ref(issuer)) return APR_ENOMEM;
    c->issuer = issuer;
    apr_pool_cleanup_register(p, issuer, x509_cleanup, apr_pool_cleanup_null);
    c->id = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
    if (!c->id) {
        *perr = apr_psprintf(p, "cannot compute the OCSP cert id: %s", md_crypt_last_error(p));
        return APR_EGENERAL;
    }
    apr_pool_cleanup_register(p, c->id, certid_cleanup, apr_pool_cleanup_null);
    c->sha1_hex = md_cert_digest_hex(cert, EVP_sha1(), p);
    c->sha256_hex = md_cert_digest_hex(cert, EVP_sha256(), p);
    if (!c->sha1_hex || !c->sha256_hex) {
        *perr = "cannot compute the certificate fingerprints";
        return APR_EGENERAL;
    }
    c->responder = first_ocsp_url(cert, p);
    *pc = c;
    return APR_SUCCESS;
}

apr_status_t md_ocsp_cert_from_pem(md_ocsp_cert_t **pc, const char *pem, apr_size_t len,
                                   apr_pool_t *p, const char **perr)
{
    apr_array_header_t *chain;
    STACK_OF(X509) *rest;
    apr_status_t rv;
    int i;

    *pc = NULL;
    if (md_chain_from_pem(&chain, pem, len, p) != APR_SUCCESS) {
        *perr = "no PEM certificate found";
        return APR_EINVAL;
    }
    if (!(rest = sk_X509_new_null())) return APR_ENOMEM;
    for (i = 1; i < chain->nelts; ++i) sk_X509_push(rest, APR_ARRAY_IDX(chain, i, X509 *));
    rv = md_ocsp_cert_from_chain(pc, APR_ARRAY_IDX(chain, 0, X509 *), rest, p, perr);
    sk_X509_free(rest);                         /* the certificates belong to the pool */
    return rv;
}

apr_status_t md_ocsp_cert_from_chain(md_ocsp_cert_t **pc, X509 *leaf, const STACK_OF(X509) *chain,
                                     apr_pool_t *p, const char **perr)
{
    int i;

    *pc = NULL;
    for (i = 0; i < sk_X509_num(chain); ++i) {
        X509 *cand = sk_X509_value(chain, i);
        if (X509_check_issued(cand, leaf) == X509_V_OK)
            return md_ocsp_cert_make(pc, leaf, cand, p, perr);
    }
    *perr = "the issuer certificate is not in the chain; OCSP needs it";
    return APR_ENOENT;
}

apr_status_t md_ocsp_req_der(unsigned char **pder, apr_size_t *plen, const md_ocsp_cert_t *c,
                             apr_pool_t *p)
{
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_CERTID *id = OCSP_CERTID_dup(c->id);
    unsigned char *der = NULL;
    int len;
    apr_status_t rv = APR_EGENERAL;

    if (!req || !id) goto out;
    if (!OCSP_request_add0_id(req, id)) goto out;
    id = NULL;                                  /* owned by req now */
    if ((len = i2d_OCSP_REQUEST(req, &der)) <= 0) goto out;
    *pder = apr_pmemdup(p, der, (apr_size_t)len);
    *plen = (apr_size_t)len;
    rv = APR_SUCCESS;
out:
    OPENSSL_free(der);
    OCSP_CERTID_free(id);
    OCSP_REQUEST_free(req);
    return rv;
}

static apr_time_t gentime_to_apr(const ASN1_GENERALIZEDTIME *t)
{
    struct tm tm;
    time_t secs;
    memset(&tm, 0, sizeof(tm));
    if (!t || !ASN1_TIME_to_tm(t, &tm)) return 0;
    secs = timegm(&tm);
    return secs < 0 ? 0 : apr_time_from_sec(secs);
}

/* Index of the single response about c: by our SHA-1 cert id, or, for responders that answer
 * with another hash algorithm, by an id computed with theirs. -1 if there is none. */
static int find_single(OCSP_BASICRESP *basic, const md_ocsp_cert_t *c)
{
    int i, n, idx = OCSP_resp_find(basic, c->id, -1);

    if (idx >= 0) return idx;
    n = OCSP_resp_count(basic);
    for (i = 0; i < n; ++i) {
        const OCSP_CERTID *sid = OCSP_SINGLERESP_get0_id(OCSP_resp_get0(basic, i));
        ASN1_OBJECT *alg = NULL;
        ASN1_INTEGER *serial = NULL;
        const EVP_MD *md;
        OCSP_CERTID *alt;
        int same;

        if (!sid || !OCSP_id_get0_info(NULL, &alg, NULL, &serial, (OCSP_CERTID *)sid)) continue;
        if (ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(c->cert))) continue;
        if (!(md = EVP_get_digestbyobj(alg)) || EVP_MD_is_a(md, "SHA1")) continue;
        if (!(alt = OCSP_cert_to_id(md, c->cert, c->issuer))) continue;
        same = !OCSP_id_cmp(alt, sid);
        OCSP_CERTID_free(alt);
        if (same) return i;
    }
    return -1;
}

apr_status_t md_ocsp_resp_verify(md_ocsp_resp_t **presp, const md_ocsp_cert_t *c,
                                 const unsigned char *der, apr_size_t len, apr_time_t now,
                                 apr_pool_t *p, const char **perr)
{
    const unsigned char *q = der;
    OCSP_RESPONSE *resp = NULL;
    OCSP_BASICRESP *basic = NULL;
    X509_STORE *trust = NULL;
    STACK_OF(X509) *untrusted = NULL;
    ASN1_GENERALIZEDTIME *this_upd = NULL, *next_upd = NULL, *rev_time = NULL;
    int rs, idx, status = -1, reason = 0;
    md_ocsp_resp_t *r;
    apr_status_t rv = APR_EINVAL;

    *presp = NULL;
    ERR_clear_error();
    if (!der || !len || len > MD_OCSP_DER_MAX || len > (apr_size_t)LONG_MAX) {
        *perr = apr_psprintf(p, "the response has an invalid size (%" APR_SIZE_T_FMT " bytes)", len);
        goto out;
    }
    resp = d2i_OCSP_RESPONSE(NULL, &q, (long)len);
    if (!resp || q != der + len) {
        *perr = "the response is not a DER encoded OCSP response";
        goto out;
    }
    if ((rs = OCSP_response_status(resp)) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        *perr = apr_psprintf(p, "the responder answered '%s' (%d)", OCSP_response_status_str(rs), rs);
        goto out;
    }
    if (!(basic = OCSP_response_get1_basic(resp))) {
        *perr = "the response holds no basic OCSP response";
        goto out;
    }
    trust = X509_STORE_new();
    untrusted = sk_X509_new_null();
    if (!trust || !untrusted || !X509_STORE_add_cert(trust, c->issuer)
        || !X509_STORE_set_flags(trust, X509_V_FLAG_PARTIAL_CHAIN)
        || !sk_X509_push(untrusted, c->issuer)) {
        *perr = "out of memory";
        rv = APR_ENOMEM;
        goto out;
    }
    if (OCSP_basic_verify(basic, untrusted, trust, 0) <= 0) {
        *perr = apr_psprintf(p, "the response is not signed by the issuer or a responder it "
                             "authorized: %s", md_crypt_last_error(p));
        goto out;
    }
    if ((idx = find_single(basic, c)) < 0) {
        *perr = "the response is not about this certificate (no matching cert id)";
        goto out;
    }
    status = OCSP_single_get0_status(OCSP_resp_get0(basic, idx), &reason, &rev_time,
                                     &this_upd, &next_upd);
    r = apr_pcalloc(p, sizeof(*r));
    r->valid_from = gentime_to_apr(this_upd);
    if (!r->valid_from) {
        *perr = "the response has no valid thisUpdate";
        goto out;
    }
    if (r->valid_from > now + MD_OCSP_LEEWAY) {
        *perr = apr_psprintf(p, "the response is from the future (thisUpdate %s)",
                             md_util_time_format(p, r->valid_from));
        goto out;
    }
    if (next_upd) {
        r->valid_until = gentime_to_apr(next_upd);
        if (r->valid_until <= r->valid_from) {
            *perr = "the response's nextUpdate is not after its thisUpdate";
            goto out;
        }
    }
    else {
        r->valid_until = r->valid_from + MD_OCSP_NO_NEXT_UPDATE_VALID;
    }
    if (r->valid_until <= now) {
        *perr = apr_psprintf(p, "the response expired on %s", md_util_time_format(p, r->valid_until));
        goto out;
    }
    switch (status) {
    case V_OCSP_CERTSTATUS_GOOD: r->status = MD_OCSP_GOOD; break;
    case V_OCSP_CERTSTATUS_REVOKED: r->status = MD_OCSP_REVOKED; break;
    default: r->status = MD_OCSP_UNKNOWN; break;
    }
    r->der = apr_pmemdup(p, der, len);
    r->der_len = len;
    *presp = r;
    rv = APR_SUCCESS;
out:
    sk_X509_free(untrusted);
    X509_STORE_free(trust);
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(resp);
    ERR_clear_error();
    return rv;
}

apr_time_t md_ocsp_renew_at(const md_ocsp_resp_t *resp, const md_timeslice_t *window)
{
    apr_interval_time_t span = md_timeslice_span(window, resp->valid_from, resp->valid_until);
    apr_time_t at = resp->valid_until - span;
    if (at > resp->valid_until) at = resp->valid_until;
    return at;
}

apr_interval_time_t md_ocsp_backoff(apr_interval_time_t base, int errors, apr_interval_time_t cap)
{
    apr_interval_time_t d = base > 0 ? base : apr_time_from_sec(1);
    int i;
    for (i = 1; i < errors && d < cap; ++i) d *= 2;
    return d > cap ? cap : d;
}

/* ---- store ---- */

json_t *md_ocsp_resp_to_json(const md_ocsp_resp_t *resp, apr_pool_t *p)
{
    return json_pack("{s:s,s:s,s:{s:s,s:s}}",
                     "response", md_util_base64url_encode(p, resp->der, resp->der_len),
                     "status", md_ocsp_status_str(resp->status),
                     "valid", "from", md_util_time_format(p, resp->valid_from),
                     "until", md_util_time_format(p, resp->valid_until));
}

const char *md_ocsp_fname(const md_ocsp_cert_t *c, apr_pool_t *p)
{
    return apr_pstrcat(p, "ocsp-", c->sha1_hex, ".json", NULL);
}

apr_status_t md_ocsp_store_save(md_store_t *store, const char *dir, const md_ocsp_cert_t *c,
                                const md_ocsp_resp_t *resp, apr_pool_t *p)
{
    json_t *j = md_ocsp_resp_to_json(resp, p);
    apr_status_t rv;
    if (!j) return APR_ENOMEM;
    if (!md_store_name_is_safe(dir)) rv = APR_EINVAL;
    else rv = md_store_save_json(store, MD_SG_OCSP, dir, md_ocsp_fname(c, p), j, p);
    json_decref(j);
    return rv;
}

apr_status_t md_ocsp_store_load(md_ocsp_resp_t **presp, md_store_t *store, const char *dir,
                                const md_ocsp_cert_t *c, apr_time_t now, apr_pool_t *p,
                                const char **perr)
{
    json_t *j;
    const char *b64;
    unsigned char *der;
    long n;
    apr_status_t rv;

    *presp = NULL;
    if (!md_store_name_is_safe(dir)) return APR_EINVAL;
    rv = md_store_load_json(store, MD_SG_OCSP, dir, md_ocsp_fname(c, p), &j, p, perr);
    if (rv != APR_SUCCESS) return rv;
    b64 = json_string_value(json_object_get(j, "response"));
    if (!b64 || (n = md_util_base64url_decode(p, b64, &der)) <= 0) {
        *perr = "no base64url \"response\" in the stored OCSP file";
        return APR_EINVAL;
    }
    return md_ocsp_resp_verify(presp, c, der, (apr_size_t)n, now, p, perr);
}

typedef struct {
    md_store_t *store;
    apr_interval_time_t keep;
    apr_hash_t *keep_paths;
    apr_time_t now;
    int removed;
} prune_t;

static int prune_set(void *baton, const char *name, apr_pool_t *p)
{
    prune_t *pr = baton;
    apr_array_header_t *files;
    apr_finfo_t fi;
    int i;

    md_store_list_files(&files, pr->store, MD_SG_OCSP, name, p);
    for (i = 0; i < files->nelts; ++i) {
        const char *fname = APR_ARRAY_IDX(files, i, const char *), *path;
        apr_size_t nlen = strlen(fname);
        if (strncmp(fname, "ocsp-", 5) || nlen < 10 || strcmp(fname + nlen - 5, ".json")) continue;
        path = md_store_path(pr->store, MD_SG_OCSP, name, fname, p);
        if (pr->keep_paths && apr_hash_get(pr->keep_paths, path, APR_HASH_KEY_STRING)) continue;
        if (apr_stat(&fi, path, APR_FINFO_MTIME, p) == APR_SUCCESS && pr->now - fi.mtime > pr->keep
            && md_store_remove(pr->store, MD_SG_OCSP, name, fname, p) == APR_SUCCESS)
            ++pr->removed;
    }
    return 1;
}

apr_status_t md_ocsp_store_prune(md_store_t *store, apr_interval_time_t keep,
                                 apr_hash_t *keep_paths, apr_time_t now, int *premoved,
                                 apr_pool_t *p)
{
    prune_t pr = { store, keep, keep_paths, now, 0 };
    apr_status_t rv = md_store_iter_names(prune_set, &pr, store, MD_SG_OCSP, p);

    *premoved = pr.removed;
    return rv;
}

/* ---- fetching (over md_http: proxy, trust roots and size limit as for the CA) ---- */

static const char *get_url(const char *url, const unsigned char *req, apr_size_t len, apr_pool_t *p)
{
    unsigned char *b64;
    char *enc, *d;
    const unsigned char *q;
    int n;

    if (len > 4096) return NULL;
    b64 = apr_palloc(p, 4 * ((len + 2) / 3) + 1);
    n = EVP_EncodeBlock(b64, req, (int)len);
    if (n <= 0) return NULL;
    d = enc = apr_palloc(p, (apr_size_t)n * 3 + 1);
    for (q = b64; *q; ++q) {
        if (*q == '+' || *q == '/' || *q == '=') d += apr_snprintf(d, 4, "%%%02X", *q);
        else *d++ = (char)*q;
    }
    *d = '\0';
    return apr_pstrcat(p, url, url[0] && url[strlen(url) - 1] == '/' ? "" : "/", enc, NULL);
}

apr_status_t md_ocsp_fetch(unsigned char **pder, apr_size_t *plen, const char *url,
                           const md_http_opts_t *opts, const unsigned char *req,
                           apr_size_t req_len, apr_pool_t *p, const char **perr)
{
    md_http_opts_t o = *opts;
    md_http_t *http;
    md_http_response_t *resp;
    apr_status_t rv;

    *pder = NULL;
    *plen = 0;
    o.max_body = MD_OCSP_DER_MAX;
    if ((rv = md_http_create(&http, &o, p)) != APR_SUCCESS) {
        *perr = "cannot create an HTTP client";
        return rv;
    }
    rv = md_http_request(&resp, http, "POST", url, "application/ocsp-request",
                         "application/ocsp-response", (const char *)req, req_len, p, perr);
    if (rv == APR_SUCCESS && resp->status == 405) {
        /* a responder that only takes GET (RFC 6960 A.1): url-encoded base64 of the DER */
        const char *get = get_url(url, req, req_len, p);
        if (get) rv = md_http_request(&resp, http, "GET", get, NULL, "application/ocsp-response",
                                      NULL, 0, p, perr);
    }
    if (rv != APR_SUCCESS) return rv;
    if (resp->status != 200) {
        *perr = apr_psprintf(p, "%s answered HTTP status %d", url, resp->status);
        return APR_EGENERAL;
    }
    *pder = (unsigned char *)resp->body;
    *plen = resp->body_len;
    return APR_SUCCESS;
}

/* ---- the shared table ---- */

typedef struct {
    apr_uint32_t seq;                           /* odd while being written */
    apr_uint32_t der_len;
    md_ocsp_slot_info_t info;
    unsigned char der[MD_OCSP_DER_MAX];
} table_slot_t;

struct md_ocsp_table_t {
    int n;
    table_slot_t *slots;
};

#define TABLE_READ_TRIES 1000

apr_status_t md_ocsp_table_create(md_ocsp_table_t **ptable, int n, apr_pool_t *p)
{
    md_ocsp_table_t *t = apr_pcalloc(p, sizeof(*t));
    apr_shm_t *shm;
    apr_size_t size = sizeof(table_slot_t) * (apr_size_t)(n > 0 ? n : 1);
    apr_status_t rv = apr_shm_create(&shm, size, NULL, p);

    if (rv != APR_SUCCESS) return rv;
    t->n = n;
    t->slots = apr_shm_baseaddr_get(shm);
    /* anonymous shared memory comes zeroed from the kernel: not touching it here keeps the
     * resident size to the pages that responses actually use */
    *ptable = t;
    return APR_SUCCESS;
}

md_ocsp_table_t *md_ocsp_table_create_local(int n, apr_pool_t *p)
{
    md_ocsp_table_t *t = apr_pcalloc(p, sizeof(*t));
    t->n = n;
    t->slots = apr_pcalloc(p, sizeof(table_slot_t) * (apr_size_t)(n > 0 ? n : 1));
    return t;
}

int md_ocsp_table_size(const md_ocsp_table_t *t)
{
    return t ? t->n : 0;
}

void md_ocsp_table_put(md_ocsp_table_t *t, int slot, const md_ocsp_resp_t *resp,
                       const md_ocsp_slot_info_t *info)
{
    table_slot_t *s;
    apr_uint32_t seq;

    if (!t || slot < 0 || slot >= t->n) return;
    s = &t->slots[slot];
    seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
    __atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    s->info = *info;
    if (resp && resp->der_len <= MD_OCSP_DER_MAX) {
        memcpy(s->der, resp->der, resp->der_len);
        s->der_len = (apr_uint32_t)resp->der_len;
        s->info.has_resp = 1;
        s->info.status = resp->status;
        s->info.valid_from = resp->valid_from;
        s->info.valid_until = resp->valid_until;
    }
    s->info.last_error[sizeof(s->info.last_error) - 1] = '\0';
    s->info.cert_sha1[sizeof(s->info.cert_sha1) - 1] = '\0';
    s->info.cert_sha256[sizeof(s->info.cert_sha256) - 1] = '\0';
    s->info.responder[sizeof(s->info.responder) - 1] = '\0';
    __atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
}

void md_ocsp_slot_info_set_cert(md_ocsp_slot_info_t *info, const md_ocsp_cert_t *c)
{
    apr_cpystrn(info->cert_sha1, c ? c->sha1_hex : "", sizeof(info->cert_sha1));
    apr_cpystrn(info->cert_sha256, c ? c->sha256_hex : "", sizeof(info->cert_sha256));
    apr_cpystrn(info->responder, c && c->responder ? c->responder : "", sizeof(info->responder));
}

apr_size_t md_ocsp_table_get_der(md_ocsp_table_t *t, int slot, unsigned char *buf, apr_time_t now,
                                 const char *cert_sha1)
{
    table_slot_t *s;
    int i;

    if (!t || slot < 0 || slot >= t->n) return 0;
    s = &t->slots[slot];
    for (i = 0; i < TABLE_READ_TRIES; ++i) {
        apr_uint32_t seq1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE), seq2;
        apr_size_t len;
        int usable;
        if (seq1 & 1) continue;
        len = s->der_len;
        usable = s->info.has_resp && s->info.valid_until > now && len <= MD_OCSP_DER_MAX
                 && (!cert_sha1 || !strncasecmp(cert_sha1, s->info.cert_sha1, sizeof(s->info.cert_sha1)));
        if (usable) memcpy(buf, s->der, len);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        seq2 = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
        if (seq1 == seq2) return usable ? len : 0;
    }
    return 0;                                   /* a writer died mid-write: serve nothing */
}

void md_ocsp_table_get_info(md_ocsp_table_t *t, int slot, md_ocsp_slot_info_t *info)
{
    table_slot_t *s;
    int i;

    memset(info, 0, sizeof(*info));
    if (!t || slot < 0 || slot >= t->n) return;
    s = &t->slots[slot];
    for (i = 0; i < TABLE_READ_TRIES; ++i) {
        apr_uint32_t seq1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE), seq2;
        if (seq1 & 1) continue;
        memcpy(info, &s->info, sizeof(*info));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        seq2 = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
        if (seq1 == seq2) {
            info->last_error[sizeof(info->last_error) - 1] = '\0';
            info->cert_sha1[sizeof(info->cert_sha1) - 1] = '\0';
            info->cert_sha256[sizeof(info->cert_sha256) - 1] = '\0';
            info->responder[sizeof(info->responder) - 1] = '\0';
            return;
        }
    }
    memset(info, 0, sizeof(*info));
}
