/* md_acme.c: see md_acme.h. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <apr_uri.h>

#include "md_crypt.h"
#include "md_jws.h"
#include "md_util.h"
#include "md_acme.h"

#define JOSE "application/jose+json"

static apr_status_t json_release(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

/* ---- accounts: account.json ---- */

json_t *md_acme_acct_to_json(const md_acme_acct_t *acct)
{
    json_t *contacts = json_array();
    json_t *j;
    int i;

    for (i = 0; acct->contacts && i < acct->contacts->nelts; ++i)
        json_array_append_new(contacts, json_string(APR_ARRAY_IDX(acct->contacts, i, const char *)));
    j = json_pack("{s:s,s:s,s:o}", "url", acct->url, "ca-url", acct->ca_url, "contact", contacts);
    if (acct->id) json_object_set_new(j, "id", json_string(acct->id));
    json_object_set_new(j, "status", json_string(acct->status ? acct->status : "valid"));
    if (acct->agreement) json_object_set_new(j, "agreement", json_string(acct->agreement));
    if (acct->eab_kid) json_object_set_new(j, "eab-kid", json_string(acct->eab_kid));
    return j;
}

md_acme_acct_t *md_acme_acct_from_json(json_t *j, apr_pool_t *p)
{
    md_acme_acct_t *acct;
    json_t *c;
    const char *url = json_string_value(json_object_get(j, "url"));
    const char *ca = json_string_value(json_object_get(j, "ca-url"));
    size_t i;

    if (!url || !ca) return NULL;
    acct = apr_pcalloc(p, sizeof(*acct));
    acct->url = apr_pstrdup(p, url);
    acct->ca_url = apr_pstrdup(p, ca);
    acct->contacts = apr_array_make(p, 2, sizeof(const char *));
    c = json_object_get(j, "contact");
    for (i = 0; json_is_array(c) && i < json_array_size(c); ++i) {
        const char *s = json_string_value(json_array_get(c, i));
        if (s) APR_ARRAY_PUSH(acct->contacts, const char *) = apr_pstrdup(p, s);
    }
    if (json_string_value(json_object_get(j, "id")))
        acct->id = apr_pstrdup(p, json_string_value(json_object_get(j, "id")));
    acct->status = apr_pstrdup(p, json_string_value(json_object_get(j, "status")) ?
                               json_string_value(json_object_get(j, "status")) : "valid");
    if (json_string_value(json_object_get(j, "agreement")))
        acct->agreement = apr_pstrdup(p, json_string_value(json_object_get(j, "agreement")));
    if (json_string_value(json_object_get(j, "eab-kid")))
        acct->eab_kid = apr_pstrdup(p, json_string_value(json_object_get(j, "eab-kid")));
    return acct;
}

int md_acme_acct_matches(const md_acme_acct_t *acct, const char *ca_url,
                         const apr_array_header_t *contacts, const char *eab_kid)
{
    int i, n = contacts ? contacts->nelts : 0;

    /* an account bound to an external account serves MDs with that binding only */
    if (eab_kid && (!acct->eab_kid || strcmp(acct->eab_kid, eab_kid))) return 0;
    if (!eab_kid && acct->eab_kid) return 0;
    if (strcmp(acct->ca_url, ca_url) || (acct->status && strcmp(acct->status, "valid"))) return 0;
    if (acct->contacts->nelts != n) return 0;
    for (i = 0; i < n; ++i) {
        if (md_util_array_index(acct->contacts, APR_ARRAY_IDX(contacts, i, const char *)) < 0) return 0;
    }
    return 1;
}

apr_status_t md_acme_acct_load(md_acme_acct_t **pacct, md_store_t *store, md_store_group_t group,
                               const char *name, apr_pool_t *p)
{
    json_t *j;
    const char *err = NULL;
    char *pem;
    apr_size_t len;
    md_acme_acct_t *acct;
    apr_status_t rv = md_store_load_json(store, group, name, MD_FN_ACCOUNT, &j, p, &err);

    if (rv != APR_SUCCESS) return rv;
    if (!(acct = md_acme_acct_from_json(j, p))) return APR_EINVAL;
    rv = md_store_load_data(store, group, name, MD_FN_ACCOUNT_KEY, &pem, &len, 64 * 1024, p);
    if (rv != APR_SUCCESS) return rv;
    acct->key_pem = pem;
    if (group == MD_SG_ACCOUNTS) acct->id = apr_pstrdup(p, name);
    *pacct = acct;
    return APR_SUCCESS;
}

apr_status_t md_acme_acct_save(const md_acme_acct_t *acct, md_store_t *store,
                               md_store_group_t group, const char *name, apr_pool_t *p)
{
    json_t *j = md_acme_acct_to_json(acct);
    /* the key first: an account.json without its key would be unusable */
    apr_status_t rv = md_store_save_secret(store, group, name, MD_FN_ACCOUNT_KEY, acct->key_pem, p);
    if (rv == APR_SUCCESS) rv = md_store_save_json(store, group, name, MD_FN_ACCOUNT, j, p);
    json_decref(j);
    return rv;
}

/* ---- the client ---- */

apr_status_t md_acme_create(md_acme_t **pacme, const char *url, const md_http_opts_t *opts,
                            md_result_t *result, apr_pool_t *p)
{
    md_acme_t *acme = apr_pcalloc(p, sizeof(*acme));
    apr_status_t rv;

    acme->p = p;
    acme->url = apr_pstrdup(p, url);
    acme->result = result;
    acme->max_nonce_retries = 10;
    rv = md_http_create(&acme->http, opts, p);
    if (rv != APR_SUCCESS) md_result_set(result, rv, "cannot create an HTTP client");
    *pacme = acme;
    return rv;
}

const char *md_acme_json_str(md_acme_t *acme, json_t *j, const char *key, const char *what)
{
    const char *s = json_string_value(json_object_get(j, key));
    if (!s || !*s) {
        md_result_set(acme->result, APR_EINVAL,
                      apr_psprintf(acme->p, "the CA's %s has no valid \"%s\" (a string was expected)",
                                   what, key));
        return NULL;
    }
    return s;
}

apr_time_t md_acme_retry_after(const md_http_response_t *resp)
{
    const char *s = resp ? apr_table_get(resp->headers, "Retry-After") : NULL;
    char *end;
    long secs;

    apr_time_t now = apr_time_now(), t;

    if (!s) return 0;
    secs = strtol(s, &end, 10);
    if (end != s && !*end && secs >= 0) {
        if (secs > MD_ACME_RETRY_AFTER_MAX) secs = MD_ACME_RETRY_AFTER_MAX;
        return now + apr_time_from_sec(secs);
    }
    /* the HTTP-date form is capped the same way: a CA cannot postpone us for longer */
    t = md_util_time_parse(s);
    if (t > now + apr_time_from_sec(MD_ACME_RETRY_AFTER_MAX))
        t = now + apr_time_from_sec(MD_ACME_RETRY_AFTER_MAX);
    return t;
}

/* An exchange that produced no HTTP response. */
static apr_status_t transport_error(md_acme_t *acme, apr_status_t rv, const char *err, apr_pool_t *p)
{
    md_result_set(acme->result, rv,
                  apr_psprintf(p, rv == APR_ENOSPC ? "the CA's answer is refused: %s"
                               : "the ACME server is unreachable: %s", err));
    return rv;
}

/* Parse a body as a JSON object when it claims to be JSON (or looks like it). */
static json_t *body_json(const md_http_response_t *resp, apr_pool_t *p)
{
    json_t *j;
    if (!resp->body_len) return NULL;
    j = json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES, NULL);
    if (!j) return NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    apr_pool_cleanup_register(p, j, json_release, apr_pool_cleanup_null);
    return j;
}

static apr_status_t http_status_rv(int status)
{
    switch (status) {
    case 400: return APR_EINVAL;
    case 401: case 403: return APR_EACCES;
    case 404: return APR_ENOENT;
    case 429: return APR_EAGAIN;
    default: return APR_EGENERAL;
    }
}

/* Turn an error response into the result. */
static apr_status_t problem_result(md_acme_t *acme, const char *what, const char *url,
                                   md_http_response_t *resp, apr_pool_t *p)
{
    json_t *j = body_json(resp, p);
    const char *type = j ? json_string_value(json_object_get(j, "type")) : NULL;
    const char *detail = j ? json_string_value(json_object_get(j, "detail")) : NULL;
    apr_status_t rv = http_status_rv(resp->status);
    json_t *sub = j ? json_object_get(j, "subproblems") : NULL;

    if (type && !strcmp(type, MD_ACME_PROBLEM_PREFIX "accountDoesNotExist")) rv = APR_ENOENT;
    /* The problem document of an ACME request (a POST) gives renewal.last its "detail": the
     * CA's own words verbatim, as with the reference (monitoring matches on them); the
     * activity names the step. Other requests say which request failed. */
    int verbatim = detail && !strcmp(what, "a request");

    md_result_problem_set(acme->result, rv, type,
                          verbatim ? detail
                          : apr_psprintf(p, "the CA answered %d to %s (%s)%s%s", resp->status, what,
                                         url, detail ? ": " : "", detail ? detail : ""),
                          json_is_array(sub) ? sub : NULL);
    acme->result->retry_after = md_acme_retry_after(resp);
    return rv;
}

/* An absolute http(s) URL with a host. */
static int is_http_url(const char *s, apr_pool_t *p)
{
    apr_uri_t uri;

    return s && apr_uri_parse(p, s, &uri) == APR_SUCCESS && uri.scheme && uri.hostname
           && *uri.hostname && (!strcasecmp(uri.scheme, "https") || !strcasecmp(uri.scheme, "http"));
}

apr_status_t md_acme_setup(md_acme_t *acme)
{
    apr_pool_t *p = acme->p;
    md_http_response_t *resp;
    const char *err = NULL;
    json_t *dir, *meta;
    apr_status_t rv;

    md_result_activity(acme->result, apr_psprintf(p, "contacting the ACME server at %s", acme->url));
    rv = md_http_request(&resp, acme->http, "GET", acme->url, NULL, "application/json", NULL, 0, p, &err);
    if (rv != APR_SUCCESS) return transport_error(acme, rv, err, p);
    if (resp->status != 200) return problem_result(acme, "the directory request", acme->url, resp, p);
    if (!(dir = body_json(resp, p))) {
        md_result_set(acme->result, APR_EINVAL,
                      apr_psprintf(p, "%s is not an ACME directory (the response is no JSON object)",
                                   acme->url));
        return APR_EINVAL;
    }
    if (!(acme->new_nonce = md_acme_json_str(acme, dir, "newNonce", "directory"))
        || !(acme->new_account = md_acme_json_str(acme, dir, "newAccount", "directory"))
        || !(acme->new_order = md_acme_json_str(acme, dir, "newOrder", "directory")))
        return APR_EINVAL;
    acme->new_nonce = apr_pstrdup(p, acme->new_nonce);
    acme->new_account = apr_pstrdup(p, acme->new_account);
    acme->new_order = apr_pstrdup(p, acme->new_order);
    meta = json_object_get(dir, "meta");
    if (json_is_object(meta)) {
        const char *tos = json_string_value(json_object_get(meta, "termsOfService"));
        if (tos) acme->tos = apr_pstrdup(p, tos);
        acme->eab_required = json_is_true(json_object_get(meta, "externalAccountRequired"));
    }
    /* an empty or non-URL renewalInfo is a CA's mistake, not an ARI endpoint: ignore it */
    if (is_http_url(json_string_value(json_object_get(dir, "renewalInfo")), p))
        acme->renewal_info = apr_pstrdup(p, json_string_value(json_object_get(dir, "renewalInfo")));
    acme->profiles = apr_array_make(p, 3, sizeof(const char *));
    if (json_is_object(meta) && json_is_object(json_object_get(meta, "profiles"))) {
        const char *name;
        json_t *v;
        json_object_foreach(json_object_get(meta, "profiles"), name, v) {
            APR_ARRAY_PUSH(acme->profiles, const char *) = apr_pstrdup(p, name);
        }
    }
    return APR_SUCCESS;
}

static void take_nonce(md_acme_t *acme, md_http_response_t *resp)
{
    const char *n = apr_table_get(resp->headers, "Replay-Nonce");
    acme->nonce = n ? apr_pstrdup(acme->p, n) : NULL;
}

static apr_status_t fetch_nonce(md_acme_t *acme, apr_pool_t *p)
{
    md_http_response_t *resp;
    const char *err = NULL;
    apr_status_t rv = md_http_request(&resp, acme->http, "HEAD", acme->new_nonce, NULL, NULL,
                                      NULL, 0, p, &err);
    if (rv != APR_SUCCESS) return transport_error(acme, rv, err, p);
    take_nonce(acme, resp);
    if (!acme->nonce) {
        md_result_set(acme->result, APR_EINVAL,
                      apr_psprintf(p, "the CA sent no Replay-Nonce from %s (HTTP %d)",
                                   acme->new_nonce, resp->status));
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static int is_json_type(const md_http_response_t *resp)
{
    const char *ct = apr_table_get(resp->headers, "Content-Type");
    return ct && strstr(ct, "json") != NULL;
}

apr_status_t md_acme_post(md_acme_t *acme, const char *url, json_t *payload, const char *accept,
                          md_http_response_t **presp, json_t **pjson, apr_pool_t *p)
{
    md_http_response_t *resp = NULL;
    const char *body, *err = NULL, *pl = "";
    char *s = NULL;
    int attempt;
    apr_status_t rv;

    if (payload) {
        s = json_dumps(payload, JSON_COMPACT);
        pl = apr_pstrdup(p, s ? s : "{}");
        free(s);
    }
    for (attempt = 0; ; ++attempt) {
        if (!acme->nonce && (rv = fetch_nonce(acme, p)) != APR_SUCCESS) return rv;
        rv = md_jws_sign(&body, acme->acct->key, acme->acct->url, acme->nonce, url, pl, p, &err);
        acme->nonce = NULL;
        if (rv != APR_SUCCESS) {
            md_result_set(acme->result, rv, err);
            return rv;
        }
        rv = md_http_request(&resp, acme->http, "POST", url, JOSE, accept, body, strlen(body), p, &err);
        if (rv != APR_SUCCESS) return transport_error(acme, rv, err, p);
        take_nonce(acme, resp);
        if (resp->status < 400) break;
        rv = problem_result(acme, "a request", url, resp, p);
        if (acme->result->problem && !strcmp(acme->result->problem, MD_ACME_PROBLEM_PREFIX "badNonce")
            && attempt < acme->max_nonce_retries)
            continue;                  /* the CA rejected the nonce: sign again with a fresh one */
        return rv;
    }
    if (presp) *presp = resp;
    if (pjson) {
        *pjson = is_json_type(resp) || (resp->body_len && resp->body[0] == '{') ? body_json(resp, p) : NULL;
        if (!*pjson) {
            md_result_set(acme->result, APR_EINVAL,
                          apr_psprintf(p, "the CA's answer from %s is not a JSON object", url));
            return APR_EINVAL;
        }
    }
    md_result_set(acme->result, APR_SUCCESS, NULL);
    return APR_SUCCESS;
}

/* ---- accounts at the CA ---- */

static apr_status_t eab_json(json_t **peab, md_acme_t *acme, const md_t *md, EVP_PKEY *key,
                             apr_pool_t *p)
{
    unsigned char *hmac;
    long n;

    *peab = NULL;
    /* without MDExternalAccountBinding the request goes out all the same: a CA that requires
     * a binding answers with its problem (externalAccountRequired), which renewal.last shows */
    if (!md->eab_kid || !md->eab_hmac) return APR_SUCCESS;
    n = md_util_base64url_decode(p, md->eab_hmac, &hmac);
    if (n <= 0) {
        md_result_set(acme->result, APR_EINVAL,
                      "MDExternalAccountBinding: the HMAC key is not valid base64url");
        return APR_EINVAL;
    }
    *peab = md_jws_eab(key, md->eab_kid, hmac, (apr_size_t)n, acme->new_account, p);
    return *peab ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t md_acme_acct_register(md_acme_t *acme, const md_t *md, apr_pool_t *p)
{
    static const md_pkey_spec_t acct_spec = { MD_PKEY_EC, 0, "secp256r1" };
    md_acme_acct_t *acct = apr_pcalloc(acme->p, sizeof(*acct));
    md_http_response_t *resp;
    json_t *payload = NULL, *contacts, *eab, *body;
    const char *loc, *status;
    apr_status_t rv;
    int i;

    md_result_activity(acme->result, apr_psprintf(p, "registering a new ACME account at %s", acme->url));
    if (acme->tos && !md->ca_agreement) {
        md_result_set(acme->result, APR_EINVAL,
                      apr_psprintf(p, "the CA requires you to accept its terms of service at %s; "
                                   "read them and, if you agree, configure "
                                   "\"MDCertificateAgreement accepted\"", acme->tos));
        return APR_EINVAL;
    }
    if ((rv = md_pkey_gen(&acct->key, &acct_spec, acme->p)) != APR_SUCCESS) {
        md_result_set(acme->result, rv, "generating the account key failed");
        return rv;
    }
    if ((rv = eab_json(&eab, acme, md, acct->key, p)) != APR_SUCCESS) return rv;
    contacts = json_array();
    acct->contacts = apr_array_make(acme->p, 2, sizeof(const char *));
    for (i = 0; md->contacts && i < md->contacts->nelts; ++i) {
        const char *c = APR_ARRAY_IDX(md->contacts, i, const char *);
        json_array_append_new(contacts, json_string(c));
        APR_ARRAY_PUSH(acct->contacts, const char *) = apr_pstrdup(acme->p, c);
    }
    payload = json_pack("{s:o}", "contact", contacts);
    if (acme->tos) json_object_set_new(payload, "termsOfServiceAgreed", json_true());
    if (eab) json_object_set_new(payload, "externalAccountBinding", eab);

    acct->url = NULL;                  /* no kid yet: the request carries the jwk */
    if (eab) acct->eab_kid = apr_pstrdup(acme->p, md->eab_kid);
    acct->ca_url = acme->url;
    acct->agreement = acme->tos;
    acme->acct = acct;
    rv = md_acme_post(acme, acme->new_account, payload, NULL, &resp, &body, p);
    json_decref(payload);
    if (rv != APR_SUCCESS) goto fail;
    loc = apr_table_get(resp->headers, "Location");
    if (loc && !*loc) loc = NULL;      /* an empty Location names no account */
    status = json_string_value(json_object_get(body, "status"));
    if (!loc || (status && strcmp(status, "valid"))) {
        rv = APR_EINVAL;
        md_result_set(acme->result, rv, apr_psprintf(p, "the CA created no usable account (%s)",
                                                     loc ? apr_psprintf(p, "status %s", status)
                                                         : "no Location header"));
        goto fail;
    }
    acct->url = apr_pstrdup(acme->p, loc);
    acct->status = "valid";
    if ((rv = md_pkey_to_pem(&acct->key_pem, acct->key, NULL, 0, acme->p)) != APR_SUCCESS) goto fail;
    return APR_SUCCESS;
fail:
    acme->acct = NULL;
    return rv;
}

apr_status_t md_acme_acct_use(md_acme_t *acme, md_acme_acct_t *acct, md_store_t *store, apr_pool_t *p)
{
    md_acme_acct_t *a = apr_pmemdup(acme->p, acct, sizeof(*acct));
    json_t *body;
    const char *status;
    apr_status_t rv;

    md_result_activity(acme->result, apr_psprintf(p, "checking the ACME account %s", acct->url));
    if (!a->key) {
        rv = md_pkey_from_pem(&a->key, a->key_pem, strlen(a->key_pem), store->key, store->key_len, acme->p);
        if (rv != APR_SUCCESS) {
            md_result_set(acme->result, APR_ENOENT,
                          apr_psprintf(p, "the key of account %s cannot be decrypted with the "
                                       "store key", acct->url));
            return APR_ENOENT;
        }
    }
    acme->acct = a;
    rv = md_acme_post(acme, a->url, NULL, NULL, NULL, &body, p);   /* POST-as-GET */
    if (rv == APR_SUCCESS) {
        status = json_string_value(json_object_get(body, "status"));
        if (!status || strcmp(status, "valid")) {
            md_result_set(acme->result, APR_ENOENT,
                          apr_psprintf(p, "the CA reports account %s as %s", a->url,
                                       status ? status : "without status"));
            rv = APR_ENOENT;
        }
    }
    else if (acme->result->status == APR_EACCES || acme->result->status == APR_EINVAL) {
        /* unauthorized/malformed for this account: it is not usable any more */
        if (acme->result->problem
            && (strstr(acme->result->problem, "unauthorized") || strstr(acme->result->problem, "accountDoesNotExist")))
            rv = APR_ENOENT;
    }
    if (rv != APR_SUCCESS) acme->acct = NULL;
    return rv;
}

/* ---- renewal information (RFC 9773) ---- */

apr_time_t md_acme_parse_rfc3339(const char *s)
{
    apr_time_exp_t tm;
    apr_time_t t;
    int y, mo, d, h, mi, sec, n = 0, oh, om;
    const char *r;

    if (!s || sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || !n)
        return 0;
    r = s + n;
    if (*r == '.') for (++r; *r >= '0' && *r <= '9'; ++r) ;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60
        || apr_time_exp_gmt_get(&t, &tm) != APR_SUCCESS)
        return 0;
    if (*r == 'Z' || *r == 'z') return r[1] ? 0 : t;
    if ((*r == '+' || *r == '-') && sscanf(r + 1, "%2d:%2d", &oh, &om) == 2 && strlen(r) == 6) {
        apr_interval_time_t off = apr_time_from_sec(oh * 3600 + om * 60);
        return *r == '+' ? t - off : t + off;
    }
    return 0;
}

apr_status_t md_acme_ari_get(md_acme_t *acme, const char *cert_id, const char **pbody,
                            apr_size_t *plen, apr_time_t *pretry_after, apr_pool_t *p)
{
    const char *url, *err = NULL;
    md_http_response_t *resp;
    apr_status_t rv;

    *pbody = NULL;
    *plen = 0;
    *pretry_after = 0;
    if (!acme->renewal_info) return APR_ENOTIMPL;
    url = apr_pstrcat(p, acme->renewal_info,
                      acme->renewal_info[strlen(acme->renewal_info) - 1] == '/' ? "" : "/", cert_id, NULL);
    md_result_activity(acme->result, apr_psprintf(p, "asking the CA when to renew (%s)", url));
    rv = md_http_request(&resp, acme->http, "GET", url, NULL, "application/json", NULL, 0, p, &err);
    if (rv != APR_SUCCESS) return transport_error(acme, rv, err, p);
    *pretry_after = md_acme_retry_after(resp);
    if (resp->status != 200) {
        rv = problem_result(acme, "the renewal information request", url, resp, p);
        *pretry_after = acme->result->retry_after;
        return rv;
    }
    *pbody = resp->body;
    *plen = resp->body_len;
    return APR_SUCCESS;
}
