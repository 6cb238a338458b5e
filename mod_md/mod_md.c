/* mod_md.c: httpd glue of mod_md: module declaration and hooks.
 *
 * Start-up, in the parent: check_config matches MDs to virtual hosts and rejects invalid
 * setups (so that `apache2 -t` reports them), post_config (before mod_ssl) brings the
 * store in line with the configuration and decides, per MD, which certificate files
 * mod_ssl gets: the MD's certificates, its static files, or a self-signed fallback.
 * Everything a child needs later is computed here and inherited in memory.
 */
#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <ap_listen.h>
#include <unixd.h>

#include "md.h"
#include "md_crypt.h"
#include "md_lock.h"
#include "md_match.h"
#include "md_store.h"
#include "md_sync.h"
#include "md_tailscale.h"
#include "mod_md.h"
#include "mod_md_config.h"


/* ---- check_config: matching and validation ---- */

static const char *as_ip(const char *name, apr_pool_t *p)
{
    const char *ip = md_util_ip_canonical(p, name);
    return ip ? ip : name;
}

static apr_array_header_t *server_names(server_rec *s, apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 5, sizeof(const char *));
    int i;

    /* addresses as the MDs hold them: "[::1]" is ::1 */
    if (s->server_hostname) APR_ARRAY_PUSH(names, const char *) = as_ip(s->server_hostname, p);
    for (i = 0; s->names && i < s->names->nelts; ++i)
        APR_ARRAY_PUSH(names, const char *) = as_ip(APR_ARRAY_IDX(s->names, i, const char *), p);
    for (i = 0; s->wild_names && i < s->wild_names->nelts; ++i) {
        const char *w = APR_ARRAY_IDX(s->wild_names, i, const char *);
        if (md_util_is_wildcard(w)) APR_ARRAY_PUSH(names, const char *) = w;
    }
    return names;
}

static int server_listens_on(server_rec *s, int port)
{
    server_addr_rec *a;
    for (a = s->addrs; a; a = a->next) {
        if (a->host_port == port || (a->host_port == 0 && a->host_addr && a->host_addr->port == port))
            return 1;
    }
    return 0;
}

static int listening_on(int port)
{
    ap_listen_rec *lr;
    if (port <= 0) return 0;
    for (lr = ap_listeners; lr; lr = lr->next) {
        if (lr->bind_addr && lr->bind_addr->port == port) return 1;
    }
    return 0;
}

/* The port a host is reached on with https: a port of its addresses that httpd listens
 * on with the https protocol (Listen ... https, or 443), or 0. */
static int https_port_of(server_rec *s)
{
    server_addr_rec *a;
    ap_listen_rec *lr;
    for (a = s->addrs; a; a = a->next) {
        for (lr = ap_listeners; lr; lr = lr->next) {
            if (lr->bind_addr && lr->bind_addr->port == a->host_port && lr->protocol
                && !strcasecmp(lr->protocol, "https"))
                return a->host_port;
        }
    }
    return 0;
}

static const char *vhost_id(server_rec *s, apr_pool_t *p)
{
    return apr_psprintf(p, "%s:%d%s", s->server_hostname ? s->server_hostname : "(no ServerName)",
                        s->addrs ? s->addrs->host_port : s->port,
                        s->is_virtual ? "" : " (main server)");
}

static const char *default_contact(server_rec *s, apr_pool_t *p)
{
    const char *admin = s->server_admin;
    if (!admin || !strchr(admin, '@') || strchr(admin, ' ')) return NULL;
    if (!strncasecmp(admin, "mailto:", 7)) return admin;
    return apr_pstrcat(p, "mailto:", admin, NULL);
}

/* Settings of a static certificate must hold at start: both files, matching, not expired. */
static const char *check_static_files(md_t *md, apr_pool_t *p)
{
    int i, nc = md->cert_files ? md->cert_files->nelts : 0, nk = md->pkey_files ? md->pkey_files->nelts : 0;

    if (nc != nk)
        return apr_psprintf(p, "The Managed Domain '%s' needs one MDCertificateKeyFile for each "
                            "MDCertificateFile (it has %d MDCertificateFile and %d "
                            "MDCertificateKeyFile)", md->name, nc, nk);
    for (i = 0; i < nc; ++i) {
        const char *cf = APR_ARRAY_IDX(md->cert_files, i, const char *);
        const char *kf = APR_ARRAY_IDX(md->pkey_files, i, const char *);
        apr_array_header_t *chain;
        EVP_PKEY *pkey;
        X509 *x;

        if (md_chain_load(&chain, cf, p) != APR_SUCCESS)
            return apr_psprintf(p, "MDomain %s: MDCertificateFile %s holds no PEM certificate",
                                md->name, cf);
        if (md_pkey_load(&pkey, kf, NULL, 0, p) != APR_SUCCESS)
            return apr_psprintf(p, "MDomain %s: MDCertificateKeyFile %s holds no (unencrypted) "
                                "PEM private key", md->name, kf);
        x = APR_ARRAY_IDX(chain, 0, X509 *);
        if (!md_cert_matches_key(x, pkey))
            return apr_psprintf(p, "MDomain %s: the certificate in %s does not match the key in %s",
                                md->name, cf, kf);
        if (md_cert_not_after(x) < apr_time_now())
            return apr_psprintf(p, "MDomain %s: the certificate in %s expired on %s", md->name, cf,
                                md_util_time_format(p, md_cert_not_after(x)));
    }
    return NULL;
}

static int md_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *base)
{
    md_mod_conf_t *mc = mod_md_config_get(base)->mc;
    apr_array_header_t *vhosts = apr_array_make(ptemp, 10, sizeof(md_vhost_t *));
    apr_array_header_t *warnings = apr_array_make(ptemp, 5, sizeof(const char *));
    md_t *builtin = md_create_defaults(pconf);
    const char *err, *contact = default_contact(base, pconf);
    server_rec *s;
    int i;

    apr_time_t started = apr_time_now();

    (void)plog;
    if (!mc->mds->nelts) return OK;

    if (contact && !mc->defaults->contacts->nelts)
        APR_ARRAY_PUSH(mc->defaults->contacts, const char *) = contact;
    for (i = 0; i < mc->mds->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(mc->mds, i, md_t *);
        int own_pkeys = md->pkey_specs != NULL;
        md_merge(md, mc->defaults);
        if (md_tailscale_is_proto(md->ca_proto) && !md->ca_urls) {
            /* tailscale without MDCertificateAuthority: the daemon's usual socket */
            md->ca_urls = apr_array_make(pconf, 1, sizeof(const char *));
            APR_ARRAY_PUSH(md->ca_urls, const char *) = MD_TAILSCALE_DEFAULT_URL;
        }
        md_merge(md, builtin);
        /* as with the reference, static certificates are renewed only with 'always' */
        if (md->cert_files && md->cert_files->nelts && md->renew_mode == MD_RENEW_AUTO)
            md->renew_mode = MD_RENEW_MANUAL;
        md->ca_effective = APR_ARRAY_IDX(md->ca_urls, 0, const char *);
        if (md->eab_kid && !strcmp(md->eab_kid, "none")) md->eab_kid = md->eab_hmac = NULL;
        if (md_tailscale_is_proto(md->ca_proto) && !own_pkeys && md_pkey_spec_count(md) > 1) {
            /* a global MDPrivateKeys that cannot apply to this MD: tailscaled gives one key */
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, base, APLOGNO(10919)
                         "MDomain %s: the global MDPrivateKeys lists %d key types, but "
                         "MDCertificateProtocol tailscale gives one key and certificate; only "
                         "the first type applies to this MD", md->name, md_pkey_spec_count(md));
            md->pkey_specs = apr_array_copy(pconf, md->pkey_specs);
            md->pkey_specs->nelts = 1;
        }
        if ((err = md_tailscale_check_md(md, ptemp)) != NULL) goto fail;
        if ((err = check_static_files(md, ptemp)) != NULL) goto fail;
    }
    if ((err = md_match_check_mds(mc->mds, &mc->name2md, pconf)) != NULL) goto fail;

    for (s = base; s; s = s->next) {
        md_vhost_t *vh;
        if (!s->is_virtual && !mc->manage_base_server) continue;
        vh = apr_pcalloc(ptemp, sizeof(*vh));
        vh->id = vhost_id(s, ptemp);
        vh->names = server_names(s, ptemp);
        vh->acme_tls_1 = ap_is_allowed_protocol(NULL, NULL, s, "acme-tls/1");
        vh->is_https = server_listens_on(s, mc->local_443);
        vh->baton = s;
        APR_ARRAY_PUSH(vhosts, md_vhost_t *) = vh;
    }
    err = md_match_vhosts(mc->mds, mc->name2md, vhosts, mc->match_servernames, warnings, pconf);
    if (err) goto fail;
    for (i = 0; i < vhosts->nelts; ++i) {
        md_vhost_t *vh = APR_ARRAY_IDX(vhosts, i, md_vhost_t *);
        mod_md_config_get(vh->baton)->assigned = vh->md;
        if (vh->md && !vh->md->contacts->nelts) {
            /* no MDContactEmail, no global ServerAdmin: the ServerAdmin of its host */
            const char *admin = default_contact(vh->baton, pconf);
            if (admin) APR_ARRAY_PUSH(vh->md->contacts, const char *) = admin;
        }
        if (vh->md && !vh->md->rt_https_port) vh->md->rt_https_port = https_port_of(vh->baton);
        if (vh->md)
            ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, base, APLOGNO(10901)
                         "virtual host %s belongs to MDomain %s", vh->id, vh->md->name);
    }
    for (i = 0; i < warnings->nelts; ++i)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, base, APLOGNO(10902) "%s",
                     APR_ARRAY_IDX(warnings, i, const char *));

    mc->can_http = listening_on(mc->local_80);
    mc->can_https = listening_on(mc->local_443);
    for (i = 0; i < mc->mds->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(mc->mds, i, md_t *);
        int j, dns01 = md->dns01_cmd && (!md->ca_challenges
                                         || md_util_array_index(md->ca_challenges, "dns-01") >= 0);
        /* tailscale needs no challenges: the daemon gets the certificate */
        for (j = 0; j < md->domains->nelts && !md_tailscale_is_proto(md->ca_proto); ++j) {
            const char *d = APR_ARRAY_IDX(md->domains, j, const char *);
            if (md_util_is_ip(d) && md->ca_challenges
                && md_util_array_index(md->ca_challenges, "http-01") < 0
                && md_util_array_index(md->ca_challenges, "tls-alpn-01") < 0) {
                err = apr_psprintf(ptemp, "MDomain %s: the IP address %s can only be validated with "
                                   "http-01 or tls-alpn-01 (RFC 8738), not dns-01; add one of "
                                   "them to MDCAChallenges", md->name, d);
                goto fail;
            }
            if (md_util_is_wildcard(d) && !dns01)
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, base, APLOGNO(10903)
                             "MDomain %s: the wildcard name %s can only be validated with "
                             "dns-01; configure MDChallengeDns01 (and do not exclude dns-01 "
                             "in MDCAChallenges) or the certificate cannot be obtained",
                             md->name, d);
        }
        if (!md->watched)
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, base, APLOGNO(10904)
                         "MDomain %s is not used by any virtual host; it is only renewed with "
                         "MDRenewMode always", md->name);
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, base, APLOGNO(10916)
                 "mod_md: %d managed domains matched to %d hosts in %" APR_TIME_T_FMT " ms",
                 mc->mds->nelts, vhosts->nelts, apr_time_as_msec(apr_time_now() - started));
    return OK;

fail:
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, base, APLOGNO(10900) "mod_md: %s", err);
    return !OK;
}

/* ---- post_config: store and certificates ---- */

/* Certificate facts survive configuration passes and restarts in the parent process, so
 * that unchanged files are parsed once per process, not once per pass. */
static apr_hash_t *facts_cache(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    void *cache = NULL;
    apr_pool_userdata_get(&cache, "md_cert_facts", pp);
    if (!cache) {
        cache = apr_hash_make(pp);
        apr_pool_userdata_set(cache, "md_cert_facts", apr_pool_cleanup_null, pp);
    }
    return cache;
}

/* Bring one MD's store entry in line with the configuration and decide which files mod_ssl
 * gets (md_sync_md); log what it found. */
static apr_status_t sync_md(md_mod_conf_t *mc, md_t *md, server_rec *s, int dry_run,
                            apr_pool_t *pconf, apr_pool_t *ptemp)
{
    md_sync_result_t result;
    apr_status_t rv = md_sync_md(&result, md, mc->store, dry_run, pconf, ptemp);
    int i;

    if (result.stored_status != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_WARNING, result.stored_status, s, APLOGNO(10905)
                     "MDomain %s: stored md.json is unusable (%s); writing it anew from the "
                     "configuration", md->name, result.stored_error);
    for (i = 0; i < result.problems->nelts; ++i)
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(10914)
                     "MDomain %s: %s; a fallback certificate is served until a new "
                     "one is obtained", md->name, APR_ARRAY_IDX(result.problems, i, const char *));
    if (result.unwritable)
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, APLOGNO(10906)
                     "MDomain %s: cannot write %s", md->name, result.unwritable);
    else if (result.fallback_error)
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, APLOGNO(10907) "MDomain %s: %s",
                     md->name, result.fallback_error);
    return rv;
}

/* Servers sharing one store (a cluster) may (re)start at the same moment. Each brings the
 * store in line with its configuration and activates staged sets under store.lock, so a
 * staged set is activated once and one server's fallback key never meets another's
 * certificate. MDStoreLocks sets how long to wait for it (a server that does not get it
 * starts without activating: the next restart does); without MDStoreLocks the wait is short
 * and the server goes on anyway. A file system without locks is used without. */
#define MD_STORE_LOCK_WAIT_DEFAULT apr_time_from_sec(5)

/* How lock files are created in the store and what flock() is worth there (md_lock_probe):
 * found at every (re)start, logged when it is news to this process. */
static void probe_store(md_mod_conf_t *mc, server_rec *s, const char *base, apr_pool_t *ptemp)
{
    static const char key[] = "mod_md-store-probe";
    apr_pool_t *pproc = s->process->pool;
    md_lock_fs_t fs;
    const char *err, *text;
    void *logged = NULL;

    if (md_lock_probe(&fs, md_store_path(mc->store, MD_SG_TMP, NULL, NULL, ptemp), ptemp, &err)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(11161)
                     "store %s: cannot find out how to create lock files there (%s); trying "
                     "link(), then O_CREAT|O_EXCL", base, err);
        return;
    }
    mc->store->lock_create = fs.create;
    text = apr_psprintf(ptemp, "store %s: %s", base, md_lock_fs_describe(&fs, ptemp));
    apr_pool_userdata_get(&logged, key, pproc);
    if (logged && !strcmp(logged, text)) return;
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(11162) "%s", text);
    apr_pool_userdata_set(apr_pstrdup(pproc, text), key, NULL, pproc);
}

/* Servers on other nodes are kept out of activation by a lease lock file in the store, as
 * renewals are (store.lock's flock() reaches only this node on many shared file systems).
 * Returns whether this server may activate staged sets now. */
static int lock_activation(md_lock_t **plock, md_mod_conf_t *mc, server_rec *s, const char *base,
                           apr_interval_time_t wait, apr_pool_t *p)
{
    const char *path = md_store_path(mc->store, MD_SG_NONE, NULL, MD_FN_ACTIVATION_LOCK, p), *msg;
    apr_status_t rv = md_lock_acquire_wait(plock, path, mod_md_drive_node_name(p), MD_LOCK_LEASE,
                                           (md_lock_create_t)mc->store->lock_create, wait, p, &msg);

    if (rv == APR_SUCCESS) {
        if (msg) ap_log_error(APLOG_MARK, md_lock_from_self(*plock) ? APLOG_DEBUG : APLOG_WARNING,
                              0, s, APLOGNO(11163) "%s", msg);
        return 1;
    }
    if (rv == APR_EBUSY) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(11164)
                     "store %s: another server is activating certificates for more than %s (%s); "
                     "staged certificates are activated at the next restart", base,
                     md_util_duration_format(p, wait), msg);
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, APLOGNO(11165)
                 "store %s: %s; activating staged certificates without the lock", base, msg);
    *plock = NULL;
    return 1;
}

static int md_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    md_mod_conf_t *mc = mod_md_config_get(s)->mc;
    const char *base, *err = NULL;
    json_t *httpd_json;
    apr_file_t *lock;
    md_lock_t *activation = NULL;
    apr_interval_time_t lock_wait = mc->use_store_locks ? mc->lock_wait_timeout
                                                        : MD_STORE_LOCK_WAIT_DEFAULT;
    apr_status_t rv;
    apr_time_t started = apr_time_now();
    int i, dry_run = ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG, may_activate;

    (void)plog;
    if (!mc->mds->nelts) return OK;
    base = ap_server_root_relative(pconf, mc->base_dir);
    if (!base) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, APLOGNO(10908)
                     "MDStoreDir %s: invalid path", mc->base_dir);
        return !OK;
    }
    rv = md_store_open(&mc->store, base, pconf, &err);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, APLOGNO(10909)
                     "mod_md: the store at %s cannot be used: %s", base, err);
        return !OK;
    }
    md_store_set_owner(mc->store, ap_unixd_config.user_id, ap_unixd_config.group_id);
    md_store_set_facts_cache(mc->store, facts_cache(s));
    rv = md_store_setup_groups(mc->store, ptemp);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, APLOGNO(10910)
                     "mod_md: cannot create the directories of the store at %s", base);
        return !OK;
    }
    if (!dry_run) {
        probe_store(mc, s, base, ptemp);
        httpd_json = json_pack("{s:{s:b,s:b}}", "proto", "http", mc->can_http, "https", mc->can_https);
        rv = md_store_save_json(mc->store, MD_SG_NONE, NULL, MD_FN_HTTPD, httpd_json, ptemp);
        json_decref(httpd_json);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, APLOGNO(10911)
                         "mod_md: cannot write %s in the store at %s", MD_FN_HTTPD, base);
            return !OK;
        }
    }
    rv = md_lock_store_file(&lock, mc->store->base, lock_wait, ptemp);
    if (APR_STATUS_IS_EAGAIN(rv))
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(10962)
                     "the store is locked by another server for more than %s (%s/store.lock)%s",
                     md_util_duration_format(ptemp, lock_wait), base,
                     mc->use_store_locks ? "; staged certificates are activated at the next restart"
                                         : "; going on without the lock (see MDStoreLocks)");
    else if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, mc->use_store_locks ? APLOG_WARNING : APLOG_DEBUG, rv, s, APLOGNO(10990)
                     "cannot lock the store %s (does its file system support locks?); going on "
                     "without the lock", base);
    may_activate = !(APR_STATUS_IS_EAGAIN(rv) && mc->use_store_locks);
    if (may_activate && !dry_run)
        may_activate = lock_activation(&activation, mc, s, base, lock_wait, ptemp);
    mod_md_drive_post_config_activate(mc, s, may_activate, activation, pconf, ptemp);
    for (i = 0; i < mc->mds->nelts; ++i) {
        apr_pool_t *p;
        apr_pool_create(&p, ptemp);
        if (activation) md_lock_refresh(activation, 0, p);
        rv = sync_md(mc, APR_ARRAY_IDX(mc->mds, i, md_t *), s, dry_run, pconf, p);
        apr_pool_destroy(p);
        if (rv != APR_SUCCESS) break;
    }
    md_lock_release(activation);
    md_lock_store_file_release(lock);
    if (rv != APR_SUCCESS) return !OK;
    mod_md_hot_post_config(mc, s, pconf, ptemp);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(10915)
                 "mod_md: store %s in line with %d managed domains in %" APR_TIME_T_FMT " ms%s",
                 base, mc->mds->nelts, apr_time_as_msec(apr_time_now() - started),
                 dry_run ? " (first pass: files only)" : "");
    return OK;
}

/* ---- certificates for mod_ssl ---- */

static md_t *server_md(server_rec *s)
{
    md_srv_conf_t *sc = mod_md_config_get(s);
    return sc ? sc->assigned : NULL;
}

static int add_files(md_t *md, apr_array_header_t *cert_files, apr_array_header_t *key_files)
{
    int i;
    for (i = 0; i < md->rt_cert_files->nelts; ++i) {
        APR_ARRAY_PUSH(cert_files, const char *) = APR_ARRAY_IDX(md->rt_cert_files, i, const char *);
        APR_ARRAY_PUSH(key_files, const char *) = APR_ARRAY_IDX(md->rt_key_files, i, const char *);
    }
    return OK;
}

static int md_add_cert_files(server_rec *s, apr_pool_t *p, apr_array_header_t *cert_files,
                             apr_array_header_t *key_files)
{
    md_t *md = server_md(s);
    (void)p;
    /* MDActivation hot: a fallback is handed over as an ordinary certificate, for mod_ssl
     * would answer 503 on its connections until the restart; mod_md_http.c answers 503
     * itself, only while the fallback is served */
    if (!md || !md->rt_cert_files || (md->rt_fallback && !md->rt_hot)) return DECLINED;
    if (cert_files->nelts)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(10912)
                     "virtual host %s has its own SSLCertificateFile but belongs to MDomain %s: "
                     "the managed certificate is added as well; remove the SSLCertificate* lines",
                     s->server_hostname, md->name);
    return add_files(md, cert_files, key_files);
}

static int md_add_fallback_cert_files(server_rec *s, apr_pool_t *p, apr_array_header_t *cert_files,
                                      apr_array_header_t *key_files)
{
    md_t *md = server_md(s);
    (void)p;
    if (!md || !md->rt_cert_files || !md->rt_fallback || md->rt_hot) return DECLINED;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, APLOGNO(10913)
                 "MDomain %s has no certificate yet (%s): %s is served a temporary self-signed "
                 "certificate and answers 503", md->name, md->state_descr, s->server_hostname);
    return add_files(md, cert_files, key_files);
}

/* ---- module ---- */

static void md_register_hooks(apr_pool_t *p)
{
    static const char *const succ_ssl[] = { "mod_ssl.c", NULL };
    ap_hook_check_config(md_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(md_post_config, NULL, succ_ssl, APR_HOOK_MIDDLE);
    ap_hook_ssl_add_cert_files(md_add_cert_files, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_add_fallback_cert_files(md_add_fallback_cert_files, NULL, NULL, APR_HOOK_MIDDLE);
    mod_md_status_register_hooks(p);
    mod_md_http_register_hooks(p);
    mod_md_drive_register_hooks(p);
    mod_md_ocsp_register_hooks(p);
    mod_md_hot_register_hooks(p);
}

AP_DECLARE_MODULE(md) = {
    STANDARD20_MODULE_STUFF,
    NULL,                   /* per-directory config creator */
    NULL,                   /* dir config merger */
    mod_md_config_create_svr,   /* server config creator */
    mod_md_config_merge_svr,    /* server config merger */
    mod_md_cmds,                /* command table */
    md_register_hooks,
    AP_MODULE_FLAG_ALWAYS_MERGE   /* every vhost needs its own config: it records its MD */
};
