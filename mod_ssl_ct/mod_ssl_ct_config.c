/* mod_ssl_ct_config.c: the directives of mod_ssl_ct, httpd glue.
 *
 * Owns: the nine directives (contexts and defaults of docs/mod_ssl_ct.md, every bad value
 * refused at config time with the directive and value named) and config create/merge.
 * Never: loads what the directives name beyond checking it (the log DB is read once to
 * refuse a broken one; mod_ssl_ct.c and the refresh thread load it for real).
 */
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_main.h>
#include <apr_strings.h>

#include "mod_ssl_ct.h"
#include "ct_log.h"

mod_ssl_ct_server_conf_t *mod_ssl_ct_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &ssl_ct_module);
}

void *mod_ssl_ct_config_create_svr(apr_pool_t *p, server_rec *s)
{
    mod_ssl_ct_server_conf_t *c = apr_pcalloc(p, sizeof(*c));

    c->static_logs = apr_array_make(p, 2, sizeof(ct_log_t *));
    c->static_scts = apr_array_make(p, 2, sizeof(mod_ssl_ct_static_scts_t));
    c->max_sct_age = -1;
    c->hello_limit = -1;
    c->awareness = CT_AWARE_UNSET;
    return c;
}

void *mod_ssl_ct_config_merge_svr(apr_pool_t *p, void *basev, void *addv)
{
    mod_ssl_ct_server_conf_t *base = basev, *add = addv;
    mod_ssl_ct_server_conf_t *c = apr_pmemdup(p, base, sizeof(*c));

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
    mod_ssl_ct_server_conf_t *c = mod_ssl_ct_conf(cmd->server);
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
    mod_ssl_ct_server_conf_t *c = mod_ssl_ct_conf(cmd->server);
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
    mod_ssl_ct_server_conf_t *c = mod_ssl_ct_conf(cmd->server);
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
    mod_ssl_ct_server_conf_t *c = mod_ssl_ct_conf(cmd->server);
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
    mod_ssl_ct_server_conf_t *c = mod_ssl_ct_conf(cmd->server);
    const char *err = global_only(cmd);
    mod_ssl_ct_static_scts_t *e;
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
    mod_ssl_ct_server_conf_t *c = mod_ssl_ct_conf(cmd->server);
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
    return err ? err : set_int(cmd, arg, 1, 3650L * 86400, &mod_ssl_ct_conf(cmd->server)->max_sct_age);
}

static const char *set_hello_limit(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    return err ? err : set_int(cmd, arg, 1, 1000, &mod_ssl_ct_conf(cmd->server)->hello_limit);
}

static const char *set_awareness(cmd_parms *cmd, void *dc, const char *arg)
{
    mod_ssl_ct_server_conf_t *c = mod_ssl_ct_conf(cmd->server);

    if (!strcasecmp(arg, "oblivious")) c->awareness = CT_OBLIVIOUS;
    else if (!strcasecmp(arg, "aware")) c->awareness = CT_AWARE;
    else if (!strcasecmp(arg, "require")) c->awareness = CT_REQUIRE;
    else {
        return apr_psprintf(cmd->pool, "CTProxyAwareness: '%s' is not one of oblivious, "
                            "aware, require", arg);
    }
    return NULL;
}

const command_rec mod_ssl_ct_cmds[] = {
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
