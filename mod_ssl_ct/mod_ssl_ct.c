/* mod_ssl_ct.c: Certificate Transparency for mod_ssl (server and proxy), httpd glue.
 *
 * Owns: the module record, the runtime state of a configuration generation and hook
 * registration with httpd, mod_ssl
 * (optional hooks init_server, pre_handshake, proxy_post_handshake) and mod_proxy
 * (create_req, to set the SSL_CT_PROXY_* variables on the client's request).
 * Never: does SCT work itself (mod_ssl_ct_server.c, mod_ssl_ct_proxy.c and the ct_* core
 * do), touches the disk per handshake.
 */
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_connection.h>
#include <http_ssl.h>
#include <unixd.h>
#include <errno.h>
#include <openssl/pem.h>
#include <ap_mpm.h>
#include <apr_strings.h>
#include <apr_optional_hooks.h>
#include <mod_proxy.h>

#include "mod_ssl_openssl.h"
#include "mod_ssl_ct.h"
#include "ct_log.h"

mod_ssl_ct_runtime_t *mod_ssl_ct_rt;
int mod_ssl_ct_conn_ex_idx = -1;
int mod_ssl_ct_cert_ex_idx = -1;

/* --- hooks -------------------------------------------------------------------------- */

static int ct_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    mod_ssl_ct_runtime_t *rt = apr_pcalloc(pconf, sizeof(*rt));

    rt->pool = pconf;
    rt->certs = apr_hash_make(pconf);
    mod_ssl_ct_rt = rt;
    if (mod_ssl_ct_conn_ex_idx < 0) {
        mod_ssl_ct_conn_ex_idx = SSL_get_ex_new_index(0, "mod_ssl_ct conn", NULL, NULL, NULL);
        mod_ssl_ct_cert_ex_idx = X509_get_ex_new_index(0, "mod_ssl_ct cert", NULL, NULL, NULL);
    }
    return OK;
}

static int ct_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                          server_rec *s)
{
    mod_ssl_ct_runtime_t *rt = mod_ssl_ct_rt;
    mod_ssl_ct_server_conf_t *gc = mod_ssl_ct_conf(s);
    apr_array_header_t *db_rows = NULL;
    const char *err = NULL, *warn = NULL;
    server_rec *vs;

    rt->s = s;
    rt->conf = gc;
    if (gc->max_sct_age < 0) gc->max_sct_age = CT_DEFAULT_MAX_AGE;
    if (gc->hello_limit < 0) gc->hello_limit = CT_DEFAULT_LIMIT;
    for (vs = s; vs; vs = vs->next) {
        mod_ssl_ct_server_conf_t *vc = mod_ssl_ct_conf(vs);
        if (vc->awareness == CT_AWARE_UNSET) vc->awareness = CT_AWARE;
    }
    if (gc->static_scts->nelts && !gc->sct_storage) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, APLOGNO(10850)
                     "mod_ssl_ct: CTStaticSCTs needs CTSCTStorage: add CTSCTStorage DIR");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (gc->log_db && ct_log_db_read(&db_rows, gc->log_db, ptemp, &err) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, APLOGNO(10851)
                     "mod_ssl_ct: CTLogConfigDB %s: %s", gc->log_db, err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (apr_thread_rwlock_create(&rt->logs_lock, pconf) != APR_SUCCESS
        || apr_pool_create(&rt->logs_pool, pconf) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ct_logs_make(&rt->logs, gc->static_logs, db_rows, NULL, rt->logs_pool, &warn);
    rt->logs_gen++;
    if (warn) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(10852)
                     "mod_ssl_ct: log configuration: %s", warn);
    }
    if (gc->log_db) {
        apr_finfo_t fi;
        if (apr_stat(&fi, gc->log_db, APR_FINFO_MTIME | APR_FINFO_SIZE, ptemp) == APR_SUCCESS) {
            rt->db_mtime = fi.mtime;
            rt->db_size = fi.size;
        }
    }
    if (gc->audit_storage && geteuid() == 0) {
        if (chown(gc->audit_storage, ap_unixd_config.user_id, ap_unixd_config.group_id)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s, APLOGNO(10853)
                         "mod_ssl_ct: cannot give CTAuditStorage %s to the server's user; "
                         "make it writable for it", gc->audit_storage);
        }
    }
    if (!gc->sct_storage) {
        int i;
        for (i = 0; i < rt->logs->logs->nelts; ++i) {
            if (APR_ARRAY_IDX(rt->logs->logs, i, ct_log_t *)->url) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(10854)
                             "mod_ssl_ct: logs with URLs are configured but CTSCTStorage is "
                             "not set: no SCTs will be obtained for server certificates");
                break;
            }
        }
    }
    if (mod_ssl_ct_server_post_config(rt, ptemp) != APR_SUCCESS) return HTTP_INTERNAL_SERVER_ERROR;
    return OK;
}

static void ct_child_init(apr_pool_t *pchild, server_rec *s)
{
    mod_ssl_ct_runtime_t *rt = mod_ssl_ct_rt;

    if (!rt || !rt->conf) return;
    mod_ssl_ct_proxy_child_init(rt, pchild);
    mod_ssl_ct_server_child_init(rt, pchild);
}

static int ct_init_server(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx)
{
    if (is_proxy) return OK;
    return mod_ssl_ct_server_init_ctx(s, p, ctx);
}

static int ct_pre_handshake(conn_rec *c, SSL *ssl, int is_proxy)
{
    mod_ssl_ct_conn_t *cc;

    if (is_proxy) return mod_ssl_ct_proxy_pre_handshake(c, ssl);
    cc = apr_pcalloc(c->pool, sizeof(*cc));
    ap_set_module_config(c->conn_config, &ssl_ct_module, cc);
    SSL_set_ex_data(ssl, mod_ssl_ct_conn_ex_idx, cc);
    return OK;
}

/* SSL_CT_CLIENT_STATUS for requests on TLS connections of our clients. */
static int ct_fixups(request_rec *r)
{
    conn_rec *c = r->connection->master ? r->connection->master : r->connection;
    mod_ssl_ct_conn_t *cc = ap_get_module_config(c->conn_config, &ssl_ct_module);

    if (cc) {
        apr_table_setn(r->subprocess_env, "SSL_CT_CLIENT_STATUS",
                       cc->client_aware ? "peer-aware" : "peer-unaware");
    }
    return DECLINED;
}

static void ct_register_hooks(apr_pool_t *p)
{
    static const char *const succ_ssl[] = { "mod_ssl.c", NULL };

    ap_hook_pre_config(ct_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* after mod_ssl's post_config, which reports the SSL_CTXs through init_server */
    ap_hook_post_config(ct_post_config, succ_ssl, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(ct_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_fixups(ct_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ssl, init_server, ct_init_server, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ssl, pre_handshake, ct_pre_handshake, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ssl, proxy_post_handshake, mod_ssl_ct_proxy_post_handshake, NULL, NULL,
                      APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(proxy, create_req, mod_ssl_ct_proxy_create_req, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(ssl_ct) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    mod_ssl_ct_config_create_svr,
    mod_ssl_ct_config_merge_svr,
    mod_ssl_ct_cmds,
    ct_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
