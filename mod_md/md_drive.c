/* md_drive.c: see md_drive.h. */
#include <string.h>

#include <apr_strings.h>
#include <apr_file_info.h>

#include <openssl/rand.h>

#include "md_crypt.h"
#include "md_util.h"
#include "md_acme_order.h"
#include "md_drive.h"
#include "md_event.h"
#include "md_metrics.h"
#include "md_status.h"
#include "md_tailscale.h"

/* ---- when ---- */

apr_time_t md_drive_renew_at(const md_t *md, const md_drive_certs_t *certs)
{
    apr_time_t at;

    if (!certs || !certs->complete) return 0;
    at = certs->not_after - md_timeslice_span(md->renew_window, certs->not_before, certs->not_after);
    if (certs->ari_renew_at && md->ari_renewals > 0 && certs->ari_renew_at < at) at = certs->ari_renew_at;
    return at;
}

int md_drive_should_renew(const md_t *md, const md_drive_certs_t *certs, apr_time_t now,
                          const char **preason, apr_pool_t *p)
{
    apr_time_t renew_at;

    if (md->renew_mode == MD_RENEW_MANUAL) {
        *preason = "MDRenewMode manual";
        return 0;
    }
    if (md->renew_mode != MD_RENEW_ALWAYS) {
        if (md->cert_files && md->cert_files->nelts) {
            *preason = "it has MDCertificateFile";
            return 0;
        }
        if (!md->watched) {
            *preason = "no virtual host uses it";
            return 0;
        }
    }
    if (!certs || !certs->complete) {
        *preason = "it has no certificate";
        return 1;
    }
    renew_at = md_drive_renew_at(md, certs);
    if (now >= renew_at && certs->ari_renew_at && md->ari_renewals > 0
        && renew_at == certs->ari_renew_at) {
        *preason = apr_psprintf(p, "the CA's renewal information suggests renewal from %s "
                                "(MDRenewViaARI)", md_util_time_format(p, renew_at));
        return 1;
    }
    if (now >= renew_at) {
        *preason = apr_psprintf(p, "its certificate expires on %s, inside MDRenewWindow %s",
                                md_util_time_format(p, certs->not_after),
                                md_util_timeslice_format(p, md->renew_window));
        return 1;
    }
    *preason = apr_psprintf(p, "renewal is due on %s", md_util_time_format(p, renew_at));
    return 0;
}

int md_drive_in_warn_window(const md_t *md, const md_drive_certs_t *certs, apr_time_t now)
{
    if (!certs || !certs->complete || !md->warn_window) return 0;
    return now >= certs->not_after - md_timeslice_span(md->warn_window, certs->not_before,
                                                       certs->not_after);
}

apr_interval_time_t md_drive_retry_delay(apr_interval_time_t base, int errors, double jitter)
{
    apr_interval_time_t d = base > 0 ? base : apr_time_from_sec(5);
    int i;

    for (i = 1; i < errors && d < MD_DRIVE_RETRY_CAP; ++i) d *= 2;
    d = (apr_interval_time_t)((double)d * (0.75 + jitter * 0.5));
    return d > MD_DRIVE_RETRY_CAP ? MD_DRIVE_RETRY_CAP : d;
}

int md_drive_problem_is_input(const char *problem)
{
    static const char *const input[] = {
        "badCSR", "badSignatureAlgorithm", "externalAccountRequired", "invalidContact",
        "unsupportedContact", "malformed", "rejectedIdentifier", "unsupportedIdentifier",
        "badRevocationReason", NULL
    };
    const char *prefix = "urn:ietf:params:acme:error:";
    int i;

    if (!problem || strncmp(problem, prefix, strlen(prefix))) return 0;
    for (i = 0; input[i]; ++i)
        if (!strcmp(problem + strlen(prefix), input[i])) return 1;
    return 0;
}

const char *md_drive_ca_url(const md_t *md, int errors, int failover)
{
    int n = md->ca_urls ? md->ca_urls->nelts : 0;
    if (!n) return md->ca_effective;
    if (failover <= 0 || n == 1) return APR_ARRAY_IDX(md->ca_urls, 0, const char *);
    return APR_ARRAY_IDX(md->ca_urls, (errors / failover) % n, const char *);
}

/* ---- commands ---- */

static void drive_log(md_drive_env_t *env, int level, const char *msg)
{
    if (env->log) env->log(env->log_baton, level, msg);
}

apr_status_t md_drive_message(md_drive_env_t *env, md_job_t *job, const char *event, apr_pool_t *p)
{
    const char *detail = NULL, *why = NULL;
    apr_status_t rv;

    if (!env->message_cmd) return APR_SUCCESS;
    rv = md_event_run(env->message_cmd, event, job->name, p, &detail, &why);
    md_job_log_append(job, apr_pstrcat(p, "message-", event, NULL), rv, why);
    if (rv != APR_SUCCESS) {
        drive_log(env, MD_LOG_WARN, apr_psprintf(p, "MDomain %s: %s", job->name, why));
        /* renewal.last tells the admin, as with the reference; an 'errored' call keeps the
         * renewal's own failure there */
        if (strcmp(event, "errored")) {
            apr_time_t ready_at = job->last->ready_at;
            md_result_problem_set(job->last, APR_EGENERAL, MD_DRIVE_PROBLEM_MESSAGE_CMD, detail, NULL);
            md_result_activity(job->last, NULL);
            job->last->ready_at = ready_at;
        }
    }
    return rv;
}

/* ---- accounts ---- */

static md_acme_acct_t *acct_copy(apr_pool_t *p, const md_acme_acct_t *a)
{
    md_acme_acct_t *c = apr_pcalloc(p, sizeof(*c));
    int i;
    c->id = a->id ? apr_pstrdup(p, a->id) : NULL;
    c->url = apr_pstrdup(p, a->url);
    c->ca_url = apr_pstrdup(p, a->ca_url);
    c->agreement = a->agreement ? apr_pstrdup(p, a->agreement) : NULL;
    c->eab_kid = a->eab_kid ? apr_pstrdup(p, a->eab_kid) : NULL;
    c->status = "valid";
    c->key_pem = apr_pstrdup(p, a->key_pem);
    c->contacts = apr_array_make(p, a->contacts->nelts, sizeof(const char *));
    for (i = 0; i < a->contacts->nelts; ++i)
        APR_ARRAY_PUSH(c->contacts, const char *) = apr_pstrdup(p, APR_ARRAY_IDX(a->contacts, i, const char *));
    return c;
}

static int acct_known(md_drive_accounts_t *accts, const char *url)
{
    int i;
    for (i = 0; i < accts->list->nelts; ++i)
        if (!strcmp(APR_ARRAY_IDX(accts->list, i, md_acme_acct_t *)->url, url)) return 1;
    return 0;
}

typedef struct {
    md_drive_accounts_t *accts;
    md_store_t *store;
    md_store_group_t group;
} acct_load_t;

static int load_account(void *baton, const char *name, apr_pool_t *p)
{
    acct_load_t *l = baton;
    md_acme_acct_t *a;
    if (md_acme_acct_load(&a, l->store, l->group, name, p) == APR_SUCCESS
        && !acct_known(l->accts, a->url) && (!a->status || !strcmp(a->status, "valid")))
        APR_ARRAY_PUSH(l->accts->list, md_acme_acct_t *) = acct_copy(l->accts->p, a);
    return 1;
}

void md_drive_accounts_load(md_drive_accounts_t *accts, md_store_t *store, md_store_group_t group,
                            apr_pool_t *p)
{
    acct_load_t l = { accts, store, group };
    md_store_iter_names(load_account, &l, store, group, p);
}

/* Find a valid account for md at this CA, or register one; it becomes acme->acct.
 * Under the mutex, so that concurrent renewals create one account, not several. */
static apr_status_t get_account(md_drive_env_t *env, md_acme_t *acme, const md_t *md, apr_pool_t *p)
{
    md_drive_accounts_t *accts = env->accounts;
    apr_status_t rv = APR_ENOENT;
    int i;

    apr_thread_mutex_lock(accts->mutex);
    for (i = 0; i < accts->list->nelts; ++i) {
        md_acme_acct_t *a = APR_ARRAY_IDX(accts->list, i, md_acme_acct_t *);
        if (!md_acme_acct_matches(a, acme->url, md->contacts, md->eab_kid)) continue;
        rv = md_acme_acct_use(acme, a, env->store, p);
        if (rv == APR_SUCCESS) break;
        if (!APR_STATUS_IS_ENOENT(rv)) goto leave;        /* the CA is not answering well */
        drive_log(env, MD_LOG_WARN, apr_psprintf(p, "MDomain %s: account %s is not usable any more (%s); "
                                       "a new one is created", md->name, a->url,
                                       md_result_describe(acme->result, p)));
        a->status = "invalid";
    }
    if (rv != APR_SUCCESS) {
        if ((rv = md_acme_acct_register(acme, md, p)) != APR_SUCCESS) goto leave;
        rv = md_pkey_to_pem(&acme->acct->key_pem, acme->acct->key, env->store->key,
                            env->store->key_len, acme->p);
        if (rv != APR_SUCCESS) {
            md_result_set(acme->result, rv, "cannot encrypt the new account key");
            goto leave;
        }
        APR_ARRAY_PUSH(accts->list, md_acme_acct_t *) = acct_copy(accts->p, acme->acct);
        drive_log(env, MD_LOG_INFO, apr_psprintf(p, "MDomain %s: created ACME account %s at %s", md->name,
                                       acme->acct->url, acme->url));
    }
leave:
    apr_thread_mutex_unlock(accts->mutex);
    return rv;
}

/* ---- one renewal ---- */

apr_status_t md_drive_lock_md(md_lock_t **plock, md_store_t *store, const char *name,
                              const char *node, apr_pool_t *p, const char **pmsg)
{
    return md_lock_acquire(plock, md_store_path(store, MD_SG_TMP, NULL,
                                                apr_pstrcat(p, name, ".lock", NULL), p),
                           node, MD_LOCK_LEASE, (md_lock_create_t)store->lock_create, p, pmsg);
}

/* A renewal that lost its lock (it did not refresh it in time, another server took over)
 * stops before it touches staging/ again. */
static int lock_lost(md_job_t *job, md_result_t *result, apr_pool_t *p)
{
    if (!job->lock || md_lock_is_held(job->lock, p)) return 0;
    md_result_set(result, APR_EBUSY, "another server took over the renewal lock of this MDomain "
                  "(its lease was not refreshed in time); the renewal continues there");
    return 1;
}

typedef struct {
    md_drive_env_t *env;
    md_job_t *job;
    const md_t *md;
    const char *acct_id;              /* accounts/<id> used (not copied into staging/) */
} run_t;

static apr_status_t on_setup(void *baton, const char *type, const char *domain, apr_pool_t *p)
{
    run_t *run = baton;
    return md_drive_message(run->env, run->job,
                            apr_psprintf(p, "challenge-setup:%s:%s", type, domain), p);
}

static apr_status_t run_dns01(void *baton, const char *verb, const char *domain, const char *token,
                              apr_pool_t *p, const char **perr)
{
    run_t *run = baton;
    const char *extra[4];
    int code;
    apr_status_t rv;

    extra[0] = verb;
    extra[1] = domain;
    extra[2] = token;
    extra[3] = NULL;
    rv = md_event_run_cmd(run->md->dns01_cmd, extra, &code, p, perr);
    if (rv == APR_SUCCESS && code != 0) {
        *perr = apr_psprintf(p, "%s %s %s exited with %d", run->md->dns01_cmd, verb, domain, code);
        rv = APR_EGENERAL;
    }
    return rv;
}

/* Each step of a renewal becomes a "progress" entry of the job log, saved at once so that
 * md-status shows how far a renewal got. */
static void on_progress(void *baton, const char *activity)
{
    run_t *run = baton;
    md_job_log_append(run->job, "progress", APR_SUCCESS, activity);
    md_job_save(run->job, run->env->store, run->job->p);
}

/* Remove what an earlier run may have left in staging/<md>, except job.json. */
static void clear_staging(md_store_t *store, const char *name, apr_pool_t *p)
{
    apr_array_header_t *files;
    int i;

    md_store_list_files(&files, store, MD_SG_STAGING, name, p);
    for (i = 0; i < files->nelts; ++i) {
        const char *fname = APR_ARRAY_IDX(files, i, const char *);
        if (strcmp(fname, MD_FN_JOB)) md_store_remove(store, MD_SG_STAGING, name, fname, p);
    }
}

double md_drive_random_unit(void)
{
    unsigned char b[4];
    if (RAND_bytes(b, sizeof(b)) != 1) return (double)(apr_time_now() % 1000) / 1000.0;
    return (double)(((apr_uint32_t)b[0] << 24) | ((apr_uint32_t)b[1] << 16)
                    | ((apr_uint32_t)b[2] << 8) | b[3]) / 4294967296.0;
}

/* Stage one certificate of the new set: its key and chain in staging/<md>/ under the
 * file names of spec. Both protocols stage through here. */
static apr_status_t stage_cert(run_t *run, const md_pkey_spec_t *spec, EVP_PKEY *pkey,
                               apr_array_header_t *chain, md_result_t *result, apr_pool_t *p)
{
    md_store_t *store = run->env->store;
    X509 *leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    apr_status_t rv;

    if (lock_lost(run->job, result, p)) return APR_EBUSY;
    md_result_activity(result, "saving the certificate in staging/");
    rv = md_store_save_pkey(store, MD_SG_STAGING, run->md->name, md_store_fname(p, "privkey", spec), pkey, p);
    if (rv == APR_SUCCESS)
        rv = md_store_save_data(store, MD_SG_STAGING, run->md->name,
                                md_store_fname(p, "pubcert", spec), md_chain_to_pem(chain, p), p);
    if (rv != APR_SUCCESS) {
        md_result_set(result, rv, "cannot write the new certificate into staging/");
        return rv;
    }
    if (md_cert_not_before(leaf) > run->job->valid_from) run->job->valid_from = md_cert_not_before(leaf);
    md_job_log_append(run->job, "certificate", APR_SUCCESS,
                      apr_psprintf(p, "%s certificate obtained%s%s, valid until %s",
                                   md_cert_key_type(leaf, p),
                                   run->job->profile ? " with profile " : "",
                                   run->job->profile ? run->job->profile : "",
                                   md_util_time_format(p, md_cert_not_after(leaf))));
    return APR_SUCCESS;
}

/* ACME: an account at the CA, then one order per key spec. */
static apr_status_t obtain_acme(run_t *run, const char *ca_url, const char *replaces,
                                md_result_t *result, apr_pool_t *p)
{
    md_drive_env_t *env = run->env;
    const md_t *md = run->md;
    md_acme_t *acme;
    md_acme_env_t aenv;
    md_http_opts_t http;
    const char *profile = NULL, *notice = NULL;
    apr_status_t rv;
    int i, n = md_pkey_spec_count(md);

    http = env->http;
    if (md->proxy_url) http.proxy_url = md->proxy_url;
    if (md->ca_certs) http.ca_file = md->ca_certs;
    if ((rv = md_acme_create(&acme, ca_url, &http, result, p)) != APR_SUCCESS
        || (rv = md_acme_setup(acme)) != APR_SUCCESS)
        return rv;
    /* a profile is chosen when the order is created (a missing mandatory one fails there),
     * but checked before an account is made for nothing */
    md_result_activity(result, md_acme_order_activity(md, md->profile, p));
    if ((rv = md_acme_order_profile(&profile, &notice, acme, md, p)) != APR_SUCCESS) return rv;
    if ((rv = get_account(env, acme, md, p)) != APR_SUCCESS) {
        if (result->problem && !strcmp(result->problem, MD_ACME_PROBLEM_PREFIX "externalAccountRequired"))
            drive_log(env, MD_LOG_WARN, apr_psprintf(p, "MDomain %s: the CA at %s requires an external "
                                           "account binding; configure MDExternalAccountBinding "
                                           "with the key id and HMAC key the CA gave you",
                                           md->name, acme->url));
        return rv;
    }
    /* a new account waits in staging/ for the parent to install it into accounts/; one
     * from accounts/ is only named in the staged md.json (as the reference does) */
    if (acme->acct->id) run->acct_id = acme->acct->id;
    else if ((rv = md_acme_acct_save(acme->acct, env->store, MD_SG_STAGING, md->name, p)) != APR_SUCCESS) {
        md_result_set(result, rv, "cannot save the account in staging/");
        return rv;
    }
    if (notice) {
        md_job_log_append(run->job, "notice", APR_SUCCESS, notice);
        drive_log(env, MD_LOG_NOTICE, apr_psprintf(p, "MDomain %s: %s", md->name, notice));
    }
    run->job->profile = profile;

    memset(&aenv, 0, sizeof(aenv));
    aenv.store = env->store;
    aenv.can_http = env->can_http;
    aenv.can_https = env->can_https;
    aenv.on_setup = on_setup;
    aenv.run_dns01 = md->dns01_cmd ? run_dns01 : NULL;
    aenv.baton = run;
    aenv.abort_flag = env->abort_flag;
    aenv.profile = profile;
    for (i = 0; i < n; ++i) {
        const md_pkey_spec_t *spec = md_pkey_spec_get(md, i);
        apr_array_header_t *chain;
        EVP_PKEY *pkey;

        md_result_activity(result, apr_psprintf(p, "generating a %s key", md_pkey_spec_name(p, spec)));
        if ((rv = md_pkey_gen(&pkey, spec, p)) != APR_SUCCESS) {
            md_result_set(result, rv, "key generation failed");
            return rv;
        }
        /* replaces names the first certificate only: one order may claim to replace it */
        aenv.replaces = i == 0 ? replaces : NULL;
        if ((rv = md_acme_order_cert(&chain, acme, md, pkey, &aenv, p)) != APR_SUCCESS
            || (rv = stage_cert(run, spec, pkey, chain, result, p)) != APR_SUCCESS)
            return rv;
    }
    return APR_SUCCESS;
}

/* tailscale: the local daemon hands out key and chain; the MD has one key spec
 * (md_tailscale_check_md), which names the files. */
static apr_status_t obtain_tailscale(run_t *run, const char *ca_url, md_result_t *result,
                                     apr_pool_t *p)
{
    const md_t *md = run->md;
    const md_cert_info_t *served = md->rt_certs && !md->rt_fallback ? md->rt_certs[0] : NULL;
    apr_array_header_t *chain;
    EVP_PKEY *pkey;
    apr_status_t rv;

    rv = md_tailscale_obtain(&pkey, &chain, md, ca_url, &run->env->http, result, p);
    if (rv != APR_SUCCESS) return rv;
    /* tailscaled keeps its certificate until it renews it by its own schedule: the one in
     * use again is no renewal, staging it would only repeat restarts */
    if (served && served->sha256
        && !strcmp(served->sha256, md_cert_sha256_hex(APR_ARRAY_IDX(chain, 0, X509 *), p))) {
        md_result_set(result, APR_EAGAIN, apr_psprintf(p, "tailscaled answered with the certificate "
                      "in use (valid until %s): it has not renewed it yet. tailscaled renews by its "
                      "own schedule, MDRenewWindow %s asks earlier; it is asked again later",
                      md_util_time_format(p, served->valid_until),
                      md_util_timeslice_format(p, md->renew_window)));
        return APR_EAGAIN;
    }
    return stage_cert(run, md_pkey_spec_get(md, 0), pkey, chain, result, p);
}

/* The 'renewed' announcements, in the reference's order: MDNotifyCmd NAME, then MDMessageCmd
 * renewed NAME; the first failure stops them and is recorded in renewal.last. */
static apr_status_t notify_renewed(md_drive_env_t *env, const md_t *md, md_job_t *job, apr_pool_t *p)
{
    apr_status_t rv;

    if (env->notify_cmd) {
        const char *err = NULL, *extra[2];
        int code;
        extra[0] = md->name;
        extra[1] = NULL;
        rv = md_event_run_cmd(env->notify_cmd, extra, &code, p, &err);
        if (rv != APR_SUCCESS || code != 0) {
            const char *detail = md_event_cmd_failed("MDNotifyCmd", env->notify_cmd, code, p);
            apr_time_t ready_at = job->last->ready_at;
            if (rv == APR_SUCCESS) rv = APR_EGENERAL;
            md_result_problem_set(job->last, rv, MD_DRIVE_PROBLEM_NOTIFY_CMD, detail, NULL);
            job->last->ready_at = ready_at;
            md_job_log_append(job, "notify-error", rv, err ? apr_psprintf(p, "%s (%s)", detail, err) : detail);
            drive_log(env, MD_LOG_ERR, apr_psprintf(p, "MDomain %s: %s%s%s", md->name, detail,
                                           err ? " " : "", err ? err : ""));
            return rv;
        }
        md_job_log_append(job, "notify", APR_SUCCESS, NULL);
    }
    if ((rv = md_drive_message(env, job, "renewed", p)) != APR_SUCCESS) return rv;
    job->notified_renewed = 1;
    return APR_SUCCESS;
}

apr_status_t md_drive_renotify(md_drive_env_t *env, const md_t *md, md_job_t *job, apr_pool_t *p)
{
    apr_status_t rv;

    if (!job->finished || job->notified_renewed) return APR_SUCCESS;
    if ((rv = notify_renewed(env, md, job, p)) != APR_SUCCESS) {
        /* a job error (renewal.last says which); the staged set stays valid and the
         * announcement is tried again later */
        job->errors++;
        job->next_run = apr_time_now() + md_drive_retry_delay(env->retry_delay, job->errors,
                                                              md_drive_random_unit());
    }
    else {
        job->errors = 0;
        job->next_run = 0;
    }
    md_job_save(job, env->store, p);
    return rv;
}

apr_status_t md_drive_renew(md_drive_env_t *env, const md_t *md, md_job_t *job,
                            const char *replaces, apr_pool_t *p)
{
    md_result_t *result = md_result_make(p);
    run_t run;
    const char *ca_url = md_drive_ca_url(md, job->errors, env->retry_failover);
    apr_status_t rv;

    /* MDMessageCmd renewing may veto the renewal on this server (cluster nodes use it to
     * leave renewals to one of them). A veto is no error: no backoff, no 'errored'; this
     * server asks again at its next check, and job.json notes the first veto in a row. */
    if ((rv = md_drive_message(env, job, "renewing", p)) != APR_SUCCESS) {
        json_t *newest = json_array_get(job->log, 1);
        const char *type = json_string_value(json_object_get(newest, "type"));
        job->next_run = apr_time_now() + env->check_interval;
        if (!type || strcmp(type, "message-renewing") || !json_object_get(newest, "status"))
            md_job_save(job, env->store, p);
        drive_log(env, MD_LOG_INFO, apr_psprintf(p, "MDomain %s: MDMessageCmd renewing vetoed the renewal "
                                       "on this server; asking again on %s", md->name,
                                       md_util_time_format(p, job->next_run)));
        return APR_EAGAIN;
    }
    job->last_run = apr_time_now();
    job->finished = 0;
    job->valid_from = 0;
    job->profile = NULL;
    job->notified = job->notified_renewed = 0;
    md_job_log_append(job, "starting", APR_SUCCESS,
                      env->node ? apr_psprintf(p, "renewal with %s on %s", ca_url, env->node)
                                : apr_psprintf(p, "renewal with %s", ca_url));
    md_job_save(job, env->store, p);

    run.env = env;
    run.job = job;
    run.md = md;
    run.acct_id = NULL;
    result->on_activity = on_progress;
    result->baton = &run;
    if (lock_lost(job, result, p)) goto fail;
    clear_staging(env->store, md->name, p);
    /* staging/<md>/md.json first, as the reference writes it: the configuration this run
     * works for (rewritten with the staged set at the end) */
    md_store_save_md(env->store, MD_SG_STAGING, md, p);
    if (md_tailscale_is_proto(md->ca_proto)) rv = obtain_tailscale(&run, ca_url, result, p);
    else rv = obtain_acme(&run, ca_url, replaces, result, p);
    if (rv != APR_SUCCESS) goto fail;
    if (run.acct_id) {
        md_t *copy = md_clone(p, md);
        copy->ca_account = run.acct_id;
        md = copy;
    }
    if ((rv = md_store_save_md(env->store, MD_SG_STAGING, md, p)) != APR_SUCCESS) {
        md_result_set(result, rv, "cannot write md.json into staging/");
        goto fail;
    }
    /* job.json with finished=true is written last: only now is the set complete */
    job->finished = 1;
    job->errors = 0;
    job->next_run = 0;
    /* renewal.last as the reference writes it on success: the status and from when the
     * staged set is valid */
    md_result_set(result, APR_SUCCESS, NULL);
    md_result_activity(result, NULL);
    result->ready_at = job->valid_from;
    md_result_assign(job->last, result);
    md_job_log_append(job, "finished", APR_SUCCESS, "the certificate is staged; it is used after "
                      "the next (graceful) restart of the server");
    if ((rv = md_job_save(job, env->store, p)) != APR_SUCCESS) {
        md_result_set(result, rv, "cannot write job.json into staging/");
        job->finished = 0;
        goto fail;
    }
    drive_log(env, MD_LOG_NOTICE, apr_psprintf(p, "MDomain %s: new certificate staged; %s", md->name,
                                   md->activation == MD_ACTIVATION_HOT
                                   ? "it goes live without a restart (MDActivation hot)"
                                   : "a graceful restart activates it"));
    job->notified = 1;
    md_drive_renotify(env, md, job, p);        /* saves the job */
    return APR_SUCCESS;

fail:
    if (rv == APR_SUCCESS) rv = APR_EGENERAL;
    if (result->status == APR_SUCCESS) md_result_set(result, rv, NULL);
    if (env->abort_flag && *env->abort_flag) {
        /* the server is stopping or restarting: not the CA's fault; the next generation
         * starts again (job.json is left to it) */
        job->next_run = 0;
        return rv;
    }
    if (job->lock && !md_lock_is_held(job->lock, p)) {
        /* another server took the renewal over: no error of ours, no 'errored' event; look
         * again at once (the lock is busy until that server has staged the certificate) */
        drive_log(env, MD_LOG_WARN, apr_psprintf(p, "MDomain %s: %s", md->name, md_result_describe(result, p)));
        job->next_run = 0;
        return rv;
    }
    job->errors++;
    job->next_run = apr_time_now() + md_drive_retry_delay(env->retry_delay, job->errors,
                                                          (double)(apr_time_now() % 1000) / 1000.0);
    if (result->retry_after > job->next_run) job->next_run = result->retry_after;
    /* the CA refused what we asked for (the names, the contact, a missing binding): asking
     * again soon cannot help, as with the reference the next try is about a day later (a
     * restart after fixing the configuration tries at once) */
    if (md_drive_problem_is_input(result->problem))
        job->next_run = apr_time_now() + md_drive_retry_delay(MD_DRIVE_RETRY_CAP, 1,
                                                              md_drive_random_unit());
    md_result_assign(job->last, result);
    md_job_log_append(job, "error", result->status, md_result_describe(result, p));
    drive_log(env, MD_LOG_ERR, apr_psprintf(p, "MDomain %s: renewal failed (attempt %d, next on %s): %s",
                                   md->name, job->errors, md_util_time_format(p, job->next_run),
                                   md_result_describe(result, p)));
    if (apr_time_now() - md_job_log_last(job, "message-errored") >= apr_time_from_sec(3600)
        || !md_job_log_last(job, "message-errored"))
        md_drive_message(env, job, "errored", p);
    md_job_save(job, env->store, p);
    md_metrics_count_failure(env->store, md->name, p);    /* mod_md_renewal_failures_total */
    return rv;
}
