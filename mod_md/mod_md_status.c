/* mod_md_status.c: mod_md's status pages.
 *
 *  - SetHandler md-status: GET /md-status lists every MD as JSON, GET /md-status/NAME shows
 *    one with its job log (NAME may be any of its domain names, wildcards included; the
 *    list when no MD has it). Names
 *    in the URL are looked up in the configuration only; they never reach a file path.
 *  - a section in mod_status' server-status (MDServerStatus), HTML and ?auto lines.
 *  - SetHandler md-metrics: Prometheus text format.
 * The documents themselves are built by the core (md_status.c).
 */
#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <apr_optional_hooks.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <mod_status.h>

#include "md.h"
#include "md_status.h"
#include "mod_md.h"
#include "mod_md_config.h"

static int send_text(request_rec *r, const char *type, const char *s)
{
    ap_set_content_type(r, type);
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    ap_set_content_length(r, (apr_off_t)strlen(s));
    if (!r->header_only) ap_rputs(s, r);
    return OK;
}

static int send_json(request_rec *r, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    int rc;
    json_decref(j);
    if (!s) return HTTP_INTERNAL_SERVER_ERROR;
    rc = send_text(r, "application/json", s);
    free(s);
    return rc;
}

/* Common checks of our handlers: only GET (and so HEAD). */
static int check_method(request_rec *r)
{
    r->allowed = (AP_METHOD_BIT << M_GET);
    return r->method_number == M_GET ? OK : HTTP_METHOD_NOT_ALLOWED;
}

static int write_cb(const char *buf, size_t len, void *baton)
{
    return ap_rwrite(buf, (int)len, baton) < 0 ? -1 : 0;
}

/* MDs with MDActivation hot may serve a newer certificate than the one of the start */
static void sync_hot(md_mod_conf_t *mc)
{
    int i;
    for (i = 0; i < mc->mds->nelts; ++i) mod_md_hot_sync(APR_ARRAY_IDX(mc->mds, i, md_t *), 1);
}

static int md_status_handler(request_rec *r)
{
    md_mod_conf_t *mc;
    const md_t *md;
    const char *name;
    int rc;

    if (!r->handler || strcmp(r->handler, "md-status")) return DECLINED;
    if ((rc = check_method(r)) != OK) return rc;
    mc = mod_md_config_get(r->server)->mc;
    if (!mc->store) return send_json(r, json_pack("{s:s}", "version", MD_VERSION));
    sync_hot(mc);
    name = r->path_info;
    md = name && name[0] == '/' && name[1] ? md_status_find(mc->mds, name + 1) : NULL;
    if (!md) {
        /* the list, also for a name of no MD (as the reference answers) */
        /* streamed: with thousands of MDs the document is megabytes */
        ap_set_content_type(r, "application/json");
        apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
        if (!r->header_only) md_status_all_write(mc->mds, mc->store, write_cb, r, r->pool);
        return OK;
    }
    return send_json(r, md_status_md_json(md, mc->store, 1, r->pool));
}

static int md_metrics_handler(request_rec *r)
{
    md_mod_conf_t *mc;
    apr_array_header_t *none;
    int rc;

    if (!r->handler || strcmp(r->handler, "md-metrics")) return DECLINED;
    if ((rc = check_method(r)) != OK) return rc;
    mc = mod_md_config_get(r->server)->mc;
    none = apr_array_make(r->pool, 1, sizeof(md_t *));
    sync_hot(mc);
    return send_text(r, "text/plain; version=0.0.4; charset=utf-8",
                     md_status_metrics(mc->store ? mc->mds : none, mc->store, r->pool));
}

static int md_server_status(request_rec *r, int flags)
{
    md_mod_conf_t *mc = mod_md_config_get(r->server)->mc;

    if (!mc->server_status_enabled) return OK;
    if (!mc->store || !mc->mds->nelts) {
        /* the counters (zero) are there whenever the section is on, as with the reference */
        if (flags & AP_STATUS_SHORT)
            ap_rputs(md_status_auto(apr_array_make(r->pool, 1, sizeof(md_t *)), NULL, NULL, NULL,
                                    r->pool), r);
        return OK;
    }
    sync_hot(mc);
    if (flags & AP_STATUS_SHORT)
        ap_rputs(md_status_auto(mc->mds, mc->store, mc->cert_check_name, mc->cert_check_url,
                                r->pool), r);
    else
        ap_rputs(md_status_html(mc->mds, mc->store, mc->cert_check_name, mc->cert_check_url,
                                r->pool), r);
    return OK;
}

void mod_md_status_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(md_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(md_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, md_server_status, NULL, NULL, APR_HOOK_MIDDLE);
}
