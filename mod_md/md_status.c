/* md_status.c: see md_status.h. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_uri.h>

#include <errno.h>
#include <unistd.h>

#include "md_acme_order.h"
#include "md_ari.h"
#include "md_crypt.h"
#include "md_drive.h"
#include "md_metrics.h"
#include "md_status.h"
#include "md_tailscale.h"

static md_status_cert_cb *cert_cb;
static void *cert_cb_baton;

void md_status_set_cert_cb(md_status_cert_cb *cb, void *baton)
{
    cert_cb = cb;
    cert_cb_baton = baton;
}

/* ---- certificate facts ---- */

md_cert_info_t *md_status_cert_info(X509 *x, const char *spec_name, apr_pool_t *p)
{
    md_cert_info_t *ci = apr_pcalloc(p, sizeof(*ci));
    ci->spec_name = spec_name ? spec_name : md_cert_key_type(x, p);
    ci->valid_from = md_cert_not_before(x);
    ci->valid_until = md_cert_not_after(x);
    ci->serial = md_cert_serial_hex(x, p);
    ci->sha256 = md_cert_sha256_hex(x, p);
    ci->issuer = md_cert_issuer_name(x, p);
    ci->issuer_uri = md_cert_issuer_uri(x, p);
    ci->ari_cert_id = md_cert_ari_id(x, p);
    return ci;
}

int md_status_load_certs(md_cert_info_t **infos, const md_t *md, md_store_t *store,
                         md_store_group_t group, apr_pool_t *p)
{
    int static_files = group == MD_SG_DOMAINS && md->cert_files && md->cert_files->nelts;
    int i, found = 0, n = md_pkey_spec_count(md);
    const char *profile = NULL;
    json_t *job;

    /* the renewal that obtained them recorded the profile (job.json moves along on activation) */
    if (!static_files && md_store_load_json(store, group, md->name, MD_FN_JOB, &job, p, NULL) == APR_SUCCESS
        && json_string_value(json_object_get(job, "profile")))
        profile = apr_pstrdup(p, json_string_value(json_object_get(job, "profile")));

    for (i = 0; i < n; ++i) {
        const md_pkey_spec_t *spec = md_pkey_spec_get(md, i);
        apr_array_header_t *chain;
        const char *path;

        infos[i] = NULL;
        if (static_files) {
            if (i >= md->cert_files->nelts) continue;
            path = APR_ARRAY_IDX(md->cert_files, i, const char *);
        }
        else {
            path = md_store_path(store, group, md->name, md_store_fname(p, "pubcert", spec), p);
        }
        if (md_chain_load(&chain, path, p) != APR_SUCCESS) continue;
        /* static files and tailscale's certificates (its key type, whatever the spec)
         * are labelled by what they are */
        infos[i] = md_status_cert_info(APR_ARRAY_IDX(chain, 0, X509 *),
                                       static_files || md_tailscale_is_proto(md->ca_proto)
                                       ? NULL : md_pkey_spec_name(p, spec), p);
        infos[i]->profile = profile;
        ++found;
    }
    return found;
}

/* The served certificates: computed at start-up by the glue, else read now. */
static md_cert_info_t **served_certs(const md_t *md, md_store_t *store, int *pfound, apr_pool_t *p)
{
    int i, n = md_pkey_spec_count(md);
    md_cert_info_t **infos;

    if (md->rt_certs) {
        for (*pfound = 0, i = 0; i < n; ++i) if (md->rt_certs[i]) ++*pfound;
        return md->rt_certs;
    }
    infos = apr_pcalloc(p, sizeof(*infos) * (apr_size_t)n);
    *pfound = md_status_load_certs(infos, md, store, MD_SG_DOMAINS, p);
    return infos;
}

/* What the renewal driver recorded of the CA's renewal information (RFC 9773) for the
 * served certificate, when MDRenewViaARI is on and the CA has it; NULL otherwise. */
static md_ari_t *served_ari(const md_t *md, md_store_t *store, md_cert_info_t *const *infos,
                            apr_pool_t *p)
{
    md_ari_t *ari;

    if (md->ari_renewals <= 0 || !infos[0] || !infos[0]->ari_cert_id
        || md_ari_load(&ari, store, md->name, p) != APR_SUCCESS
        || strcmp(ari->cert_id, infos[0]->ari_cert_id) || !ari->supported)
        return NULL;
    return ari;
}

/* When renewal of the served certificates starts (now, when one is missing or the MD is
 * incomplete) and whether that time has come: *pdue is the page's "renew", true inside the
 * renew window whatever the renew mode (static certificates too), as the reference shows it;
 * whether the driver acts on it is md_drive_should_renew's business. *pari (may be NULL)
 * gets the ARI record that was taken into account, if any. */
static apr_time_t renewal_due(const md_t *md, md_store_t *store, md_cert_info_t *const *infos,
                              int *pdue, md_ari_t **pari, apr_pool_t *p)
{
    md_drive_certs_t certs = { 1, 0, 0, NULL, 0 };
    md_ari_t *ari = served_ari(md, store, infos, p);
    apr_time_t now = apr_time_now(), at;
    int i, n = md_pkey_spec_count(md);

    for (i = 0; i < n; ++i) {
        if (!infos[i]) {
            certs.complete = 0;
            break;
        }
        if (infos[i]->valid_from > certs.not_before) certs.not_before = infos[i]->valid_from;
        if (!certs.not_after || infos[i]->valid_until < certs.not_after) certs.not_after = infos[i]->valid_until;
    }
    if (ari) certs.ari_renew_at = ari->renew_at;
    at = md->state == MD_S_INCOMPLETE ? 0 : md_drive_renew_at(md, &certs);
    if (!at) at = now;
    if (pdue) *pdue = at <= now;
    if (pari) *pari = ari;
    return at;
}

static apr_time_t certs_valid_until(const md_t *md, md_cert_info_t *const *infos)
{
    apr_time_t until = 0;
    int i, n = md_pkey_spec_count(md);
    for (i = 0; i < n; ++i) {
        if (infos[i] && (!until || infos[i]->valid_until < until)) until = infos[i]->valid_until;
    }
    return until;
}

/* ---- the renewal job (staging/<md>/job.json, written by the driver) ---- */

typedef struct job_view_t {
    json_t *job;          /* NULL when there is none */
    const char *error;    /* job.json exists but is unusable */
    int errors;           /* consecutive errors */
    int finished;         /* a new certificate is staged */
    const char *detail;   /* last problem or activity */
} job_view_t;

static void load_job(job_view_t *jv, const md_t *md, md_store_t *store, apr_pool_t *p)
{
    json_t *last;
    apr_status_t rv;

    memset(jv, 0, sizeof(*jv));
    rv = md_store_load_json(store, MD_SG_STAGING, md->name, MD_FN_JOB, &jv->job, p, &jv->error);
    if (rv != APR_SUCCESS) {
        jv->job = NULL;
        if (APR_STATUS_IS_ENOENT(rv)) jv->error = NULL;
        return;
    }
    if (!json_is_object(jv->job)) {
        jv->error = apr_psprintf(p, "%s is not a JSON object",
                                 md_store_path(store, MD_SG_STAGING, md->name, MD_FN_JOB, p));
        jv->job = NULL;
        return;
    }
    jv->errors = md_util_json_int(jv->job, "errors", 0, MD_COUNTER_MAX, 0);
    jv->finished = json_is_true(json_object_get(jv->job, "finished"));
    last = json_object_get(jv->job, "last");
    jv->detail = json_string_value(json_object_get(last, "detail"));
    if (!jv->detail) jv->detail = json_string_value(json_object_get(last, "activity"));
}

/* ---- md-status JSON ---- */

static json_t *valid_json(apr_time_t from, apr_time_t until, apr_pool_t *p)
{
    return json_pack("{s:s,s:s}", "from", md_util_time_format(p, from),
                     "until", md_util_time_format(p, until));
}

static json_t *cert_json(const md_t *md, const md_cert_info_t *ci, apr_pool_t *p)
{
    json_t *j = json_pack("{s:s,s:o,s:s,s:s}", "issuer-name", ci->issuer,
                          "valid", valid_json(ci->valid_from, ci->valid_until, p),
                          "serial", ci->serial, "sha256-fingerprint", ci->sha256);
    if (ci->issuer_uri) json_object_set_new(j, "issuer-uri", json_string(ci->issuer_uri));
    if (ci->ari_cert_id) json_object_set_new(j, "ari-cert-id", json_string(ci->ari_cert_id));
    if (ci->profile) json_object_set_new(j, "profile", json_string(ci->profile));
    if (cert_cb) cert_cb(j, md, ci->sha256, cert_cb_baton, p);
    return j;
}

static int has_static_files(const md_t *md)
{
    return md->cert_files && md->cert_files->nelts;
}

/* The certificates by key spec name and their common validity. by_index: named by their
 * position instead (static files, MDCertificateFile: "0", "1", ... as the reference has it). */
static json_t *certs_json(const md_t *md, md_cert_info_t *const *infos, int by_index, apr_pool_t *p)
{
    json_t *j = json_object();
    apr_time_t from = 0, until = 0;
    int i, n = md_pkey_spec_count(md);

    for (i = 0; i < n; ++i) {
        const md_cert_info_t *ci = infos[i];
        if (!ci) continue;
        json_object_set_new(j, by_index ? apr_itoa(p, i) : ci->spec_name, cert_json(md, ci, p));
        if (!from || ci->valid_from > from) from = ci->valid_from;
        if (!until || ci->valid_until < until) until = ci->valid_until;
    }
    if (until) json_object_set_new(j, "valid", valid_json(from, until, p));
    return j;
}

/* Which server renews md right now (servers sharing a store): its lease lock, as written by
 * md_lock. Absent when no renewal runs. */
static void add_lock(json_t *renewal, const md_t *md, md_store_t *store, apr_pool_t *p)
{
    const char *err;
    json_t *lock;

    if (md_json_read_file(&lock, md_store_path(store, MD_SG_TMP, NULL,
                                               apr_pstrcat(p, md->name, ".lock", NULL), p),
                          p, &err) != APR_SUCCESS)
        return;
    if (json_is_object(lock))
        json_object_set_new(renewal, "lock",
                            json_pack("{s:O?,s:O?,s:O?,s:O?}", "node", json_object_get(lock, "node"),
                                      "host", json_object_get(lock, "host"),
                                      "pid", json_object_get(lock, "pid"),
                                      "expires", json_object_get(lock, "expires")));
}

const char *md_status_challenge_problem(md_store_t *store, const char *domain, apr_pool_t *p)
{
    const char *path = md_store_path(store, MD_SG_CHALLENGES, domain, MD_FN_TLSALPN01_KEY, p);
    apr_file_t *f;
    apr_status_t rv = apr_file_open(&f, path, APR_FOPEN_READ, 0, p);

    if (rv == APR_SUCCESS) {
        apr_file_close(f);
        return NULL;
    }
    if (!APR_STATUS_IS_EACCES(rv)) return NULL;      /* no challenge running: nothing to say */
    return apr_psprintf(p, "this server's child (uid %ld) cannot read %s, the key of the "
                        "tls-alpn-01 challenge for %s that another server sharing the store "
                        "wrote (permission denied): answering tls-alpn-01 on every server needs "
                        "the same child user id on all of them as the file server sees it "
                        "(see docs/cluster.md), else use http-01", (long)geteuid(), path, domain);
}

/* The first challenge of md's renewal that this process could not answer, or NULL. */
static const char *challenges_problem(const md_t *md, md_store_t *store, apr_pool_t *p)
{
    const char *problem = NULL;
    int i;
    for (i = 0; i < md->domains->nelts && !problem; ++i)
        problem = md_status_challenge_problem(store, APR_ARRAY_IDX(md->domains, i, const char *), p);
    return problem;
}

json_t *md_status_md_json(const md_t *md, md_store_t *store, int with_log, apr_pool_t *p)
{
    int n = md_pkey_spec_count(md), found;
    md_cert_info_t **infos = served_certs(md, store, &found, p);
    json_t *j = md_to_json(md, p), *eab;
    apr_time_t renew_at;
    md_ari_t *ari;
    job_view_t jv;
    int due;

    if ((eab = json_object_get(j, "eab")) != NULL)
        json_object_set_new(eab, "hmac", json_string("***"));
    /* the CA that issued the served certificate comes with the account it used (md.json of
     * a renewal); the configured ones are "urls" */
    if (!md->ca_account) json_object_del(json_object_get(j, "ca"), "url");
    json_object_set_new(j, "cert", certs_json(md, infos, has_static_files(md), p));
    if (!with_log) {
        /* the stapling's job log (added by the certificate callback) is for the one-MD view */
        const char *key;
        json_t *c;
        json_object_foreach(json_object_get(j, "cert"), key, c)
            json_object_del(json_object_get(json_object_get(c, "ocsp"), "renewal"), "log");
    }
    renew_at = renewal_due(md, store, infos, &due, &ari, p);
    json_object_set_new(j, "renew-at", json_string(md_util_time_format(p, renew_at)));
    json_object_set_new(j, "watched", json_boolean(md->watched));
    if (due) json_object_set_new(j, "renew", json_true());
    if (ari) json_object_set_new(j, "ari", md_ari_to_json(ari, p));
    load_job(&jv, md, store, p);
    /* the renewal job is shown while renewal is due (a job of an MD not due is history) */
    if (jv.job && due) {
        json_t *renewal = json_deep_copy(jv.job);
        md_cert_info_t **staged = apr_pcalloc(p, sizeof(*staged) * (apr_size_t)n);
        if (!with_log) json_object_del(renewal, "log");
        md_status_load_certs(staged, md, store, MD_SG_STAGING, p);
        json_object_set_new(renewal, "cert", certs_json(md, staged, 0, p));
        if (!jv.finished) {
            const char *problem = challenges_problem(md, store, p);
            add_lock(renewal, md, store, p);
            if (problem) json_object_set_new(renewal, "challenge-problem", json_string(problem));
        }
        json_object_set_new(j, "renewal", renewal);
    }
    if (jv.error) json_object_set_new(j, "error", json_string(jv.error));
    else if (md->rt_error) json_object_set_new(j, "error", json_string(md->rt_error));
    return j;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const md_t *const *)a)->name, (*(const md_t *const *)b)->name);
}

static const md_t **sorted(const apr_array_header_t *mds, apr_pool_t *p)
{
    const md_t **list = apr_pcalloc(p, sizeof(md_t *) * (apr_size_t)(mds->nelts + 1));
    if (mds->nelts) memcpy(list, mds->elts, sizeof(md_t *) * (apr_size_t)mds->nelts);
    qsort(list, (size_t)mds->nelts, sizeof(md_t *), by_name);
    return list;
}

const md_t *md_status_find(const apr_array_header_t *mds, const char *name)
{
    int i;
    for (i = 0; i < mds->nelts; ++i) {
        const md_t *md = APR_ARRAY_IDX(mds, i, const md_t *);
        if (!strcmp(md->name, name)) return md;
    }
    for (i = 0; i < mds->nelts; ++i) {
        const md_t *md = APR_ARRAY_IDX(mds, i, const md_t *);
        if (md_covers(md, name)) return md;
    }
    return NULL;
}

#define STATUS_DUMP_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER)

int md_status_all_write(const apr_array_header_t *mds, md_store_t *store,
                        json_dump_callback_t write, void *baton, apr_pool_t *p)
{
    const char *head = apr_psprintf(p, "{\n  \"version\": \"%s\",\n  \"managed-domains\": [", MD_VERSION);
    const md_t **list = sorted(mds, p);
    apr_pool_t *ptemp;
    int i, rc;

    if (!mds->nelts) {
        /* no MD: the version alone, as the reference answers */
        head = apr_psprintf(p, "{\n  \"version\": \"%s\"\n}\n", MD_VERSION);
        return write(head, strlen(head), baton);
    }
    if ((rc = write(head, strlen(head), baton)) != 0) return rc;
    apr_pool_create(&ptemp, p);
    for (i = 0; i < mds->nelts && rc == 0; ++i) {
        json_t *j = md_status_md_json(list[i], store, 0, ptemp);
        rc = write(i ? ",\n" : "\n", i ? 2 : 1, baton);
        if (rc == 0) rc = json_dump_callback(j, write, baton, STATUS_DUMP_FLAGS);
        json_decref(j);
        apr_pool_clear(ptemp);
    }
    apr_pool_destroy(ptemp);
    return rc ? rc : write("\n  ]\n}\n", 7, baton);
}

json_t *md_status_cert_status_json(const md_t *md, md_store_t *store, apr_pool_t *p)
{
    /* what md-status shows, reduced to public facts: the served certificates' validity,
     * serial and fingerprint under each configured key spec's name (an empty object when
     * there is none, e.g. while the fallback certificate is served), and a renewal's staged
     * certificates (an empty object while it is not finished) */
    json_t *mdj = md_status_md_json(md, store, 0, p);
    json_t *certs = json_object_get(mdj, "cert"), *renewal = json_object_get(mdj, "renewal");
    json_t *j = json_object(), *v;
    int i, n = md_pkey_spec_count(md);
    static const char *const keep[] = { "valid", "serial", "sha256-fingerprint" };

    if ((v = json_object_get(certs, "valid")) != NULL) json_object_set(j, "valid", v);
    for (i = 0; i < n; ++i) {
        const char *name = md_pkey_spec_name(p, md_pkey_spec_get(md, i));
        json_t *c = json_object_get(certs, name), *cj = json_object();
        apr_size_t k;
        for (k = 0; k < sizeof(keep) / sizeof(keep[0]); ++k)
            if ((v = json_object_get(c, keep[k])) != NULL) json_object_set(cj, keep[k], v);
        json_object_set_new(j, name, cj);
    }
    if (renewal) {
        v = json_object_get(renewal, "cert");
        json_object_set_new(j, "renewal", json_pack("{s:o}", "cert", v ? json_incref(v) : json_object()));
    }
    json_decref(mdj);
    return j;
}

/* ---- server-status ---- */

static const char *html_escape(const char *s, apr_pool_t *p)
{
    apr_size_t n = 0;
    const char *c;
    char *out, *o;

    if (!s) return "";
    for (c = s; *c; ++c) n += (*c == '<' || *c == '>') ? 4 : *c == '&' ? 5 : *c == '"' ? 6 : 1;
    o = out = apr_palloc(p, n + 1);
    for (c = s; *c; ++c) {
        switch (*c) {
        case '<': memcpy(o, "&lt;", 4); o += 4; break;
        case '>': memcpy(o, "&gt;", 4); o += 4; break;
        case '&': memcpy(o, "&amp;", 5); o += 5; break;
        case '"': memcpy(o, "&quot;", 6); o += 6; break;
        default: *o++ = *c;
        }
    }
    *o = '\0';
    return out;
}

typedef enum { ST_OK, ST_RENEW, ST_ERRORED, ST_READY, ST_INCOMPLETE } overall_t;

static overall_t overall(const md_t *md, const job_view_t *jv, int due)
{
    if (jv->job && jv->finished) return ST_READY;
    if (jv->error || (jv->job && jv->errors > 0)) return ST_ERRORED;
    if (md->state != MD_S_COMPLETE) return ST_INCOMPLETE;
    if (jv->job || due) return ST_RENEW;
    return ST_OK;
}

static const char *overall_str(overall_t o)
{
    static const char *const s[] = { "good", "renewing", "errored", "ready", "incomplete" };
    return s[o];
}

const char *md_status_html(const apr_array_header_t *mds, md_store_t *store,
                           const char *check_name, const char *check_url, apr_pool_t *p)
{
    const md_t **list = sorted(mds, p);
    apr_array_header_t *out = apr_array_make(p, mds->nelts * 10 + 10, sizeof(const char *));
    apr_pool_t *ptemp;
    int i, k;

#define EMIT(s) (APR_ARRAY_PUSH(out, const char *) = (s))
    EMIT("<hr>\n<h3>Managed Certificates</h3>\n<table class='md_status'><thead><tr>"
         "<th>Domain</th><th>Names</th><th>Status</th><th>Valid until</th><th>Renewal</th>"
         "<th>CA</th><th>Check</th></tr></thead><tbody>\n");
    apr_pool_create(&ptemp, p);
    for (i = 0; i < mds->nelts; ++i) {
        const md_t *md = list[i];
        int n = md_pkey_spec_count(md), found, due;
        md_cert_info_t **infos = served_certs(md, store, &found, ptemp);
        apr_time_t renew_at = renewal_due(md, store, infos, &due, NULL, ptemp);
        apr_time_t until = certs_valid_until(md, infos);
        const char *names = "", *renewal, *checks = "";
        job_view_t jv;
        overall_t o;

        load_job(&jv, md, store, ptemp);
        o = overall(md, &jv, due);
        for (k = 0; k < md->domains->nelts; ++k)
            names = apr_pstrcat(ptemp, names, k ? " " : "",
                                html_escape(APR_ARRAY_IDX(md->domains, k, const char *), ptemp), NULL);
        if (o == ST_READY) renewal = "new certificate staged, active after the next restart";
        else if (o == ST_ERRORED)
            renewal = apr_psprintf(ptemp, "error (%d): %s", jv.errors,
                                   html_escape(jv.error ? jv.error : jv.detail, ptemp));
        else if (jv.job) renewal = apr_pstrcat(ptemp, "in progress: ", html_escape(jv.detail, ptemp), NULL);
        else if (renew_at && o == ST_OK)
            renewal = apr_pstrcat(ptemp, "renews at ", md_util_time_format(ptemp, renew_at), NULL);
        else renewal = "";
        for (k = 0; k < n; ++k) {
            if (!infos[k] || !check_url) continue;
            checks = apr_psprintf(ptemp, "%s<a href=\"%s%s\">%s %s</a> ", checks,
                                  html_escape(check_url, ptemp), infos[k]->sha256,
                                  html_escape(check_name, ptemp), infos[k]->spec_name);
        }
        EMIT(apr_psprintf(p, "<tr><td>%s</td><td>%s</td><td>%s%s</td><td>%s</td><td>%s</td>"
                          "<td>%s</td><td>%s</td></tr>\n", html_escape(md->name, ptemp), names,
                          overall_str(o), md->rt_error ? " (store error)" : "",
                          until ? md_util_time_format(ptemp, until) : "-", renewal,
                          html_escape(md->ca_effective, ptemp), checks));
        apr_pool_clear(ptemp);
    }
    apr_pool_destroy(ptemp);
    EMIT("</tbody></table>\n");
#undef EMIT
    return apr_array_pstrcat(p, out, '\0');
}

/* The ?auto lines of one MD, as the reference prints them: "ManagedDomain[i]" followed by
 * the name of each column of the HTML table (Domain, Names, Status, Valid, CA, Stapling,
 * CheckAt, Activity) and what it shows, one fact a line, from its md-status JSON. */

static const char *short_date(apr_time_t t, apr_pool_t *p)
{
    apr_time_exp_t tm;
    apr_size_t len;
    char buf[32];
    apr_time_exp_gmt(&tm, t);
    apr_strftime(buf, &len, sizeof(buf), "%Y-%m-%d", &tm);
    return apr_pstrdup(p, buf);
}

static apr_time_t json_time(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? md_util_time_parse(s) : 0;
}

/* The name a CA goes by on the status page: the host of its URL. */
static const char *ca_name(const char *url, apr_pool_t *p)
{
    apr_uri_t uri;
    if (apr_uri_parse(p, url, &uri) == APR_SUCCESS && uri.hostname) return uri.hostname;
    return url;
}

#define LINE(...) (APR_ARRAY_PUSH(out, const char *) = apr_psprintf(p, __VA_ARGS__))

static void auto_state(apr_array_header_t *out, const char *pre, json_t *mdj, apr_pool_t *p)
{
    const char *descr = json_string_value(json_object_get(mdj, "state-descr")), *s = "unknown";
    apr_time_t until;

    switch ((int)json_integer_value(json_object_get(mdj, "state"))) {
    case MD_S_INCOMPLETE:
        s = descr ? apr_pstrcat(p, "incomplete: ", descr, NULL) : "incomplete";
        break;
    case MD_S_EXPIRED_DEPRECATED:
    case MD_S_COMPLETE:
        until = json_time(json_object_get(json_object_get(mdj, "cert"), "valid"), "until");
        s = (!until || until > apr_time_now()) ? "good" : "expired";
        break;
    case MD_S_ERROR: s = "error"; break;
    case MD_S_MISSING_INFORMATION: s = "missing information"; break;
    default: break;
    }
    LINE("%sStatus: %s\n", pre, s);
}

static void auto_ca(apr_array_header_t *out, const char *pre, json_t *mdj, apr_pool_t *p)
{
    json_t *ca = json_object_get(mdj, "ca"), *urls = json_object_get(ca, "urls");
    const char *url;
    size_t i;

    if (!json_array_size(urls) && (url = json_string_value(json_object_get(ca, "url"))) != NULL) {
        LINE("%sCAName: %s\n", pre, ca_name(url, p));
        LINE("%sCAURL: %s\n", pre, url);
        return;
    }
    /* the first without a number, then CAName1, CAURL1, ... */
    for (i = 0; i < json_array_size(urls); ++i) {
        const char *n = i ? apr_psprintf(p, "%d", (int)i) : "";
        if (!(url = json_string_value(json_array_get(urls, i)))) continue;
        LINE("%sCAName%s: %s\n", pre, n, ca_name(url, p));
        LINE("%sCAURL%s: %s\n", pre, n, url);
    }
}

static void auto_activity(apr_array_header_t *out, const char *pre, json_t *mdj, apr_pool_t *p)
{
    json_t *renewal = json_object_get(mdj, "renewal"), *last, *certs;
    apr_time_t now = apr_time_now(), t;
    const char *pa = apr_pstrcat(p, pre, "Activity", NULL), *s;
    int finished, staged = 0, said = 0;     /* said: a status or detail was printed */
    long status;
    char buf[256];

    if (!renewal) {
        t = json_time(mdj, "renew-at");
        if (t > now) LINE("%sRenew: %" APR_TIME_T_FMT "\n", pa, apr_time_sec(t - now));
        else if (t) LINE("%s: Pending\n", pa);
        else if (json_integer_value(json_object_get(mdj, "renew-mode")) == MD_RENEW_MANUAL)
            LINE("%s: Manual renew\n", pa);
        return;
    }
    finished = json_is_true(json_object_get(renewal, "finished"));
    last = json_object_get(renewal, "last");
    status = (long)json_integer_value(json_object_get(last, "status"));
    if (status) {
        s = json_string_value(json_object_get(last, "problem"));
        LINE("%sLastStatus: %s\n", pa, apr_strerror((apr_status_t)status, buf, sizeof(buf)));
        LINE("%sLastProblem: %s\n", pa, s ? s : "(null)");
        said = 1;
    }
    LINE("%sFinished: %s\n", pa, finished ? "yes" : "no");
    if (finished) {
        const char *key;
        json_t *v;
        certs = json_object_get(renewal, "cert");
        json_object_foreach(certs, key, v) if (strcmp(key, "valid")) ++staged;
        LINE("%sNewStaged: %d\n", pa, staged);
    }
    else if ((s = json_string_value(json_object_get(last, "detail"))) != NULL) {
        LINE("%sLastDetail: %s\n", pa, s);
        said = 1;
    }
    t = json_time(renewal, "next-run");
    if (t > now && !finished) LINE("%sNextRun: %" APR_TIME_T_FMT "\n", pa, apr_time_sec(t - now));
    else if (!finished && !said) LINE("%s: Ongoing\n", pa);
}

static void auto_md(apr_array_header_t *out, int idx, json_t *mdj, const char *check_name,
                    const char *check_url, apr_pool_t *p)
{
    const char *pre = apr_psprintf(p, "ManagedDomain[%d]", idx), *key;
    json_t *certs = json_object_get(mdj, "cert"), *domains = json_object_get(mdj, "domains"), *v;
    apr_time_t from, until;
    size_t i;

    LINE("%sDomain: %s\n", pre, json_string_value(json_object_get(mdj, "name")));
    for (i = 0; i < json_array_size(domains); ++i)
        LINE("%sNames[%d]: %s\n", pre, (int)i, json_string_value(json_array_get(domains, i)));
    auto_state(out, pre, mdj, p);
    v = json_object_get(certs, "valid");
    from = json_time(v, "from");
    until = json_time(v, "until");
    if (from > apr_time_now()) LINE("%sValidFrom: %s\n", pre, short_date(from, p));
    if (until) LINE("%sValidUntil: %s\n", pre, short_date(until, p));
    auto_ca(out, pre, mdj, p);
    if (json_is_true(json_object_get(mdj, "stapling"))) LINE("%sStapling: on\n", pre);
    if (check_name && check_url) {
        json_object_foreach(certs, key, v) {
            const char *fp = json_string_value(json_object_get(v, "sha256-fingerprint"));
            if (!strcmp(key, "valid") || !fp) continue;
            LINE("%sCheckAtType: %s\n", pre, key);
            LINE("%sCheckAtName: %s\n", pre, check_name);
            LINE("%sCheckAtURL: %s%s\n", pre, check_url, fp);
            LINE("%sCheckAtFingerprint: %s\n", pre, fp);
        }
    }
    auto_activity(out, pre, mdj, p);
}

#undef LINE

const char *md_status_auto(const apr_array_header_t *mds, md_store_t *store,
                           const char *check_name, const char *check_url, apr_pool_t *p)
{
    const md_t **list = sorted(mds, p);
    apr_array_header_t *lines = apr_array_make(p, mds->nelts * 12 + 1, sizeof(const char *));
    int ok = 0, renew = 0, errored = 0, ready = 0, i;
    apr_pool_t *ptemp;

    apr_pool_create(&ptemp, p);
    for (i = 0; i < mds->nelts; ++i) {
        const md_t *md = list[i];
        json_t *mdj = md_status_md_json(md, store, 0, ptemp), *renewal;
        int lo = lines->nelts, k;

        /* the counters are not exclusive: a served certificate inside its renew window is
         * OK and Renew, a staged one Renew and Ready */
        switch (md->state) {
        case MD_S_COMPLETE:
            ++ok;
            /* fall through */
        case MD_S_INCOMPLETE:
            if (!json_is_true(json_object_get(mdj, "renew"))) break;
            ++renew;
            if ((renewal = json_object_get(mdj, "renewal")) != NULL) {
                if (json_integer_value(json_object_get(renewal, "errors")) > 0
                    || json_integer_value(json_object_get(json_object_get(renewal, "last"), "status")))
                    ++errored;
                else if (json_is_true(json_object_get(renewal, "finished")))
                    ++ready;
            }
            break;
        default:
            ++errored;
            break;
        }
        auto_md(lines, i, mdj, check_name, check_url, ptemp);
        for (k = lo; k < lines->nelts; ++k)       /* out of ptemp before it is cleared */
            APR_ARRAY_IDX(lines, k, const char *) = apr_pstrdup(p, APR_ARRAY_IDX(lines, k, const char *));
        json_decref(mdj);
        apr_pool_clear(ptemp);
    }
    apr_pool_destroy(ptemp);
    return apr_pstrcat(p, apr_psprintf(p, "ManagedCertificatesTotal: %d\nManagedCertificatesOK: %d\n"
                                       "ManagedCertificatesRenew: %d\nManagedCertificatesErrored: %d\n"
                                       "ManagedCertificatesReady: %d\n", mds->nelts, ok, renew,
                                       errored, ready),
                       apr_array_pstrcat(p, lines, '\0'), NULL);
}

/* ---- Prometheus metrics ---- */

static const char *label(const char *s, apr_pool_t *p)
{
    apr_size_t n = 0;
    const char *c;
    char *out, *o;
    for (c = s; *c; ++c) n += (*c == '\\' || *c == '"' || *c == '\n') ? 2 : 1;
    o = out = apr_palloc(p, n + 1);
    for (c = s; *c; ++c) {
        if (*c == '\n') { *o++ = '\\'; *o++ = 'n'; continue; }
        if (*c == '\\' || *c == '"') *o++ = '\\';
        *o++ = *c;
    }
    *o = '\0';
    return out;
}

static md_status_staple_cb *staple_cb;
static void *staple_cb_baton;

void md_status_set_staple_cb(md_status_staple_cb *cb, void *baton)
{
    staple_cb = cb;
    staple_cb_baton = baton;
}

/* One metric family: its HELP and TYPE lines, then its samples (none is fine). */
typedef struct family_t {
    const char *name;
    const char *type;
    const char *help;
    apr_array_header_t *samples;    /* const char *, each a complete line */
} family_t;

static void sample(family_t *f, apr_pool_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    APR_ARRAY_PUSH(f->samples, const char *) = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
}

/* The states an MD can be in, as md_state_str() names them: one series each (0/1). */
static const int md_states[] = { MD_S_UNKNOWN, MD_S_INCOMPLETE, MD_S_COMPLETE,
                                 MD_S_EXPIRED_DEPRECATED, MD_S_ERROR, MD_S_MISSING_INFORMATION };
static const char *const staple_states[] = { "good", "revoked", "unknown" };

/* Prometheus text format 0.0.4, following its naming rules (checked by promtool in the
 * tests): a unit suffix on every time (_timestamp_seconds, seconds since the epoch),
 * counters end in _total, an enumeration is one 0/1 series per value. Timestamps rather
 * than ages: Prometheus computes ages with time(), and the page stays cacheable. */
const char *md_status_metrics(const apr_array_header_t *mds, md_store_t *store, apr_pool_t *p)
{
    family_t fams[] = {
        { "mod_md_managed_domains", "gauge", "Number of managed domains configured.", NULL },
        { "mod_md_domain_state", "gauge", "State of the managed domain: 1 for the state it is "
          "in, 0 for the others.", NULL },
        { "mod_md_certificate_not_before_timestamp_seconds", "gauge", "Start of validity of "
          "the served certificate, per key type.", NULL },
        { "mod_md_certificate_not_after_timestamp_seconds", "gauge", "End of validity of the "
          "served certificate, per key type.", NULL },
        { "mod_md_certificate_renew_at_timestamp_seconds", "gauge", "When renewal of the "
          "managed domain starts (now, when a certificate is missing).", NULL },
        { "mod_md_renewal_consecutive_errors", "gauge", "Failed runs of the current renewal "
          "job in a row (0 after a success).", NULL },
        { "mod_md_renewal_failures_total", "counter", "Failed renewal runs of the managed "
          "domain, kept in the store across restarts.", NULL },
        { "mod_md_renewal_staged", "gauge", "1 when a renewed certificate waits for the next "
          "restart.", NULL },
        { "mod_md_ocsp_staple_next_update_timestamp_seconds", "gauge", "End of validity "
          "(nextUpdate) of the OCSP response stapled for the certificate, per key type.", NULL },
        { "mod_md_ocsp_staple_status", "gauge", "Certificate status in the stapled OCSP "
          "response: 1 for the status it says, 0 for the others.", NULL },
        { "mod_md_driver_last_check_timestamp_seconds", "gauge", "When the renewal driver last "
          "checked the managed domains (absent until its first check).", NULL },
    };
    enum { F_MDS, F_STATE, F_NOT_BEFORE, F_NOT_AFTER, F_RENEW_AT, F_ERRORS, F_FAILURES,
           F_STAGED, F_STAPLE_UNTIL, F_STAPLE_STATUS, F_DRIVER_CHECK, F_COUNT };
    apr_array_header_t *out = apr_array_make(p, 64, sizeof(const char *));
    apr_time_t last_check;
    int i, k, f, st;

    for (f = 0; f < F_COUNT; ++f) fams[f].samples = apr_array_make(p, mds->nelts + 1, sizeof(const char *));
    sample(&fams[F_MDS], p, "mod_md_managed_domains %d\n", mds->nelts);
    for (i = 0; i < mds->nelts; ++i) {
        const md_t *md = APR_ARRAY_IDX(mds, i, const md_t *);
        const char *name = label(md->name, p);
        int n = md_pkey_spec_count(md), found;
        md_cert_info_t **infos = served_certs(md, store, &found, p);
        apr_time_t at = renewal_due(md, store, infos, NULL, NULL, p);
        job_view_t jv;

        for (st = 0; st < (int)(sizeof(md_states) / sizeof(md_states[0])); ++st)
            sample(&fams[F_STATE], p, "mod_md_domain_state{md=\"%s\",state=\"%s\"} %d\n", name,
                   md_state_str(md_states[st]), md->state == md_states[st]);
        for (k = 0; k < n; ++k) {
            const char *kt, *staple_status = NULL;
            apr_time_t staple_until = 0;
            if (!infos[k]) continue;
            kt = label(infos[k]->spec_name, p);
            sample(&fams[F_NOT_BEFORE], p, "mod_md_certificate_not_before_timestamp_seconds"
                   "{md=\"%s\",key_type=\"%s\"} %" APR_TIME_T_FMT "\n", name, kt,
                   apr_time_sec(infos[k]->valid_from));
            sample(&fams[F_NOT_AFTER], p, "mod_md_certificate_not_after_timestamp_seconds"
                   "{md=\"%s\",key_type=\"%s\"} %" APR_TIME_T_FMT "\n", name, kt,
                   apr_time_sec(infos[k]->valid_until));
            if (!staple_cb || !infos[k]->sha256
                || !staple_cb(md, infos[k]->sha256, &staple_status, &staple_until, staple_cb_baton))
                continue;
            sample(&fams[F_STAPLE_UNTIL], p, "mod_md_ocsp_staple_next_update_timestamp_seconds"
                   "{md=\"%s\",key_type=\"%s\"} %" APR_TIME_T_FMT "\n", name, kt,
                   apr_time_sec(staple_until));
            for (st = 0; st < (int)(sizeof(staple_states) / sizeof(staple_states[0])); ++st)
                sample(&fams[F_STAPLE_STATUS], p, "mod_md_ocsp_staple_status{md=\"%s\",key_type="
                       "\"%s\",status=\"%s\"} %d\n", name, kt, staple_states[st],
                       !strcmp(staple_status, staple_states[st]));
        }
        sample(&fams[F_RENEW_AT], p, "mod_md_certificate_renew_at_timestamp_seconds{md=\"%s\"} %"
               APR_TIME_T_FMT "\n", name, apr_time_sec(at));
        load_job(&jv, md, store, p);
        sample(&fams[F_ERRORS], p, "mod_md_renewal_consecutive_errors{md=\"%s\"} %d\n", name,
               jv.error ? 1 : jv.errors);
        sample(&fams[F_FAILURES], p, "mod_md_renewal_failures_total{md=\"%s\"} %" APR_INT64_T_FMT
               "\n", name, store ? md_metrics_failures(store, md->name, p) : (apr_int64_t)0);
        sample(&fams[F_STAGED], p, "mod_md_renewal_staged{md=\"%s\"} %d\n", name,
               jv.job && jv.finished);
    }
    if (store && (last_check = md_metrics_last_check(store, p)) > 0)
        sample(&fams[F_DRIVER_CHECK], p, "mod_md_driver_last_check_timestamp_seconds %"
               APR_TIME_T_FMT "\n", apr_time_sec(last_check));

    for (f = 0; f < F_COUNT; ++f) {
        APR_ARRAY_PUSH(out, const char *) = apr_psprintf(p, "# HELP %s %s\n# TYPE %s %s\n",
            fams[f].name, fams[f].help, fams[f].name, fams[f].type);
        APR_ARRAY_PUSH(out, const char *) = apr_array_pstrcat(p, fams[f].samples, '\0');
    }
    return apr_array_pstrcat(p, out, '\0');
}
