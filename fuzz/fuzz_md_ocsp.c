/* fuzz_md_ocsp: OCSP responses for stapling (md_ocsp.c), verified against a real issuer made
 * at start (its key is fixed, so that the committed seeds verify), a delegated responder it
 * certified for OCSP signing, a responder it certified without that purpose, and a rogue
 * responder it never certified.
 *
 * The first byte chooses:
 *   0  a DER response as a responder would send it: what is accepted is valid now (with
 *      the leeway), refused with a byte more, and survives the store (save, load, verify
 *      again) unchanged;
 *   1  a response the harness signs: byte 1 the signer (issuer, delegated, delegated without
 *      its certificate in the response, no OCSP purpose, rogue), byte 2 the status and
 *      whether the cert id is ours, bytes 3-4 thisUpdate (hours ago), bytes 5-6 nextUpdate
 *      (hours ahead, 0: none), then byte edits (offset u16, xor u8). Never accepted from
 *      a signer the issuer did not authorize; always accepted when untouched, ours, in time
 *      and authorized; when accepted after edits, it says exactly what was signed;
 *   2  the store file ocsp/<md>/ocsp-<sha1>.json: accepted only with a response that
 *      verifies (same properties as 0).
 */
#include <unistd.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fuzz.h"
#include "md.h"
#include "md_crypt.h"
#include "md_ocsp.h"
#include "md_store.h"
#include "md_util.h"

static const char issuer_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg55O84a/u/HRQut9f\n"
    "MOJM9Ihy2idyOa1mt8cXXGTd0s6hRANCAASkrFKlwRK1gWFZ1hxcEZ8coLA8ISds\n"
    "uKsI16hC+KCIRMLkgXXDAoS6POV1SNkbTbJwGXZ2Gsae1mXwJ65mJ/01\n"
    "-----END PRIVATE KEY-----\n";

enum { SIGNER_ISSUER, SIGNER_DELEGATED, SIGNER_DELEGATED_NOCERT, SIGNER_NO_EKU, SIGNER_ROGUE, SIGNERS };

static EVP_PKEY *keys[SIGNERS];
static X509 *certs[SIGNERS], *leaf, *other;
static md_ocsp_cert_t *target;
static md_store_t *store;

static X509 *make_cert(const char *cn, long serial, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey,
                       const char *eku, int ca)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400);
    X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 86400);
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    if (ca) {
        e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    if (eku) {
        e = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage, eku);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    X509_sign(x, ikey, EVP_sha256());
    X509_NAME_free(n);
    return x;
}

static EVP_PKEY *gen_key(void)
{
    static const md_pkey_spec_t spec = { MD_PKEY_EC, 0, "secp256r1" };
    EVP_PKEY *k;
    if (md_pkey_gen(&k, &spec, fuzz_root()) != APR_SUCCESS) abort();
    return k;
}

/* A response for id signed by signer, DER in p. */
static unsigned char *make_resp(size_t *plen, int signer, int status, int ours, long this_h,
                                long next_h, apr_pool_t *p)
{
    OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
    OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), ours ? leaf : other, certs[SIGNER_ISSUER]);
    ASN1_TIME *tu = X509_gmtime_adj(NULL, -this_h * 3600), *nu = next_h ? X509_gmtime_adj(NULL, next_h * 3600) : NULL;
    ASN1_TIME *rev = status == V_OCSP_CERTSTATUS_REVOKED ? X509_gmtime_adj(NULL, -86400) : NULL;
    STACK_OF(X509) *extra = sk_X509_new_null();
    OCSP_RESPONSE *r;
    unsigned char *der = NULL, *out;
    int len;

    OCSP_basic_add1_status(bs, id, status, status == V_OCSP_CERTSTATUS_REVOKED ? 1 : -1, rev, tu, nu);
    OCSP_basic_sign(bs, certs[signer], keys[signer], EVP_sha256(), extra,
                    signer == SIGNER_ISSUER || signer == SIGNER_DELEGATED_NOCERT ? OCSP_NOCERTS : 0);
    r = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
    len = i2d_OCSP_RESPONSE(r, &der);
    out = apr_pmemdup(p, der, (apr_size_t)len);
    *plen = (size_t)len;
    OPENSSL_free(der);
    OCSP_RESPONSE_free(r);
    OCSP_BASICRESP_free(bs);
    OCSP_CERTID_free(id);
    ASN1_TIME_free(tu);
    ASN1_TIME_free(nu);
    ASN1_TIME_free(rev);
    sk_X509_free(extra);
    return out;
}

static void write_seeds(apr_pool_t *p)
{
    static const unsigned char built[][7] = {
        { 0, V_OCSP_CERTSTATUS_GOOD, 0, 1, 0, 24 }, { 1, V_OCSP_CERTSTATUS_REVOKED, 0, 1, 0, 0 },
        { 3, V_OCSP_CERTSTATUS_GOOD, 0, 1, 0, 24 }, { 4, V_OCSP_CERTSTATUS_GOOD, 0, 1, 0, 24 },
        { 2, V_OCSP_CERTSTATUS_UNKNOWN, 0, 2, 0, 12 } };
    char name[32];
    size_t len, i;
    unsigned char *der;
    md_ocsp_resp_t *resp;
    const char *err, *s;
    json_t *j;

    /* valid for a century: the seed verifies for as long as anyone runs it */
    der = make_resp(&len, SIGNER_ISSUER, V_OCSP_CERTSTATUS_GOOD, 1, 1, 100L * 365 * 24, p);
    fuzz_seed("der-issuer-good", 0, der, len);
    der = make_resp(&len, SIGNER_DELEGATED, V_OCSP_CERTSTATUS_REVOKED, 1, 1, 100L * 365 * 24, p);
    fuzz_seed("der-delegated-revoked", 0, der, len);
    for (i = 0; i < sizeof(built) / sizeof(built[0]); ++i) {
        snprintf(name, sizeof(name), "built-%zu", i);
        fuzz_seed(name, 1, built[i], sizeof(built[i]));
    }
    der = make_resp(&len, SIGNER_ISSUER, V_OCSP_CERTSTATUS_GOOD, 1, 1, 100L * 365 * 24, p);
    if (md_ocsp_resp_verify(&resp, target, der, len, apr_time_now(), p, &err) != APR_SUCCESS) abort();
    j = md_ocsp_resp_to_json(resp, p);
    s = json_dumps(j, JSON_INDENT(2));
    fuzz_seed("store-file", 2, s, strlen(s));
    json_decref(j);
    _exit(0);
}

static void init(void)
{
    apr_pool_t *p = fuzz_root();
    const char *err = NULL;
    X509 *ca;

    if (md_pkey_from_pem(&keys[SIGNER_ISSUER], issuer_key_pem, sizeof(issuer_key_pem) - 1, NULL, 0, p)
        != APR_SUCCESS) abort();
    ca = certs[SIGNER_ISSUER] = make_cert("Fuzz OCSP CA", 1, keys[SIGNER_ISSUER], NULL, keys[SIGNER_ISSUER], NULL, 1);
    keys[SIGNER_DELEGATED] = keys[SIGNER_DELEGATED_NOCERT] = gen_key();
    certs[SIGNER_DELEGATED] = certs[SIGNER_DELEGATED_NOCERT] =
        make_cert("Fuzz OCSP responder", 2, keys[SIGNER_DELEGATED], ca, keys[SIGNER_ISSUER], "OCSPSigning", 0);
    keys[SIGNER_NO_EKU] = gen_key();
    certs[SIGNER_NO_EKU] = make_cert("Fuzz not a responder", 3, keys[SIGNER_NO_EKU], ca,
                                     keys[SIGNER_ISSUER], "serverAuth", 0);
    keys[SIGNER_ROGUE] = gen_key();
    certs[SIGNER_ROGUE] = make_cert("Fuzz OCSP CA", 1, keys[SIGNER_ROGUE], NULL, keys[SIGNER_ROGUE],
                                    "OCSPSigning", 1);
    leaf = make_cert("fuzz.example.org", 4242, gen_key(), ca, keys[SIGNER_ISSUER], "serverAuth", 0);
    other = make_cert("other.example.org", 4343, gen_key(), ca, keys[SIGNER_ISSUER], "serverAuth", 0);
    if (md_ocsp_cert_make(&target, leaf, ca, p, &err) != APR_SUCCESS
        || md_store_open(&store, apr_pstrcat(p, fuzz_tmpdir(), "/store", NULL), p, &err) != APR_SUCCESS) {
        fprintf(stderr, "fuzz_md_ocsp: set-up failed: %s\n", err);
        abort();
    }
    md_store_setup_groups(store, p);
    if (fuzz_seeds_wanted()) write_seeds(p);
}

/* What every accepted response satisfies; it also survives the store. */
static void check_accepted(const md_ocsp_resp_t *r, apr_time_t now, apr_pool_t *p)
{
    md_ocsp_resp_t *back;
    const char *err = NULL;

    FUZZ_ASSERT(r->status == MD_OCSP_GOOD || r->status == MD_OCSP_REVOKED || r->status == MD_OCSP_UNKNOWN);
    FUZZ_ASSERT(r->valid_from && r->valid_from <= now + MD_OCSP_LEEWAY);
    FUZZ_ASSERT(r->valid_until > r->valid_from && r->valid_until > now);
    FUZZ_ASSERT(md_ocsp_store_save(store, "fuzz.example.org", target, r, p) == APR_SUCCESS);
    FUZZ_ASSERT(md_ocsp_store_load(&back, store, "fuzz.example.org", target, now, p, &err) == APR_SUCCESS);
    FUZZ_ASSERT(back->status == r->status && back->valid_from == r->valid_from
                && back->valid_until == r->valid_until);
    FUZZ_ASSERT(back->der_len == r->der_len && !memcmp(back->der, r->der, r->der_len));
}

static void check_der(const uint8_t *d, size_t n, apr_pool_t *p)
{
    md_ocsp_resp_t *r;
    const char *err = NULL;
    apr_time_t now = apr_time_now();
    unsigned char *more;

    if (md_ocsp_resp_verify(&r, target, d, n, now, p, &err) != APR_SUCCESS) {
        FUZZ_ASSERT(err != NULL);
        return;
    }
    check_accepted(r, now, p);
    more = apr_palloc(p, n + 1);
    memcpy(more, d, n);
    more[n] = 0;
    FUZZ_ASSERT(md_ocsp_resp_verify(&r, target, more, n + 1, now, p, &err) != APR_SUCCESS);
}

static void check_built(const uint8_t *d, size_t n, apr_pool_t *p)
{
    static const int statuses[] = { V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_REVOKED, V_OCSP_CERTSTATUS_UNKNOWN };
    static const md_ocsp_status_t ours[] = { MD_OCSP_GOOD, MD_OCSP_REVOKED, MD_OCSP_UNKNOWN };
    int signer, st, mine, authorized;
    long this_h, next_h;
    size_t len, i;
    unsigned char *der;
    md_ocsp_resp_t *r, *clean = NULL;
    const char *err = NULL;
    apr_time_t now = apr_time_now();

    if (n < 6) return;
    signer = d[0] % SIGNERS;
    st = d[1] % 3;
    mine = !(d[1] & 0x80);
    this_h = ((long)d[2] << 8 | d[3]) % (24 * 400);
    next_h = ((long)d[4] << 8 | d[5]) % (24 * 400);
    der = make_resp(&len, signer, statuses[st], mine, this_h, next_h, p);
    authorized = signer == SIGNER_ISSUER || signer == SIGNER_DELEGATED;
    if (md_ocsp_resp_verify(&clean, target, der, len, now, p, &err) == APR_SUCCESS) {
        FUZZ_ASSERT(authorized && mine);
        FUZZ_ASSERT(clean->status == ours[st]);
        check_accepted(clean, now, p);
    }
    else if (authorized && mine && this_h * 3600 < 100 * 24 * 3600 && (next_h == 0 ? this_h < 11 : next_h > 0)) {
        /* untouched, ours, current and signed by someone allowed to: must verify */
        fprintf(stderr, "refused: %s\n", err);
        FUZZ_ASSERT(0);
    }
    for (i = 6; i + 3 <= n; i += 3) der[(((size_t)d[i] << 8) | d[i + 1]) % len] ^= d[i + 2];
    if (md_ocsp_resp_verify(&r, target, der, len, now, p, &err) == APR_SUCCESS) {
        FUZZ_ASSERT(authorized && mine);
        FUZZ_ASSERT(clean != NULL);
        FUZZ_ASSERT(r->status == clean->status && r->valid_from == clean->valid_from
                    && r->valid_until == clean->valid_until);
    }
}

static void check_store_file(const uint8_t *d, size_t n, apr_pool_t *p)
{
    const char *path = md_store_path(store, MD_SG_OCSP, "other", md_ocsp_fname(target, p), p);
    md_ocsp_resp_t *r;
    const char *err = NULL;
    apr_time_t now = apr_time_now();

    md_util_mkdirs(md_store_path(store, MD_SG_OCSP, "other", NULL, p), 0700, p);
    FUZZ_ASSERT(md_util_file_write_atomic(path, d, n, 0600, p) == APR_SUCCESS);
    if (md_ocsp_store_load(&r, store, "other", target, now, p, &err) != APR_SUCCESS) return;
    check_accepted(r, now, p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;

    if (!target) {
        fuzz_init_begin();
        init();
        fuzz_init_end();
    }
    if (size < 1) return 0;
    p = fuzz_run_pool();
    switch (data[0] % 3) {
    case 0: check_der(data + 1, size - 1, p); break;
    case 1: check_built(data + 1, size - 1, p); break;
    default: check_store_file(data + 1, size - 1, p); break;
    }
    fuzz_run_end(p);
    return 0;
}
