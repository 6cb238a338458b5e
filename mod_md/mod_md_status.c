/* mod_md_status.c: the md-status handler (SetHandler md-status).
 *
 * GET /md-status lists every MD; GET /md-status/NAME shows one with its job log. Names in
 * the URL are looked up in the configuration only; they never reach a file path.
 */
#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>

#include "md.h"
#include "md_status.h"
#include "mod_md.h"
#include "mod_md_config.h"

APLOG_USE_MODULE(md);

static int send_json(request_rec *r, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!s) return HTTP_INTERNAL_SERVER_ERROR;
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    ap_set_content_length(r, (apr_off_t)strlen(s));
    if (!r->header_only) ap_rputs(s, r);
    free(s);
    return OK;
}

int md_status_handler(request_rec *r)
{
    md_mod_conf_t *mc;
    const char *name;
    int i;

    if (!r->handler || strcmp(r->handler, "md-status")) return DECLINED;
    r->allowed = (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET) return HTTP_METHOD_NOT_ALLOWED;
    mc = md_config_get(r->server)->mc;
    if (!mc->store) return send_json(r, json_pack("{s:s,s:[]}", "version", MD_VERSION, "managed-domains"));

    name = r->path_info;
    if (!name || !*name || !strcmp(name, "/"))
        return send_json(r, md_status_all_json(mc->mds, mc->store, r->pool));
    ++name;
    for (i = 0; i < mc->mds->nelts; ++i) {
        md_t *md = APR_ARRAY_IDX(mc->mds, i, md_t *);
        if (!strcmp(md->name, name)) return send_json(r, md_status_md_json(md, mc->store, 1, r->pool));
    }
    return HTTP_NOT_FOUND;
}
