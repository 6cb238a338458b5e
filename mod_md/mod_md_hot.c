/* mod_md_hot.c: httpd glue of hot activation (MDActivation hot).
 *
 * Per server generation (everything lives in pconf and is rebuilt at each restart):
 * - Parent, post_config: anonymous shared memory with one md_hot slot per MD that has
 *   MDActivation hot and no static certificate files, created before the children are
 *   forked; mod_ssl's init_server hook gives every SSL_CTX of such an MD our certificate
 *   callback. Then the parent forks the activation helper: a process with the parent's
 *   privileges (root, like the activation at start; an "other child" of the MPM, stopped
 *   at every restart) that is the only writer of the slots. It looks every second: a complete staged set is activated exactly as at a restart
 *   (md_activate_staged: all-or-nothing, archive, rollback) under the MD's renewal lock
 *   and store.lock, 'installed' runs, and the certificates and keys of domains/<md>/ are
 *   published in the slot as its next generation. The same look at domains/ (file
 *   identities, every two seconds) notices a set activated by another server sharing the
 *   store and publishes it too.
 * - Children never read domains/ or accounts/: a handshake's certificate callback reads
 *   the slot's generation (one atomic load); only when it changed does one thread of the
 *   child copy and parse the slot (no disk, no lock on the handshake path: others keep
 *   serving the previous set meanwhile). The keys of the set replace mod_ssl's per key
 *   type, so the client's signature algorithms still choose between RSA and ECDSA.
 *   Parsed sets stay alive a minute after being replaced, for handshakes still using them.
 * - The status pages, MDRequireHttps and the renewal driver ask mod_md_hot_sync() /
 *   mod_md_hot_drive_update() so that they see the certificate actually served.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_optional.h>
#include <apr_optional_hooks.h>
#include <apr_shm.h>
#include <apr_signal.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_main.h>
#include <mod_ssl_openssl.h>

#include "md.h"
#include "md_crypt.h"
#include "md_drive.h"
#include "md_event.h"
#include "md_activate.h"
#include "md_hot.h"
#include "md_status.h"
#include "md_store.h"
#include "md_tailscale.h"
#include "mod_md.h"
#include "mod_md_config.h"

APLOG_USE_MODULE(md);

#define HOT_TICK apr_time_from_msec(200)
#define HOT_STAGING_EVERY apr_time_from_sec(1)
#define HOT_DOMAINS_EVERY apr_time_from_sec(2)
#define HOT_RETIRE_AFTER apr_time_from_sec(60)
#define HOT_STAGING_GRACE apr_time_from_sec(5)
/* After an activation the renewal lock is kept this long, so that the other servers on a
 * shared store see the new domains/ set (HOT_DOMAINS_EVERY) before one of them could take
 * the lock and, finding nothing staged, order again. */
#define HOT_LOCK_HOLD (HOT_DOMAINS_EVERY + apr_time_from_sec(1))
#define HOT_IDENT_MAX 1024

typedef struct retired_t {
    struct retired_t *next;
    apr_pool_t *pool;
    apr_time_t since;
} retired_t;

/* One hot MD. */
typedef struct hot_md_t {
    md_t *md;
    int index;
    md_hot_slot_t *slot;
    /* parent thread only */
    char ident[HOT_IDENT_MAX];        /* domains/ files as last loaded (mod_ssl or published) */
    char last_msg[MD_HOT_MSG_MAX];    /* last activation message logged (repeats are not) */
    md_lock_t *held;                  /* the renewal lock, kept a moment after an activation */
    apr_pool_t *held_pool;
    apr_time_t held_until;
    /* child */
    apr_thread_mutex_t *mutex;        /* only around rebuilding 'current' */
    md_hot_set_t *current;            /* atomic pointer; its pool is current_pool */
    apr_pool_t *current_pool;
    apr_uint32_t bad_gen;             /* a generation that did not parse: not retried */
    retired_t *retired;
    char msg[MD_HOT_MSG_MAX];         /* the slot's problem message, for the status pages */
    const char *rt_error;             /* md->rt_error as set at start */
    apr_uint32_t drive_gen;           /* generation the renewal driver has taken over */
    apr_time_t staging_gone;          /* driver: when it saw the staged set gone */
} hot_md_t;

typedef struct hot_t {
    md_mod_conf_t *mc;
    server_rec *s;
    apr_array_header_t *mds;          /* hot_md_t* */
    apr_shm_t *shm;
    md_hot_area_t *area;
    apr_proc_t helper;                /* the activation helper process */
    pid_t helper_pid;
    pid_t parent;
    const char *node;
} hot_t;

static hot_t *hot;                    /* set in the parent per generation, inherited */

/* ---- parent: what domains/ holds ---- */

/* An identity of the MD's files in domains/: changes whenever a set is activated there. */
static void files_ident(char *buf, apr_size_t len, hot_md_t *h, apr_pool_t *p)
{
    md_store_t *store = hot->mc->store;
    int i, n = md_pkey_spec_count(h->md);
    char *out = buf;

    buf[0] = '\0';
    for (i = 0; i < n; ++i) {
        const md_pkey_spec_t *spec = md_pkey_spec_get(h->md, i);
        const char *names[2] = { "pubcert", "privkey" };
        int k;
        for (k = 0; k < 2; ++k) {
            apr_finfo_t fi;
            const char *path = md_store_path(store, MD_SG_DOMAINS, h->md->name,
                                             md_store_fname(p, names[k], spec), p);
            if (apr_stat(&fi, path, APR_FINFO_INODE | APR_FINFO_MTIME | APR_FINFO_SIZE, p) == APR_SUCCESS)
                apr_snprintf(out, len - (apr_size_t)(out - buf), "%lu:%" APR_TIME_T_FMT ":%" APR_OFF_T_FMT ";",
                             (unsigned long)fi.inode, fi.mtime, fi.size);
            else
                apr_snprintf(out, len - (apr_size_t)(out - buf), "-;");
            out += strlen(out);
        }
    }
}

static void log_once(hot_md_t *h, int level, apr_status_t rv, const char *msg)
{
    if (!strncmp(h->last_msg, msg, sizeof(h->last_msg) - 1)) return;
    apr_cpystrn(h->last_msg, msg, sizeof(h->last_msg));
    ap_log_error(APLOG_MARK, level, rv, hot->s, APLOGNO(11901) "MDomain %s: %s", h->md->name, msg);
}

/* Load the MD's set from domains/, check it and put it in the slot. */
static apr_status_t publish(hot_md_t *h, apr_pool_t *p)
{
    md_store_t *store = hot->mc->store;
    md_t *md = h->md;
    int i, n = md_pkey_spec_count(md);
    md_hot_cert_t *certs = apr_pcalloc(p, sizeof(*certs) * (apr_size_t)n);
    const char *err = NULL, *kpem;
    apr_size_t needed;
    apr_status_t rv;

    for (i = 0; i < n; ++i) {
        const md_pkey_spec_t *spec = md_pkey_spec_get(md, i);
        apr_array_header_t *chain;
        EVP_PKEY *pkey;
        X509 *leaf;

        rv = md_chain_load(&chain, md_store_path(store, MD_SG_DOMAINS, md->name,
                                                 md_store_fname(p, "pubcert", spec), p), p);
        if (rv == APR_SUCCESS)
            rv = md_store_load_pkey(store, MD_SG_DOMAINS, md->name, md_store_fname(p, "privkey", spec),
                                    &pkey, p);
        if (rv != APR_SUCCESS) {
            err = apr_psprintf(p, "domains/%s lacks a readable %s certificate or key", md->name,
                               md_pkey_spec_name(p, spec));
            goto fail;
        }
        leaf = APR_ARRAY_IDX(chain, 0, X509 *);
        if (!md_cert_matches_key(leaf, pkey)) {
            err = apr_psprintf(p, "the %s key in domains/%s does not match its certificate",
                               md_pkey_spec_name(p, spec), md->name);
            goto fail;
        }
        if (!md_tailscale_is_proto(md->ca_proto) && !md_cert_covers_domains(leaf, md->domains)) {
            err = apr_psprintf(p, "the %s certificate in domains/%s does not cover all names",
                               md_pkey_spec_name(p, spec), md->name);
            goto fail;
        }
        if (md_cert_not_after(leaf) <= apr_time_now()) {
            err = apr_psprintf(p, "the %s certificate in domains/%s has expired",
                               md_pkey_spec_name(p, spec), md->name);
            goto fail;
        }
        if ((rv = md_pkey_to_pem(&kpem, pkey, NULL, 0, p)) != APR_SUCCESS) {
            err = apr_psprintf(p, "cannot encode the %s key", md_pkey_spec_name(p, spec));
            goto fail;
        }
        certs[i].spec = md_tailscale_is_proto(md->ca_proto) ? md_cert_key_type(leaf, p)
                                                            : md_pkey_spec_name(p, spec);
        certs[i].chain_pem = md_chain_to_pem(chain, p);
        certs[i].chain_len = strlen(certs[i].chain_pem);
        certs[i].key_pem = kpem;
        certs[i].key_len = strlen(kpem);
    }
    rv = md_hot_publish(h->slot, certs, n, &needed);
    if (rv == APR_ENOSPC) {
        err = apr_psprintf(p, "the new certificate set needs %" APR_SIZE_T_FMT " bytes of shared "
                           "memory but MDActivationSlotSize gives %" APR_SIZE_T_FMT "; it goes "
                           "live at the next (graceful) restart (raise MDActivationSlotSize)",
                           needed, md_hot_slot_capacity(h->slot));
        goto fail;
    }
    md_hot_set_message(h->slot, NULL);
    h->last_msg[0] = '\0';
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, hot->s, APLOGNO(11902)
                 "MDomain %s: the certificate in domains/ is live without restart (generation %u)",
                 md->name, (unsigned)md_hot_generation(h->slot));
    return APR_SUCCESS;

fail:
    log_once(h, APLOG_ERR, 0, err);
    md_hot_set_message(h->slot, err);
    return rv == APR_SUCCESS ? APR_EINVAL : rv;
}

/* ---- parent: activation ---- */

static void release_held(hot_md_t *h)
{
    if (!h->held) return;
    md_lock_release(h->held);
    apr_pool_destroy(h->held_pool);
    h->held = NULL;
    h->held_pool = NULL;
}

/* Activate a complete staged set; returns 1 when domains/ changed. */
static int activate(hot_md_t *h, apr_pool_t *p)
{
    md_store_t *store = hot->mc->store;
    const char *msg = NULL, *amsg = NULL, *err;
    apr_finfo_t fi;
    apr_pool_t *lp;
    md_lock_t *lock, *alock;
    apr_file_t *slock;
    apr_status_t rv;

    if (h->held && apr_time_now() >= h->held_until) release_held(h);
    if (apr_stat(&fi, md_store_path(store, MD_SG_STAGING, h->md->name, MD_FN_JOB, p),
                 APR_FINFO_TYPE, p) != APR_SUCCESS)
        return 0;
    /* a renewal that still runs (here or on another server) may write into staging/ */
    release_held(h);
    apr_pool_create_unmanaged(&lp);
    if (md_drive_lock_md(&lock, store, h->md->name, hot->node, lp, &msg) != APR_SUCCESS) {
        apr_pool_destroy(lp);
        return 0;
    }
    /* servers on other nodes activate under the lease lock file, as at start-up (flock() on
     * store.lock reaches only this node on many shared file systems) */
    if (md_lock_acquire(&alock, md_store_path(store, MD_SG_NONE, NULL, MD_FN_ACTIVATION_LOCK, lp),
                        hot->node, MD_LOCK_LEASE, (md_lock_create_t)store->lock_create, lp,
                        &amsg) != APR_SUCCESS) {
        md_lock_release(lock);
        apr_pool_destroy(lp);
        return 0;                             /* another server activates: look again later */
    }
    md_lock_store_file(&slock, store->base, 0, p);      /* taken if free, as at start-up */
    rv = md_activate_staged(store, h->md, hot->mc->activation_delay, p, &msg);
    md_lock_store_file_release(slock);
    md_lock_release(alock);
    if (rv == APR_SUCCESS && msg && !strncmp(msg, "the staged certificate is activated", 35)) {
        h->held = lock;
        h->held_pool = lp;
        h->held_until = apr_time_now() + HOT_LOCK_HOLD;
    }
    else {
        md_lock_release(lock);
        apr_pool_destroy(lp);
    }
    if (!msg) return 0;
    if (rv != APR_SUCCESS) {
        log_once(h, APLOG_ERR, rv, msg);
        md_hot_set_message(h->slot, msg);
        return 0;
    }
    if (!h->held) {
        log_once(h, APLOG_INFO, 0, msg);      /* e.g. MDActivationDelay holds it */
        return 0;
    }
    log_once(h, APLOG_NOTICE, 0, msg);
    if (md_event_send(hot->mc->message_cmd, "installed", h->md->name, p, &err) != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, hot->s, APLOGNO(11903) "MDomain %s: %s",
                     h->md->name, err);
    return 1;
}

static void look(hot_md_t *h, int staging, int domains, apr_pool_t *p)
{
    char ident[HOT_IDENT_MAX];

    if (staging && activate(h, p)) domains = 1;
    if (!domains) return;
    files_ident(ident, sizeof(ident), h, p);
    if (!strcmp(ident, h->ident)) return;
    /* a changed set is published once; a bad one is looked at again when it changes */
    apr_cpystrn(h->ident, ident, sizeof(h->ident));
    publish(h, p);
}

static volatile sig_atomic_t helper_stop;

static void helper_on_term(int sig)
{
    (void)sig;
    helper_stop = 1;
}

/* The activation helper: a process of its own, forked by the parent (root) before the
 * children. Not a thread in the parent: the MPM forks children from the parent at any
 * moment, and a child forked while a thread holds one of OpenSSL's locks would hang. It
 * ends when asked (SIGTERM, between two steps, so that an activation is never cut in
 * half) or when the parent is gone. */
static void helper_main(hot_t *ht)
{
    apr_time_t next_staging = 0, next_domains = 0;
    apr_pool_t *p;
    int i;

    apr_signal(SIGTERM, helper_on_term);
    apr_signal(SIGHUP, SIG_IGN);      /* restarts are the parent's business: it stops us */
    apr_signal(SIGUSR1, SIG_IGN);
    apr_signal(SIGWINCH, SIG_IGN);
    apr_signal(SIGINT, SIG_IGN);
    apr_pool_create_unmanaged(&p);
    while (!helper_stop && getppid() == ht->parent) {
        apr_time_t now = apr_time_now();
        int staging = now >= next_staging, domains = now >= next_domains;
        if (staging) next_staging = now + HOT_STAGING_EVERY;
        if (domains) next_domains = now + HOT_DOMAINS_EVERY;
        for (i = 0; (staging || domains) && !helper_stop && i < ht->mds->nelts; ++i) {
            look(APR_ARRAY_IDX(ht->mds, i, hot_md_t *), staging, domains, p);
            apr_pool_clear(p);
        }
        apr_sleep(HOT_TICK);
    }
    for (i = 0; i < ht->mds->nelts; ++i) release_held(APR_ARRAY_IDX(ht->mds, i, hot_md_t *));
    apr_pool_destroy(p);
}

static void helper_died(int reason, void *data, apr_wait_t status)
{
    hot_t *ht = data;
    if (reason != APR_OC_REASON_DEATH && reason != APR_OC_REASON_LOST) return;
    apr_proc_other_child_unregister(ht);
    ht->helper.pid = 0;
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, ht->s, APLOGNO(11911)
                 "MDActivation hot: the activation helper (pid %d) ended (status %d); staged "
                 "certificates go live at the next restart", (int)ht->helper_pid, (int)status);
}

/* pconf pre-cleanup in the parent (a restart or the stop): the helper ends before the
 * configuration goes away; an activation it is doing is finished first. */
static apr_status_t stop_helper(void *data)
{
    hot_t *ht = data;
    apr_exit_why_e why;
    int code, i;

    if (ht->helper.pid > 0 && ht->parent == getpid()) {
        apr_proc_other_child_unregister(ht);
        kill(ht->helper.pid, SIGTERM);
        for (i = 0; i < 200; ++i) {
            if (apr_proc_wait(&ht->helper, &code, &why, APR_NOWAIT) != APR_CHILD_NOTDONE) break;
            apr_sleep(apr_time_from_msec(50));
        }
        if (i == 200) {
            kill(ht->helper.pid, SIGKILL);
            apr_proc_wait(&ht->helper, &code, &why, APR_WAIT);
        }
    }
    ht->helper.pid = 0;
    if (hot == ht) hot = NULL;
    return APR_SUCCESS;
}

static const char *node_name(apr_pool_t *p)
{
    char host[256];
    if (gethostname(host, sizeof(host)) != 0) apr_cpystrn(host, "localhost", sizeof(host));
    host[sizeof(host) - 1] = '\0';
    return apr_psprintf(p, "%s:%s", host, ap_server_root);
}

apr_status_t mod_md_hot_post_config(md_mod_conf_t *mc, server_rec *s, apr_pool_t *pconf,
                                apr_pool_t *ptemp)
{
    hot_t *ht;
    apr_size_t size;
    apr_status_t rv;
    int i;

    hot = NULL;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return APR_SUCCESS;
    ht = apr_pcalloc(pconf, sizeof(*ht));
    ht->mc = mc;
    ht->s = s;
    ht->parent = getpid();
    ht->node = node_name(pconf);
    ht->mds = apr_array_make(pconf, 5, sizeof(hot_md_t *));
    for (i = 0; i < mc->mds->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(mc->mds, i, md_t *);
        hot_md_t *h;
        md->rt_hot = NULL;
        if (md->activation != MD_ACTIVATION_HOT) continue;
        if (md->cert_files && md->cert_files->nelts) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, APLOGNO(11904)
                         "MDomain %s: MDActivation hot does nothing for static certificate "
                         "files (MDCertificateFile)", md->name);
            continue;
        }
        h = apr_pcalloc(pconf, sizeof(*h));
        h->md = md;
        h->index = ht->mds->nelts;
        APR_ARRAY_PUSH(ht->mds, hot_md_t *) = h;
    }
    if (!ht->mds->nelts) return APR_SUCCESS;

    size = md_hot_area_size(ht->mds->nelts, (apr_size_t)mc->hot_slot_size);
    rv = apr_shm_create(&ht->shm, size, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, APLOGNO(11905)
                     "MDActivation hot: cannot create %" APR_SIZE_T_FMT " bytes of shared memory; "
                     "staged certificates go live at the next restart", size);
        return APR_SUCCESS;
    }
    ht->area = md_hot_area_init(apr_shm_baseaddr_get(ht->shm), ht->mds->nelts,
                                (apr_size_t)mc->hot_slot_size);
    hot = ht;
    for (i = 0; i < ht->mds->nelts; ++i) {
        hot_md_t *h = APR_ARRAY_IDX(ht->mds, i, hot_md_t *);
        h->slot = md_hot_area_slot(ht->area, h->index);
        /* what mod_ssl loads now needs no publishing */
        files_ident(h->ident, sizeof(h->ident), h, ptemp);
        h->md->rt_hot = h;
    }
    apr_pool_pre_cleanup_register(pconf, ht, stop_helper);
    rv = apr_proc_fork(&ht->helper, pconf);
    if (rv == APR_INCHILD) {
        helper_main(ht);
        _exit(0);
    }
    if (rv != APR_INPARENT) {
        ht->helper.pid = 0;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, APLOGNO(11906)
                     "MDActivation hot: cannot start the activation helper process; staged "
                     "certificates go live at the next restart");
        return APR_SUCCESS;
    }
    ht->helper_pid = ht->helper.pid;
    apr_proc_other_child_register(&ht->helper, helper_died, ht, NULL, pconf);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(11907)
                 "MDActivation hot for %d MDomain(s), %d bytes of shared memory each, "
                 "activation helper pid %d", ht->mds->nelts, mc->hot_slot_size, (int)ht->helper_pid);
    return APR_SUCCESS;
}

/* ---- children: the set served ---- */

static void free_retired(retired_t *r)
{
    while (r) {
        retired_t *next = r->next;
        apr_pool_destroy(r->pool);
        free(r);
        r = next;
    }
}

/* Make h->current the slot's generation (under h->mutex). */
static void rebuild(hot_md_t *h, apr_uint32_t gen)
{
    apr_pool_t *sp, *tp;
    md_hot_cert_t *certs;
    md_hot_set_t *set;
    md_cert_info_t **infos;
    const char *err = NULL;
    apr_uint32_t got;
    apr_time_t now = apr_time_now();
    retired_t **pr, *r;
    int i, n, nspec = md_pkey_spec_count(h->md);

    /* the copy of the slot (its whole capacity) is temporary; the set keeps only objects */
    apr_pool_create_unmanaged(&tp);
    if (md_hot_read(h->slot, &got, &certs, &n, NULL, tp) != APR_SUCCESS || !got) {
        apr_pool_destroy(tp);
        return;
    }
    apr_pool_create_unmanaged(&sp);
    if (md_hot_set_parse(&set, got, certs, n, sp, &err) != APR_SUCCESS) {
        h->bad_gen = gen;
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, hot->s, APLOGNO(11908)
                     "MDomain %s: the published certificate set (generation %u) is unusable: %s; "
                     "the previous one stays in use", h->md->name, (unsigned)got, err);
        apr_pool_destroy(sp);
        apr_pool_destroy(tp);
        return;
    }
    apr_pool_destroy(tp);
    /* the facts the status pages show, per key spec of the MD */
    infos = apr_pcalloc(sp, sizeof(*infos) * (apr_size_t)nspec);
    for (i = 0; i < nspec; ++i) {
        const md_pkey_spec_t *spec = md_pkey_spec_get(h->md, i);
        const md_hot_key_t *k = i < set->n ? &set->keys[i] : NULL;
        if (!md_tailscale_is_proto(h->md->ca_proto)) k = md_hot_set_key(set, md_pkey_spec_name(sp, spec));
        if (k) infos[i] = md_status_cert_info(k->cert, k->spec, sp);
    }
    /* older sets go a minute after they were replaced: handshakes may still hold them */
    for (pr = &h->retired; *pr; ) {
        if (now - (*pr)->since > HOT_RETIRE_AFTER) {
            r = *pr;
            *pr = r->next;
            r->next = NULL;
            free_retired(r);
        }
        else pr = &(*pr)->next;
    }
    if (h->current_pool && (r = calloc(1, sizeof(*r))) != NULL) {
        r->pool = h->current_pool;
        r->since = now;
        r->next = h->retired;
        h->retired = r;
    }
    h->current_pool = sp;
    __atomic_store_n(&h->md->rt_certs, infos, __ATOMIC_RELEASE);
    __atomic_store_n(&h->current, set, __ATOMIC_RELEASE);
    h->md->rt_fallback = 0;
    h->md->state = MD_S_COMPLETE;
    h->md->state_descr = NULL;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, hot->s, APLOGNO(11909)
                 "MDomain %s: serving certificate generation %u", h->md->name, (unsigned)got);
}

/* The set to serve: the slot's generation, rebuilt when it changed. wait: may block on
 * another thread's rebuild (never on the handshake path). NULL: serve mod_ssl's. */
static md_hot_set_t *current_set(hot_md_t *h, int wait)
{
    apr_uint32_t gen;
    md_hot_set_t *set;

    if (!h->slot) return NULL;
    gen = md_hot_generation(h->slot);
    set = __atomic_load_n(&h->current, __ATOMIC_ACQUIRE);
    if (!gen || (set && set->generation == gen) || gen == h->bad_gen || !h->mutex) return set;
    if ((wait ? apr_thread_mutex_lock(h->mutex) : apr_thread_mutex_trylock(h->mutex)) != APR_SUCCESS)
        return set;
    set = __atomic_load_n(&h->current, __ATOMIC_ACQUIRE);
    if (!set || set->generation != gen) rebuild(h, gen);
    apr_thread_mutex_unlock(h->mutex);
    return __atomic_load_n(&h->current, __ATOMIC_ACQUIRE);
}

static int cert_cb(SSL *ssl, void *arg)
{
    hot_md_t *h = arg;
    md_hot_set_t *set = current_set(h, 0);
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;
    int i;

    if (!set) return 1;
    /* a tls-alpn-01 challenge answer was put in place by mod_ssl: leave it */
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn_len == 10 && !memcmp(alpn, "acme-tls/1", 10)) return 1;
    /* the set replaces all of mod_ssl's: a key type it lacks (the fallback's) must not win */
    SSL_certs_clear(ssl);
    for (i = 0; i < set->n; ++i) {
        md_hot_key_t *k = &set->keys[i];
        if (!SSL_use_cert_and_key(ssl, k->cert, k->pkey, k->chain, 1)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, hot->s, APLOGNO(11910)
                         "MDomain %s: OpenSSL refused the %s certificate of generation %u: %s",
                         h->md->name, k->spec, (unsigned)set->generation,
                         ERR_reason_error_string(ERR_peek_last_error()));
            ERR_clear_error();
            return 1;                 /* mod_ssl's certificate is served instead */
        }
    }
    return 1;
}

static int hot_init_server(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx)
{
    md_srv_conf_t *sc = mod_md_config_get(s);
    hot_md_t *h;
    (void)p;
    if (is_proxy || !sc || !sc->assigned || !(h = sc->assigned->rt_hot) || !h->slot) return DECLINED;
    SSL_CTX_set_cert_cb(ctx, cert_cb, h);
    return OK;
}

static void hot_child_init(apr_pool_t *pchild, server_rec *s)
{
    int i;
    (void)s;
    if (!hot) return;
    for (i = 0; i < hot->mds->nelts; ++i) {
        hot_md_t *h = APR_ARRAY_IDX(hot->mds, i, hot_md_t *);
        h->current = NULL;
        h->current_pool = NULL;
        h->retired = NULL;
        h->rt_error = h->md->rt_error;
        apr_thread_mutex_create(&h->mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
    }
}

void mod_md_hot_sync(md_t *md, int with_message)
{
    hot_md_t *h = md ? md->rt_hot : NULL;
    md_hot_cert_t *certs;
    const char *msg = NULL;
    apr_uint32_t gen;
    apr_pool_t *p;
    int n;

    if (!h || !hot || !h->slot || !h->mutex) return;
    current_set(h, 1);
    if (!with_message) return;
    /* a problem of the last activation or publication shows on the status pages */
    apr_pool_create_unmanaged(&p);
    md_hot_read(h->slot, &gen, &certs, &n, &msg, p);
    apr_thread_mutex_lock(h->mutex);
    apr_cpystrn(h->msg, msg ? msg : "", sizeof(h->msg));
    md->rt_error = h->msg[0] ? h->msg : h->rt_error;
    apr_thread_mutex_unlock(h->mutex);
    apr_pool_destroy(p);
}

const md_hot_set_t *mod_md_hot_current(md_t *md)
{
    hot_md_t *h = md ? md->rt_hot : NULL;
    return h && hot && h->mutex ? current_set(h, 1) : NULL;
}

int mod_md_hot_drive_update(md_t *md, md_drive_certs_t *certs, int *pstaged, apr_pool_t *p)
{
    hot_md_t *h = md ? md->rt_hot : NULL;
    md_hot_set_t *set;
    apr_finfo_t fi;
    apr_time_t now;

    if (!h || !hot) return 0;
    set = current_set(h, 1);
    if (set && set->generation != h->drive_gen) {
        h->drive_gen = set->generation;
        certs->complete = 1;
        certs->not_before = set->not_before;
        certs->not_after = set->not_after;
        certs->ari_id = md_cert_ari_id(set->keys[0].cert, p);
        certs->ari_renew_at = 0;
        *pstaged = 0;
        h->staging_gone = 0;
        return 1;
    }
    if (!*pstaged) return 0;
    /* the parent activates and publishes in one go; a staged set that is gone without a new
     * generation was discarded (unusable) or failed: the driver may renew again */
    now = apr_time_now();
    if (apr_stat(&fi, md_store_path(hot->mc->store, MD_SG_STAGING, md->name, MD_FN_JOB, p),
                 APR_FINFO_TYPE, p) == APR_SUCCESS) {
        h->staging_gone = 0;
        return 0;
    }
    if (!h->staging_gone) h->staging_gone = now;
    if (now - h->staging_gone < HOT_STAGING_GRACE) return 0;
    h->staging_gone = 0;
    *pstaged = 0;
    return 1;
}

void mod_md_hot_register_hooks(apr_pool_t *p)
{
    (void)p;
    APR_OPTIONAL_HOOK(ssl, init_server, hot_init_server, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(hot_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
