/* fuzz_md_tailscale: what tailscaled answers (md_tailscale.c): the key and certificate chain
 * PEM of GET /localapi/v0/cert/NAME?type=pair, the whole exchange over md_http (with the
 * transport replaced by the input, md_http_set_transport), and file:// socket URLs.
 *
 * The first byte chooses:
 *   0  an answer body for the MD "fuzz.example.org www.fuzz.example.org": accepted only with
 *      a key that belongs to the leaf, a leaf that covers both names and is valid now;
 *   1  the exchange: "STATUS\n\nbody"; every failure is explained in the result, a success
 *      has the same properties as 0;
 *   2  a CA URL: an accepted socket path is absolute.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/x509v3.h>

#include "fuzz.h"
#include "md.h"
#include "md_crypt.h"
#include "md_http.h"
#include "md_result.h"
#include "md_tailscale.h"

static md_t *md;
static const char *sock_url;
static const uint8_t *answer;
static size_t answer_len;

static apr_status_t scripted(md_http_response_t **presp, const char *method, const char *url,
                             const char *body, apr_size_t body_len, void *baton, apr_pool_t *p,
                             const char **perr)
{
    md_http_response_t *resp = apr_pcalloc(p, sizeof(*resp));
    const uint8_t *sep = answer_len >= 2 ? memmem(answer, answer_len, "\n\n", 2) : NULL;
    size_t i;

    (void)body; (void)body_len; (void)baton;
    FUZZ_ASSERT(!strcmp(method, "GET") && strstr(url, "/localapi/v0/cert/"));
    if (!sep) {
        *perr = "connection reset (the script has no answer)";
        return APR_ECONNREFUSED;
    }
    for (i = 0; answer + i < sep && answer[i] >= '0' && answer[i] <= '9' && resp->status < 1000; ++i)
        resp->status = resp->status * 10 + (answer[i] - '0');
    resp->headers = apr_table_make(p, 1);
    resp->body_len = answer_len - (size_t)(sep + 2 - answer);
    resp->body = fuzz_str(p, sep + 2, resp->body_len);
    *presp = resp;
    return APR_SUCCESS;
}

static void write_seeds(apr_pool_t *p)
{
    static const md_pkey_spec_t spec = { MD_PKEY_EC, 0, "secp256r1" };
    EVP_PKEY *key;
    X509 *x;
    apr_array_header_t *chain = apr_array_make(p, 1, sizeof(X509 *));
    const char *kpem, *body;

    md_pkey_gen(&key, &spec, p);
    md_cert_self_sign(&x, "fuzz.example.org", md->domains, key, apr_time_from_sec(100LL * 365 * 86400), p);
    APR_ARRAY_PUSH(chain, X509 *) = x;
    md_pkey_to_pem(&kpem, key, NULL, 0, p);
    body = apr_pstrcat(p, kpem, md_chain_to_pem(chain, p), NULL);
    fuzz_seed("pair", 0, body, strlen(body));
    body = apr_pstrcat(p, "200\n\n", kpem, md_chain_to_pem(chain, p), NULL);
    fuzz_seed("exchange", 1, body, strlen(body));
    body = "404\n\ninvalid domain \"fuzz.example.org\"; must be one of [\"m.tail1234.ts.net\"]\n";
    fuzz_seed("exchange-404", 1, body, strlen(body));
    fuzz_seed("url", 2, MD_TAILSCALE_DEFAULT_URL, strlen(MD_TAILSCALE_DEFAULT_URL));
    fuzz_seed("url-short", 2, "file:///run/ts.sock", 19);
    _exit(0);
}

static void init(void)
{
    apr_pool_t *p = fuzz_root();
    apr_array_header_t *names = apr_array_make(p, 2, sizeof(const char *));
    struct sockaddr_un sa;
    int fd;

    APR_ARRAY_PUSH(names, const char *) = "fuzz.example.org";
    APR_ARRAY_PUSH(names, const char *) = "www.fuzz.example.org";
    md = md_create(p, names);
    md_merge(md, md_create_defaults(p));
    md->ca_proto = MD_TAILSCALE_PROTO;
    /* md_tailscale_obtain looks at the socket before it talks: give it a real one */
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/tailscaled.sock", fuzz_tmpdir());
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) abort();
    sock_url = apr_pstrcat(p, "file://", sa.sun_path, NULL);
    md_http_set_transport(scripted, NULL);
    if (fuzz_seeds_wanted()) write_seeds(p);
}

static void check_pair(EVP_PKEY *key, apr_array_header_t *chain, apr_time_t now)
{
    X509 *leaf;
    int i;

    FUZZ_ASSERT(key && chain && chain->nelts > 0);
    leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    FUZZ_ASSERT(X509_check_private_key(leaf, key) == 1);
    for (i = 0; i < md->domains->nelts; ++i)
        FUZZ_ASSERT(X509_check_host(leaf, APR_ARRAY_IDX(md->domains, i, const char *), 0, 0, NULL) == 1);
    FUZZ_ASSERT(md_cert_not_after(leaf) > now - apr_time_from_sec(5));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    EVP_PKEY *key = NULL;
    apr_array_header_t *chain = NULL;
    const char *err = NULL, *path;
    apr_time_t now = apr_time_now();
    md_result_t *result;

    if (!md) {
        fuzz_init_begin();
        init();
        fuzz_init_end();
    }
    if (size < 1) return 0;
    p = fuzz_run_pool();
    switch (data[0] % 3) {
    case 0:
        if (md_tailscale_parse_pair(&key, &chain, (const char *)data + 1, size - 1, md, now, p, &err)
            == APR_SUCCESS)
            check_pair(key, chain, now);
        else FUZZ_ASSERT(err && *err);
        break;
    case 1:
        answer = data + 1;
        answer_len = size - 1;
        result = md_result_make(p);
        if (md_tailscale_obtain(&key, &chain, md, sock_url, NULL, result, p) == APR_SUCCESS)
            check_pair(key, chain, now);
        else FUZZ_ASSERT(result->status != APR_SUCCESS && result->detail && *result->detail);
        break;
    default:
        if ((path = md_tailscale_socket_path(fuzz_str(p, data + 1, size - 1), p, &err)) != NULL)
            FUZZ_ASSERT(path[0] == '/');
        else FUZZ_ASSERT(err && *err);
        break;
    }
    fuzz_run_end(p);
    return 0;
}
