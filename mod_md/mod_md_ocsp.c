/* mod_md_ocsp.c: OCSP stapling (MDStapling) through httpd's core OCSP hooks.
 *
 * Design, per server generation (everything below lives in pconf and is rebuilt at each
 * restart):
 * - Parent, mod_ssl's post_config: mod_ssl announces every server certificate through
 *   ap_ssl_ocsp_prime_hook (id + PEM of cert and issuer). For certificates of an MD with
 *   MDStapling on, or of other vhosts when MDStapling is on globally and MDStapleOthers
 *   too, we answer OK (mod_ssl then asks us, not a responder, during handshakes) and
 *   register an entry: cert id, responder URL, store location
 *   ocsp/<md name or "other">/ocsp-<sha1>.json. A response found in the store is verified
 *   again and becomes the entry's first response, so staples are served from the first
 *   handshake after a restart even while the responder is down.
 * - Parent, after mod_ssl: one slot per entry in anonymous shared memory (md_ocsp_table),
 *   filled with the loaded responses; responses not written for MDStaplingKeepResponse
 *   are removed from the store (except those in use).
 * - Children: a handshake (ap_ssl_ocsp_get_resp_hook) looks its id up in a hash table that
 *   is read-only after fork and copies the slot's response under the slot's sequence
 *   counter: no disk, no lock, no system call. Expired responses are not served.
 * - One child (mod_watchdog singleton instance "_md_staple_") checks once a second which
 *   responses are missing or inside MDStaplingRenewWindow, fetches them, verifies them
 *   (md_ocsp_resp_verify), writes them to the store atomically, publishes them in the slot
 *   and runs MDMessageCmd "ocsp-renewed". Failures keep the previous response, run
 *   "ocsp-errored" and back off (MDRetryDelay doubling per error, capped at an hour).
 * - MDs with MDActivation hot get one more slot per key type, for the certificates hot
 *   activation puts in place after the start. The watchdog adopts each new set it sees
 *   (mod_md_hot_current), records its certificate in the slot (the slot names the
 *   certificate: a handshake is never stapled with the response of another one) and fetches
 *   for it; the entries of the certificates loaded at start are then left alone. The SSL_CTXs
 *   of such MDs get our status callback (mod_ssl installs its own only for certificates it
 *   was told to staple at start, and an MD that started with its fallback had none); both
 *   find the response by the SHA-1 of the certificate the handshake chose.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_optional.h>
#include <apr_uri.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_ssl.h>
#include <mod_ssl_openssl.h>
#include <mod_watchdog.h>
#include <mod_status.h>
#include <unixd.h>
#include <openssl/ssl.h>

#include "md.h"
#include "md_crypt.h"
#include "md_drive.h"
#include "md_event.h"
#include "md_hot.h"
#include "md_http.h"
#include "md_ocsp.h"
#include "md_status.h"
#include "md_store.h"
#include "mod_md.h"
#include "mod_md_config.h"

APLOG_USE_MODULE(md);

#define MD_STAPLE_WATCHDOG "_md_staple_"
#define MD_OCSP_FETCH_TIMEOUT apr_time_from_sec(10)
#define MD_OCSP_BACKOFF_CAP apr_time_from_sec(3600)

/* One stapled certificate. */
typedef struct ocsp_entry_t {
    const char *id;             /* mod_ssl's id bytes (copied) */
    apr_size_t id_len;
    md_ocsp_cert_t *cert;
    const char *dir;            /* store directory and MDMessageCmd name: MD name or "other" */
    const char *name;           /* MD name, or the ServerName for other certs (logs, status) */
    const char *proxy;          /* MDHttpProxy */
    md_t *md;                   /* its MD, NULL for other certificates */
    int slot;
    md_ocsp_resp_t *loaded;     /* from the store at start-up, until the table exists */
    int hot_key;                /* hot entries: index in the hot set; -1: loaded at start */
    /* used only by the watchdog */
    apr_time_t next_try;
    int errors;
    apr_uint32_t hot_gen;       /* hot entries: generation adopted, cert in hot_pool */
    apr_pool_t *hot_pool;
} ocsp_entry_t;

typedef struct ocsp_reg_t {
    apr_pool_t *p;
    server_rec *s;              /* the base server, for logging */
    md_mod_conf_t *mc;
    md_store_t *store;
    apr_hash_t *by_id;          /* id bytes -> entry */
    apr_hash_t *by_sha256;      /* cert fingerprint -> entry (status pages) */
    apr_hash_t *hot_by_md;      /* MD name -> array of its hot entries */
    apr_array_header_t *entries;
    md_ocsp_table_t *table;
    ap_watchdog_t *watchdog;
} ocsp_reg_t;

/* The registry of the current generation: set in the parent, inherited by the children. */
static ocsp_reg_t *reg;

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *wd_get_instance;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *wd_register_callback;

static apr_status_t reg_cleanup(void *d)
{
    (void)d;
    reg = NULL;
    md_status_set_cert_cb(NULL, NULL);
    md_status_set_staple_cb(NULL, NULL);
    return APR_SUCCESS;
}

static int stapling_configured(md_mod_conf_t *mc)
{
    int i;
    if (mc->defaults->stapling > 0) return 1;
    for (i = 0; i < mc->mds->nelts; ++i)
        if (APR_ARRAY_IDX(mc->mds, i, md_t *)->stapling > 0) return 1;
    return 0;
}

/* Should the certificates of s be stapled by us? *pmd is its MD, if any. */
static int staple_here(server_rec *s, md_t **pmd)
{
    md_srv_conf_t *sc = mod_md_config_get(s);
    *pmd = sc ? sc->assigned : NULL;
    if (!reg || !sc) return 0;
    if (*pmd) return (*pmd)->stapling > 0;
    return sc->mc->defaults->stapling > 0 && sc->mc->staple_others;
}

/* An MD's hot entries, NULL when it has none. */
static apr_array_header_t *hot_entries(const md_t *md)
{
    return md && reg && reg->hot_by_md ? apr_hash_get(reg->hot_by_md, md->name, APR_HASH_KEY_STRING)
                                       : NULL;
}

/* A certificate loaded at start that hot activation has replaced: no longer stapled. */
static int superseded(const ocsp_entry_t *e)
{
    return e->hot_key < 0 && e->md && e->md->rt_hot && mod_md_hot_current(e->md);
}

/* The entry stapling the certificate with this SHA-256 (of md), and its slot's facts. */
static ocsp_entry_t *entry_for(const md_t *md, const char *sha256, md_ocsp_slot_info_t *info)
{
    apr_array_header_t *hot;
    ocsp_entry_t *e;
    int i;

    if (!reg || !reg->table || !sha256) return NULL;
    if ((e = apr_hash_get(reg->by_sha256, sha256, APR_HASH_KEY_STRING)) != NULL) {
        md_ocsp_table_get_info(reg->table, e->slot, info);
        return e;
    }
    if ((hot = hot_entries(md)) != NULL) {
        for (i = 0; i < hot->nelts; ++i) {
            e = APR_ARRAY_IDX(hot, i, ocsp_entry_t *);
            md_ocsp_table_get_info(reg->table, e->slot, info);
            if (!strcmp(info->cert_sha256, sha256)) return e;
        }
    }
    return NULL;
}

/* ---- status pages ---- */

static void add_ocsp_status(json_t *cert_json, const md_t *md, const char *sha256, void *baton,
                            apr_pool_t *p)
{
    ocsp_entry_t *e;
    md_ocsp_slot_info_t info;
    json_t *o, *renewal;

    (void)baton;
    if (!(e = entry_for(md, sha256, &info))) return;
    o = json_object();
    if (info.has_resp) {
        json_object_set_new(o, "status", json_string(md_ocsp_status_str(info.status)));
        json_object_set_new(o, "valid", json_pack("{s:s,s:s}",
                            "from", md_util_time_format(p, info.valid_from),
                            "until", md_util_time_format(p, info.valid_until)));
    }
    /* shaped like a job (job.json), as the reference shows it: OCSP renewals notify nobody
     * through the job (MDMessageCmd hears ocsp-renewed/ocsp-errored by itself); the next
     * attempt is shown when one is planned after a failure (server-status always has it) */
    renewal = json_pack("{s:s,s:b,s:b,s:b}", "name", e->dir, "finished", info.has_resp,
                        "notified", 0, "notified-renewed", 0);
    if (info.errors && info.renew_at)
        json_object_set_new(renewal, "next-run", json_string(md_util_time_format(p, info.renew_at)));
    if (info.last_run)
        json_object_set_new(renewal, "last-run", json_string(md_util_time_format(p, info.last_run)));
    json_object_set_new(renewal, "errors", json_integer(info.errors));
    if (info.last_run)
        json_object_set_new(renewal, "last", json_pack("{s:i,s:s,s:s}", "status", info.last_status,
            "detail", info.last_error[0] ? info.last_error
                      : apr_psprintf(p, "certificate status is %s, status valid %s - %s",
                                     md_ocsp_status_str(info.status),
                                     md_util_time_format(p, info.valid_from),
                                     md_util_time_format(p, info.valid_until)),
            "activity", apr_psprintf(p, "status of certid %s, reading response", info.cert_sha1)));
    if (info.last_error[0])
        json_object_set_new(renewal, "last-error", json_string(info.last_error));
    /* the job log of the one-MD view (md_status drops it from the list): the last attempt */
    json_object_set_new(renewal, "log", json_pack("{s:[]}", "entries"));
    if (info.last_run)
        json_array_append_new(json_object_get(json_object_get(renewal, "log"), "entries"),
                              json_pack("{s:s,s:s,s:O}", "when", md_util_time_format(p, info.last_run),
                                        "type", info.last_status ? "error" : "progress", "detail",
                                        json_object_get(json_object_get(renewal, "last"), "detail")));
    json_object_set_new(o, "renewal", renewal);
    json_object_set_new(cert_json, "ocsp", o);
}

/* For md-metrics: the response of the shared table, as every child sees it. */
static int staple_facts(const md_t *md, const char *sha256, const char **pstatus,
                        apr_time_t *pvalid_until, void *baton)
{
    md_ocsp_slot_info_t info;

    (void)baton;
    if (!entry_for(md, sha256, &info) || !info.has_resp) return 0;
    *pstatus = md_ocsp_status_str(info.status);
    *pvalid_until = info.valid_until;
    return 1;
}

/* ---- parent: set-up ---- */

static int ocsp_post_config_early(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                  server_rec *s)
{
    md_mod_conf_t *mc = mod_md_config_get(s)->mc;
    const char *err = NULL, *base;
    apr_status_t rv;

    (void)plog;
    (void)ptemp;
    reg = NULL;
    if (!stapling_configured(mc)) return OK;
    if (!mc->store) {               /* no MDomain: stapling alone still needs the store */
        base = ap_server_root_relative(pconf, mc->base_dir);
        if (!base || (rv = md_store_open(&mc->store, base, pconf, &err)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, APLOGNO(10930)
                         "MDStapling: the store at %s cannot be used: %s", mc->base_dir,
                         err ? err : "invalid path");
            return !OK;
        }
        md_store_set_owner(mc->store, ap_unixd_config.user_id, ap_unixd_config.group_id);
        if ((rv = md_store_setup_groups(mc->store, ptemp)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, APLOGNO(10931)
                         "MDStapling: cannot create the directories of the store at %s", base);
            return !OK;
        }
    }
    wd_get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    wd_register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!wd_get_instance || !wd_register_callback) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, APLOGNO(10932)
                     "MDStapling needs mod_watchdog (it fetches OCSP responses in the "
                     "background): load it or switch MDStapling off");
        return !OK;
    }
    reg = apr_pcalloc(pconf, sizeof(*reg));
    reg->p = pconf;
    reg->s = s;
    reg->mc = mc;
    reg->store = mc->store;
    reg->by_id = apr_hash_make(pconf);
    reg->by_sha256 = apr_hash_make(pconf);
    reg->entries = apr_array_make(pconf, 10, sizeof(ocsp_entry_t *));
    apr_pool_cleanup_register(pconf, NULL, reg_cleanup, apr_pool_cleanup_null);
    /* the instance must exist before mod_watchdog's own post_config activates instances */
    rv = wd_get_instance(&reg->watchdog, MD_STAPLE_WATCHDOG, 0, 1, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, APLOGNO(10933)
                     "MDStapling: cannot create the watchdog " MD_STAPLE_WATCHDOG);
        return !OK;
    }
    md_http_global_init();
    md_status_set_cert_cb(add_ocsp_status, NULL);
    md_status_set_staple_cb(staple_facts, NULL);
    return OK;
}

static int ocsp_prime(server_rec *s, apr_pool_t *p, const char *id, apr_size_t id_len,
                      const char *pem)
{
    md_t *md;
    md_ocsp_cert_t *c;
    md_ocsp_resp_t *resp = NULL;
    ocsp_entry_t *e;
    apr_pool_t *ptemp;
    const char *err = NULL;
    apr_status_t rv;

    (void)p;
    if (!staple_here(s, &md)) return DECLINED;
    if ((e = apr_hash_get(reg->by_id, id, (apr_ssize_t)id_len)) != NULL) return OK;
    if (md && md->rt_fallback) return DECLINED;     /* self-signed stand-in: nothing to staple */

    rv = md_ocsp_cert_from_pem(&c, pem, strlen(pem), reg->p, &err);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, APLOGNO(10934)
                     "MDStapling: the certificate of %s cannot be stapled: %s; make sure the "
                     "certificate file holds the issuer certificate after the leaf",
                     s->server_hostname, err);
        return DECLINED;
    }
    if (!c->responder) {
        /* the reference's words, which operators search for, then ours */
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, APLOGNO(10935)
                     "md[%s]: certificate with serial %s has no OCSP responder URL (no AIA OCSP "
                     "URL in the certificate of %s); MDStapling does not staple it",
                     md ? md->name : MD_OCSP_OTHER, md_cert_serial_hex(c->cert, p),
                     s->server_hostname);
        return DECLINED;
    }
    e = apr_pcalloc(reg->p, sizeof(*e));
    e->id = apr_pmemdup(reg->p, id, id_len);
    e->id_len = id_len;
    e->cert = c;
    e->dir = md ? md->name : MD_OCSP_OTHER;
    e->name = md ? md->name : (s->server_hostname ? s->server_hostname : MD_OCSP_OTHER);
    e->proxy = md ? md->proxy_url : reg->mc->defaults->proxy_url;
    e->md = md;
    e->hot_key = -1;
    e->slot = reg->entries->nelts;
    APR_ARRAY_PUSH(reg->entries, ocsp_entry_t *) = e;
    apr_hash_set(reg->by_id, e->id, (apr_ssize_t)e->id_len, e);
    apr_hash_set(reg->by_sha256, c->sha256_hex, APR_HASH_KEY_STRING, e);

    /* a response from before the restart, verified again, is served right away */
    apr_pool_create(&ptemp, reg->p);
    rv = md_ocsp_store_load(&resp, reg->store, e->dir, c, apr_time_now(), ptemp, &err);
    if (rv == APR_SUCCESS) {
        e->loaded = apr_pmemdup(reg->p, resp, sizeof(*resp));
        e->loaded->der = apr_pmemdup(reg->p, resp->der, resp->der_len);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(10936)
                     "MDStapling: %s (%s): stored OCSP response loaded, status %s, valid until %s",
                     e->name, c->sha1_hex, md_ocsp_status_str(resp->status),
                     md_util_time_format(ptemp, resp->valid_until));
    }
    else if (!APR_STATUS_IS_ENOENT(rv)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(10937)
                     "MDStapling: %s: the stored OCSP response is not used (%s); a new one is "
                     "fetched from %s", e->name, err, c->responder);
    }
    apr_pool_destroy(ptemp);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(10938)
                 "MDStapling: %s takes over OCSP stapling for the certificate of %s "
                 "(responder %s)", MD_VERSION, s->server_hostname, c->responder);
    return OK;
}

static apr_status_t ocsp_watchdog(int state, void *data, apr_pool_t *ptemp);

/* One slot per key type of each MD with MDActivation hot and MDStapling on. */
static void add_hot_entries(apr_pool_t *pconf)
{
    int i, k;

    reg->hot_by_md = apr_hash_make(pconf);
    for (i = 0; i < reg->mc->mds->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(reg->mc->mds, i, md_t *);
        apr_array_header_t *hot;
        int n = md_pkey_spec_count(md);

        if (!md->rt_hot || md->stapling <= 0) continue;
        hot = apr_array_make(pconf, n, sizeof(ocsp_entry_t *));
        for (k = 0; k < n; ++k) {
            ocsp_entry_t *e = apr_pcalloc(pconf, sizeof(*e));
            e->dir = e->name = md->name;
            e->proxy = md->proxy_url;
            e->md = md;
            e->hot_key = k;
            e->slot = reg->entries->nelts;
            APR_ARRAY_PUSH(reg->entries, ocsp_entry_t *) = e;
            APR_ARRAY_PUSH(hot, ocsp_entry_t *) = e;
        }
        apr_hash_set(reg->hot_by_md, md->name, APR_HASH_KEY_STRING, hot);
    }
}

static int ocsp_post_config_late(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                 server_rec *s)
{
    apr_hash_t *in_use;
    apr_status_t rv;
    apr_time_t now = apr_time_now();
    int i, removed = 0;

    (void)plog;
    if (!reg) return OK;
    add_hot_entries(pconf);
    rv = md_ocsp_table_create(&reg->table, reg->entries->nelts, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, APLOGNO(10939)
                     "MDStapling: cannot create the shared memory for %d OCSP responses",
                     reg->entries->nelts);
        return !OK;
    }
    in_use = apr_hash_make(ptemp);
    for (i = 0; i < reg->entries->nelts; ++i) {
        ocsp_entry_t *e = APR_ARRAY_IDX(reg->entries, i, ocsp_entry_t *);
        md_ocsp_resp_t *resp = e->loaded;
        md_ocsp_slot_info_t info;

        memset(&info, 0, sizeof(info));
        if (e->hot_key >= 0) continue;          /* empty until a set is hot-activated */
        md_ocsp_slot_info_set_cert(&info, e->cert);
        info.renew_at = resp ? md_ocsp_renew_at(resp, reg->mc->ocsp_renew_window) : now;
        md_ocsp_table_put(reg->table, e->slot, resp, &info);
        apr_hash_set(in_use, md_store_path(reg->store, MD_SG_OCSP, e->dir, md_ocsp_fname(e->cert, ptemp),
                                           ptemp), APR_HASH_KEY_STRING, "");
    }
    md_ocsp_store_prune(reg->store, reg->mc->stapling_keep, in_use, now, &removed, ptemp);
    if (removed)
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, APLOGNO(10940)
                     "MDStapling: removed %d OCSP responses older than MDStaplingKeepResponse %s",
                     removed, md_util_duration_format(ptemp, reg->mc->stapling_keep));
    if (reg->entries->nelts) {
        rv = wd_register_callback(reg->watchdog, AP_WD_TM_INTERVAL, reg, ocsp_watchdog);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, APLOGNO(10941)
                         "MDStapling: cannot register the OCSP renewal with mod_watchdog");
            return !OK;
        }
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(10942)
                 "MDStapling: %d certificates stapled by mod_md", reg->entries->nelts);
    return OK;
}

/* ---- handshakes ---- */

/* The response for the certificate with mod_ssl's id (SHA-1 of its DER) served by s, copied
 * into buf (MD_OCSP_DER_MAX bytes); 0 when there is none. No disk, no lock. */
static apr_size_t find_resp(server_rec *s, const char *id, apr_size_t id_len, unsigned char *buf)
{
    char sha1[41];
    apr_array_header_t *hot;
    ocsp_entry_t *e;
    md_t *md;
    apr_size_t i, len;

    if (!reg || !reg->table) return 0;
    if ((e = apr_hash_get(reg->by_id, id, (apr_ssize_t)id_len)) != NULL)
        return md_ocsp_table_get_der(reg->table, e->slot, buf, apr_time_now(), NULL);
    if (!staple_here(s, &md) || !(hot = hot_entries(md))
        || !OPENSSL_buf2hexstr_ex(sha1, sizeof(sha1), NULL, (const unsigned char *)id, id_len, '\0'))
        return 0;
    for (i = 0; i < (apr_size_t)hot->nelts; ++i) {
        e = APR_ARRAY_IDX(hot, i, ocsp_entry_t *);
        if ((len = md_ocsp_table_get_der(reg->table, e->slot, buf, apr_time_now(), sha1)) > 0)
            return len;
    }
    return 0;
}

static int ocsp_get_resp(server_rec *s, conn_rec *c, const char *id, apr_size_t id_len,
                         ap_ssl_ocsp_copy_resp *cb, void *userdata)
{
    unsigned char buf[MD_OCSP_DER_MAX];
    apr_size_t len;

    (void)c;
    if (!(len = find_resp(s, id, id_len, buf))) return DECLINED;
    cb(buf, len, userdata);
    return OK;
}

/* OpenSSL's status_request callback on the SSL_CTXs of hot MDs (arg: their server_rec). */
static int hot_status_cb(SSL *ssl, void *arg)
{
    unsigned char buf[MD_OCSP_DER_MAX], id[EVP_MAX_MD_SIZE], *copy;
    unsigned int id_len = 0;
    apr_size_t len;
    X509 *x = SSL_get_certificate(ssl);

    if (!x || !X509_digest(x, EVP_sha1(), id, &id_len)) return SSL_TLSEXT_ERR_NOACK;
    if (!(len = find_resp(arg, (const char *)id, id_len, buf))) return SSL_TLSEXT_ERR_NOACK;
    if (!(copy = OPENSSL_malloc(len))) return SSL_TLSEXT_ERR_NOACK;
    memcpy(copy, buf, len);
    if (!SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)len)) {
        OPENSSL_free(copy);
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

static int ocsp_init_server(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx)
{
    md_t *md;
    (void)p;
    /* (the hot entries are made after mod_ssl's post_config, which calls this) */
    if (is_proxy || !staple_here(s, &md) || !md || !md->rt_hot) return DECLINED;
    SSL_CTX_set_tlsext_status_cb(ctx, hot_status_cb);
    SSL_CTX_set_tlsext_status_arg(ctx, s);
    return DECLINED;
}

/* ---- the watchdog: fetching ---- */

/* MDMessageCmd as "cmd args... EVENT NAME", without a shell; waits for it. */
static void run_event(const char *event, const char *name, apr_pool_t *p)
{
    const char *err;
    if (md_event_send(reg->mc->message_cmd, event, name, p, &err) != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, reg->s, APLOGNO(10944) "%s", err);
}

static void renew_entry(ocsp_entry_t *e, md_ocsp_slot_info_t *info, apr_pool_t *p)
{
    unsigned char *req, *der;
    apr_size_t req_len, der_len;
    md_ocsp_resp_t *resp;
    const char *err = NULL;
    apr_time_t now;
    apr_status_t rv;

    rv = md_ocsp_req_der(&req, &req_len, e->cert, p);
    if (rv != APR_SUCCESS) err = "cannot build the OCSP request";
    else {
        md_http_opts_t opts;
        memset(&opts, 0, sizeof(opts));
        opts.proxy_url = e->proxy;
        /* responders are plain http as a rule; an https one is checked against the system
         * roots (MDCACertificateFile is about the ACME CA's server, not the OCSP service) */
        opts.proxy_ca_file = reg->mc->proxy_ca_certs_file;
        opts.connect_timeout_ms = 5000;
        opts.timeout_ms = (long)apr_time_as_msec(MD_OCSP_FETCH_TIMEOUT);
        rv = md_ocsp_fetch(&der, &der_len, e->cert->responder, &opts, req, req_len, p, &err);
    }
    now = apr_time_now();
    if (rv == APR_SUCCESS)
        rv = md_ocsp_resp_verify(&resp, e->cert, der, der_len, now, p, &err);
    if (rv == APR_SUCCESS) {
        if (md_ocsp_store_save(reg->store, e->dir, e->cert, resp, p) != APR_SUCCESS)
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, reg->s, APLOGNO(10945)
                         "MDStapling: %s: cannot write the OCSP response to %s; it is served "
                         "but will be fetched again after a restart", e->name,
                         md_store_path(reg->store, MD_SG_OCSP, e->dir, md_ocsp_fname(e->cert, p), p));
        e->errors = 0;
        info->errors = 0;
        info->last_error[0] = '\0';
        info->last_status = 0;
        info->last_run = now;
        info->last_update = now;
        info->renew_at = md_ocsp_renew_at(resp, reg->mc->ocsp_renew_window);
        /* a window as long as the validity would refetch constantly: at most once a minute */
        if (info->renew_at < now + apr_time_from_sec(60)) info->renew_at = now + apr_time_from_sec(60);
        e->next_try = info->renew_at;
        md_ocsp_table_put(reg->table, e->slot, resp, info);
        ap_log_error(APLOG_MARK, resp->status == MD_OCSP_GOOD ? APLOG_INFO : APLOG_WARNING, 0,
                     reg->s, APLOGNO(10946)
                     "MDStapling: %s: OCSP response renewed, certificate status %s%s, valid until "
                     "%s, next renewal at %s", e->name, md_ocsp_status_str(resp->status),
                     resp->status == MD_OCSP_REVOKED ? " (the certificate is REVOKED: replace it)" : "",
                     md_util_time_format(p, resp->valid_until), md_util_time_format(p, info->renew_at));
        run_event("ocsp-renewed", e->dir, p);
        return;
    }
    ++e->errors;
    e->next_try = now + md_ocsp_backoff(reg->mc->retry_delay, e->errors, MD_OCSP_BACKOFF_CAP);
    info->errors = e->errors;
    info->last_status = rv != APR_SUCCESS ? (int)rv : (int)APR_EGENERAL;
    info->last_run = now;
    apr_cpystrn(info->last_error, err ? err : "unknown error", sizeof(info->last_error));
    info->renew_at = e->next_try;
    md_ocsp_table_put(reg->table, e->slot, NULL, info);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, reg->s, APLOGNO(10947)
                 "MDStapling: %s: getting the OCSP response from %s failed (%d in a row): %s; %s, "
                 "next attempt at %s", e->name, e->cert->responder, e->errors, info->last_error,
                 info->has_resp ? "the previous response is still served"
                                : "no response is stapled until then",
                 md_util_time_format(p, e->next_try));
    run_event("ocsp-errored", e->dir, p);
}

/* A hot entry takes the certificate of its key type in the set now served (or none). */
static void adopt(ocsp_entry_t *e, const md_hot_set_t *set, apr_time_t now)
{
    md_ocsp_slot_info_t info;
    md_ocsp_resp_t *resp = NULL;
    const md_hot_key_t *k = e->hot_key < set->n ? &set->keys[e->hot_key] : NULL;
    const char *err = NULL;

    e->hot_gen = set->generation;
    if (e->hot_pool) apr_pool_clear(e->hot_pool);
    else apr_pool_create_unmanaged(&e->hot_pool);
    e->cert = NULL;
    if (k && md_ocsp_cert_from_chain(&e->cert, k->cert, k->chain, e->hot_pool, &err) != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, reg->s, APLOGNO(11912)
                     "MDStapling: %s: the %s certificate of generation %u cannot be stapled: %s",
                     e->name, k->spec, (unsigned)set->generation, err);
    else if (e->cert && !e->cert->responder) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, reg->s, APLOGNO(11913)
                     "md[%s]: certificate with serial %s has no OCSP responder URL (no AIA OCSP "
                     "URL in the %s certificate of generation %u); MDStapling does not staple it",
                     e->name, md_cert_serial_hex(k->cert, e->hot_pool), k->spec,
                     (unsigned)set->generation);
        e->cert = NULL;
    }
    memset(&info, 0, sizeof(info));
    md_ocsp_slot_info_set_cert(&info, e->cert);
    e->errors = 0;
    e->next_try = now;
    /* a response already fetched for it (before a restart, or by another server) */
    if (e->cert && md_ocsp_store_load(&resp, reg->store, e->dir, e->cert, now, e->hot_pool,
                                      &err) == APR_SUCCESS)
        e->next_try = md_ocsp_renew_at(resp, reg->mc->ocsp_renew_window);
    info.renew_at = e->cert ? e->next_try : 0;
    md_ocsp_table_put(reg->table, e->slot, resp, &info);
    if (e->cert)
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, reg->s, APLOGNO(11914)
                     "MDStapling: %s: stapling the hot-activated %s certificate %s (generation %u)%s",
                     e->name, k->spec, e->cert->sha1_hex, (unsigned)set->generation,
                     resp ? ", stored response loaded" : "");
}

static apr_status_t ocsp_watchdog(int state, void *data, apr_pool_t *ptemp)
{
    ocsp_reg_t *r = data;
    apr_time_t now = apr_time_now();
    int i;

    if (r != reg) return APR_SUCCESS;
    for (i = 0; i < r->entries->nelts; ++i) {
        ocsp_entry_t *e = APR_ARRAY_IDX(r->entries, i, ocsp_entry_t *);
        md_ocsp_slot_info_t info;
        apr_pool_t *p;

        if (state == AP_WATCHDOG_STATE_STOPPING) continue;
        if (e->hot_key >= 0) {
            const md_hot_set_t *set = mod_md_hot_current(e->md);
            if (set && set->generation != e->hot_gen) adopt(e, set, now);
            if (!e->cert) continue;
        }
        else if (superseded(e)) continue;
        md_ocsp_table_get_info(r->table, e->slot, &info);
        if (state == AP_WATCHDOG_STATE_STARTING && e->hot_key < 0) {
            e->next_try = info.renew_at;        /* this child may take over from another */
            e->errors = info.errors;
        }
        if (now < e->next_try) continue;
        apr_pool_create(&p, ptemp);
        renew_entry(e, &info, p);
        apr_pool_destroy(p);
        now = apr_time_now();
    }
    return APR_SUCCESS;
}

/* ---- server-status: the staples table and the ManagedStaplings* counters ---- */

static const char *day_of(apr_time_t t, apr_pool_t *p)
{
    apr_time_exp_t tm;
    apr_size_t len;
    char buf[32];
    apr_time_exp_gmt(&tm, t);
    apr_strftime(buf, &len, sizeof(buf), "%Y-%m-%d", &tm);
    return apr_pstrdup(p, buf);
}

/* The ?auto lines of one stapled certificate, as the reference prints them. */
static const char *stapling_lines(int idx, const ocsp_entry_t *e, const md_ocsp_slot_info_t *info,
                                  apr_time_t now, apr_pool_t *p)
{
    const char *pre = apr_psprintf(p, "ManagedStapling[%d]", idx);
    const char *s = apr_psprintf(p, "%sDomain: %s\n%sCertificateID: %s\n", pre, e->name, pre,
                                 info->cert_sha1);
    apr_uri_t uri;

    if (info->has_resp) {
        s = apr_psprintf(p, "%s%sOCSPStatus: %s\n", s, pre, md_ocsp_status_str(info->status));
        if (info->valid_from > now)
            s = apr_psprintf(p, "%s%sStaplingValidFrom: %s\n", s, pre, day_of(info->valid_from, p));
        s = apr_psprintf(p, "%s%sStaplingValidUntil: %s\n", s, pre, day_of(info->valid_until, p));
    }
    if (info->responder[0]) {
        s = apr_psprintf(p, "%s%sResponderName: %s\n%sResponderURL: %s\n", s, pre,
                         apr_uri_parse(p, info->responder, &uri) == APR_SUCCESS && uri.hostname
                         ? uri.hostname : info->responder, pre, info->responder);
    }
    if (info->renew_at > now)
        s = apr_psprintf(p, "%s%sActivityRefresh: %" APR_TIME_T_FMT "\n", s, pre,
                         apr_time_sec(info->renew_at - now));
    else
        s = apr_psprintf(p, "%s%sActivity: Pending\n", s, pre);
    return s;
}

static int ocsp_status_hook(request_rec *r, int flags)
{
    apr_time_t now = apr_time_now();
    int i, total = 0, ok = 0, renew = 0, errored = 0;
    const char *short_lines = "";

    if (!mod_md_config_get(r->server)->mc->server_status_enabled) return OK;
    if (!reg || !reg->table || !reg->entries->nelts) {
        /* the counters are there (zero) whenever the section is on, as with the reference */
        if (flags & AP_STATUS_SHORT)
            ap_rputs("ManagedStaplingsTotal: 0\nManagedStaplingsOK: 0\nManagedStaplingsRenew: 0\n"
                     "ManagedStaplingsErrored: 0\n", r);
        return OK;
    }
    if (!(flags & AP_STATUS_SHORT)) {
        ap_rputs("<hr>\n<h3>Managed Staplings</h3>\n<table class='md_ocsp_status'><thead><tr>"
                 "<th>Domain</th><th>Certificate (SHA-1)</th><th>Status</th><th>Valid</th>"
                 "<th>Responder</th><th>Renewal</th></tr></thead><tbody>\n", r);
    }
    for (i = 0; i < reg->entries->nelts; ++i) {
        ocsp_entry_t *e = APR_ARRAY_IDX(reg->entries, i, ocsp_entry_t *);
        md_ocsp_slot_info_t info;
        int valid, due;

        md_ocsp_table_get_info(reg->table, e->slot, &info);
        if (!info.cert_sha1[0] || superseded(e)) continue;
        valid = info.has_resp && info.valid_until > now;
        due = info.renew_at && info.renew_at <= now;
        ++total;
        if (valid && info.status == MD_OCSP_GOOD && !due && !info.errors) ++ok;
        if (due || !valid) ++renew;
        if (info.errors) ++errored;
        if (flags & AP_STATUS_SHORT) {
            short_lines = apr_pstrcat(r->pool, short_lines, stapling_lines(total - 1, e, &info, now, r->pool), NULL);
            continue;
        }
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>",
                   ap_escape_html(r->pool, e->name), info.cert_sha1,
                   valid ? md_ocsp_status_str(info.status) : "no response",
                   info.has_resp ? apr_pstrcat(r->pool, md_util_time_format(r->pool, info.valid_from),
                                               " - ", md_util_time_format(r->pool, info.valid_until), NULL)
                                 : "-",
                   ap_escape_html(r->pool, info.responder));
        if (info.errors)
            ap_rprintf(r, "%d errors, last: %s; retry at %s", info.errors,
                       ap_escape_html(r->pool, info.last_error), md_util_time_format(r->pool, info.renew_at));
        else if (info.renew_at)
            ap_rprintf(r, "at %s", md_util_time_format(r->pool, info.renew_at));
        ap_rputs("</td></tr>\n", r);
    }
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "ManagedStaplingsTotal: %d\nManagedStaplingsOK: %d\nManagedStaplingsRenew: %d\n"
                   "ManagedStaplingsErrored: %d\n%s", total, ok, renew, errored, short_lines);
    }
    else {
        ap_rputs("</tbody></table>\n", r);
    }
    return OK;
}

/* ---- module ---- */

void mod_md_ocsp_register_hooks(apr_pool_t *p)
{
    static const char *const pred_ssl[] = { "mod_ssl.c", NULL };
    static const char *const succ_ssl_wd[] = { "mod_ssl.c", "mod_watchdog.c", NULL };
    static const char *const succ_wd[] = { "mod_watchdog.c", NULL };
    (void)p;
    ap_hook_post_config(ocsp_post_config_early, NULL, succ_ssl_wd, APR_HOOK_MIDDLE);
    ap_hook_post_config(ocsp_post_config_late, pred_ssl, succ_wd, APR_HOOK_MIDDLE);
    ap_hook_ssl_ocsp_prime_hook(ocsp_prime, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_ocsp_get_resp_hook(ocsp_get_resp, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ssl, init_server, ocsp_init_server, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, ocsp_status_hook, NULL, NULL, APR_HOOK_MIDDLE);
}
