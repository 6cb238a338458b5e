/* mod_md_http.c: what mod_md does to HTTP requests.
 *
 *  - MDRequireHttps: http requests to an MD's hosts are redirected to https (302 for
 *    temporary, 301 for permanent), but only once the MD has a certificate (sending users
 *    to a fallback certificate helps nobody) and never for /.well-known/ (ACME challenges).
 *    permanent also adds Strict-Transport-Security to every https response of the MD.
 *  - MDCertificateStatus: GET /.httpd/certificate-status on an MD's https host, also while
 *    the fallback certificate is served (then answered before mod_ssl's 503).
 * Everything here reads the in-memory configuration; no store access but the
 * certificate-status page, which looks for a staged renewal.
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

#include "md.h"
#include "md_status.h"
#include "mod_md.h"
#include "mod_md_config.h"

#define MD_HSTS_HEADER "Strict-Transport-Security"
#define MD_HSTS_VALUE "max-age=15768000"
#define MD_CERT_STATUS_PATH "/.httpd/certificate-status"

static md_t *request_md(request_rec *r, md_mod_conf_t **pmc)
{
    md_srv_conf_t *sc = mod_md_config_get(r->server);
    if (!sc || !sc->assigned) return NULL;
    *pmc = sc->mc;
    return sc->assigned;
}

static int md_require_https(request_rec *r)
{
    md_mod_conf_t *mc;
    md_t *md = request_md(r, &mc);
    const char *host, *url, *port = "";

    if (!md || md->require_https <= MD_REQUIRE_OFF || ap_ssl_conn_is_ssl(r->connection)) return DECLINED;
    mod_md_hot_sync(md, 0);
    if (md->state != MD_S_COMPLETE || md->rt_fallback) return DECLINED;
    if (!r->parsed_uri.path || !strncmp(r->parsed_uri.path, "/.well-known/", 13)) return DECLINED;
    host = ap_get_server_name_for_url(r);
    /* Public https is port 443 when httpd listens on the port MDPortMap maps it to; else
     * keep the port of the MD's https host. */
    if (!mc->can_https && md->rt_https_port > 0 && md->rt_https_port != 443)
        port = apr_psprintf(r->pool, ":%d", md->rt_https_port);
    url = apr_pstrcat(r->pool, "https://", host, port, r->unparsed_uri, NULL);
    apr_table_setn(r->headers_out, "Location", url);
    return md->require_https == MD_REQUIRE_PERMANENT ? HTTP_MOVED_PERMANENTLY : HTTP_MOVED_TEMPORARILY;
}

static void md_hsts(request_rec *r)
{
    md_mod_conf_t *mc;
    md_t *md = request_md(r, &mc);
    if (md && md->require_https == MD_REQUIRE_PERMANENT && ap_ssl_conn_is_ssl(r->connection))
        apr_table_setn(r->err_headers_out, MD_HSTS_HEADER, MD_HSTS_VALUE);
}

/* MDActivation hot: while the fallback certificate is served, https answers 503 (as mod_ssl
 * does for fallbacks it was given as such), and stops the moment a real one is served. */
static int md_hot_unavailable(request_rec *r)
{
    md_mod_conf_t *mc;
    md_t *md = request_md(r, &mc);
    if (!md || !md->rt_hot || !ap_ssl_conn_is_ssl(r->connection)) return DECLINED;
    mod_md_hot_sync(md, 0);
    return md->rt_fallback ? HTTP_SERVICE_UNAVAILABLE : DECLINED;
}

static int md_post_read_request(request_rec *r)
{
    int rc;
    if (r->main || r->prev) return DECLINED;
    if ((rc = md_hot_unavailable(r)) != DECLINED) return rc;
    md_hsts(r);
    return md_require_https(r);
}

/* The MD whose certificate status r asks for, or NULL when r is not such a request. */
static md_t *cert_status_md(request_rec *r, md_mod_conf_t **pmc)
{
    md_t *md;

    if (!r->parsed_uri.path || strcmp(r->parsed_uri.path, MD_CERT_STATUS_PATH)) return NULL;
    md = request_md(r, pmc);
    if (!md || !(*pmc)->certificate_status_enabled || !(*pmc)->store
        || !ap_ssl_conn_is_ssl(r->connection))
        return NULL;
    return md;
}

static int send_cert_status(request_rec *r, md_t *md, md_mod_conf_t *mc)
{
    json_t *j;
    char *s;

    r->allowed = (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET) return HTTP_METHOD_NOT_ALLOWED;
    mod_md_hot_sync(md, 1);
    j = md_status_cert_status_json(md, mc->store, r->pool);
    s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!s) return HTTP_INTERNAL_SERVER_ERROR;
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    ap_set_content_length(r, (apr_off_t)strlen(s));
    if (!r->header_only) ap_rputs(s, r);
    free(s);
    return OK;
}

static int md_cert_status_handler(request_rec *r)
{
    md_mod_conf_t *mc;
    md_t *md = cert_status_md(r, &mc);
    return md ? send_cert_status(r, md, mc) : DECLINED;
}

/* While the fallback certificate is served, mod_ssl answers every request of the host with
 * 503; the certificate status (what is being done about it) is answered before that. */
static int md_cert_status_early(request_rec *r)
{
    md_mod_conf_t *mc;
    md_t *md;
    int rc;

    if (r->main || r->prev || !(md = cert_status_md(r, &mc)) || !md->rt_fallback) return DECLINED;
    rc = send_cert_status(r, md, mc);
    return rc == OK ? DONE : rc;
}

void mod_md_http_register_hooks(apr_pool_t *p)
{
    static const char *const succ_ssl[] = { "mod_ssl.c", NULL };
    (void)p;
    ap_hook_post_read_request(md_cert_status_early, NULL, succ_ssl, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(md_post_read_request, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(md_cert_status_handler, NULL, NULL, APR_HOOK_FIRST);
}
