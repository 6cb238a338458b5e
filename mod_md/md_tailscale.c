/* md_tailscale.c: see md_tailscale.h. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_file_info.h>
#include <apr_uri.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "md_crypt.h"
#include "md_util.h"
#include "md_tailscale.h"

#define ERR_TEXT_MAX 300

int md_tailscale_is_proto(const char *proto)
{
    return proto && !strcasecmp(proto, MD_TAILSCALE_PROTO);
}

static int is_file_url(const char *url)
{
    return url && !strncasecmp(url, "file:", 5);
}

const char *md_tailscale_socket_path(const char *url, apr_pool_t *p, const char **perr)
{
    apr_uri_t uri;

    if (!url || apr_uri_parse(p, url, &uri) != APR_SUCCESS || !uri.scheme
        || strcasecmp(uri.scheme, "file")) {
        *perr = apr_psprintf(p, "'%s' is not a file:// URL; give the tailscaled socket as %s",
                             url ? url : "", MD_TAILSCALE_DEFAULT_URL);
        return NULL;
    }
    if (uri.hostname && *uri.hostname && strcasecmp(uri.hostname, "localhost")) {
        *perr = apr_psprintf(p, "'%s' names the host '%s': tailscaled is reached through a "
                             "socket on this machine, use file://localhost/PATH", url, uri.hostname);
        return NULL;
    }
    if (uri.port_str || uri.query || uri.fragment || uri.user) {
        *perr = apr_psprintf(p, "'%s' has parts a socket path cannot have (port, user, ? or #)", url);
        return NULL;
    }
    if (!uri.path || uri.path[0] != '/' || !uri.path[1] || uri.path[strlen(uri.path) - 1] == '/') {
        *perr = apr_psprintf(p, "'%s' has no socket path, use e.g. %s", url, MD_TAILSCALE_DEFAULT_URL);
        return NULL;
    }
    return uri.path;
}

const char *md_tailscale_check_md(const md_t *md, apr_pool_t *p)
{
    int i, n = md->ca_urls ? md->ca_urls->nelts : 0;
    const char *err, *url;

    if (!md_tailscale_is_proto(md->ca_proto)) {
        for (i = 0; i < n; ++i) {
            url = APR_ARRAY_IDX(md->ca_urls, i, const char *);
            if (is_file_url(url))
                return apr_psprintf(p, "MDomain %s: MDCertificateAuthority '%s' is a local socket, "
                                    "which only MDCertificateProtocol tailscale uses; ACME needs "
                                    "the https URL of a CA directory", md->name, url);
        }
        return NULL;
    }
    if (n != 1)
        return apr_psprintf(p, "MDomain %s: MDCertificateProtocol tailscale takes exactly one "
                            "MDCertificateAuthority, the socket of tailscaled (e.g. %s), not %d",
                            md->name, MD_TAILSCALE_DEFAULT_URL, n);
    url = APR_ARRAY_IDX(md->ca_urls, 0, const char *);
    if (!md_tailscale_socket_path(url, p, &err))
        return apr_psprintf(p, "MDomain %s: MDCertificateAuthority '%s' cannot be used with "
                            "MDCertificateProtocol tailscale: %s (a global MDCertificateAuthority "
                            "is overridden inside <MDomain %s>)", md->name, url, err, md->name);
    if (md_pkey_spec_count(md) > 1)
        return apr_psprintf(p, "MDomain %s: MDPrivateKeys lists %d key types, but tailscale gives "
                            "one key and certificate, of a type tailscaled chooses; give this MD "
                            "at most one type (MDPrivateKeys inside <MDomain %s>)",
                            md->name, md_pkey_spec_count(md), md->name);
    return NULL;
}

/* ---- the answer ---- */

/* The DNS names of a certificate's SAN extension, for messages. */
static const char *cert_names(X509 *x, apr_pool_t *p)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    const char *s = NULL;
    int i;

    for (i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        const char *one;
        if (gn->type != GEN_DNS) continue;
        one = apr_pstrmemdup(p, (const char *)ASN1_STRING_get0_data(gn->d.dNSName),
                             (apr_size_t)ASN1_STRING_length(gn->d.dNSName));
        s = s ? apr_pstrcat(p, s, ", ", one, NULL) : one;
    }
    GENERAL_NAMES_free(names);
    return s ? s : "no DNS names";
}

/* md's names the certificate does not cover, comma separated, or NULL. */
static const char *uncovered(X509 *x, const md_t *md, apr_pool_t *p)
{
    apr_array_header_t *one = apr_array_make(p, 1, sizeof(const char *));
    const char *s = NULL;
    int i;

    for (i = 0; i < md->domains->nelts; ++i) {
        const char *d = APR_ARRAY_IDX(md->domains, i, const char *);
        apr_array_clear(one);
        APR_ARRAY_PUSH(one, const char *) = d;
        if (!md_cert_covers_domains(x, one)) s = s ? apr_pstrcat(p, s, ", ", d, NULL) : d;
    }
    return s;
}

static apr_status_t cert_cleanup(void *data) { X509_free(data); return APR_SUCCESS; }
static apr_status_t pkey_cleanup(void *data) { EVP_PKEY_free(data); return APR_SUCCESS; }

static apr_size_t count_begin_lines(const char *body, apr_size_t len)
{
    static const char tag[] = "-----BEGIN";
    apr_size_t n = 0, i;
    for (i = 0; i + sizeof(tag) - 1 <= len; ++i) {
        if (body[i] == '-' && !memcmp(body + i, tag, sizeof(tag) - 1)) {
            ++n;
            i += sizeof(tag) - 2;
        }
    }
    return n;
}

/* One PEM block of the answer: a certificate goes to the chain, a key to *ppkey. */
static const char *take_block(const char *name, const unsigned char *data, long dlen,
                              EVP_PKEY **ppkey, apr_array_header_t *chain, apr_pool_t *p)
{
    const unsigned char *q = data;

    if (!strcmp(name, PEM_STRING_X509)) {
        X509 *x = d2i_X509(NULL, &q, dlen);
        if (!x) return apr_psprintf(p, "certificate %d of the chain cannot be decoded", chain->nelts + 1);
        apr_pool_cleanup_register(p, x, cert_cleanup, apr_pool_cleanup_null);
        APR_ARRAY_PUSH(chain, X509 *) = x;
        return NULL;
    }
    if (!strcmp(name, PEM_STRING_PKCS8)) return "the private key is encrypted";
    if (!strcmp(name, PEM_STRING_PKCS8INF) || !strcmp(name, "EC PRIVATE KEY")
        || !strcmp(name, "RSA PRIVATE KEY")) {
        EVP_PKEY *pkey;
        if (*ppkey) return "it holds more than one private key";
        pkey = d2i_AutoPrivateKey(NULL, &q, dlen);
        if (!pkey) return "the private key cannot be decoded";
        apr_pool_cleanup_register(p, pkey, pkey_cleanup, apr_pool_cleanup_null);
        *ppkey = pkey;
        return NULL;
    }
    return apr_psprintf(p, "it holds an unexpected PEM block '%s'", name);
}

apr_status_t md_tailscale_parse_pair(EVP_PKEY **ppkey, apr_array_header_t **pchain,
                                     const char *body, apr_size_t len, const md_t *md,
                                     apr_time_t now, apr_pool_t *p, const char **perr)
{
    apr_array_header_t *chain = apr_array_make(p, 3, sizeof(X509 *));
    EVP_PKEY *pkey = NULL;
    apr_size_t blocks = 0, begins = count_begin_lines(body, len);
    const char *err = NULL, *missing;
    int corrupt = 0;
    BIO *bio;
    X509 *leaf;

    if (!begins) {
        *perr = "it is not PEM (no key and no certificate in it)";
        return APR_EINVAL;
    }
    if (!(bio = BIO_new_mem_buf(body, (int)len))) return APR_ENOMEM;
    while (!err) {
        char *name = NULL, *header = NULL;
        unsigned char *data = NULL;
        long dlen = 0;
        unsigned long e;

        ERR_set_mark();
        if (!PEM_read_bio(bio, &name, &header, &data, &dlen)) {
            e = ERR_peek_last_error();
            ERR_pop_to_mark();
            /* "no start line" is the normal end; anything else is a block cut short */
            corrupt = !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
            break;
        }
        ERR_pop_to_mark();
        ++blocks;
        err = take_block(name, data, dlen, &pkey, chain, p);
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
    }
    BIO_free(bio);
    if (!err && (corrupt || blocks != begins))
        err = apr_psprintf(p, "it is truncated or corrupt (%lu complete PEM blocks of %lu)",
                           (unsigned long)blocks, (unsigned long)begins);
    if (!err && !pkey) err = "it holds no private key";
    if (!err && !chain->nelts) err = "it holds no certificate";
    if (err) goto fail;

    leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    if (!md_cert_matches_key(leaf, pkey)) {
        err = "the private key does not belong to the certificate";
        goto fail;
    }
    if ((missing = uncovered(leaf, md, p)) != NULL) {
        err = apr_psprintf(p, "the certificate is for %s and does not cover %s (tailscale "
                           "certificates are for the machine's own name only)",
                           cert_names(leaf, p), missing);
        goto fail;
    }
    if (md_cert_not_after(leaf) <= now) {
        err = apr_psprintf(p, "the certificate expired on %s", md_util_time_format(p, md_cert_not_after(leaf)));
        goto fail;
    }
    if (md_cert_not_before(leaf) > now) {
        err = apr_psprintf(p, "the certificate is valid only from %s on (is this machine's clock "
                           "right?)", md_util_time_format(p, md_cert_not_before(leaf)));
        goto fail;
    }
    *ppkey = pkey;
    *pchain = chain;
    return APR_SUCCESS;
fail:
    *perr = err;
    return APR_EINVAL;
}

/* ---- the exchange ---- */

/* The daemon's error text, fit for one line of a log: printable, at most ERR_TEXT_MAX. */
static const char *answer_text(const char *body, apr_size_t len, apr_pool_t *p)
{
    apr_size_t n = len > ERR_TEXT_MAX ? ERR_TEXT_MAX : len, i;
    char *s = apr_pstrmemdup(p, body, n);

    for (i = 0; i < n; ++i) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f) s[i] = ' ';
    }
    while (n && s[n - 1] == ' ') s[--n] = '\0';
    while (*s == ' ') ++s;
    if (!*s) return "(no text)";
    return len > ERR_TEXT_MAX ? apr_pstrcat(p, s, "...", NULL) : s;
}

/* Before connecting: say plainly when the socket is missing or not ours to use. */
static apr_status_t check_socket(const char *path, const char *ca_url, apr_pool_t *p, const char **perr)
{
    apr_finfo_t fi;
    apr_status_t rv = apr_stat(&fi, path, APR_FINFO_TYPE, p);

    if (APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv)) {
        *perr = apr_psprintf(p, "the tailscale socket %s does not exist: is tailscaled installed "
                             "and running on this machine? (MDCertificateAuthority %s)", path, ca_url);
        return APR_ENOENT;
    }
    if (rv == APR_SUCCESS && fi.filetype != APR_SOCK) {
        *perr = apr_psprintf(p, "%s is not a unix socket, so not tailscaled's "
                             "(MDCertificateAuthority %s)", path, ca_url);
        return APR_EINVAL;
    }
    if (rv != APR_SUCCESS || access(path, R_OK | W_OK) != 0) {
        if (rv == APR_SUCCESS) rv = APR_FROM_OS_ERROR(errno);
        *perr = apr_psprintf(p, "the tailscale socket %s cannot be used by the user the server "
                             "runs as (%s)", path, apr_strerror(rv, apr_palloc(p, 128), 128));
        return rv;
    }
    return APR_SUCCESS;
}

apr_status_t md_tailscale_obtain(EVP_PKEY **ppkey, apr_array_header_t **pchain, const md_t *md,
                                 const char *ca_url, const md_http_opts_t *http,
                                 md_result_t *result, apr_pool_t *p)
{
    md_http_opts_t opts;
    md_http_t *client;
    md_http_response_t *resp;
    const char *sock, *url, *err = NULL;
    apr_status_t rv;

    if (!(sock = md_tailscale_socket_path(ca_url, p, &err))) {
        md_result_set(result, APR_EINVAL, apr_psprintf(p, "MDCertificateAuthority %s", err));
        return APR_EINVAL;
    }
    md_result_activity(result, apr_psprintf(p, "asking tailscaled (%s) for the certificate of %s",
                                            sock, md->name));
    if ((rv = check_socket(sock, ca_url, p, &err)) != APR_SUCCESS) {
        md_result_set(result, rv, err);
        return rv;
    }

    memset(&opts, 0, sizeof(opts));
    opts.abort_flag = http ? http->abort_flag : NULL;
    opts.connect_timeout_ms = http && http->connect_timeout_ms ? http->connect_timeout_ms : 5000;
    opts.timeout_ms = http && http->timeout_ms ? http->timeout_ms : MD_TAILSCALE_TIMEOUT_MS;
    opts.max_body = MD_TAILSCALE_MAX_ANSWER;
    opts.unix_socket = sock;
    if ((rv = md_http_create(&client, &opts, p)) != APR_SUCCESS) {
        md_result_set(result, rv, "cannot set up an HTTP client");
        return rv;
    }
    url = apr_pstrcat(p, "http://" MD_TAILSCALE_HOST "/localapi/v0/cert/", md->name, "?type=pair", NULL);
    rv = md_http_request(&resp, client, "GET", url, NULL, NULL, NULL, 0, p, &err);
    if (rv != APR_SUCCESS) {
        if (APR_STATUS_IS_TIMEUP(rv))
            err = apr_psprintf(p, "tailscaled (%s) did not answer within %s; it seems stuck "
                               "('tailscale status' tells more), the request is tried again later",
                               sock, md_util_duration_format(p, apr_time_from_msec(opts.timeout_ms)));
        else if (rv == APR_ENOSPC)
            err = apr_psprintf(p, "tailscaled's answer is larger than %lu bytes, which no key and "
                               "certificate are", (unsigned long)opts.max_body);
        else if (rv != APR_EINTR)
            err = apr_psprintf(p, "no answer from tailscaled: %s", err);
        md_result_set(result, rv, err);
        return rv;
    }
    if (resp->status != 200) {
        rv = resp->status == 404 ? APR_ENOENT : resp->status == 403 ? APR_EACCES : APR_EGENERAL;
        md_result_set(result, rv, apr_psprintf(p, "tailscaled refused the certificate of %s with "
                      "HTTP status %d: %s (only names that tailscale assigned to this machine get "
                      "certificates, see 'tailscale cert')", md->name, resp->status,
                      answer_text(resp->body, resp->body_len, p)));
        return rv;
    }
    rv = md_tailscale_parse_pair(ppkey, pchain, resp->body, resp->body_len, md, apr_time_now(), p, &err);
    if (rv != APR_SUCCESS) {
        md_result_set(result, rv, apr_psprintf(p, "tailscaled's answer for %s is unusable: %s",
                                               md->name, err));
        return rv;
    }
    return APR_SUCCESS;
}
