/* fuzz_md_acme: a whole ACME conversation of the mod_md core (md_acme.c, md_acme_order.c,
 * md_ari.c) against a scripted CA: directory, nonce, account, order, authorizations,
 * challenges (http-01, tls-alpn-01, dns-01), finalize, certificate download, problem
 * documents, renewal information.
 *
 * md_http's transport is replaced (md_http_set_transport) by the input: byte 0 holds flags
 * (bit 0 port 80, bit 1 port 443 with acme-tls/1, bit 2 MDChallengeDns01, bit 3 an existing
 * account instead of a new one, bit 4 a wildcard name, bit 5 MDProfile, bit 6 an ARI
 * "replaces", bit 7 an external account binding), the rest are the CA's answers in order,
 * separated by "\n===\n", each "STATUS\nHeader: value\n...\n\nbody". When the script ends,
 * the CA is unreachable.
 * Properties: every request goes to a URL the CA named (the directory URL, a string of an
 * earlier answer, or renewalInfo/CERT-ID with renewalInfo such a string); every failure is
 * explained in the result; an issued chain is only accepted when its leaf belongs to our key
 * and covers every name; a renewalInfo answer that is accepted has an ordered window.
 * Polling waits are cut to nothing (poll timeout of 1us), so the harness never sleeps.
 */
#include <unistd.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fuzz.h"
#include "md.h"
#include "md_acme.h"
#include "md_acme_order.h"
#include "md_ari.h"
#include "md_crypt.h"
#include "md_http.h"
#include "md_store.h"
#include "md_util.h"

#define DIR_URL "https://ca.test/dir"
#define CERT_ID "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
#define MAX_ANSWERS 64

/* The key the certificate is ordered for: fixed, so that the seeds' certificates match it. */
static const char cert_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgcEIs1D6CsAF8giSa\n"
    "Cfqjw9f9lH+mVO7fBC9DYa//LOOhRANCAAQGNKKELFtPSpTyatDs5gYTj7ubq90p\n"
    "OQSWaivYLKM48Cjauw0Sby1L5qemBya/CFs7GRe9Xq3UqTgQnKpykIOX\n"
    "-----END PRIVATE KEY-----\n";

static EVP_PKEY *cert_key, *acct_key;
static md_store_t *store;

/* the script of one run */
static struct {
    const uint8_t *part[MAX_ANSWERS];
    size_t len[MAX_ANSWERS];
    int n, next;
    apr_hash_t *known;           /* every string the CA has sent so far */
} script;

static void learn_json(json_t *j, apr_pool_t *p)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_string(j)) apr_hash_set(script.known, apr_pstrdup(p, json_string_value(j)),
                                        APR_HASH_KEY_STRING, "");
    else if (json_is_array(j)) for (i = 0; i < json_array_size(j); ++i) learn_json(json_array_get(j, i), p);
    else if (json_is_object(j)) json_object_foreach(j, k, v) learn_json(v, p);
}

static int learn_header(void *baton, const char *key, const char *value)
{
    apr_pool_t *p = baton;
    (void)key;
    apr_hash_set(script.known, apr_pstrdup(p, value), APR_HASH_KEY_STRING, "");
    return 1;
}

static int known(const char *s)
{
    return s && *s && apr_hash_get(script.known, s, APR_HASH_KEY_STRING) != NULL;
}

static void check_url(const char *method, const char *url, apr_pool_t *p)
{
    size_t n = strlen(url), k = strlen(CERT_ID);

    FUZZ_ASSERT(*url);
    if (known(url)) return;
    /* ARI: renewalInfo "/" CERT-ID, renewalInfo being something the CA said */
    FUZZ_ASSERT(!strcmp(method, "GET") && n > k && !strcmp(url + n - k, CERT_ID));
    {
        char *base = apr_pstrmemdup(p, url, n - k);
        if (!known(base)) {
            FUZZ_ASSERT(n - k > 1 && base[n - k - 1] == '/');
            base[n - k - 1] = '\0';
            FUZZ_ASSERT(known(base));
        }
    }
}

static apr_status_t scripted(md_http_response_t **presp, const char *method, const char *url,
                             const char *body, apr_size_t body_len, void *baton, apr_pool_t *p,
                             const char **perr)
{
    md_http_response_t *resp;
    const uint8_t *d;
    size_t n, i = 0;
    json_t *j;

    (void)body; (void)body_len; (void)baton;
    check_url(method, url, p);
    if (script.next >= script.n) {
        *perr = apr_psprintf(p, "%s %s: connection refused (the script ended)", method, url);
        return APR_ECONNREFUSED;
    }
    d = script.part[script.next];
    n = script.len[script.next++];
    resp = apr_pcalloc(p, sizeof(*resp));
    resp->headers = apr_table_make(p, 5);
    while (i < n && d[i] >= '0' && d[i] <= '9' && resp->status < 1000) resp->status = resp->status * 10 + (d[i++] - '0');
    if (!resp->status) resp->status = 200;
    while (i < n && d[i] != '\n') ++i;                   /* rest of the status line */
    if (i < n) ++i;
    while (i < n && d[i] != '\n') {                      /* headers up to an empty line */
        const uint8_t *eol = memchr(d + i, '\n', n - i), *colon;
        size_t e = eol ? (size_t)(eol - d) : n;
        colon = memchr(d + i, ':', e - i);
        if (colon) {
            const uint8_t *v = colon + 1;
            while (v < d + e && *v == ' ') ++v;
            apr_table_addn(resp->headers, fuzz_str(p, d + i, (size_t)(colon - (d + i))),
                           fuzz_str(p, v, (size_t)(d + e - v)));
        }
        i = e < n ? e + 1 : n;
    }
    if (i < n) ++i;                                      /* the empty line */
    resp->body = fuzz_str(p, d + i, n - i);
    resp->body_len = n - i;
    if (!strcmp(method, "HEAD")) {
        resp->body = "";
        resp->body_len = 0;
    }
    apr_table_do(learn_header, p, resp->headers, NULL);
    if ((j = json_loadb(resp->body, resp->body_len, 0, NULL)) != NULL) {
        learn_json(j, p);
        json_decref(j);
    }
    *presp = resp;
    return APR_SUCCESS;
}

static apr_status_t run_dns01(void *baton, const char *verb, const char *domain, const char *token,
                              apr_pool_t *p, const char **perr)
{
    (void)baton; (void)verb; (void)domain; (void)token; (void)p; (void)perr;
    return APR_SUCCESS;
}

static md_t *make_md(unsigned flags, apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 3, sizeof(const char *));
    md_t *md;

    APR_ARRAY_PUSH(names, const char *) = "example.org";
    APR_ARRAY_PUSH(names, const char *) = "www.example.org";
    if (flags & 0x10) APR_ARRAY_PUSH(names, const char *) = "*.example.org";
    md = md_create(p, names);
    md_merge(md, md_create_defaults(p));
    APR_ARRAY_PUSH(md->contacts, const char *) = "mailto:admin@example.org";
    md->ca_agreement = "accepted";
    md->ari_renewals = 1;
    md->acme_tls_1_domains = names;
    if (flags & 0x04) md->dns01_cmd = "/bin/true";
    if (flags & 0x20) md->profile = "shortlived";
    if (flags & 0x80) {
        md->eab_kid = "kid-1";
        md->eab_hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    }
    return md;
}

/* Whatever the order accepted must be ours: independent of md_acme_order's own checks. */
static void check_chain(apr_array_header_t *chain, const md_t *md)
{
    X509 *leaf;
    int i;

    FUZZ_ASSERT(chain && chain->nelts > 0);
    leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    FUZZ_ASSERT(X509_check_private_key(leaf, cert_key) == 1);
    for (i = 0; i < md->domains->nelts; ++i) {
        const char *d = APR_ARRAY_IDX(md->domains, i, const char *);
        FUZZ_ASSERT(X509_check_host(leaf, d, 0, 0, NULL) == 1);
    }
}

static void explained(const md_acme_t *acme, apr_status_t rv)
{
    FUZZ_ASSERT(rv != APR_SUCCESS);
    FUZZ_ASSERT(acme->result->detail && *acme->result->detail);
}

static void converse(unsigned flags, apr_pool_t *p)
{
    md_t *md = make_md(flags, p);
    md_result_t *result = md_result_make(p);
    md_acme_t *acme;
    md_acme_env_t env;
    apr_array_header_t *chain = NULL;
    const char *profile = NULL, *notice = NULL, *body = NULL, *err = NULL;
    apr_size_t len = 0;
    apr_time_t retry, start, end;
    apr_status_t rv;

    if (md_acme_create(&acme, DIR_URL, NULL, result, p) != APR_SUCCESS) abort();
    if ((rv = md_acme_setup(acme)) != APR_SUCCESS) return explained(acme, rv);
    FUZZ_ASSERT(acme->new_nonce && acme->new_account && acme->new_order);
    if (flags & 0x08) {
        md_acme_acct_t acct;
        memset(&acct, 0, sizeof(acct));
        acct.url = "https://ca.test/acct/1";
        acct.ca_url = DIR_URL;
        acct.key = acct_key;
        apr_hash_set(script.known, acct.url, APR_HASH_KEY_STRING, "");
        rv = md_acme_acct_use(acme, &acct, store, p);
    }
    else rv = md_acme_acct_register(acme, md, p);
    if (rv != APR_SUCCESS) return explained(acme, rv);
    FUZZ_ASSERT(acme->acct && acme->acct->url && known(acme->acct->url));

    if ((rv = md_acme_order_profile(&profile, &notice, acme, md, p)) != APR_SUCCESS)
        return explained(acme, rv);
    memset(&env, 0, sizeof(env));
    env.store = store;
    env.can_http = flags & 0x01;
    env.can_https = (flags & 0x02) != 0;
    env.run_dns01 = run_dns01;
    env.poll_timeout = 1;
    env.replaces = flags & 0x40 ? CERT_ID : NULL;
    env.profile = profile;
    rv = md_acme_order_cert(&chain, acme, md, cert_key, &env, p);
    if (rv != APR_SUCCESS) explained(acme, rv);
    else check_chain(chain, md);

    rv = md_acme_ari_get(acme, CERT_ID, &body, &len, &retry, p);
    if (rv == APR_ENOTIMPL) FUZZ_ASSERT(!acme->renewal_info);
    else if (rv != APR_SUCCESS) explained(acme, rv);
    else if (md_ari_parse(&start, &end, &notice, body, len, p, &err) == APR_SUCCESS)
        FUZZ_ASSERT(start && start <= end);
    else FUZZ_ASSERT(err && *err);
}

/* ---- seeds: conversations as pebble holds them ---- */

static const char *answer(apr_pool_t *p, int status, const char *headers, const char *body)
{
    return apr_psprintf(p, "%d\nReplay-Nonce: nonce-%d\n%s%s\n%s", status, rand() % 1000,
                        headers, *headers ? "\n" : "", body);
}

#define JSON_CT "Content-Type: application/json"
#define PROBLEM_CT "Content-Type: application/problem+json"

static void write_seeds(apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 3, sizeof(const char *)), *chain;
    X509 *x;
    const char *pem, *dir, *acct, *order, *authz1, *authz2, *chall, *valid1, *valid2, *ready,
        *processing, *done, *cert, *ari, *s, *authz1_tls, *authz1_dns, *bad_nonce, *order_wild,
        *authz_wild;

    APR_ARRAY_PUSH(names, const char *) = "example.org";
    APR_ARRAY_PUSH(names, const char *) = "www.example.org";
    APR_ARRAY_PUSH(names, const char *) = "*.example.org";
    md_cert_self_sign(&x, "example.org", names, cert_key, apr_time_from_sec(100LL * 365 * 86400), p);
    chain = apr_array_make(p, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(chain, X509 *) = x;
    pem = md_chain_to_pem(chain, p);

    dir = apr_psprintf(p, "200\n%s\n\n{\"newNonce\": \"https://ca.test/nonce-plz\", "
                       "\"newAccount\": \"https://ca.test/sign-me-up\", \"newOrder\": \"https://ca.test/order-plz\", "
                       "\"revokeCert\": \"https://ca.test/revoke-cert\", \"keyChange\": \"https://ca.test/rollover\", "
                       "\"renewalInfo\": \"https://ca.test/renewal-info\", \"meta\": {\"termsOfService\": "
                       "\"data:text/plain,Do%%20what%%20thou%%20wilt\", \"externalAccountRequired\": false, "
                       "\"profiles\": {\"default\": \"The profile you know\", \"shortlived\": \"6 days\"}}}",
                       JSON_CT);
    s = "200\nReplay-Nonce: first-nonce\nCache-Control: no-store\n\n";
    acct = answer(p, 201, JSON_CT "\nLocation: https://ca.test/acct/1",
                  "{\"status\": \"valid\", \"contact\": [\"mailto:admin@example.org\"], \"orders\": \"https://ca.test/list-orderz/1\"}");
    order = answer(p, 201, JSON_CT "\nLocation: https://ca.test/my-order/1",
                   "{\"status\": \"pending\", \"expires\": \"2027-01-01T00:00:00Z\", \"identifiers\": "
                   "[{\"type\": \"dns\", \"value\": \"example.org\"}, {\"type\": \"dns\", \"value\": \"www.example.org\"}], "
                   "\"finalize\": \"https://ca.test/finalize-order/1\", \"authorizations\": "
                   "[\"https://ca.test/authZ/1\", \"https://ca.test/authZ/2\"]}");
    authz1 = answer(p, 200, JSON_CT, "{\"status\": \"pending\", \"identifier\": {\"type\": \"dns\", \"value\": "
                    "\"example.org\"}, \"challenges\": [{\"type\": \"http-01\", \"url\": \"https://ca.test/chalZ/1\", "
                    "\"token\": \"tok1-aB_c\", \"status\": \"pending\"}, {\"type\": \"tls-alpn-01\", \"url\": "
                    "\"https://ca.test/chalZ/2\", \"token\": \"tok2\", \"status\": \"pending\"}, {\"type\": "
                    "\"dns-01\", \"url\": \"https://ca.test/chalZ/3\", \"token\": \"tok3\", \"status\": \"pending\"}], "
                    "\"expires\": \"2027-01-01T00:00:00Z\"}");
    authz2 = answer(p, 200, JSON_CT, "{\"status\": \"pending\", \"identifier\": {\"type\": \"dns\", \"value\": "
                    "\"www.example.org\"}, \"challenges\": [{\"type\": \"http-01\", \"url\": \"https://ca.test/chalZ/4\", "
                    "\"token\": \"tok4\"}, {\"type\": \"tls-alpn-01\", \"url\": \"https://ca.test/chalZ/5\", "
                    "\"token\": \"tok5\"}, {\"type\": \"dns-01\", \"url\": \"https://ca.test/chalZ/6\", \"token\": \"tok6\"}]}");
    chall = answer(p, 200, JSON_CT, "{\"type\": \"http-01\", \"url\": \"https://ca.test/chalZ/1\", "
                   "\"token\": \"tok1-aB_c\", \"status\": \"processing\"}");
    valid1 = answer(p, 200, JSON_CT, "{\"status\": \"valid\", \"identifier\": {\"type\": \"dns\", \"value\": "
                    "\"example.org\"}, \"challenges\": [{\"type\": \"http-01\", \"status\": \"valid\", "
                    "\"url\": \"https://ca.test/chalZ/1\", \"token\": \"tok1-aB_c\", \"validated\": \"2026-12-01T00:00:00Z\"}]}");
    valid2 = answer(p, 200, JSON_CT, "{\"status\": \"valid\", \"identifier\": {\"type\": \"dns\", \"value\": "
                    "\"www.example.org\"}, \"challenges\": []}");
    ready = answer(p, 200, JSON_CT, "{\"status\": \"ready\", \"finalize\": \"https://ca.test/finalize-order/1\"}");
    processing = answer(p, 200, JSON_CT "\nRetry-After: 1", "{\"status\": \"processing\", "
                        "\"finalize\": \"https://ca.test/finalize-order/1\"}");
    done = answer(p, 200, JSON_CT, "{\"status\": \"valid\", \"certificate\": \"https://ca.test/certZ/1\", "
                  "\"finalize\": \"https://ca.test/finalize-order/1\"}");
    cert = answer(p, 200, "Content-Type: application/pem-certificate-chain", pem);
    ari = answer(p, 200, JSON_CT "\nRetry-After: 21600", "{\"suggestedWindow\": {\"start\": "
                 "\"2027-01-02T03:04:05Z\", \"end\": \"2027-01-03T03:04:05Z\"}, \"explanationURL\": "
                 "\"https://ca.test/why\"}");
    bad_nonce = answer(p, 400, PROBLEM_CT, "{\"type\": \"urn:ietf:params:acme:error:badNonce\", "
                       "\"detail\": \"JWS has an invalid anti-replay nonce\", \"status\": 400}");
    authz1_tls = answer(p, 200, JSON_CT, "{\"status\": \"invalid\", \"identifier\": {\"type\": \"dns\", "
                        "\"value\": \"example.org\"}, \"challenges\": [{\"type\": \"tls-alpn-01\", \"status\": "
                        "\"invalid\", \"error\": {\"type\": \"urn:ietf:params:acme:error:connection\", \"detail\": "
                        "\"Connection refused\", \"subproblems\": [{\"type\": \"urn:ietf:params:acme:error:dns\", "
                        "\"identifier\": {\"type\": \"dns\", \"value\": \"example.org\"}}]}}]}");
    authz1_dns = answer(p, 200, JSON_CT, "{\"status\": \"pending\", \"identifier\": {\"type\": \"dns\", \"value\": "
                        "\"example.org\"}, \"wildcard\": true, \"challenges\": [{\"type\": \"dns-01\", "
                        "\"url\": \"https://ca.test/chalZ/3\", \"token\": \"tok3\"}]}");
    order_wild = answer(p, 201, JSON_CT "\nLocation: https://ca.test/my-order/2",
                        "{\"status\": \"pending\", \"finalize\": \"https://ca.test/finalize-order/2\", "
                        "\"authorizations\": [\"https://ca.test/authZ/3\"]}");
    authz_wild = authz1_dns;

#define SEP "\n===\n"
    s = apr_pstrcat(p, dir, SEP, s, SEP, acct, SEP, order, SEP, authz1, SEP, chall, SEP, authz2, SEP,
                    chall, SEP, valid1, SEP, valid2, SEP, ready, SEP, processing, SEP, processing, SEP,
                    done, SEP, cert, SEP, ari, NULL);
    fuzz_seed("http01-new-account", 0x01, s, strlen(s));
    s = apr_pstrcat(p, dir, SEP, "200\nReplay-Nonce: n1\n\n", SEP, bad_nonce, SEP, acct, SEP, order, SEP,
                    authz1, SEP, chall, SEP, authz2, SEP, chall, SEP, authz1_tls, NULL);
    fuzz_seed("tls-alpn01-bad-nonce-invalid", 0x02 | 0x20 | 0x40, s, strlen(s));
    s = apr_pstrcat(p, dir, SEP, "200\nReplay-Nonce: n1\n\n", SEP, acct, SEP, order_wild, SEP, authz_wild, SEP,
                    chall, SEP, valid1, SEP, ready, SEP, done, SEP, done, SEP, cert, SEP,
                    answer(p, 404, PROBLEM_CT, "{\"type\": \"urn:ietf:params:acme:error:malformed\", "
                           "\"detail\": \"no such certificate\"}"), NULL);
    fuzz_seed("dns01-wildcard-existing-account", 0x04 | 0x08 | 0x10, s, strlen(s));
    s = apr_pstrcat(p, dir, SEP, "200\nReplay-Nonce: n1\n\n", SEP,
                    answer(p, 403, PROBLEM_CT, "{\"type\": \"urn:ietf:params:acme:error:unauthorized\", "
                           "\"detail\": \"account deactivated\"}"), NULL);
    fuzz_seed("account-unauthorized", 0x08, s, strlen(s));
    s = apr_pstrcat(p, dir, SEP, "200\nReplay-Nonce: n1\n\n", SEP, acct, SEP,
                    answer(p, 429, PROBLEM_CT "\nRetry-After: Tue, 24 Nov 2026 12:41:22 GMT",
                           "{\"type\": \"urn:ietf:params:acme:error:rateLimited\", \"detail\": \"too many\", "
                           "\"subproblems\": []}"), NULL);
    fuzz_seed("order-rate-limited-eab", 0x80 | 0x01, s, strlen(s));
    s = apr_pstrcat(p, "200\n" JSON_CT "\n\n{\"newNonce\": \"https://ca.test/n\", \"newAccount\": "
                    "\"https://ca.test/a\", \"newOrder\": \"https://ca.test/o\"}", SEP,
                    "200\nReplay-Nonce: n1\n\n", SEP, acct, SEP, order, NULL);
    fuzz_seed("directory-minimal", 0x01, s, strlen(s));
    _exit(0);
}

static void init(void)
{
    apr_pool_t *p = fuzz_root();
    const char *err = NULL;
    static const md_pkey_spec_t spec = { MD_PKEY_EC, 0, "secp256r1" };

    if (md_pkey_from_pem(&cert_key, cert_key_pem, sizeof(cert_key_pem) - 1, NULL, 0, p) != APR_SUCCESS
        || md_pkey_gen(&acct_key, &spec, p) != APR_SUCCESS
        || md_store_open(&store, apr_pstrcat(p, fuzz_tmpdir(), "/store", NULL), p, &err) != APR_SUCCESS) {
        fprintf(stderr, "fuzz_md_acme: set-up failed: %s\n", err ? err : "keys");
        abort();
    }
    md_store_setup_groups(store, p);
    md_http_set_transport(scripted, NULL);
    if (fuzz_seeds_wanted()) write_seeds(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;

    if (!store) {
        fuzz_init_begin();
        init();
        fuzz_init_end();
    }
    if (size < 1) return 0;
    p = fuzz_run_pool();
    script.n = fuzz_split(data + 1, size - 1, "\n===\n", MAX_ANSWERS, script.part, script.len);
    script.next = 0;
    script.known = apr_hash_make(p);
    apr_hash_set(script.known, DIR_URL, APR_HASH_KEY_STRING, "");
    converse(data[0], p);
    fuzz_run_end(p);
    return 0;
}
