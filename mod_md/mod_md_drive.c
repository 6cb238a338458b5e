/* mod_md_drive.c: httpd glue of the renewal driver and of the ACME challenge answers.
 *
 * Parent (root), at every (re)start: mod_md_drive_post_config_activate() moves complete staged
 * sets into domains/ and loads the accounts (which children cannot read) into memory;
 * the late post_config computes the facts of the current certificates and registers a
 * mod_watchdog callback that runs in exactly one child.
 * That child's watchdog thread decides per MD when to renew and runs renewals in their
 * own threads (at most MDRenewJobs at a time), each with its own unmanaged pool,
 * so that slow steps of one MD never delay another.
 * Every child answers http-01 (GET /.well-known/acme-challenge/TOKEN) and tls-alpn-01
 * (the acme-tls/1 protocol) from challenges/ in the store.
 */
#include <string.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_optional.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_main.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <mod_watchdog.h>

#include "md.h"
#include "md_crypt.h"
#include "md_drive.h"
#include "md_ari.h"
#include "md_event.h"
#include "md_activate.h"
#include "md_status.h"
#include "md_metrics.h"
#include "md_acme_order.h"
#include "md_tailscale.h"
#include "md_util.h"
#include "mod_md.h"
#include "mod_md_config.h"

APLOG_USE_MODULE(md);

#define MD_WATCHDOG_NAME "_md_renew_"
#define MD_WATCHDOG_TICK apr_time_from_msec(100)
#define ACME_CHALLENGE_PREFIX "/.well-known/acme-challenge/"

/* One MD as the watchdog sees it. */
typedef struct slot_t {
    md_t *md;
    md_drive_certs_t *certs;
    apr_time_t next_run;
    int errors;
    int staged;                       /* a complete set waits for the restart */
    int ari_check;                    /* the thread asks the CA (ARI) before renewing */
    int running;
    md_lock_t *lock;                  /* its renewal lock while running (in pool) */
    int lock_lost;
    apr_uint32_t done;                /* set by the renewal thread when it ends */
    apr_thread_t *thread;
    apr_pool_t *pool;                 /* the renewal's own, unmanaged */
    /* results handed back by the thread */
    int r_errors, r_staged;
    apr_time_t r_next;
} slot_t;

typedef struct drive_t {
    server_rec *s;
    md_mod_conf_t *mc;
    apr_hash_t *certs;                /* md name -> md_drive_certs_t* (from the parent) */
    apr_array_header_t *parent_accounts; /* md_acme_acct_t*, from accounts/ */
    /* child side, created when the watchdog starts */
    apr_pool_t *wp;
    apr_array_header_t *slots;
    md_drive_env_t env;
    md_drive_accounts_t accounts;
    volatile int aborting;
} drive_t;

static drive_t *drive;                /* set in the parent per generation, inherited */

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *wd_get_instance;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *wd_register_callback;

/* ---- parent: activation of staged sets ---- */

static void run_installed(md_mod_conf_t *mc, md_t *md, server_rec *s, apr_pool_t *p)
{
    const char *err;
    if (md_event_send(mc->message_cmd, "installed", md->name, p, &err) != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(10950) "MDomain %s: %s", md->name, err);
}

/* drive lives in pconf: a configuration without MDs must not see the previous one's */
static apr_status_t forget_drive(void *data)
{
    (void)data;
    drive = NULL;
    return APR_SUCCESS;
}

apr_status_t mod_md_drive_post_config_activate(md_mod_conf_t *mc, server_rec *s, int may_activate,
                                           md_lock_t *lock, apr_pool_t *pconf, apr_pool_t *ptemp)
{
    md_drive_accounts_t accts;
    apr_array_header_t *unassigned;
    int i;

    drive = apr_pcalloc(pconf, sizeof(*drive));
    apr_pool_cleanup_register(pconf, NULL, forget_drive, apr_pool_cleanup_null);
    drive->s = s;
    drive->mc = mc;
    drive->certs = apr_hash_make(pconf);
    /* the first (dry-run) configuration pass at start-up leaves the store alone */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return APR_SUCCESS;
    unassigned = may_activate ? md_activate_unassigned(mc->store, mc->mds, ptemp) : NULL;
    for (i = 0; may_activate && i < mc->mds->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(mc->mds, i, md_t *);
        const char *msg = NULL, *old;
        apr_pool_t *p;
        apr_status_t rv;

        apr_pool_create(&p, ptemp);
        if (lock && md_lock_refresh(lock, 0, p) == APR_EBUSY) {
            /* we were too slow (a frozen parent?): another server took over activating */
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(11166)
                         "lost the activation lock of the store to another server; the staged "
                         "certificates left are activated by it or at the next restart");
            may_activate = 0;
            apr_pool_destroy(p);
            break;
        }
        if (md_activate_rename_legacy(mc->store, md, p))
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(10996)
                         "MDomain %s: key and certificate files renamed to the curve names as "
                         "configured (as Debian's mod_md names them)", md->name);
        if ((old = md_activate_takeover(mc->store, unassigned, md, p)) != NULL)
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(10997)
                         "MDomain %s: takes over the certificates and account of the stored "
                         "MDomain %s, which shares names with it (renamed)", md->name, old);
        /* Only a finished job (job.json written last) is activated, so a renewal that still
         * writes staging/ is never cut short; servers of a cluster keep apart by the
         * activation lease lock held around this loop, MDActivation hot's helper too. The
         * renewal lock is not taken here: the child that staged the set keeps it until it
         * ends, which a graceful restart does not wait for. */
        rv = md_activate_staged(mc->store, md, mc->activation_delay, p, &msg);
        if (msg) {
            ap_log_error(APLOG_MARK, rv == APR_SUCCESS ? APLOG_NOTICE : APLOG_ERR, rv, s, APLOGNO(10951)
                         "MDomain %s: %s", md->name, msg);
            if (rv == APR_SUCCESS && !strncmp(msg, "the staged certificate is activated", 35))
                run_installed(mc, md, s, p);
        }
        if (md->ca_account) md->ca_account = apr_pstrdup(pconf, md->ca_account);
        apr_pool_destroy(p);
    }
    if (may_activate) {
        int n = md_activate_purge_challenges(mc->store, mc->mds, ptemp);
        if (n) ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(10998)
                            "removed %d challenge answer(s) of no configured MDomain", n);
    }
    /* children cannot read accounts/: they get the accounts (keys still encrypted) in memory */
    accts.p = pconf;
    accts.mutex = NULL;
    accts.list = apr_array_make(pconf, 5, sizeof(md_acme_acct_t *));
    md_drive_accounts_load(&accts, mc->store, MD_SG_ACCOUNTS, ptemp);
    drive->parent_accounts = accts.list;
    return APR_SUCCESS;
}

/* The facts of the certificates mod_md.c decided to serve, for the renewal decision. */
static void collect_certs(drive_t *d, apr_pool_t *pconf, apr_pool_t *ptemp)
{
    int i, k;
    for (i = 0; i < d->mc->mds->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(d->mc->mds, i, md_t *);
        md_drive_certs_t *c = apr_pcalloc(pconf, sizeof(*c));
        c->complete = md->rt_cert_files && md->rt_cert_files->nelts && !md->rt_fallback;
        for (k = 0; c->complete && k < md->rt_cert_files->nelts; ++k) {
            apr_array_header_t *chain;
            X509 *x;
            if (md_chain_load(&chain, APR_ARRAY_IDX(md->rt_cert_files, k, const char *), ptemp) != APR_SUCCESS) {
                c->complete = 0;
                break;
            }
            x = APR_ARRAY_IDX(chain, 0, X509 *);
            if (!k) c->ari_id = md_cert_ari_id(x, pconf);
            if (md_cert_not_before(x) > c->not_before) c->not_before = md_cert_not_before(x);
            if (!c->not_after || md_cert_not_after(x) < c->not_after) c->not_after = md_cert_not_after(x);
        }
        apr_hash_set(d->certs, md->name, APR_HASH_KEY_STRING, c);
    }
}

/* ---- child: the watchdog ---- */

static void env_log(void *baton, int level, const char *msg)
{
    drive_t *d = baton;
    int ap_level = level <= 3 ? APLOG_ERR : level == 4 ? APLOG_WARNING : level == 5 ? APLOG_NOTICE
                   : level == 6 ? APLOG_INFO : APLOG_DEBUG;
    ap_log_error(APLOG_MARK, ap_level, 0, d->s, APLOGNO(10952) "%s", msg);
}

static void *APR_THREAD_FUNC renew_thread(apr_thread_t *thread, void *data)
{
    slot_t *slot = data;
    apr_pool_t *p = slot->pool;
    md_job_t *job;
    apr_status_t rv;
    int due = 1;

    /* loaded under the renewal lock: another server may have finished it meanwhile */
    job = md_job_load(drive->mc->store, slot->md->name, p);
    job->lock = slot->lock;
    if (!job->finished && slot->ari_check) {
        apr_time_t next, later = apr_time_now() + drive->mc->check_interval;
        const char *msg;
        rv = md_ari_check(&drive->env, slot->md, slot->certs, &due, &next, &msg, p);
        if (msg)
            ap_log_error(APLOG_MARK, due ? APLOG_INFO : APLOG_DEBUG, rv, drive->s, APLOGNO(10964)
                         "MDomain %s: %s", slot->md->name, msg);
        if (!due) {
            slot->r_errors = slot->errors;
            slot->r_next = next && next < later ? next : later;
            slot->r_staged = 0;
            goto done;
        }
    }
    if (!job->finished)
        md_drive_renew(&drive->env, md_clone(p, slot->md), job,
                       slot->certs ? slot->certs->ari_id : NULL, p);
    else
        md_drive_renotify(&drive->env, slot->md, job, p);
    slot->r_errors = job->errors;
    slot->r_next = job->next_run;
    /* a staged set whose announcement failed is looked at again (md_drive_renotify) */
    slot->r_staged = job->finished && job->notified_renewed;
done:
    apr_atomic_set32(&slot->done, 1);
    /* a plain return, not apr_thread_exit(): pthread_exit's forced unwinding is not needed
     * (the thread's pool goes with slot->pool) and trips AddressSanitizer at thread exit */
    (void)thread;
    return NULL;
}

/* This server as lock files and job logs name it: servers sharing a store differ by host
 * or, on one host, by ServerRoot. */
const char *mod_md_drive_node_name(apr_pool_t *p)
{
    char host[256];
    if (gethostname(host, sizeof(host)) != 0) apr_cpystrn(host, "localhost", sizeof(host));
    host[sizeof(host) - 1] = '\0';
    return apr_psprintf(p, "%s:%s", host, ap_server_root);
}

static void start_child_side(drive_t *d)
{
    md_mod_conf_t *mc = d->mc;
    apr_time_t now = apr_time_now();
    int i;

    apr_pool_create_unmanaged(&d->wp);
    d->slots = apr_array_make(d->wp, mc->mds->nelts, sizeof(slot_t *));
    d->accounts.p = d->wp;
    apr_thread_mutex_create(&d->accounts.mutex, APR_THREAD_MUTEX_DEFAULT, d->wp);
    d->accounts.list = apr_array_make(d->wp, 5, sizeof(md_acme_acct_t *));
    for (i = 0; d->parent_accounts && i < d->parent_accounts->nelts; ++i)
        APR_ARRAY_PUSH(d->accounts.list, md_acme_acct_t *) = APR_ARRAY_IDX(d->parent_accounts, i, md_acme_acct_t *);
    /* accounts created by an earlier child that were not activated yet */
    md_drive_accounts_load(&d->accounts, mc->store, MD_SG_STAGING, d->wp);

    memset(&d->env, 0, sizeof(d->env));
    d->env.store = mc->store;
    d->env.http.proxy_url = mc->defaults->proxy_url;
    d->env.http.ca_file = mc->ca_certs_file;
    d->env.http.proxy_ca_file = mc->proxy_ca_certs_file;
    d->env.http.abort_flag = &d->aborting;
    d->env.can_http = mc->can_http;
    d->env.can_https = mc->can_https;
    d->env.message_cmd = mc->message_cmd;
    d->env.notify_cmd = mc->notify_cmd;
    d->env.retry_delay = mc->retry_delay;
    d->env.retry_failover = mc->retry_failover;
    d->env.check_interval = mc->check_interval;
    d->env.node = mod_md_drive_node_name(d->wp);
    d->env.accounts = &d->accounts;
    d->env.abort_flag = &d->aborting;
    d->env.log = env_log;
    d->env.log_baton = d;

    for (i = 0; i < mc->mds->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(mc->mds, i, md_t *);
        slot_t *slot = apr_pcalloc(d->wp, sizeof(*slot));
        apr_pool_t *p;
        md_job_t *job;

        apr_pool_create_unmanaged(&p);
        job = md_job_load(mc->store, md->name, p);
        slot->md = md;
        slot->certs = apr_hash_get(d->certs, md->name, APR_HASH_KEY_STRING);
        slot->errors = job->errors;
        slot->staged = job->finished && job->notified_renewed;
        /* a restart is the admin's "try again now" (maybe the configuration was fixed):
         * the retry delay of earlier errors is not waited for, their count is kept */
        slot->next_run = now + mc->initial_delay;
        apr_pool_destroy(p);
        APR_ARRAY_PUSH(d->slots, slot_t *) = slot;
    }
}

static void reap(slot_t *slot)
{
    apr_status_t trv;
    apr_thread_join(&trv, slot->thread);
    apr_pool_destroy(slot->pool);
    slot->pool = NULL;
    slot->thread = NULL;
    slot->running = 0;
    slot->lock = NULL;                /* released with the pool */
    slot->errors = slot->r_errors;
    slot->staged = slot->r_staged;
    slot->next_run = slot->r_staged ? 0 : slot->r_next;
}

/* Keep the leases of running renewals fresh (cheap: a file write every MD_LOCK_REFRESH). */
static void refresh_locks(drive_t *d)
{
    apr_pool_t *p = NULL;
    int i;

    for (i = 0; i < d->slots->nelts; ++i) {
        slot_t *slot = APR_ARRAY_IDX(d->slots, i, slot_t *);
        if (!slot->running || !slot->lock || slot->lock_lost) continue;
        if (!p) apr_pool_create_unmanaged(&p);
        if (md_lock_refresh(slot->lock, 0, p) == APR_EBUSY) {
            slot->lock_lost = 1;
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, APLOGNO(10991)
                         "MDomain %s: another server took over the renewal lock (this one "
                         "did not refresh its lease in time); the renewal here stops before it "
                         "writes anything", slot->md->name);
        }
        apr_pool_clear(p);
    }
    if (p) apr_pool_destroy(p);
}

/* The renewal lock of slot's MD, taken before its thread starts. */
static int lock_slot(drive_t *d, slot_t *slot, apr_time_t now)
{
    const char *msg;
    apr_status_t rv = md_drive_lock_md(&slot->lock, d->mc->store, slot->md->name, d->env.node,
                                       slot->pool, &msg);
    if (rv == APR_SUCCESS) {
        slot->lock_lost = 0;
        /* a child of an earlier generation that ended mid-renewal is routine */
        if (msg) ap_log_error(APLOG_MARK, md_lock_from_self(slot->lock) ? APLOG_DEBUG : APLOG_WARNING,
                              0, d->s, APLOGNO(10992) "MDomain %s: %s", slot->md->name, msg);
        return 1;
    }
    /* another server (or the previous generation's child) renews it: look again shortly */
    ap_log_error(APLOG_MARK, rv == APR_EBUSY ? APLOG_DEBUG : APLOG_ERR, rv, d->s, APLOGNO(10963)
                 "MDomain %s: renewal lock: %s", slot->md->name, msg);
    slot->next_run = now + apr_time_from_sec(1);
    return 0;
}

/* Nothing to renew: maybe warn that the certificate is expiring (at most daily). */
static void check_expiring(drive_t *d, slot_t *slot, apr_time_t now)
{
    apr_pool_t *p;
    md_job_t *job;
    apr_time_t last;

    if (!md_drive_in_warn_window(slot->md, slot->certs, now)) return;
    apr_pool_create_unmanaged(&p);
    job = md_job_load(d->mc->store, slot->md->name, p);
    last = md_job_log_last(job, "message-expiring");
    if (!last || now - last >= apr_time_from_sec(86400)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, d->s, APLOGNO(10953)
                     "MDomain %s: the certificate expires on %s", slot->md->name,
                     md_util_time_format(p, slot->certs->not_after));
        if (d->mc->message_cmd) md_drive_message(&d->env, job, "expiring", p);
        else md_job_log_append(job, "message-expiring", APR_SUCCESS, NULL);
        md_job_save(job, d->mc->store, p);
    }
    apr_pool_destroy(p);
}

static void tick(drive_t *d)
{
    apr_time_t now = apr_time_now();
    int i, active = 0, checked = 0;

    for (i = 0; i < d->slots->nelts; ++i) {
        slot_t *slot = APR_ARRAY_IDX(d->slots, i, slot_t *);
        if (slot->running && apr_atomic_read32(&slot->done)) reap(slot);
        if (slot->running) ++active;
        /* MDActivation hot: the parent activated (or discarded) what was staged */
        else if (slot->md->rt_hot && slot->certs
                 && mod_md_hot_drive_update(slot->md, slot->certs, &slot->staged, d->wp))
            slot->next_run = 0;
    }
    if (active) refresh_locks(d);
    for (i = 0; i < d->slots->nelts && active < d->mc->renew_jobs; ++i) {
        slot_t *slot = APR_ARRAY_IDX(d->slots, i, slot_t *);
        const char *why = NULL;
        apr_pool_t *p;
        apr_status_t rv;

        if (slot->running || (slot->next_run && now < slot->next_run)) continue;
        slot->next_run = now + d->mc->check_interval;
        checked = 1;
        if (slot->staged) continue;   /* waits for the restart that activates it */
        apr_pool_create_unmanaged(&p);
        slot->ari_check = 0;
        if (!md_drive_should_renew(slot->md, slot->certs, now, &why, p)) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, d->s, APLOGNO(10954)
                         "MDomain %s: no renewal now: %s", slot->md->name, why);
            check_expiring(d, slot, now);
            if (slot->md->ari_renewals <= 0 || slot->md->renew_mode == MD_RENEW_MANUAL
                || md_tailscale_is_proto(slot->md->ca_proto)        /* ARI is ACME's */
                || !slot->certs || !slot->certs->ari_id
                || (slot->md->cert_files && slot->md->cert_files->nelts)) {
                apr_pool_destroy(p);
                continue;
            }
            slot->ari_check = 1;      /* but the CA may know better (RFC 9773) */
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, APLOGNO(10955)
                         "MDomain %s: renewing, %s", slot->md->name, why);
        }
        slot->pool = p;
        if (!lock_slot(d, slot, now)) {
            apr_pool_destroy(p);
            slot->pool = NULL;
            continue;
        }
        apr_atomic_set32(&slot->done, 0);
        rv = apr_thread_create(&slot->thread, NULL, renew_thread, slot, p);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, d->s, APLOGNO(10956)
                         "MDomain %s: cannot start the renewal thread", slot->md->name);
            apr_pool_destroy(p);
            slot->pool = NULL;
            slot->lock = NULL;
            continue;
        }
        slot->running = 1;
        ++active;
    }
    if (checked) {
        /* md-metrics shows when: its age tells monitoring that the driver is alive */
        apr_pool_t *p;
        apr_pool_create_unmanaged(&p);
        md_metrics_note_check(d->mc->store, now, p);
        apr_pool_destroy(p);
    }
}

static void stop_child_side(drive_t *d)
{
    int i;
    d->aborting = 1;
    for (i = 0; d->slots && i < d->slots->nelts; ++i) {
        slot_t *slot = APR_ARRAY_IDX(d->slots, i, slot_t *);
        if (slot->running) reap(slot);
    }
    if (d->wp) apr_pool_destroy(d->wp);
    d->wp = NULL;
    d->slots = NULL;
}

static apr_status_t run_watchdog(int state, void *baton, apr_pool_t *ptemp)
{
    drive_t *d = baton;
    (void)ptemp;
    switch (state) {
    case AP_WATCHDOG_STATE_STARTING:
        start_child_side(d);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, d->s, APLOGNO(10957)
                     "renewal driver started for %d MDomain(s)", d->slots->nelts);
        break;
    case AP_WATCHDOG_STATE_RUNNING:
        if (d->slots) tick(d);
        break;
    case AP_WATCHDOG_STATE_STOPPING:
        stop_child_side(d);
        break;
    }
    return APR_SUCCESS;
}

static int drive_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    ap_watchdog_t *wd;
    apr_status_t rv;

    (void)plog;
    if (!drive || !drive->mc->mds->nelts || drive->s != s) return OK;
    collect_certs(drive, pconf, ptemp);
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return OK;
    md_http_global_init();
    json_object_seed(0);              /* before any thread: jansson's hash seed */
    wd_get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    wd_register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!wd_get_instance || !wd_register_callback) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(10958)
                     "mod_watchdog is not available: MDomains are not renewed; load mod_watchdog");
        return OK;
    }
    rv = wd_get_instance(&wd, MD_WATCHDOG_NAME, 0, 1, pconf);
    if (rv == APR_SUCCESS) rv = wd_register_callback(wd, MD_WATCHDOG_TICK, drive, run_watchdog);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10959)
                     "cannot set up the renewal watchdog: MDomains are not renewed");
        return !OK;
    }
    return OK;
}

/* ---- every child: challenge answers ---- */

static md_store_t *store_of(void)
{
    return drive && drive->mc ? drive->mc->store : NULL;
}

static int http_challenge(request_rec *r)
{
    md_store_t *store = store_of();
    const char *path = r->parsed_uri.path, *token, *host = r->hostname, *ip;
    char *data;
    apr_size_t len, tlen;
    apr_status_t rv;

    if (!store || !path || strncmp(path, ACME_CHALLENGE_PREFIX, sizeof(ACME_CHALLENGE_PREFIX) - 1))
        return DECLINED;
    if (r->method_number != M_GET) return DECLINED;
    token = path + sizeof(ACME_CHALLENGE_PREFIX) - 1;
    ip = host ? md_util_ip_canonical(r->pool, host) : NULL;
    if (ip) host = ip;
    else if (!host || !md_util_is_dns_name(host, 0)) return DECLINED;
    if (!*token || strchr(token, '/')) return DECLINED;
    host = md_util_str_tolower(r->pool, host);
    rv = md_store_load_data(store, MD_SG_CHALLENGES, host, MD_FN_HTTP01, &data, &len, 4096, r->pool);
    if (rv != APR_SUCCESS) return DECLINED;
    tlen = strlen(token);
    if (len <= tlen || strncmp(data, token, tlen) || data[tlen] != '.') return HTTP_NOT_FOUND;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10960)
                  "answering the http-01 challenge for %s", host);
    ap_set_content_type(r, "text/plain");
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only) ap_rwrite(data, (int)len, r);
    return DONE;
}

static int tls_alpn_challenge(conn_rec *c, const char *server_name, const char **pcert_pem,
                              const char **pkey_pem)
{
    md_store_t *store = store_of();
    char *cert, *key;
    const char *host;

    if (!store || !server_name || !md_util_is_dns_name(server_name, 0)) return DECLINED;
    /* an IP identifier is validated under its reverse-DNS name (RFC 8738 section 6) */
    host = md_util_ip_from_reverse(c->pool, server_name);
    if (!host) host = md_util_str_tolower(c->pool, server_name);
    if (md_acme_tls_alpn01_load(&cert, &key, store, host, c->pool) != APR_SUCCESS) {
        const char *problem = md_status_challenge_problem(store, host, c->pool);
        if (problem) ap_log_cerror(APLOG_MARK, APLOG_WARNING, 0, c, APLOGNO(11167) "%s", problem);
        return DECLINED;
    }
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c, APLOGNO(10961)
                  "answering the tls-alpn-01 challenge for %s", host);
    *pcert_pem = cert;
    *pkey_pem = key;
    return OK;
}

static int propose_acme_tls_1(conn_rec *c, request_rec *r, server_rec *s,
                              const apr_array_header_t *offers, apr_array_header_t *proposals)
{
    (void)s;
    if (r || !store_of() || !ap_ssl_conn_is_ssl(c) || !offers
        || md_util_array_index(offers, "acme-tls/1") < 0)
        return DECLINED;
    APR_ARRAY_PUSH(proposals, const char *) = "acme-tls/1";
    return OK;
}

static int switch_acme_tls_1(conn_rec *c, request_rec *r, server_rec *s, const char *protocol)
{
    (void)c; (void)s;
    return !r && protocol && !strcmp(protocol, "acme-tls/1") ? OK : DECLINED;
}

void mod_md_drive_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* after mod_md.c's post_config (MIDDLE) and before mod_watchdog's (LAST) */
    ap_hook_post_config(drive_post_config, NULL, NULL, APR_HOOK_MIDDLE + 1);
    ap_hook_post_read_request(http_challenge, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_ssl_answer_challenge(tls_alpn_challenge, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_propose(propose_acme_tls_1, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_switch(switch_acme_tls_1, NULL, NULL, APR_HOOK_MIDDLE);
}
