/* mod_ssl_ct_proxy.c: the proxy side of mod_ssl_ct.
 *
 * Owns: asking backends for SCTs (OpenSSL's client CT machinery requests extension 18 and
 * a stapled OCSP response, and gathers SCTs from the TLS extension, the certificate
 * extension and the OCSP response), the online verdict per backend certificate (signature,
 * trust, time range through the ct_* core), the bounded per-child cache of verdicts, the
 * audit file of the child, and handing the outcome to the client's request as SSL_CT_*
 * variables.
 * Only the SCTs the proxy accepted (signature verified with the key of a trusted log, in its
 * time range) go to the audit file: what failed here is already reported in the error log,
 * and an audit of it would only prove what a log never signed.
 * Invariants: `require` passes only with at least one SCT whose signature verified with
 * the key of a trusted log inside its time range; SCTs of unknown logs never count;
 * verdicts expire and are dropped when the log configuration changes.
 */
#include <string.h>
#include <unistd.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <openssl/ssl.h>

#include "mod_ssl_ct.h"
#include "ct_audit.h"

APLOG_USE_MODULE(ssl_ct);

#define NOTE_STATUS  "ssl-ct-proxy-status"
#define NOTE_SOURCES "ssl-ct-proxy-sct-sources"
#define MAX_SCTS_CHECKED 256

typedef struct verdict_t {
    char *key;
    apr_time_t when;
    apr_uint64_t logs_gen;             /* the configuration it was made with */
    int valid;                         /* SCTs verified from trusted logs */
    int total;
    char sources[32];
} verdict_t;

static apr_pool_t *cache_pool;

/* OpenSSL calls this during the handshake; the decision is ours, after it. */
static int accept_all(const CT_POLICY_EVAL_CTX *ctx, const STACK_OF(SCT) *scts, void *arg)
{
    return 1;
}

int mod_ssl_ct_proxy_pre_handshake(conn_rec *c, SSL *ssl)
{
    mod_ssl_ct_server_conf_t *sc = mod_ssl_ct_conf(c->base_server);

    if (!mod_ssl_ct_rt || sc->awareness == CT_OBLIVIOUS) return OK;
    if (!SSL_set_ct_validation_callback(ssl, accept_all, NULL)) {
        ap_log_cerror(APLOG_MARK, APLOG_WARNING, 0, c, APLOGNO(10880)
                      "mod_ssl_ct: cannot ask the backend for SCTs on this connection");
    }
    return OK;
}

static void audit_write(mod_ssl_ct_runtime_t *rt, const char *key, STACK_OF(X509) *chain, X509 *leaf,
                        const apr_array_header_t *scts, apr_pool_t *p)
{
    ct_audit_entry_t e;
    ct_blob_t out;
    apr_size_t written;
    int i;

    e.key = key;
    e.certs = apr_array_make(p, 3, sizeof(ct_blob_t));
    e.scts = apr_array_make(p, 3, sizeof(ct_blob_t));
    for (i = -1; i < (chain ? sk_X509_num(chain) : 0); ++i) {
        X509 *x = i < 0 ? leaf : sk_X509_value(chain, i);
        unsigned char *der = NULL;
        int len;
        ct_blob_t *b;

        if (i >= 0 && x == leaf) continue;
        len = i2d_X509(x, &der);
        if (len <= 0) continue;
        b = apr_array_push(e.certs);
        b->data = apr_pmemdup(p, der, (apr_size_t)len);
        b->len = (apr_size_t)len;
        OPENSSL_free(der);
    }
    for (i = 0; i < scts->nelts; ++i) {
        unsigned char *der = NULL;
        int len = i2o_SCT(APR_ARRAY_IDX(scts, i, SCT *), &der);
        ct_blob_t *b;

        if (len <= 0) continue;
        b = apr_array_push(e.scts);
        b->data = apr_pmemdup(p, der, (apr_size_t)len);
        b->len = (apr_size_t)len;
        OPENSSL_free(der);
    }
    if (ct_audit_encode(&out, &e, p) != APR_SUCCESS) return;
    if (!rt->audit_file) {
        apr_status_t rv = apr_file_open(&rt->audit_file, rt->audit_path,
                                        APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_APPEND
                                        | APR_FOPEN_BINARY, 0x0644, cache_pool);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, rt->s, APLOGNO(10881)
                         "mod_ssl_ct: cannot write audit file %s: make CTAuditStorage "
                         "writable for the server's user", rt->audit_path);
            rt->audit_path = NULL;
            return;
        }
    }
    apr_file_write_full(rt->audit_file, out.data, out.len, &written);
    apr_file_flush(rt->audit_file);
}

static const char *source_list(apr_pool_t *p, int cert, int tls, int ocsp)
{
    const char *s = apr_pstrcat(p, cert ? ",certext" : "", tls ? ",tlsext" : "",
                                ocsp ? ",ocsp" : "", NULL);
    return *s ? s + 1 : "";
}

static void evaluate(verdict_t *v, conn_rec *c, SSL *ssl, X509 *leaf, const char *key)
{
    mod_ssl_ct_runtime_t *rt = mod_ssl_ct_rt;
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    STACK_OF(X509) *vchain = SSL_get0_verified_chain(ssl);
    const STACK_OF(SCT) *scts = SSL_get0_peer_scts(ssl);
    X509 *issuer = NULL;
    int i, n, in_cert = 0, in_tls = 0, in_ocsp = 0;
    apr_uint64_t now = ct_now_ms();
    apr_array_header_t *accepted = apr_array_make(c->pool, 2, sizeof(SCT *));

    for (i = 0; vchain && i < sk_X509_num(vchain) && !issuer; ++i) {
        X509 *x = sk_X509_value(vchain, i);
        if (x != leaf && X509_check_issued(x, leaf) == X509_V_OK) issuer = x;
    }
    for (i = 0; chain && i < sk_X509_num(chain) && !issuer; ++i) {
        X509 *x = sk_X509_value(chain, i);
        if (x != leaf && X509_check_issued(x, leaf) == X509_V_OK) issuer = x;
    }
    n = scts ? sk_SCT_num(scts) : 0;
    v->total = n;
    if (n > MAX_SCTS_CHECKED) {
        ap_log_cerror(APLOG_MARK, APLOG_WARNING, 0, c, APLOGNO(10882)
                      "mod_ssl_ct: backend sent %d SCTs, only the first %d are checked",
                      n, MAX_SCTS_CHECKED);
    }
    apr_thread_rwlock_rdlock(rt->logs_lock);
    v->logs_gen = rt->logs_gen;
    for (i = 0; i < n && i < MAX_SCTS_CHECKED; ++i) {
        SCT *sct = sk_SCT_value(scts, i);
        sct_source_t src = SCT_get_source(sct);
        ct_sct_status_t st;

        if (src == SCT_SOURCE_X509V3_EXTENSION) in_cert = 1;
        else if (src == SCT_SOURCE_TLS_EXTENSION) in_tls = 1;
        else if (src == SCT_SOURCE_OCSP_STAPLED_RESPONSE) in_ocsp = 1;
        st = ct_sct_verify(sct, leaf, issuer, rt->logs, now);
        if (st == CT_SCT_VALID) {
            v->valid++;
            APR_ARRAY_PUSH(accepted, SCT *) = sct;
        }
        else {
            unsigned char *id = NULL;
            size_t idlen = SCT_get0_log_id(sct, &id);
            ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c, APLOGNO(10883)
                          "mod_ssl_ct: backend certificate %s: SCT from log %s (%s) not "
                          "accepted: %s", key,
                          idlen == CT_LOG_ID_LEN ? ct_hex(c->pool, id, idlen) : "?",
                          src == SCT_SOURCE_X509V3_EXTENSION ? "certext"
                          : src == SCT_SOURCE_TLS_EXTENSION ? "tlsext" : "ocsp",
                          ct_sct_status_str(st));
        }
    }
    apr_thread_rwlock_unlock(rt->logs_lock);
    apr_cpystrn(v->sources, source_list(c->pool, in_cert, in_tls, in_ocsp),
                sizeof(v->sources));
    if (rt->audit_path && accepted->nelts > 0) audit_write(rt, key, chain, leaf, accepted, c->pool);
}

static void cache_evict(mod_ssl_ct_runtime_t *rt, apr_time_t now)
{
    apr_hash_index_t *hi;
    verdict_t *oldest = NULL;

    for (hi = apr_hash_first(NULL, rt->cache); hi; hi = apr_hash_next(hi)) {
        verdict_t *v = apr_hash_this_val(hi);
        if (now - v->when > apr_time_from_sec(CT_CACHE_SECONDS)
            || v->logs_gen != __atomic_load_n(&rt->logs_gen, __ATOMIC_ACQUIRE)) {
            apr_hash_set(rt->cache, v->key, APR_HASH_KEY_STRING, NULL);
            free(v->key);
            free(v);
        }
        else if (!oldest || v->when < oldest->when) {
            oldest = v;
        }
    }
    if (apr_hash_count(rt->cache) >= CT_CACHE_MAX && oldest) {
        apr_hash_set(rt->cache, oldest->key, APR_HASH_KEY_STRING, NULL);
        free(oldest->key);
        free(oldest);
    }
}

int mod_ssl_ct_proxy_post_handshake(conn_rec *c, SSL *ssl)
{
    mod_ssl_ct_runtime_t *rt = mod_ssl_ct_rt;
    mod_ssl_ct_server_conf_t *sc = mod_ssl_ct_conf(c->base_server);
    X509 *leaf;
    const char *key;
    verdict_t *v, local;
    apr_time_t now = apr_time_now();

    if (!rt || !rt->cache_lock || sc->awareness == CT_OBLIVIOUS) return OK;
    leaf = SSL_get0_peer_certificate(ssl);
    if (!leaf) {
        if (sc->awareness == CT_REQUIRE) {
            ap_log_cerror(APLOG_MARK, APLOG_ERR, 0, c, APLOGNO(10884)
                          "mod_ssl_ct: backend sent no certificate; CTProxyAwareness "
                          "require refuses it");
            return HTTP_BAD_GATEWAY;
        }
        return OK;
    }
    key = ct_store_cert_name(c->pool, leaf);
    apr_thread_mutex_lock(rt->cache_lock);
    v = apr_hash_get(rt->cache, key, APR_HASH_KEY_STRING);
    if (v && (now - v->when > apr_time_from_sec(CT_CACHE_SECONDS)
              || v->logs_gen != __atomic_load_n(&rt->logs_gen, __ATOMIC_ACQUIRE))) {
        v = NULL;
    }
    if (v) {
        local = *v;
        apr_thread_mutex_unlock(rt->cache_lock);
    }
    else {
        memset(&local, 0, sizeof(local));
        local.when = now;
        evaluate(&local, c, ssl, leaf, key);
        v = apr_hash_get(rt->cache, key, APR_HASH_KEY_STRING);
        if (!v) {
            if (apr_hash_count(rt->cache) >= CT_CACHE_MAX) cache_evict(rt, now);
            v = malloc(sizeof(*v));
            if (v) {
                *v = local;
                v->key = strdup(key);
                if (v->key) apr_hash_set(rt->cache, v->key, APR_HASH_KEY_STRING, v);
                else free(v);
            }
        }
        else {
            char *k = v->key;
            *v = local;
            v->key = k;
        }
        apr_thread_mutex_unlock(rt->cache_lock);
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c, APLOGNO(10885)
                      "mod_ssl_ct: backend certificate %s: %d SCT(s) [%s], %d valid", key,
                      local.total, local.sources, local.valid);
    }
    apr_table_setn(c->notes, NOTE_STATUS, local.total > 0 ? "peer-aware" : "peer-unaware");
    apr_table_set(c->notes, NOTE_SOURCES, local.sources);
    if (sc->awareness == CT_REQUIRE && local.valid == 0) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, 0, c, APLOGNO(10886)
                      "mod_ssl_ct: backend certificate %s has no SCT that verifies with a "
                      "trusted log (%d SCT(s) received%s%s); CTProxyAwareness require "
                      "refuses the connection. Configure the backend's logs (CTStaticLogConfig "
                      "or ctlogconfig) or relax CTProxyAwareness", key, local.total,
                      *local.sources ? " from " : "", local.sources);
        return HTTP_BAD_GATEWAY;
    }
    return OK;
}

int mod_ssl_ct_proxy_create_req(request_rec *r, request_rec *pr)
{
    conn_rec *bc = pr ? pr->connection : NULL;
    const char *st, *src;

    if (!bc) return OK;
    st = apr_table_get(bc->notes, NOTE_STATUS);
    if (st) {
        apr_table_set(r->subprocess_env, "SSL_CT_PROXY_STATUS", st);
        src = apr_table_get(bc->notes, NOTE_SOURCES);
        if (src && *src) apr_table_set(r->subprocess_env, "SSL_CT_PROXY_SCT_SOURCES", src);
    }
    return OK;
}

static apr_status_t audit_close(void *data)
{
    mod_ssl_ct_runtime_t *rt = data;
    apr_finfo_t fi;
    apr_pool_t *p;
    const char *out;

    if (!rt->audit_path) return APR_SUCCESS;
    if (rt->audit_file) apr_file_close(rt->audit_file);
    rt->audit_file = NULL;
    apr_pool_create(&p, NULL);
    if (apr_stat(&fi, rt->audit_path, APR_FINFO_SIZE, p) == APR_SUCCESS) {
        if (fi.size == 0) {
            apr_file_remove(rt->audit_path, p);
        }
        else {
            out = apr_pstrndup(p, rt->audit_path, strlen(rt->audit_path) - 4);
            apr_file_rename(rt->audit_path, apr_pstrcat(p, out, ".out", NULL), p);
        }
    }
    apr_pool_destroy(p);
    return APR_SUCCESS;
}

void mod_ssl_ct_proxy_child_init(mod_ssl_ct_runtime_t *rt, apr_pool_t *pchild)
{
    apr_pool_create(&cache_pool, pchild);
    if (apr_thread_mutex_create(&rt->cache_lock, APR_THREAD_MUTEX_DEFAULT, pchild)
        != APR_SUCCESS) {
        rt->cache_lock = NULL;
        return;
    }
    rt->cache = apr_hash_make(cache_pool);
    if (rt->conf->audit_storage) {
        rt->audit_path = apr_psprintf(pchild, "%s/audit_%ld.tmp", rt->conf->audit_storage,
                                      (long)getpid());
        /* before pchild's subpools go: the audit file lives in cache_pool, and closing it
         * after that pool was destroyed corrupted the heap at every child exit */
        apr_pool_pre_cleanup_register(pchild, rt, audit_close);
    }
}
