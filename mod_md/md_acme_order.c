/* md_acme_order.c: see md_acme_order.h. */
#include <string.h>

#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>

#include "md_crypt.h"
#include "md_jws.h"
#include "md_util.h"
#include "md_acme_order.h"

#define POLL_FIRST apr_time_from_msec(100)
#define POLL_MAX apr_time_from_sec(3)
#define POLL_TIMEOUT apr_time_from_sec(300)

/* One authorization we answered and wait for. */
typedef struct {
    const char *url;
    const char *domain;
    const char *type;               /* challenge type chosen */
    const char *token;
    const char *dns01_value;        /* the TXT record content given to MDChallengeDns01 */
    int set_up;
} authz_t;

/* Sleep for *delay (or until retry_after, capped), in slices so that shutdown is quick;
 * then grow *delay. */
static apr_status_t poll_wait(const md_acme_env_t *env, apr_interval_time_t *delay,
                              apr_time_t retry_after)
{
    apr_time_t until = apr_time_now() + *delay;
    if (retry_after > until) until = retry_after < apr_time_now() + POLL_MAX * 5 ? retry_after
                                     : apr_time_now() + POLL_MAX * 5;
    while (apr_time_now() < until) {
        if (env->abort_flag && *env->abort_flag) return APR_EINTR;
        apr_sleep(apr_time_from_msec(20) < until - apr_time_now() ? apr_time_from_msec(20)
                                                                 : until - apr_time_now());
    }
    *delay = *delay * 2 > POLL_MAX ? POLL_MAX : *delay * 2;
    return APR_SUCCESS;
}

static const char *key_authz(md_acme_t *acme, const char *token, apr_pool_t *p)
{
    return apr_pstrcat(p, token, ".", md_jws_thumbprint(acme->acct->key, p), NULL);
}

/* ---- certificates we make: CSR and the tls-alpn-01 answer ---- */

static GENERAL_NAMES *san_names(const apr_array_header_t *domains)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    int i;
    for (i = 0; i < domains->nelts; ++i) {
        const char *d = APR_ARRAY_IDX(domains, i, const char *);
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_OCTET_STRING *ip = md_util_is_ip(d) ? a2i_IPADDRESS(d) : NULL;
        if (ip) {
            /* RFC 8738: an IP address is an iPAddress SAN, not a dNSName */
            GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
        }
        else {
            ASN1_IA5STRING *s = ASN1_IA5STRING_new();
            ASN1_STRING_set(s, d, (int)strlen(d));
            GENERAL_NAME_set0_value(g, GEN_DNS, s);
        }
        sk_GENERAL_NAME_push(gens, g);
    }
    return gens;
}

apr_status_t md_acme_csr_der(unsigned char **pder, apr_size_t *plen, const md_t *md,
                             EVP_PKEY *pkey, apr_pool_t *p)
{
    X509_REQ *req = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *exts = NULL;
    GENERAL_NAMES *gens = san_names(md->domains);
    X509_NAME *name = X509_NAME_new();
    const char *cn = APR_ARRAY_IDX(md->domains, 0, const char *);
    unsigned char *der = NULL;
    int len;
    apr_status_t rv = APR_EGENERAL;

    if (!req || !name) goto leave;
    if (strlen(cn) <= 64
        && !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0))
        goto leave;
    if (!X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, name)
        || !X509_REQ_set_pubkey(req, pkey)
        || !X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT))
        goto leave;
    if (md->must_staple > 0) {
        /* TLS Feature (RFC 7633): SEQUENCE { INTEGER 5 (status_request) } */
        static const unsigned char must_staple[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        X509_EXTENSION *ext;
        ASN1_OCTET_STRING_set(os, must_staple, sizeof(must_staple));
        ext = X509_EXTENSION_create_by_NID(NULL, NID_tlsfeature, 0, os);
        ASN1_OCTET_STRING_free(os);
        if (!ext || !X509v3_add_ext(&exts, ext, -1)) {
            X509_EXTENSION_free(ext);
            goto leave;
        }
        X509_EXTENSION_free(ext);
    }
    if (!X509_REQ_add_extensions(req, exts) || !X509_REQ_sign(req, pkey, EVP_sha256())) goto leave;
    if ((len = i2d_X509_REQ(req, &der)) <= 0) goto leave;
    *pder = apr_pmemdup(p, der, (apr_size_t)len);
    *plen = (apr_size_t)len;
    OPENSSL_free(der);
    rv = APR_SUCCESS;
leave:
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(gens);
    X509_NAME_free(name);
    X509_REQ_free(req);
    return rv;
}

apr_status_t md_acme_tls_alpn01_cert(const char **pcert_pem, const char **pkey_pem,
                                     const char *domain, const char *key_authz,
                                     const md_pkey_spec_t *spec, apr_pool_t *p)
{
    EVP_PKEY *pkey;
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);   /* id-pe-acmeIdentifier */
    X509_EXTENSION *ext = NULL;
    GENERAL_NAMES *gens = NULL;
    apr_array_header_t *one = apr_array_make(p, 1, sizeof(const char *));
    unsigned char der[2 + 32], rnd[8];
    unsigned int hlen = 0;
    apr_status_t rv;

    APR_ARRAY_PUSH(one, const char *) = domain;
    if ((rv = md_pkey_gen(&pkey, spec, p)) != APR_SUCCESS) goto leave;
    rv = APR_EGENERAL;
    if (!x || !name || !serial || !os || !oid) goto leave;
    der[0] = 0x04;                  /* the extension's value is a DER OCTET STRING of the hash */
    der[1] = 0x20;
    if (!EVP_Digest(key_authz, strlen(key_authz), der + 2, &hlen, EVP_sha256(), NULL)) goto leave;
    ASN1_OCTET_STRING_set(os, der, sizeof(der));
    if (!(ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, os))) goto leave;
    RAND_bytes(rnd, sizeof(rnd));
    rnd[0] &= 0x7f;
    {
        BIGNUM *bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
        BN_to_ASN1_INTEGER(bn, serial);
        BN_free(bn);
    }
    gens = san_names(one);
    if (!X509_set_version(x, 2) || !X509_set_serialNumber(x, serial)
        || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)domain, -1, -1, 0)
        || !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name)
        || !X509_gmtime_adj(X509_getm_notBefore(x), -60)
        || !X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400)
        || !X509_set_pubkey(x, pkey)
        || !X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT)
        || !X509_add_ext(x, ext, -1)
        || !X509_sign(x, pkey, EVP_sha256()))
        goto leave;
    {
        apr_array_header_t *chain = apr_array_make(p, 1, sizeof(X509 *));
        APR_ARRAY_PUSH(chain, X509 *) = x;
        *pcert_pem = md_chain_to_pem(chain, p);
    }
    rv = md_pkey_to_pem(pkey_pem, pkey, NULL, 0, p);
leave:
    GENERAL_NAMES_free(gens);
    X509_EXTENSION_free(ext);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(os);
    ASN1_INTEGER_free(serial);
    X509_NAME_free(name);
    X509_free(x);
    return rv;
}

/* ---- challenges ---- */

static const char *const default_challenges[] = { "tls-alpn-01", "http-01", "dns-01", NULL };

/* Can we answer challenge type for domain here? */
static int can_answer(const md_t *md, const md_acme_env_t *env, const char *type, const char *domain)
{
    int explicit = md->ca_challenges && md->ca_challenges->nelts;

    if (explicit && md_util_array_index(md->ca_challenges, type) < 0) return 0;
    if (!strcmp(type, "dns-01")) return md->dns01_cmd != NULL && env->run_dns01 != NULL;
    if (md_util_is_wildcard(domain)) return 0;
    if (!strcmp(type, "http-01")) return explicit || env->can_http;
    /* tls-alpn-01 needs a virtual host of the name with 'Protocols ... acme-tls/1', listed
     * in MDCAChallenges or not (the reference skips it the same way) */
    if (!strcmp(type, "tls-alpn-01"))
        return (explicit || env->can_https) && md->acme_tls_1_domains
               && md_util_array_index(md->acme_tls_1_domains, domain) >= 0;
    return 0;
}

/* Pick the challenge of an authorization that we answer, in preference order. */
static json_t *choose_challenge(const md_t *md, const md_acme_env_t *env, json_t *challenges,
                                const char *domain)
{
    const char *const *pref = default_challenges;
    apr_array_header_t *order = NULL;
    int i;
    size_t k;

    if (md->ca_challenges && md->ca_challenges->nelts) order = md->ca_challenges;
    for (i = 0; order ? i < order->nelts : pref[i] != NULL; ++i) {
        const char *type = order ? APR_ARRAY_IDX(order, i, const char *) : pref[i];
        if (!can_answer(md, env, type, domain)) continue;
        for (k = 0; k < json_array_size(challenges); ++k) {
            json_t *c = json_array_get(challenges, k);
            const char *t = json_string_value(json_object_get(c, "type"));
            if (t && !strcmp(t, type) && json_string_value(json_object_get(c, "url"))
                && json_string_value(json_object_get(c, "token")))
                return c;
        }
    }
    return NULL;
}

static int token_is_safe(const char *t)
{
    const char *s;
    if (!*t || strlen(t) > 256) return 0;
    for (s = t; *s; ++s) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')
              || *s == '-' || *s == '_'))
            return 0;
    }
    return 1;
}

static apr_status_t setup_challenge(md_acme_t *acme, authz_t *az, const md_t *md,
                                    const md_acme_env_t *env, apr_pool_t *p)
{
    const char *ka = key_authz(acme, az->token, p), *err = NULL;
    apr_status_t rv;

    if (!strcmp(az->type, "http-01")) {
        rv = md_store_save_data(env->store, MD_SG_CHALLENGES, az->domain, MD_FN_HTTP01, ka, p);
    }
    else if (!strcmp(az->type, "tls-alpn-01")) {
        /* with the MD's (first) key type, under the file names that type gives, as the
         * reference does: a client that accepts only RSA signatures gets its answer too */
        const md_pkey_spec_t *spec = md_pkey_spec_get(md, 0);
        const char *cpem, *kpem;
        rv = md_acme_tls_alpn01_cert(&cpem, &kpem, az->domain, ka, spec, p);
        if (rv == APR_SUCCESS)
            rv = md_store_save_secret(env->store, MD_SG_CHALLENGES, az->domain,
                                      md_store_fname(p, MD_FN_TLSALPN01_KEY_BASE, spec), kpem, p);
        if (rv == APR_SUCCESS)
            rv = md_store_save_data(env->store, MD_SG_CHALLENGES, az->domain,
                                    md_store_fname(p, MD_FN_TLSALPN01_CERT_BASE, spec), cpem, p);
    }
    else {
        unsigned char h[EVP_MAX_MD_SIZE];
        unsigned int hl = 0;
        EVP_Digest(ka, strlen(ka), h, &hl, EVP_sha256(), NULL);
        az->dns01_value = md_util_base64url_encode(p, h, hl);
        rv = env->run_dns01(env->baton, "setup", az->domain, az->dns01_value, p, &err);
        if (rv != APR_SUCCESS) {
            md_result_problem_set(acme->result, rv, MD_ACME_ORDER_PROBLEM_SETUP,
                                  apr_psprintf(p, "MDChallengeDns01 setup for %s failed: %s", az->domain,
                                               err ? err : "non-zero exit"), NULL);
            return rv;
        }
    }
    if (rv != APR_SUCCESS) {
        md_result_problem_set(acme->result, rv, MD_ACME_ORDER_PROBLEM_SETUP,
                              apr_psprintf(p, "cannot store the %s answer for %s in %s", az->type, az->domain,
                                           md_store_path(env->store, MD_SG_CHALLENGES, az->domain, NULL, p)),
                              NULL);
        return rv;
    }
    az->set_up = 1;
    if (env->on_setup && (rv = env->on_setup(env->baton, az->type, az->domain, p)) != APR_SUCCESS) {
        md_result_problem_set(acme->result, rv, MD_ACME_ORDER_PROBLEM_SETUP,
                              apr_psprintf(p, "MDMessageCmd challenge-setup:%s:%s failed, not asking "
                                           "the CA to validate", az->type, az->domain), NULL);
        return rv;
    }
    return APR_SUCCESS;
}

apr_status_t md_acme_tls_alpn01_load(char **pcert_pem, char **pkey_pem, md_store_t *store,
                                     const char *host, apr_pool_t *p)
{
    const char *suffix = "";
    apr_size_t blen = sizeof(MD_FN_TLSALPN01_CERT_BASE) - 1;
    apr_array_header_t *files;
    apr_status_t rv;
    int i;

    /* the RSA answer (no suffix) when there, else the first of another key type */
    if (!md_store_exists(store, MD_SG_CHALLENGES, host, MD_FN_TLSALPN01_CERT, p)) {
        if ((rv = md_store_list_files(&files, store, MD_SG_CHALLENGES, host, p)) != APR_SUCCESS)
            return rv;
        suffix = NULL;
        for (i = 0; i < files->nelts && !suffix; ++i) {
            const char *name = APR_ARRAY_IDX(files, i, const char *);
            if (!strncmp(name, MD_FN_TLSALPN01_CERT_BASE ".", blen + 1)
                && strlen(name) > blen + 5 && !strcmp(name + strlen(name) - 4, ".pem"))
                suffix = apr_pstrndup(p, name + blen, strlen(name) - blen - 4);
        }
        if (!suffix) return APR_ENOENT;
    }
    rv = md_store_load_data(store, MD_SG_CHALLENGES, host,
                            apr_pstrcat(p, MD_FN_TLSALPN01_CERT_BASE, suffix, ".pem", NULL),
                            pcert_pem, NULL, 64 * 1024, p);
    if (rv == APR_SUCCESS)
        rv = md_store_load_data(store, MD_SG_CHALLENGES, host,
                                apr_pstrcat(p, MD_FN_TLSALPN01_KEY_BASE, suffix, ".pem", NULL),
                                pkey_pem, NULL, 64 * 1024, p);
    return rv;
}

static void teardown_challenge(const authz_t *az, const md_t *md, const md_acme_env_t *env,
                               apr_pool_t *p)
{
    const char *err = NULL;
    if (!az->set_up) return;
    if (!strcmp(az->type, "http-01")) {
        md_store_remove(env->store, MD_SG_CHALLENGES, az->domain, MD_FN_HTTP01, p);
    }
    else if (!strcmp(az->type, "tls-alpn-01")) {
        const md_pkey_spec_t *spec = md_pkey_spec_get(md, 0);
        md_store_remove(env->store, MD_SG_CHALLENGES, az->domain,
                        md_store_fname(p, MD_FN_TLSALPN01_CERT_BASE, spec), p);
        md_store_remove(env->store, MD_SG_CHALLENGES, az->domain,
                        md_store_fname(p, MD_FN_TLSALPN01_KEY_BASE, spec), p);
    }
    else if (env->run_dns01) {
        /* version 2 names the record to remove: a wildcard and its base name share one */
        env->run_dns01(env->baton, "teardown", az->domain, md->dns01_version == 2 ? az->dns01_value : NULL,
                       p, &err);
    }
    /* challenges/<domain>/ itself goes too, as with the reference (fails harmlessly while
     * another answer is still in it) */
    md_store_remove(env->store, MD_SG_CHALLENGES, az->domain, NULL, p);
}

/* The challenge types an authorization offers, for messages. */
static const char *offered(json_t *challenges, apr_pool_t *p)
{
    const char *s = NULL;
    size_t i;
    for (i = 0; i < json_array_size(challenges) && i < 10; ++i) {
        const char *t = json_string_value(json_object_get(json_array_get(challenges, i), "type"));
        if (t) s = s ? apr_pstrcat(p, s, ", ", t, NULL) : t;
    }
    return s ? s : "none";
}

static apr_status_t post_empty(md_acme_t *acme, const char *url, apr_pool_t *p)
{
    json_t *empty = json_object();
    apr_status_t rv = md_acme_post(acme, url, empty, NULL, NULL, NULL, p);
    json_decref(empty);
    return rv;
}

/* The error of the first invalid challenge of an authorization, for the user. */
static const char *authz_failure(json_t *authz, const char *domain, json_t **psub, const char **ptype,
                                 apr_pool_t *p)
{
    json_t *chs = json_object_get(authz, "challenges");
    size_t i;
    for (i = 0; i < json_array_size(chs); ++i) {
        json_t *c = json_array_get(chs, i), *e = json_object_get(c, "error");
        if (json_is_object(e)) {
            const char *t = json_string_value(json_object_get(c, "type"));
            const char *d = json_string_value(json_object_get(e, "detail"));
            *ptype = json_string_value(json_object_get(e, "type"));
            *psub = json_object_get(e, "subproblems");
            return apr_psprintf(p, "the CA could not validate the %s challenge for %s: %s",
                                t ? t : "?", domain, d ? d : "(no detail)");
        }
    }
    *ptype = NULL;
    *psub = NULL;
    return apr_psprintf(p, "the authorization for %s became invalid", domain);
}

/* POST-as-GET url until its "status" leaves the waiting states. */
static apr_status_t poll_status(json_t **pj, const char **pstatus, md_acme_t *acme, const char *url,
                                const char *const *waiting, const md_acme_env_t *env, apr_pool_t *p)
{
    apr_interval_time_t delay = POLL_FIRST;
    apr_time_t end = apr_time_now() + (env->poll_timeout ? env->poll_timeout : POLL_TIMEOUT);
    md_http_response_t *resp;
    apr_status_t rv;
    int i, wait;

    for (;;) {
        if ((rv = md_acme_post(acme, url, NULL, NULL, &resp, pj, p)) != APR_SUCCESS) return rv;
        if (!(*pstatus = md_acme_json_str(acme, *pj, "status", "object"))) return APR_EINVAL;
        for (wait = 0, i = 0; waiting[i]; ++i) if (!strcmp(waiting[i], *pstatus)) wait = 1;
        if (!wait) return APR_SUCCESS;
        if (apr_time_now() > end) {
            md_result_set(acme->result, APR_TIMEUP,
                          apr_psprintf(p, "%s is still '%s' after %s; giving up for now", url,
                                       *pstatus, md_util_duration_format(p, env->poll_timeout ? env->poll_timeout : POLL_TIMEOUT)));
            return APR_TIMEUP;
        }
        if ((rv = poll_wait(env, &delay, md_acme_retry_after(resp))) != APR_SUCCESS) {
            md_result_set(acme->result, rv, "interrupted (server shutting down)");
            return rv;
        }
    }
}

static apr_status_t authorize(md_acme_t *acme, json_t *order, const md_t *md,
                              const md_acme_env_t *env, apr_pool_t *p)
{
    static const char *const pending[] = { "pending", "processing", NULL };
    json_t *authzs = json_object_get(order, "authorizations");
    apr_array_header_t *answered = apr_array_make(p, 5, sizeof(authz_t *));
    apr_status_t rv = APR_SUCCESS;
    size_t i;
    int k;

    if (!json_is_array(authzs) || !json_array_size(authzs) || json_array_size(authzs) > 1000) {
        md_result_set(acme->result, APR_EINVAL, "the CA's order has no valid list of authorizations");
        return APR_EINVAL;
    }
    for (i = 0; i < json_array_size(authzs) && rv == APR_SUCCESS; ++i) {
        const char *url = json_string_value(json_array_get(authzs, i)), *status, *domain;
        json_t *az, *chall;
        authz_t *a;

        if (!url) {
            md_result_set(acme->result, APR_EINVAL, "the CA's order lists an authorization that is no URL");
            rv = APR_EINVAL;
            break;
        }
        md_result_activity(acme->result, apr_psprintf(p, "fetching authorization %s", url));
        if ((rv = md_acme_post(acme, url, NULL, NULL, NULL, &az, p)) != APR_SUCCESS) break;
        if (!(status = md_acme_json_str(acme, az, "status", "authorization"))
            || !(domain = md_acme_json_str(acme, json_object_get(az, "identifier"), "value",
                                           "authorization identifier"))) {
            rv = APR_EINVAL;
            break;
        }
        /* the one place where a CA's spelling of a name enters: DNS names are case-insensitive
         * (RFC 4343), and challenge files, lookups and logs use the lower-case form */
        domain = md_util_str_tolower(p, domain);
        if (json_is_true(json_object_get(az, "wildcard"))) domain = apr_pstrcat(p, "*.", domain, NULL);
        if (!md_contains(md, domain)) {
            md_result_set(acme->result, APR_EINVAL,
                          apr_psprintf(p, "the CA asks to authorize %s, which is not a name of MDomain %s",
                                       domain, md->name));
            rv = APR_EINVAL;
            break;
        }
        if (!strcmp(status, "valid")) continue;
        if (strcmp(status, "pending")) {
            md_result_set(acme->result, APR_EINVAL,
                          apr_psprintf(p, "the authorization for %s is '%s' at the CA", domain, status));
            rv = APR_EINVAL;
            break;
        }
        chall = choose_challenge(md, env, json_object_get(az, "challenges"), domain);
        if (!chall) {
            md_result_problem_set(acme->result, APR_EINVAL, MD_ACME_ORDER_PROBLEM_MISMATCH,
                          apr_psprintf(p, "no challenge for %s can be answered: the CA offers %s; "
                                       "http-01 needs port 80 (MDPortMap), tls-alpn-01 port 443 and "
                                       "'Protocols acme-tls/1', dns-01 MDChallengeDns01%s",
                                       domain, offered(json_object_get(az, "challenges"), p),
                                       md->ca_challenges ? "; MDCAChallenges limits the choice" : ""),
                          NULL);
            rv = APR_EINVAL;
            break;
        }
        a = apr_pcalloc(p, sizeof(*a));
        a->url = url;
        a->domain = domain[0] == '*' ? domain + 2 : domain;
        a->type = json_string_value(json_object_get(chall, "type"));
        a->token = json_string_value(json_object_get(chall, "token"));
        if (!token_is_safe(a->token)) {
            md_result_set(acme->result, APR_EINVAL,
                          apr_psprintf(p, "the CA's %s token for %s contains characters that are not "
                                       "base64url", a->type, domain));
            rv = APR_EINVAL;
            break;
        }
        APR_ARRAY_PUSH(answered, authz_t *) = a;
        md_result_activity(acme->result, apr_psprintf(p, "setting up the %s challenge for %s", a->type, domain));
        if ((rv = setup_challenge(acme, a, md, env, p)) != APR_SUCCESS) break;
        md_result_activity(acme->result, apr_psprintf(p, "asking the CA to validate %s (%s)", domain, a->type));
        rv = post_empty(acme, json_string_value(json_object_get(chall, "url")), p);
    }
    for (k = 0; k < answered->nelts && rv == APR_SUCCESS; ++k) {
        authz_t *a = APR_ARRAY_IDX(answered, k, authz_t *);
        const char *status, *type;
        json_t *az, *sub;

        md_result_activity(acme->result, apr_psprintf(p, "waiting for the CA to validate %s (%s)",
                                                      a->domain, a->type));
        rv = poll_status(&az, &status, acme, a->url, pending, env, p);
        if (rv == APR_SUCCESS && strcmp(status, "valid")) {
            const char *detail = authz_failure(az, a->domain, &sub, &type, p);
            md_result_problem_set(acme->result, APR_EINVAL, type, detail, json_is_array(sub) ? sub : NULL);
            rv = APR_EINVAL;
        }
    }
    for (k = 0; k < answered->nelts; ++k)
        teardown_challenge(APR_ARRAY_IDX(answered, k, authz_t *), md, env, p);
    return rv;
}

/* ---- the order ---- */

static apr_status_t check_chain(md_acme_t *acme, apr_array_header_t *chain, const md_t *md,
                                EVP_PKEY *pkey, apr_pool_t *p)
{
    X509 *leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    if (!md_cert_covers_domains(leaf, md->domains)) {
        md_result_set(acme->result, APR_EINVAL,
                      "the CA issued a certificate that does not cover all names of the MDomain; "
                      "it is not used");
        return APR_EINVAL;
    }
    if (!md_cert_matches_key(leaf, pkey)) {
        md_result_set(acme->result, APR_EINVAL,
                      "the CA issued a certificate that does not belong to our private key; "
                      "it is not used");
        return APR_EINVAL;
    }
    if (md_cert_not_after(leaf) <= apr_time_now()) {
        md_result_set(acme->result, APR_EINVAL, "the CA issued a certificate that has already expired");
        return APR_EINVAL;
    }
    (void)p;
    return APR_SUCCESS;
}

const char *md_acme_order_activity(const md_t *md, const char *profile, apr_pool_t *p)
{
    return apr_psprintf(p, "Creating new order for %s, profile=%s", md->name, profile ? profile : "none");
}

apr_status_t md_acme_order_profile(const char **pprofile, const char **pnotice, md_acme_t *acme,
                                   const md_t *md, apr_pool_t *p)
{
    const char *offered;
    int i;

    *pprofile = *pnotice = NULL;
    if (!md->profile) return APR_SUCCESS;
    if ((i = md_util_array_index(acme->profiles, md->profile)) >= 0) {
        *pprofile = APR_ARRAY_IDX(acme->profiles, i, const char *);   /* the CA's spelling */
        return APR_SUCCESS;
    }
    offered = acme->profiles->nelts ? apr_array_pstrcat(p, acme->profiles, ',') : NULL;
    offered = offered ? apr_psprintf(p, "it offers: %s", offered) : "it offers no profiles";
    if (md->profile_mandatory > 0) {
        md_result_set(acme->result, APR_EINVAL,
                      apr_psprintf(p, "MDProfile %s is mandatory (MDProfileMandatory on), but the "
                                   "CA at %s does not offer it (%s); no certificate is ordered. "
                                   "Choose a profile the CA offers or set MDProfileMandatory off",
                                   md->profile, acme->url, offered));
        return APR_EINVAL;
    }
    *pnotice = apr_psprintf(p, "MDProfile %s is not offered by the CA at %s (%s); ordering with "
                            "the CA's default profile (MDProfileMandatory off)", md->profile,
                            acme->url, offered);
    return APR_SUCCESS;
}

apr_status_t md_acme_order_cert(apr_array_header_t **pchain, md_acme_t *acme, const md_t *md,
                                EVP_PKEY *pkey, const md_acme_env_t *env, apr_pool_t *p)
{
    static const char *const processing[] = { "pending", "processing", NULL };
    json_t *ids = json_array(), *payload, *order;
    md_http_response_t *resp;
    const char *order_url, *status, *finalize, *cert_url;
    unsigned char *csr;
    apr_size_t csr_len;
    apr_status_t rv;
    int i;

    for (i = 0; i < md->domains->nelts; ++i)
    {
        const char *d = APR_ARRAY_IDX(md->domains, i, const char *);
        json_array_append_new(ids, json_pack("{s:s,s:s}", "type", md_util_is_ip(d) ? "ip" : "dns",
                                             "value", d));
    }
    payload = json_pack("{s:o}", "identifiers", ids);
    /* RFC 9773 section 5: only to a CA that knows ARI, and only when the admin wants ARI */
    if (env->replaces && acme->renewal_info && md->ari_renewals > 0)
        json_object_set_new(payload, "replaces", json_string(env->replaces));
    if (env->profile) json_object_set_new(payload, "profile", json_string(env->profile));
    /* the reference's words for this step (renewal.last "activity") */
    md_result_activity(acme->result, md_acme_order_activity(md, env->profile, p));
    rv = md_acme_post(acme, acme->new_order, payload, NULL, &resp, &order, p);
    if (rv != APR_SUCCESS && json_object_get(payload, "replaces") && acme->result->problem
        && !strcmp(acme->result->problem, MD_ACME_PROBLEM_PREFIX "alreadyReplaced")) {
        /* the certificate was replaced already (by an earlier run whose result we lost):
         * a new order without the claim is still fine (RFC 9773 section 5) */
        json_object_del(payload, "replaces");
        rv = md_acme_post(acme, acme->new_order, payload, NULL, &resp, &order, p);
    }
    json_decref(payload);
    if (rv != APR_SUCCESS) return rv;
    if (!(order_url = apr_table_get(resp->headers, "Location")) || !*order_url) {
        md_result_set(acme->result, APR_EINVAL, "the CA's new order has no Location header");
        return APR_EINVAL;
    }
    if (!(status = md_acme_json_str(acme, order, "status", "order"))) return APR_EINVAL;
    {
        /* staging/<md>/order.json: which order this renewal works on, for the curious */
        json_t *oj = json_pack("{s:s,s:s,s:O}", "url", order_url, "status", status,
                               "authorizations", json_is_array(json_object_get(order, "authorizations"))
                               ? json_object_get(order, "authorizations") : json_null());
        md_store_save_json(env->store, MD_SG_STAGING, md->name, "order.json", oj, p);
        json_decref(oj);
    }
    if (!strcmp(status, "pending") && (rv = authorize(acme, order, md, env, p)) != APR_SUCCESS)
        return rv;

    md_result_activity(acme->result, apr_psprintf(p, "waiting for order %s to become ready", order_url));
    if ((rv = poll_status(&order, &status, acme, order_url, processing, env, p)) != APR_SUCCESS) return rv;
    if (!strcmp(status, "ready")) {
        if (!(finalize = md_acme_json_str(acme, order, "finalize", "order"))) return APR_EINVAL;
        if ((rv = md_acme_csr_der(&csr, &csr_len, md, pkey, p)) != APR_SUCCESS) {
            md_result_set(acme->result, rv, "creating the certificate signing request failed");
            return rv;
        }
        payload = json_pack("{s:s}", "csr", md_util_base64url_encode(p, csr, csr_len));
        md_result_activity(acme->result, apr_psprintf(p, "finalizing order %s", order_url));
        rv = md_acme_post(acme, finalize, payload, NULL, NULL, &order, p);
        json_decref(payload);
        if (rv != APR_SUCCESS) return rv;
        md_result_activity(acme->result, apr_psprintf(p, "waiting for the certificate of order %s", order_url));
        if ((rv = poll_status(&order, &status, acme, order_url, processing, env, p)) != APR_SUCCESS)
            return rv;
    }
    if (strcmp(status, "valid")) {
        json_t *e = json_object_get(order, "error");
        const char *d = json_is_object(e) ? json_string_value(json_object_get(e, "detail")) : NULL;
        md_result_problem_set(acme->result, APR_EINVAL,
                              json_is_object(e) ? json_string_value(json_object_get(e, "type")) : NULL,
                              apr_psprintf(p, "the order %s is '%s'%s%s", order_url, status,
                                           d ? ": " : "", d ? d : ""), NULL);
        return APR_EINVAL;
    }
    if (!(cert_url = md_acme_json_str(acme, order, "certificate", "order"))) return APR_EINVAL;
    md_result_activity(acme->result, apr_psprintf(p, "downloading the certificate from %s", cert_url));
    rv = md_acme_post(acme, cert_url, NULL, "application/pem-certificate-chain", &resp, NULL, p);
    if (rv != APR_SUCCESS) return rv;
    if (md_chain_from_pem(pchain, resp->body, resp->body_len, p) != APR_SUCCESS || !(*pchain)->nelts) {
        md_result_set(acme->result, APR_EINVAL,
                      apr_psprintf(p, "the CA's answer from %s holds no PEM certificate", cert_url));
        return APR_EINVAL;
    }
    if ((rv = check_chain(acme, *pchain, md, pkey, p)) != APR_SUCCESS) return rv;
    /* the order is done: like the reference, no order.json stays behind */
    md_store_remove(env->store, MD_SG_STAGING, md->name, "order.json", p);
    return APR_SUCCESS;
}
