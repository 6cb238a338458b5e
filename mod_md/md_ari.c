/* md_ari.c: see md_ari.h. */
#include <string.h>

#include <apr_strings.h>

#include "md_acme.h"
#include "md_util.h"
#include "md_ari.h"

md_ari_t *md_ari_make(const char *cert_id, apr_pool_t *p)
{
    md_ari_t *ari = apr_pcalloc(p, sizeof(*ari));
    ari->cert_id = apr_pstrdup(p, cert_id);
    return ari;
}

apr_status_t md_ari_parse(apr_time_t *pstart, apr_time_t *pend, const char **pexplanation,
                          const char *body, apr_size_t len, apr_pool_t *p, const char **perr)
{
    json_error_t jerr;
    json_t *j = body && len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    json_t *w;
    const char *s, *e, *x;
    apr_status_t rv = APR_EINVAL;

    *pstart = *pend = 0;
    *pexplanation = NULL;
    if (!j) {
        *perr = body && len ? apr_psprintf(p, "the answer is no valid JSON (%s)", jerr.text)
                            : "the answer is empty";
        return APR_EINVAL;
    }
    if (!json_is_object(j)) {
        *perr = "the answer is no JSON object";
        goto leave;
    }
    w = json_object_get(j, "suggestedWindow");
    if (!json_is_object(w)) {
        *perr = "the answer has no \"suggestedWindow\" object";
        goto leave;
    }
    s = json_string_value(json_object_get(w, "start"));
    e = json_string_value(json_object_get(w, "end"));
    if (!(*pstart = md_acme_parse_rfc3339(s)) || !(*pend = md_acme_parse_rfc3339(e))) {
        *perr = apr_psprintf(p, "the suggested window has no valid RFC 3339 times (start %s, end %s)",
                             s ? s : "missing", e ? e : "missing");
        *pstart = *pend = 0;
        goto leave;
    }
    if (*pend < *pstart) {
        /* RFC 9773 section 4.2: such a window is invalid, the answer is not used */
        *perr = apr_psprintf(p, "the suggested window is inverted: it ends (%s) before it starts (%s)",
                             e, s);
        *pstart = *pend = 0;
        goto leave;
    }
    x = json_string_value(json_object_get(j, "explanationURL"));
    if (x && *x) *pexplanation = apr_pstrdup(p, x);
    rv = APR_SUCCESS;
leave:
    json_decref(j);
    return rv;
}

apr_time_t md_ari_choose(apr_time_t start, apr_time_t end, double rnd)
{
    if (end <= start) return start;
    if (rnd < 0.0) rnd = 0.0;
    if (rnd >= 1.0) rnd = 0.999999;
    return start + (apr_interval_time_t)((double)(end - start) * rnd);
}

int md_ari_set_window(md_ari_t *ari, apr_time_t start, apr_time_t end, const char *explanation,
                      apr_time_t now, double rnd, apr_pool_t *p)
{
    int changed = ari->start != start || ari->end != end || !ari->renew_at
                  || ari->renew_at < start || ari->renew_at > end;

    ari->supported = 1;
    ari->start = start;
    ari->end = end;
    ari->explanation_url = explanation ? apr_pstrdup(p, explanation) : NULL;
    /* the same window keeps our moment: asking again must not roll the dice again, or
     * frequent questions would drift the renewal towards the start of the window */
    if (changed) ari->renew_at = md_ari_choose(start, end, rnd);
    ari->checked = now;
    ari->errors = 0;
    ari->error = NULL;
    return changed;
}

void md_ari_set_error(md_ari_t *ari, const char *error, apr_time_t now, apr_pool_t *p)
{
    ari->checked = now;
    if (ari->errors < MD_COUNTER_MAX) ari->errors++;
    ari->error = apr_pstrdup(p, error);
}

/* Whole seconds, rounded up: the record keeps RFC 1123 times, and a question must not be
 * asked before the moment the CA named. */
static apr_time_t ceil_sec(apr_time_t t)
{
    return apr_time_from_sec(apr_time_sec(t + APR_USEC_PER_SEC - 1));
}

apr_time_t md_ari_next_check(apr_time_t now, apr_time_t retry_after, int errors,
                             apr_interval_time_t floor, apr_interval_time_t normal)
{
    apr_interval_time_t d;
    int i;

    if (floor <= 0) floor = MD_ARI_MIN_INTERVAL;
    if (normal < floor) normal = floor;
    if (retry_after) {
        d = retry_after - now;
        if (d < floor) d = floor;
        if (d > MD_ARI_MAX_INTERVAL) d = MD_ARI_MAX_INTERVAL;
        return ceil_sec(now + d);
    }
    if (errors <= 0) return ceil_sec(now + normal);
    /* failures back off up to the default interval, however often the driver looks */
    for (d = floor, i = 1; i < errors && d < MD_ARI_DEFAULT_INTERVAL; ++i) d *= 2;
    return ceil_sec(now + (d > MD_ARI_DEFAULT_INTERVAL ? MD_ARI_DEFAULT_INTERVAL : d));
}

int md_ari_due(const md_ari_t *ari, apr_time_t now)
{
    return ari && ari->supported && ari->renew_at && ari->renew_at <= now;
}

static void put_time(json_t *j, const char *key, apr_time_t t, apr_pool_t *p)
{
    if (t) json_object_set_new(j, key, json_string(md_util_time_format(p, t)));
}

static apr_time_t get_time(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? md_util_time_parse(s) : 0;
}

json_t *md_ari_to_json(const md_ari_t *ari, apr_pool_t *p)
{
    json_t *j = json_pack("{s:s,s:b}", "cert-id", ari->cert_id, "ca-supports-ari", ari->supported);

    if (ari->start && ari->end)
        json_object_set_new(j, "suggested-window",
                            json_pack("{s:s,s:s}", "start", md_util_time_format(p, ari->start),
                                      "end", md_util_time_format(p, ari->end)));
    if (ari->explanation_url)
        json_object_set_new(j, "explanation-url", json_string(ari->explanation_url));
    put_time(j, "renew-at", ari->renew_at, p);
    put_time(j, "checked", ari->checked, p);
    put_time(j, "retry-after", ari->retry_after, p);
    json_object_set_new(j, "errors", json_integer(ari->errors));
    if (ari->error) json_object_set_new(j, "error", json_string(ari->error));
    return j;
}

md_ari_t *md_ari_from_json(json_t *j, apr_pool_t *p)
{
    const char *id = json_string_value(json_object_get(j, "cert-id"));
    json_t *w = json_object_get(j, "suggested-window");
    md_ari_t *ari;

    if (!json_is_object(j) || !id || !*id) return NULL;
    ari = md_ari_make(id, p);
    ari->supported = json_is_true(json_object_get(j, "ca-supports-ari"));
    if (json_is_object(w)) {
        ari->start = get_time(w, "start");
        ari->end = get_time(w, "end");
        if (!ari->start || !ari->end || ari->end < ari->start) ari->start = ari->end = 0;
    }
    if (json_string_value(json_object_get(j, "explanation-url")))
        ari->explanation_url = apr_pstrdup(p, json_string_value(json_object_get(j, "explanation-url")));
    ari->renew_at = ari->start ? get_time(j, "renew-at") : 0;
    ari->checked = get_time(j, "checked");
    ari->retry_after = get_time(j, "retry-after");
    ari->errors = md_util_json_int(j, "errors", 0, MD_COUNTER_MAX, 0);
    if (json_string_value(json_object_get(j, "error")))
        ari->error = apr_pstrdup(p, json_string_value(json_object_get(j, "error")));
    return ari;
}

const char *md_ari_path(md_store_t *store, const char *name, apr_pool_t *p)
{
    return md_store_path(store, MD_SG_TMP, MD_ARI_DIR, apr_pstrcat(p, name, ".json", NULL), p);
}

apr_status_t md_ari_load(md_ari_t **pari, md_store_t *store, const char *name, apr_pool_t *p)
{
    json_t *j;
    const char *err = NULL;
    apr_status_t rv = md_store_load_json(store, MD_SG_TMP, MD_ARI_DIR, apr_pstrcat(p, name, ".json", NULL),
                                         &j, p, &err);

    *pari = NULL;
    if (rv != APR_SUCCESS) return rv;
    *pari = md_ari_from_json(j, p);
    return *pari ? APR_SUCCESS : APR_EINVAL;
}

apr_status_t md_ari_save(const md_ari_t *ari, md_store_t *store, const char *name, apr_pool_t *p)
{
    json_t *j = md_ari_to_json(ari, p);
    apr_status_t rv = md_store_save_json(store, MD_SG_TMP, MD_ARI_DIR, apr_pstrcat(p, name, ".json", NULL),
                                         j, p);
    json_decref(j);
    return rv;
}

/* ---- the check: ask the CA when the record allows ---- */

static void ari_log(md_drive_env_t *env, int level, const char *msg)
{
    if (env->log) env->log(env->log_baton, level, msg);
}

/* Where the driver looks next after this record: its Retry-After, or the chosen moment
 * when that comes first. */
static apr_time_t ari_next(const md_ari_t *ari, apr_time_t now)
{
    apr_time_t next = ari->retry_after;
    if (ari->supported && ari->renew_at > now && (!next || ari->renew_at < next)) next = ari->renew_at;
    return next;
}

static const char *ari_due_msg(const md_ari_t *ari, apr_pool_t *p)
{
    return apr_psprintf(p, "the CA suggests renewal between %s and %s%s%s (MDRenewViaARI)",
                        md_util_time_format(p, ari->start), md_util_time_format(p, ari->end),
                        ari->explanation_url ? ", see " : "",
                        ari->explanation_url ? ari->explanation_url : "");
}

apr_status_t md_ari_check(md_drive_env_t *env, const md_t *md, const md_drive_certs_t *certs,
                          int *pdue, apr_time_t *pnext, const char **pmsg, apr_pool_t *p)
{
    md_result_t *result = md_result_make(p);
    md_http_opts_t http = env->http;
    md_acme_t *acme = NULL;
    md_ari_t *ari = NULL;
    apr_time_t now = apr_time_now(), start, end, retry_after = 0;
    apr_interval_time_t ci = env->check_interval, floor, normal;
    const char *body, *expl, *error = NULL;
    apr_size_t len;
    apr_status_t rv;

    *pdue = 0;
    *pnext = 0;
    *pmsg = NULL;
    if (!certs || !certs->complete || !certs->ari_id || md->ari_renewals <= 0) return APR_SUCCESS;
    /* an MDCheckInterval below the minimum or the default interval (tests) shortens them to
     * it; a longer Retry-After of the CA is honoured all the same */
    floor = ci > 0 && ci < MD_ARI_MIN_INTERVAL ? ci : MD_ARI_MIN_INTERVAL;
    normal = ci > 0 && ci < MD_ARI_DEFAULT_INTERVAL ? ci : MD_ARI_DEFAULT_INTERVAL;
    if (md_ari_load(&ari, env->store, md->name, p) != APR_SUCCESS || strcmp(ari->cert_id, certs->ari_id))
        ari = md_ari_make(certs->ari_id, p);
    else if (ari->retry_after && now < ari->retry_after) {
        /* asked before: that answer stands until its Retry-After */
        *pdue = md_ari_due(ari, now);
        *pnext = ari_next(ari, now);
        if (*pdue) *pmsg = ari_due_msg(ari, p);
        return APR_SUCCESS;
    }

    if (md->proxy_url) http.proxy_url = md->proxy_url;
    if (md->ca_certs) http.ca_file = md->ca_certs;
    if ((rv = md_acme_create(&acme, md_drive_ca_url(md, 0, 0), &http, result, p)) != APR_SUCCESS
        || (rv = md_acme_setup(acme)) != APR_SUCCESS) {
        error = md_result_describe(result, p);
        retry_after = result->retry_after;
    }
    else if (APR_STATUS_IS_ENOTIMPL(rv = md_acme_ari_get(acme, certs->ari_id, &body, &len,
                                                         &retry_after, p))) {
        /* a CA without ARI: MDRenewWindow decides, nothing to complain about */
        ari = md_ari_make(certs->ari_id, p);
        ari->checked = now;
        ari->retry_after = md_ari_next_check(now, 0, 0, floor, normal);
        md_ari_save(ari, env->store, md->name, p);
        *pnext = ari->retry_after;
        *pmsg = apr_psprintf(p, "the CA at %s offers no renewal information (ARI); MDRenewWindow "
                             "decides", acme->url);
        return APR_SUCCESS;
    }
    else if (rv != APR_SUCCESS) {
        md_result_activity(result, NULL);          /* the detail names the URL already */
        error = md_result_describe(result, p);
    }
    else if (md_ari_parse(&start, &end, &expl, body, len, p, &error) != APR_SUCCESS) {
        error = apr_psprintf(p, "the CA's renewal information for certificate %s (from %s) is "
                             "not usable: %s", certs->ari_id, acme->renewal_info, error);
    }

    if (error) {
        if (acme && acme->renewal_info) ari->supported = 1;   /* the CA has ARI, but it failed */
        md_ari_set_error(ari, error, now, p);
        ari->retry_after = md_ari_next_check(now, retry_after, ari->errors, floor, normal);
        md_ari_save(ari, env->store, md->name, p);
        /* said once per streak of failures as a warning, repetitions only in the debug log */
        if (ari->errors == 1)
            ari_log(env, MD_LOG_WARN, apr_psprintf(p, "MDomain %s: %s; MDRenewWindow decides until the CA "
                                         "answers properly (next question on %s)", md->name,
                                         error, md_util_time_format(p, ari->retry_after)));
        *pmsg = apr_psprintf(p, "renewal information: %s", error);
    }
    else {
        int changed = md_ari_set_window(ari, start, end, expl, now, md_drive_random_unit(), p);
        ari->retry_after = md_ari_next_check(now, retry_after, 0, floor, normal);
        md_ari_save(ari, env->store, md->name, p);
        if (changed && !md_ari_due(ari, now))
            ari_log(env, MD_LOG_INFO, apr_psprintf(p, "MDomain %s: the CA suggests renewal between %s and "
                                         "%s (MDRenewViaARI); planned for %s", md->name,
                                         md_util_time_format(p, start), md_util_time_format(p, end),
                                         md_util_time_format(p, ari->renew_at)));
    }
    *pdue = md_ari_due(ari, now);
    *pnext = ari_next(ari, now);
    if (*pdue) *pmsg = ari_due_msg(ari, p);
    return APR_SUCCESS;
}
