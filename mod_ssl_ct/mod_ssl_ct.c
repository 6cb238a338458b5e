/* mod_ssl_ct.c: Certificate Transparency for mod_ssl (server and proxy), httpd glue.
 *
 * Owns: the nine directives (contexts and defaults of SPEC section 3, every bad value
 * refused at config time with the directive and value named), config create/merge, the
 * runtime state of a configuration generation and hook registration with httpd, mod_ssl
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

ct_runtime_t *ct_rt;
int ct_conn_ex_idx = -1;
int ct_cert_ex_idx = -1;

ct_server_conf_t *ct_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &ssl_ct_module);
}

/* --- configuration ------------------------------------------------------------------ */

static void *ct_create_server_conf(apr_pool_t *p, server_rec *s)
{
    ct_server_conf_t *c = apr_pcalloc(p, sizeof(*c));

    c->static_logs = apr_array_make(p, 2, sizeof(ct_log_t *));
    c->static_scts = apr_array_make(p, 2, sizeof(ct_static_scts_t));
    c->max_sct_age = -1;
    c->hello_limit = -1;
    c->awareness = CT_AWARE_UNSET;
    return c;
}

static void *ct_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    ct_server_conf_t *base = basev, *add = addv;
    ct_server_conf_t *c = apr_pmemdup(p, base, sizeof(*c));

    /* all directives but CTProxyAwareness are global: vhosts inherit the main server's */
    c->awareness = add->awareness != CT_AWARE_UNSET ? add->awareness : base->awareness;
    return c;
}

static const char *global_only(cmd_parms *cmd)
{
    return ap_check_cmd_context(cmd, GLOBAL_ONLY);
}

static int is_dir(apr_pool_t *p, const char *path)
{
    apr_finfo_t fi;
    return apr_stat(&fi, path, APR_FINFO_TYPE, p) == APR_SUCCESS && fi.filetype == APR_DIR;
}

static const char *set_sct_storage(cmd_parms *cmd, void *dc, const char *arg)
{
    ct_server_conf_t *c = ct_conf(cmd->server);
    const char *err = global_only(cmd), *path;

    if (err) return err;
    path = ap_runtime_dir_relative(cmd->pool, arg);
    if (!path || !is_dir(cmd->pool, path)) {
        return apr_psprintf(cmd->pool, "CTSCTStorage: '%s' is not an existing directory "
                            "(create it, writable by the server's user)", path ? path : arg);
    }
    c->sct_storage = path;
    return NULL;
}

static const char *set_audit_storage(cmd_parms *cmd, void *dc, const char *arg)
{
    ct_server_conf_t *c = ct_conf(cmd->server);
    const char *err = global_only(cmd), *path;

    if (err) return err;
    path = ap_runtime_dir_relative(cmd->pool, arg);
    if (!path || !is_dir(cmd->pool, path)) {
        return apr_psprintf(cmd->pool, "CTAuditStorage: '%s' is not an existing directory",
                            path ? path : arg);
    }
    c->audit_storage = path;
    return NULL;
}

static const char *set_log_db(cmd_parms *cmd, void *dc, const char *arg)
{
    ct_server_conf_t *c = ct_conf(cmd->server);
    const char *err = global_only(cmd), *path;
    apr_array_header_t *rows;

    if (err) return err;
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path) return apr_psprintf(cmd->pool, "CTLogConfigDB: invalid path '%s'", arg);
    if (ct_log_db_read(&rows, path, cmd->temp_pool, &err) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "CTLogConfigDB %s: %s", arg, err);
    }
    c->log_db = path;
    return NULL;
}

static const char *set_static_log(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    ct_server_conf_t *c = ct_conf(cmd->server);
    const char *err = global_only(cmd);
    ct_log_t *log;

    if (err) return err;
    if (argc != 6) {
        return apr_psprintf(cmd->pool, "CTStaticLogConfig: expected 6 fields (log-id|- "
                            "public-key-file|- 1|0|- min-timestamp|- max-timestamp|- "
                            "log-URL|-), got %d", argc);
    }
    if (ct_log_from_fields(&log, (const char *const *)argv, ap_server_root, cmd->pool, &err)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "CTStaticLogConfig: %s", err);
    }
    APR_ARRAY_PUSH(c->static_logs, ct_log_t *) = log;
    return NULL;
}

static const char *set_static_scts(cmd_parms *cmd, void *dc, const char *cert,
                                   const char *dir)
{
    ct_server_conf_t *c = ct_conf(cmd->server);
    const char *err = global_only(cmd);
    ct_static_scts_t *e;
    BIO *bio;
    X509 *x = NULL;

    if (err) return err;
    e = apr_array_push(c->static_scts);
    e->cert_file = ap_server_root_relative(cmd->pool, cert);
    e->sct_dir = ap_server_root_relative(cmd->pool, dir);
    if (!e->cert_file || !e->sct_dir) return "CTStaticSCTs: invalid path";
    bio = BIO_new_file(e->cert_file, "r");
    if (bio) {
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
    }
    if (!x) {
        return apr_psprintf(cmd->pool, "CTStaticSCTs: '%s' is not a readable PEM "
                            "certificate", e->cert_file);
    }
    X509_free(x);
    if (!is_dir(cmd->pool, e->sct_dir)) {
        return apr_psprintf(cmd->pool, "CTStaticSCTs: '%s' is not an existing directory",
                            e->sct_dir);
    }
    return NULL;
}

static const char *set_log_client(cmd_parms *cmd, void *dc, const char *arg)
{
    ct_server_conf_t *c = ct_conf(cmd->server);
    const char *err = global_only(cmd), *path;
    apr_finfo_t fi;

    if (err) return err;
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS
        || fi.filetype != APR_REG || access(path, X_OK) != 0) {
        return apr_psprintf(cmd->pool, "CTLogClient: '%s' is not an executable file",
                            path ? path : arg);
    }
    c->log_client = path;
    return NULL;
}

static const char *set_int(cmd_parms *cmd, const char *arg, long min, long max, int *dst)
{
    char *end;
    long v;

    if (*arg < '0' || *arg > '9') goto bad;
    v = strtol(arg, &end, 10);
    if (*end || v < min || v > max) goto bad;
    *dst = (int)v;
    return NULL;
bad:
    return apr_psprintf(cmd->pool, "%s: '%s' is not a number from %ld to %ld",
                        cmd->cmd->name, arg, min, max);
}

static const char *set_max_sct_age(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    return err ? err : set_int(cmd, arg, 1, 3650L * 86400, &ct_conf(cmd->server)->max_sct_age);
}

static const char *set_hello_limit(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    return err ? err : set_int(cmd, arg, 1, 1000, &ct_conf(cmd->server)->hello_limit);
}

static const char *set_awareness(cmd_parms *cmd, void *dc, const char *arg)
{
    ct_server_conf_t *c = ct_conf(cmd->server);

    if (!strcasecmp(arg, "oblivious")) c->awareness = CT_OBLIVIOUS;
    else if (!strcasecmp(arg, "aware")) c->awareness = CT_AWARE;
    else if (!strcasecmp(arg, "require")) c->awareness = CT_REQUIRE;
    else {
        return apr_psprintf(cmd->pool, "CTProxyAwareness: '%s' is not one of oblivious, "
                            "aware, require", arg);
    }
    return NULL;
}

static const command_rec ct_cmds[] = {
    AP_INIT_TAKE1("CTAuditStorage", set_audit_storage, NULL, RSRC_CONF,
                  "directory for data of SCTs seen by the proxy, for offline audit"),
    AP_INIT_TAKE1("CTLogClient", set_log_client, NULL, RSRC_CONF,
                  "certificate-transparency log client used to submit certificates"),
    AP_INIT_TAKE1("CTLogConfigDB", set_log_db, NULL, RSRC_CONF,
                  "SQLite database of log configuration (see ctlogconfig)"),
    AP_INIT_TAKE1("CTMaxSCTAge", set_max_sct_age, NULL, RSRC_CONF,
                  "seconds after which SCTs obtained from logs are refreshed"),
    AP_INIT_TAKE1("CTProxyAwareness", set_awareness, NULL, RSRC_CONF,
                  "oblivious|aware|require: CT handling of the proxy"),
    AP_INIT_TAKE1("CTSCTStorage", set_sct_storage, NULL, RSRC_CONF,
                  "directory where SCTs of server certificates are kept"),
    AP_INIT_TAKE1("CTServerHelloSCTLimit", set_hello_limit, NULL, RSRC_CONF,
                  "maximum number of SCTs sent in the TLS extension"),
    AP_INIT_TAKE_ARGV("CTStaticLogConfig", set_static_log, NULL, RSRC_CONF,
                      "log-id|- public-key-file|- 1|0|- min-timestamp|- max-timestamp|- "
                      "log-URL|-"),
    AP_INIT_TAKE2("CTStaticSCTs", set_static_scts, NULL, RSRC_CONF,
                  "certificate-pem-file sct-directory"),
    AP_INIT_TAKE1(NULL, NULL, NULL, 0, NULL)
};

/* --- hooks -------------------------------------------------------------------------- */

static int ct_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    ct_runtime_t *rt = apr_pcalloc(pconf, sizeof(*rt));

    rt->pool = pconf;
    rt->certs = apr_hash_make(pconf);
    ct_rt = rt;
    if (ct_conn_ex_idx < 0) {
        ct_conn_ex_idx = SSL_get_ex_new_index(0, "mod_ssl_ct conn", NULL, NULL, NULL);
        ct_cert_ex_idx = X509_get_ex_new_index(0, "mod_ssl_ct cert", NULL, NULL, NULL);
    }
    return OK;
}

static int ct_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                          server_rec *s)
{
    ct_runtime_t *rt = ct_rt;
    ct_server_conf_t *gc = ct_conf(s);
    apr_array_header_t *db_rows = NULL;
    const char *err = NULL, *warn = NULL;
    server_rec *vs;

    rt->s = s;
    rt->conf = gc;
    if (gc->max_sct_age < 0) gc->max_sct_age = CT_DEFAULT_MAX_AGE;
    if (gc->hello_limit < 0) gc->hello_limit = CT_DEFAULT_LIMIT;
    for (vs = s; vs; vs = vs->next) {
        ct_server_conf_t *vc = ct_conf(vs);
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
    if (ct_server_post_config(rt, ptemp) != APR_SUCCESS) return HTTP_INTERNAL_SERVER_ERROR;
    return OK;
}

static void ct_child_init(apr_pool_t *pchild, server_rec *s)
{
    ct_runtime_t *rt = ct_rt;

    if (!rt || !rt->conf) return;
    ct_proxy_child_init(rt, pchild);
    ct_server_child_init(rt, pchild);
}

static int ct_init_server(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx)
{
    if (is_proxy) return OK;
    return ct_server_init_ctx(s, p, ctx);
}

static int ct_pre_handshake(conn_rec *c, SSL *ssl, int is_proxy)
{
    ct_conn_t *cc;

    if (is_proxy) return ct_proxy_pre_handshake(c, ssl);
    cc = apr_pcalloc(c->pool, sizeof(*cc));
    ap_set_module_config(c->conn_config, &ssl_ct_module, cc);
    SSL_set_ex_data(ssl, ct_conn_ex_idx, cc);
    return OK;
}

/* SSL_CT_CLIENT_STATUS for requests on TLS connections of our clients. */
static int ct_fixups(request_rec *r)
{
    conn_rec *c = r->connection->master ? r->connection->master : r->connection;
    ct_conn_t *cc = ap_get_module_config(c->conn_config, &ssl_ct_module);

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
    APR_OPTIONAL_HOOK(ssl, proxy_post_handshake, ct_proxy_post_handshake, NULL, NULL,
                      APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(proxy, create_req, ct_proxy_create_req, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(ssl_ct) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    ct_create_server_conf,
    ct_merge_server_conf,
    ct_cmds,
    ct_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
