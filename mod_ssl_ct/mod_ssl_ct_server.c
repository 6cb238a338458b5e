/* mod_ssl_ct_server.c: the server side of mod_ssl_ct.
 *
 * Owns: the registry of server certificates that mod_ssl configured (reported through
 * init_server), their directories in CTSCTStorage, the SCT list of each kept in memory,
 * TLS extension 18 on every server SSL_CTX, and the refresh thread of each child that
 * submits certificates to logs, reads static SCT directories and the log DB, and rebuilds
 * the lists.
 * Invariants: the handshake path (ext_add) reads one pointer with an atomic load and
 * never touches the disk or a lock; lists are immutable once published and freed only
 * a minute after they were replaced; a failed submission or an unreadable DB never
 * removes what was good before.
 */
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <unixd.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_file_info.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "mod_ssl_ct.h"
#include "ct_submit.h"

APLOG_USE_MODULE(ssl_ct);

#define CT_EXT_CONTEXT (SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_2_SERVER_HELLO \
                        | SSL_EXT_TLS1_3_CERTIFICATE)

/* --- TLS extension 18 (handshake path) ---------------------------------------------- */

static int ext_add(SSL *ssl, unsigned int ext_type, unsigned int context,
                   const unsigned char **out, size_t *outlen, X509 *x, size_t chainidx,
                   int *al, void *arg)
{
    mod_ssl_ct_cert_t *cert;
    mod_ssl_ct_list_t *list;

    if (context & SSL_EXT_TLS1_3_CERTIFICATE) {
        if (chainidx != 0 || x == NULL) return 0;       /* leaf only */
    }
    else if (context & SSL_EXT_TLS1_2_SERVER_HELLO) {
        x = SSL_get_certificate(ssl);
    }
    else {
        return 0;
    }
    if (x == NULL || mod_ssl_ct_cert_ex_idx < 0) return 0;
    cert = X509_get_ex_data(x, mod_ssl_ct_cert_ex_idx);
    if (cert == NULL) return 0;
    list = __atomic_load_n(&cert->list, __ATOMIC_ACQUIRE);
    if (list == NULL || list->count == 0) return 0;
    *out = list->data;
    *outlen = list->len;
    return 1;
}

static int ext_parse(SSL *ssl, unsigned int ext_type, unsigned int context,
                     const unsigned char *in, size_t inlen, X509 *x, size_t chainidx,
                     int *al, void *arg)
{
    if (context & SSL_EXT_CLIENT_HELLO) {
        mod_ssl_ct_conn_t *cc = mod_ssl_ct_conn_ex_idx >= 0 ? SSL_get_ex_data(ssl, mod_ssl_ct_conn_ex_idx) : NULL;
        if (cc) cc->client_aware = 1;
    }
    return 1;
}

/* --- registry of certificates -------------------------------------------------------- */

static X509 *find_issuer(X509 *leaf, STACK_OF(X509) *chain)
{
    int i;

    for (i = 0; chain && i < sk_X509_num(chain); ++i) {
        X509 *c = sk_X509_value(chain, i);
        if (X509_check_issued(c, leaf) == X509_V_OK) return c;
    }
    return NULL;
}

static void add_pem(BIO *bio, X509 *x)
{
    PEM_write_bio_X509(bio, x);
}

static void register_cert(server_rec *s, apr_pool_t *p, SSL_CTX *ctx, X509 *leaf,
                          STACK_OF(X509) *chain)
{
    mod_ssl_ct_runtime_t *rt = mod_ssl_ct_rt;
    const char *name = ct_store_cert_name(p, leaf);
    mod_ssl_ct_cert_t *cert;
    BIO *bio;
    char *mem;
    long n;
    int i;

    if (!rt || !name) return;
    cert = apr_hash_get(rt->certs, name, APR_HASH_KEY_STRING);
    if (cert == NULL) {
        cert = apr_pcalloc(rt->pool, sizeof(*cert));
        cert->name = apr_pstrdup(rt->pool, name);
        cert->server = s->server_hostname ? apr_pstrdup(rt->pool, s->server_hostname) : "";
        cert->leaf = leaf;
        X509_up_ref(leaf);
        cert->issuer = find_issuer(leaf, chain);
        if (cert->issuer) X509_up_ref(cert->issuer);
        cert->chain_der = apr_array_make(rt->pool, 3, sizeof(ct_blob_t));
        cert->static_dirs = apr_array_make(rt->pool, 1, sizeof(const char *));
        bio = BIO_new(BIO_s_mem());
        add_pem(bio, leaf);
        for (i = -1; i < (chain ? sk_X509_num(chain) : 0); ++i) {
            X509 *x = i < 0 ? leaf : sk_X509_value(chain, i);
            unsigned char *der = NULL;
            int len = i2d_X509(x, &der);
            ct_blob_t *b;

            if (len <= 0) continue;
            b = apr_array_push(cert->chain_der);
            b->data = apr_pmemdup(rt->pool, der, (apr_size_t)len);
            b->len = (apr_size_t)len;
            OPENSSL_free(der);
            if (i >= 0) add_pem(bio, x);
        }
        n = BIO_get_mem_data(bio, &mem);
        cert->pem = apr_pstrmemdup(rt->pool, mem, (apr_size_t)n);
        BIO_free(bio);
        apr_hash_set(rt->certs, cert->name, APR_HASH_KEY_STRING, cert);
    }
    /* the same X509 object is used by every SSL of this SSL_CTX: find our entry with it */
    X509_set_ex_data(leaf, mod_ssl_ct_cert_ex_idx, cert);
}

int mod_ssl_ct_server_init_ctx(server_rec *s, apr_pool_t *p, SSL_CTX *ctx)
{
    int rv;

    if (!SSL_CTX_add_custom_ext(ctx, TLSEXT_TYPE_signed_certificate_timestamp,
                                CT_EXT_CONTEXT, ext_add, NULL, NULL, ext_parse, NULL)) {
        /* already ours (a context reported twice) or OpenSSL's own CT is on */
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(10860)
                     "mod_ssl_ct: the SCT TLS extension is already registered on the SSL "
                     "context of %s", s->server_hostname);
    }
    /* every certificate (RSA, ECDSA...) configured in this context */
    for (rv = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); rv;
         rv = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
        X509 *leaf = SSL_CTX_get0_certificate(ctx);
        STACK_OF(X509) *chain = NULL;

        if (!leaf) continue;
        SSL_CTX_get0_chain_certs(ctx, &chain);
        if (!chain || sk_X509_num(chain) == 0) SSL_CTX_get_extra_chain_certs(ctx, &chain);
        register_cert(s, p, ctx, leaf, chain);
    }
    return OK;
}

/* --- the SCT list of one certificate ------------------------------------------------ */

static void publish(mod_ssl_ct_runtime_t *rt, mod_ssl_ct_cert_t *cert, const ct_blob_t *b, int count)
{
    mod_ssl_ct_list_t *nl = NULL, *old;

    if (b && count > 0) {
        nl = malloc(sizeof(*nl) + b->len);
        if (!nl) return;
        memset(nl, 0, sizeof(*nl));
        memcpy(nl->data, b->data, b->len);
        nl->len = b->len;
        nl->count = count;
    }
    old = __atomic_exchange_n(&cert->list, nl, __ATOMIC_ACQ_REL);
    if (old) {
        /* a handshake may still be copying it: free it later */
        old->retired = apr_time_now();
        old->next_retired = rt->retired;
        rt->retired = old;
    }
}

static void free_retired(mod_ssl_ct_runtime_t *rt, int all)
{
    mod_ssl_ct_list_t **pl = &rt->retired;
    apr_time_t limit = apr_time_now() - apr_time_from_sec(60);

    while (*pl) {
        mod_ssl_ct_list_t *l = *pl;
        if (all || l->retired < limit) {
            *pl = l->next_retired;
            free(l);
        }
        else {
            pl = &l->next_retired;
        }
    }
}

static int same_list(mod_ssl_ct_cert_t *cert, const ct_blob_t *b)
{
    mod_ssl_ct_list_t *cur = __atomic_load_n(&cert->list, __ATOMIC_ACQUIRE);

    if (!b || !b->len) return cur == NULL;
    return cur && cur->len == b->len && !memcmp(cur->data, b->data, b->len);
}

static void chown_for_children(const char *path)
{
    if (geteuid() == 0) {
        if (chown(path, ap_unixd_config.user_id, ap_unixd_config.group_id)) {
            /* reported by the caller through the failing writes of the children */
        }
    }
}

/* Obtain an SCT from one log for cert, store it as AUTO_*.sct. Called only with the
 * certificate directory locked. */
static apr_status_t submit_one(mod_ssl_ct_runtime_t *rt, mod_ssl_ct_cert_t *cert, const ct_log_t *log,
                               const ct_logs_t *logs, const char *auto_path, apr_pool_t *p,
                               const char **perr)
{
    mod_ssl_ct_server_conf_t *gc = rt->conf;
    ct_blob_t sct = { NULL, 0 };
    ct_sct_info_t info;
    ct_sct_status_t st;
    apr_status_t rv;

    if (gc->log_client) {
        const char *certs = apr_pstrcat(p, cert->dir, "/", CT_STORE_CERTS, NULL);
        const char *const *argv;
        unsigned char *old = NULL, *data;
        apr_size_t oldlen = 0, len;

        ct_store_read_file(&old, &oldlen, auto_path, CT_SCT_MAX_LEN, p);
        argv = ct_submit_client_argv(p, gc->log_client, log->url, certs, auto_path,
                                     log->key_file);
        rv = ct_submit_run(argv, CT_SUBMIT_TIMEOUT * 3, p, perr);
        if (rv == APR_SUCCESS) {
            rv = ct_store_read_file(&data, &len, auto_path, CT_SCT_MAX_LEN, p);
            if (rv != APR_SUCCESS || ct_sct_parse(NULL, data, len) != APR_SUCCESS) {
                *perr = apr_psprintf(p, "%s wrote no valid SCT to %s", gc->log_client,
                                     auto_path);
                rv = APR_EINVAL;
            }
            else {
                sct.data = data;
                sct.len = len;
            }
        }
        if (rv != APR_SUCCESS) {
            /* never leave a broken file where a good one was */
            if (old && ct_sct_parse(NULL, old, oldlen) == APR_SUCCESS)
                md_file_write_atomic(auto_path, old, oldlen, 0x0644, p);
            else
                apr_file_remove(auto_path, p);
            return rv;
        }
    }
    else {
        rv = ct_submit_add_chain(&sct, log->url, cert->chain_der, CT_SUBMIT_TIMEOUT, NULL, p,
                                 perr);
        if (rv != APR_SUCCESS) return rv;
    }
    ct_sct_parse(&info, sct.data, sct.len);
    if (log->has_id && memcmp(info.log_id, log->id, CT_LOG_ID_LEN)) {
        *perr = apr_psprintf(p, "log %s answered with an SCT of another log (%s)", log->url,
                             ct_hex(p, info.log_id, CT_LOG_ID_LEN));
        rv = APR_EINVAL;
    }
    else {
        st = ct_sct_verify_blob(&sct, SCT_SOURCE_TLS_EXTENSION, cert->leaf, NULL, logs,
                                ct_now_ms());
        if (st != CT_SCT_VALID && st != CT_SCT_UNVERIFIED && st != CT_SCT_UNKNOWN_LOG) {
            *perr = apr_psprintf(p, "SCT from log %s refused: %s", log->url,
                                 ct_sct_status_str(st));
            rv = APR_EINVAL;
        }
    }
    if (rv != APR_SUCCESS) {
        if (gc->log_client) apr_file_remove(auto_path, p);
        return rv;
    }
    /* a brand-new SCT would be held back by the collation (see ct_store_collate) and the
     * one it replaces is gone: let it age here, the handshakes still use the old list */
    if (info.timestamp + CT_STORE_MIN_AGE_MS > ct_now_ms()
        && info.timestamp <= ct_now_ms() + 1000) {
        apr_sleep(apr_time_from_msec((apr_int64_t)(info.timestamp + CT_STORE_MIN_AGE_MS
                                                   - ct_now_ms()) + 10));
    }
    return gc->log_client ? APR_SUCCESS
                          : md_file_write_atomic(auto_path, sct.data, sct.len, 0x0644, p);
}

static void submit_all(mod_ssl_ct_runtime_t *rt, mod_ssl_ct_cert_t *cert, const ct_logs_t *logs,
                       apr_array_header_t *errs, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    apr_file_t *lock = NULL;
    int i;

    for (i = 0; i < logs->logs->nelts; ++i) {
        const ct_log_t *log = APR_ARRAY_IDX(logs->logs, i, const ct_log_t *);
        const char *auto_path, *err = NULL;
        apr_time_t *next;
        apr_finfo_t fi;

        if (!log->url || !ct_log_usable(log, ct_now_ms())) continue;
        auto_path = apr_pstrcat(p, cert->dir, "/", ct_store_auto_name(p, log->url), NULL);
        if (apr_stat(&fi, auto_path, APR_FINFO_MTIME, p) == APR_SUCCESS
            && now - fi.mtime < apr_time_from_sec(rt->conf->max_sct_age)) {
            continue;
        }
        if (!cert->next_try) cert->next_try = apr_hash_make(rt->tpool);
        next = apr_hash_get(cert->next_try, log->url, APR_HASH_KEY_STRING);
        if (next && now < *next) continue;
        if (!lock) {
            const char *lp = apr_pstrcat(p, cert->dir, "/.lock", NULL);
            if (apr_file_open(&lock, lp, APR_FOPEN_CREATE | APR_FOPEN_WRITE,
                              APR_FPROT_UREAD | APR_FPROT_UWRITE, p) != APR_SUCCESS) {
                APR_ARRAY_PUSH(errs, const char *) = apr_psprintf(p,
                    "cannot create %s: make CTSCTStorage writable for the server's user", lp);
                return;
            }
            if (apr_file_lock(lock, APR_FLOCK_EXCLUSIVE | APR_FLOCK_NONBLOCK) != APR_SUCCESS) {
                apr_file_close(lock);
                return;                   /* another child is at it */
            }
            /* it may have finished just before we got the lock */
            if (apr_stat(&fi, auto_path, APR_FINFO_MTIME, p) == APR_SUCCESS
                && apr_time_now() - fi.mtime < apr_time_from_sec(rt->conf->max_sct_age)) {
                continue;
            }
        }
        if (submit_one(rt, cert, log, logs, auto_path, p, &err) != APR_SUCCESS) {
            if (!next) {
                next = apr_palloc(rt->tpool, sizeof(*next));
                apr_hash_set(cert->next_try, apr_pstrdup(rt->tpool, log->url),
                             APR_HASH_KEY_STRING, next);
            }
            *next = apr_time_now() + apr_time_from_sec(CT_SUBMIT_BACKOFF);
            APR_ARRAY_PUSH(errs, const char *) = apr_psprintf(p,
                "submitting to log %s failed (retry in %ds): %s", log->url, CT_SUBMIT_BACKOFF,
                err ? err : "unknown error");
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, rt->s, APLOGNO(10861)
                         "mod_ssl_ct: got an SCT from log %s for the certificate of %s (%s)",
                         log->url, cert->server, cert->name);
            if (next) *next = 0;
        }
    }
    if (lock) {
        apr_file_unlock(lock);
        apr_file_close(lock);
    }
}

static void push_files(apr_array_header_t *scts, apr_array_header_t *files)
{
    int i;
    for (i = 0; i < files->nelts; ++i) {
        *(ct_blob_t *)apr_array_push(scts) = APR_ARRAY_IDX(files, i, ct_sct_file_t).sct;
    }
}

/* Rebuild the list of one certificate. submit: may talk to logs (children only). */
static void refresh_cert(mod_ssl_ct_runtime_t *rt, mod_ssl_ct_cert_t *cert, const ct_logs_t *logs,
                         int submit, apr_pool_t *p)
{
    apr_array_header_t *errs = apr_array_make(p, 4, sizeof(const char *));
    apr_array_header_t *scts = apr_array_make(p, 8, sizeof(ct_blob_t)), *files;
    const char *urls = "", *report;
    ct_blob_t list = { NULL, 0 };
    int i, count = 0;

    if (submit && cert->dir) submit_all(rt, cert, logs, errs, p);

    for (i = 0; i < cert->static_dirs->nelts; ++i) {
        ct_store_read_scts(&files, APR_ARRAY_IDX(cert->static_dirs, i, const char *), NULL,
                           NULL, errs, p);
        push_files(scts, files);
    }
    if (cert->dir) {
        /* admin SCTs put into the certificate's directory, then those of usable logs */
        ct_store_read_scts(&files, cert->dir, NULL, "AUTO_", errs, p);
        push_files(scts, files);
        for (i = 0; i < logs->logs->nelts; ++i) {
            const ct_log_t *log = APR_ARRAY_IDX(logs->logs, i, const ct_log_t *);
            const char *name;
            unsigned char *data;
            apr_size_t len;

            if (!log->url || !ct_log_usable(log, ct_now_ms())) continue;
            urls = apr_pstrcat(p, urls, log->url, "\n", NULL);
            name = ct_store_auto_name(p, log->url);
            if (ct_store_read_file(&data, &len, apr_pstrcat(p, cert->dir, "/", name, NULL),
                                   CT_SCT_MAX_LEN, p) == APR_SUCCESS) {
                if (ct_sct_parse(NULL, data, len) == APR_SUCCESS) {
                    ct_blob_t *b = apr_array_push(scts);
                    b->data = data;
                    b->len = len;
                }
                else {
                    APR_ARRAY_PUSH(errs, const char *) = apr_psprintf(p,
                        "%s/%s is not a valid SCT, ignored", cert->dir, name);
                }
            }
        }
    }
    ct_store_collate(&list, &count, scts, logs, cert->leaf, ct_now_ms(), rt->conf->hello_limit,
                     errs, p);
    if (!same_list(cert, &list)) {
        publish(rt, cert, &list, count);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, rt->s, APLOGNO(10862)
                     "mod_ssl_ct: certificate of %s (%s): %d SCT(s) to send", cert->server,
                     cert->name, count);
    }
    if (submit && cert->dir) {
        /* files for admins and tools; the handshake never reads them */
        const char *cp = apr_pstrcat(p, cert->dir, "/", CT_STORE_LIST, NULL);
        const char *lp = apr_pstrcat(p, cert->dir, "/", CT_STORE_LOGS, NULL);
        unsigned char *cur;
        apr_size_t curlen;

        if (count > 0) {
            if ((ct_store_read_file(&cur, &curlen, cp, 2 + CT_SCT_MAX_LEN, p) != APR_SUCCESS
                 || curlen != list.len || memcmp(cur, list.data, curlen))
                && md_file_write_atomic(cp, list.data, list.len, 0x0644, p) != APR_SUCCESS) {
                APR_ARRAY_PUSH(errs, const char *) = apr_psprintf(p,
                    "cannot write %s: make CTSCTStorage writable for the server's user", cp);
            }
        }
        else {
            apr_file_remove(cp, p);       /* no stale list when nothing is usable */
        }
        if (ct_store_read_file(&cur, &curlen, lp, 1 << 20, p) != APR_SUCCESS
            || curlen != strlen(urls) || memcmp(cur, urls, curlen)) {
            md_file_write_atomic(lp, urls, strlen(urls), 0x0644, p);
        }
    }
    report = apr_array_pstrcat(p, errs, ';');
    if (strcmp(report, cert->last_report ? cert->last_report : "")) {
        for (i = 0; i < errs->nelts; ++i) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rt->s, APLOGNO(10863)
                         "mod_ssl_ct: certificate of %s (%s): %s", cert->server, cert->name,
                         APR_ARRAY_IDX(errs, i, const char *));
        }
        free((void *)cert->last_report);
        cert->last_report = strdup(report);
    }
}

/* Re-read the log DB when it changed; keep the old configuration when it is unusable. */
static void refresh_logs(mod_ssl_ct_runtime_t *rt, apr_pool_t *p)
{
    mod_ssl_ct_server_conf_t *gc = rt->conf;
    apr_array_header_t *rows;
    apr_pool_t *np;
    ct_logs_t *nl;
    apr_finfo_t fi;
    const char *err = NULL, *warn = NULL;

    if (!gc->log_db) return;
    if (apr_stat(&fi, gc->log_db, APR_FINFO_MTIME | APR_FINFO_SIZE, p) == APR_SUCCESS
        && fi.mtime == rt->db_mtime && fi.size == rt->db_size && !rt->db_error) {
        return;
    }
    if (ct_log_db_read(&rows, gc->log_db, p, &err) != APR_SUCCESS) {
        if (!rt->db_error || strcmp(rt->db_error, err)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rt->s, APLOGNO(10864)
                         "mod_ssl_ct: %s; keeping the log configuration read before, will "
                         "try again", err);
            free((void *)rt->db_error);
            rt->db_error = strdup(err);
        }
        return;
    }
    if (rt->db_error) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, rt->s, APLOGNO(10865)
                     "mod_ssl_ct: log DB %s is readable again", gc->log_db);
        free((void *)rt->db_error);
        rt->db_error = NULL;
    }
    rt->db_mtime = fi.mtime;
    rt->db_size = fi.size;
    apr_pool_create(&np, rt->tpool);
    ct_logs_make(&nl, gc->static_logs, rows, NULL, np, &warn);
    if (warn) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rt->s, APLOGNO(10866)
                     "mod_ssl_ct: log configuration: %s", warn);
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, rt->s, APLOGNO(10867)
                 "mod_ssl_ct: log DB %s re-read, %d log(s) configured", gc->log_db,
                 nl->logs->nelts);
    apr_thread_rwlock_wrlock(rt->logs_lock);
    {
        apr_pool_t *old = rt->logs_pool;
        rt->logs = nl;
        rt->logs_pool = np;
        __atomic_store_n(&rt->logs_gen, rt->logs_gen + 1, __ATOMIC_RELEASE);
        apr_thread_rwlock_unlock(rt->logs_lock);
        /* the first configuration lives in pconf (shared allocator): leave it there */
        if (apr_pool_parent_get(old) == rt->tpool) apr_pool_destroy(old);
    }
}

static void refresh_all(mod_ssl_ct_runtime_t *rt, int submit)
{
    apr_hash_index_t *hi;
    apr_pool_t *p;

    apr_pool_create(&p, rt->tpool);
    if (submit) refresh_logs(rt, p);
    /* only this thread replaces rt->logs, so it may read it without the lock */
    for (hi = apr_hash_first(p, rt->certs); hi; hi = apr_hash_next(hi)) {
        refresh_cert(rt, apr_hash_this_val(hi), rt->logs, submit, p);
    }
    free_retired(rt, 0);
    apr_pool_destroy(p);
}

apr_status_t mod_ssl_ct_server_post_config(mod_ssl_ct_runtime_t *rt, apr_pool_t *ptemp)
{
    mod_ssl_ct_server_conf_t *gc = rt->conf;
    apr_hash_index_t *hi;
    int i;

    /* CTStaticSCTs: match the configured certificate files to the certificates in use */
    for (i = 0; i < gc->static_scts->nelts; ++i) {
        mod_ssl_ct_static_scts_t *e = &APR_ARRAY_IDX(gc->static_scts, i, mod_ssl_ct_static_scts_t);
        BIO *bio = BIO_new_file(e->cert_file, "r");
        X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        const char *name = x ? ct_store_cert_name(ptemp, x) : NULL;
        mod_ssl_ct_cert_t *cert = name ? apr_hash_get(rt->certs, name, APR_HASH_KEY_STRING) : NULL;

        BIO_free(bio);
        X509_free(x);
        if (!cert) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rt->s, APLOGNO(10868)
                         "mod_ssl_ct: CTStaticSCTs %s: no SSL virtual host uses this "
                         "certificate; its SCTs are not used", e->cert_file);
            continue;
        }
        APR_ARRAY_PUSH(cert->static_dirs, const char *) = e->sct_dir;
    }
    for (hi = apr_hash_first(ptemp, rt->certs); hi; hi = apr_hash_next(hi)) {
        mod_ssl_ct_cert_t *cert = apr_hash_this_val(hi);
        const char *path;
        unsigned char *cur;
        apr_size_t len;
        apr_status_t rv;

        if (!gc->sct_storage) continue;
        cert->dir = apr_pstrcat(rt->pool, gc->sct_storage, "/", cert->name, NULL);
        rv = apr_dir_make(cert->dir, 0x0755, ptemp);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, rt->s, APLOGNO(10869)
                         "mod_ssl_ct: cannot create %s; check CTSCTStorage", cert->dir);
            return rv;
        }
        chown_for_children(cert->dir);
        path = apr_pstrcat(ptemp, cert->dir, "/", CT_STORE_CERTS, NULL);
        if (ct_store_read_file(&cur, &len, path, 1 << 20, ptemp) != APR_SUCCESS
            || len != strlen(cert->pem) || memcmp(cur, cert->pem, len)) {
            rv = md_file_write_atomic(path, cert->pem, strlen(cert->pem), 0x0644, ptemp);
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, rv, rt->s, APLOGNO(10870)
                             "mod_ssl_ct: cannot write %s", path);
                return rv;
            }
            chown_for_children(path);
        }
    }
    /* the lists the first handshakes get: what is on disk now, without asking logs */
    rt->tpool = ptemp;
    refresh_all(rt, 0);
    rt->tpool = NULL;
    return APR_SUCCESS;
}

static void *APR_THREAD_FUNC refresh_thread(apr_thread_t *t, void *data)
{
    mod_ssl_ct_runtime_t *rt = data;

#ifdef __linux__
    /* visible in ps/top/strace: the only thread of a child that touches CTSCTStorage */
    prctl(PR_SET_NAME, "ct-refresh", 0, 0, 0);
#endif
    while (!rt->stopping) {
        int i;
        refresh_all(rt, 1);
        for (i = 0; i < CT_REFRESH_SECONDS * 10 && !rt->stopping; ++i) {
            apr_sleep(apr_time_from_msec(100));
        }
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static apr_status_t stop_thread(void *data)
{
    mod_ssl_ct_runtime_t *rt = data;
    apr_status_t trv;

    rt->stopping = 1;
    if (rt->thread) apr_thread_join(&trv, rt->thread);
    rt->thread = NULL;
    return APR_SUCCESS;
}

static apr_status_t destroy_tpool(void *data)
{
    free_retired(mod_ssl_ct_rt, 1);
    apr_pool_destroy(data);
    return APR_SUCCESS;
}

void mod_ssl_ct_server_child_init(mod_ssl_ct_runtime_t *rt, apr_pool_t *pchild)
{
    apr_threadattr_t *attr;
    apr_status_t rv;

    /* nothing to refresh: no server certificate and no DB to watch for the proxy */
    if (apr_hash_count(rt->certs) == 0 && !rt->conf->log_db) return;
    /* the thread's own allocator: nothing it allocates competes with request threads */
    apr_pool_create_unmanaged_ex(&rt->tpool, NULL, NULL);
    apr_pool_cleanup_register(pchild, rt->tpool, destroy_tpool, apr_pool_cleanup_null);
    /* the lists were made when the parent read its configuration; a child forked later
     * (the MPM starts children all the time) must not serve them until its thread runs */
    refresh_all(rt, 0);
    apr_threadattr_create(&attr, pchild);
    rv = apr_thread_create(&rt->thread, attr, refresh_thread, rt, pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, rt->s, APLOGNO(10871)
                     "mod_ssl_ct: cannot start the SCT refresh thread; SCT lists stay as "
                     "they were at startup");
        return;
    }
    apr_pool_cleanup_register(pchild, rt, stop_thread, apr_pool_cleanup_null);
}
