/* fuzz_md_jws: base64url (md_util.c) and the JWS that ACME requests are made of (md_jws.c).
 *
 * The first byte chooses:
 *   0  base64url text: what decodes encodes to text that decodes to the same bytes;
 *   1  bytes: they encode to base64url characters only and decode back;
 *   2  a request, lines "kid", "nonce", "url", then the payload (kid "-": none, the JWK is
 *      sent; the byte after the selector picks the key: P-256, P-384 or RSA): the JWS is
 *      either refused or carries exactly these values in its protected header, exactly the
 *      payload, and a signature that verifies with the key over both;
 *   3  an external account binding, lines "kid", "url", then the HMAC key: HS256 over the
 *      account's JWK with exactly that kid and url, or nothing.
 */
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz.h"
#include "md.h"
#include "md_crypt.h"
#include "md_jws.h"
#include "md_util.h"

static EVP_PKEY *keys[3];

#define SEED(name, text) { name, text, sizeof(text) - 1 }

static void write_seeds(void)
{
    static const struct { const char *name, *data; size_t len; } seeds[] = {
        SEED("b64url", "\x00" "eyJhbGciOiJFUzI1NiJ9"), SEED("b64url-specials", "\x00" "_-8"),
        SEED("bytes", "\x01" "\x00\xff\xfe{}"),
        SEED("sign-es256", "\x02\x00" "https://127.0.0.1:14000/my-account/1\n"
             "zincQe3fUEmeGR_UdfxGOg\nhttps://127.0.0.1:14000/order-plz\n"
             "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"example.org\"}]}"),
        SEED("sign-jwk-es384", "\x02\x01" "-\nnonce-1\nhttps://127.0.0.1:14000/sign-me-up\n{\"contact\":[]}"),
        SEED("sign-rsa-post-as-get", "\x02\x02" "https://ca/acct/1\nn\nhttps://ca/authz/1\n"),
        SEED("eab", "\x03" "kid-1\nhttps://ca/new-account\n"
             "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"),
    };
    size_t i;
    for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); ++i)
        fuzz_seed(seeds[i].name, -1, seeds[i].data, seeds[i].len);
    _exit(0);
}

static void init(void)
{
    static const md_pkey_spec_t specs[3] = {
        { MD_PKEY_EC, 0, "secp256r1" }, { MD_PKEY_EC, 0, "secp384r1" }, { MD_PKEY_RSA, 2048, NULL } };
    int i;
    for (i = 0; i < 3; ++i) {
        if (md_pkey_gen(&keys[i], &specs[i], fuzz_root()) != APR_SUCCESS) abort();
    }
    if (fuzz_seeds_wanted()) write_seeds();
}

static void check_b64_text(const char *s, apr_pool_t *p)
{
    unsigned char *d, *again;
    long n = md_util_base64url_decode(p, s, &d), m;
    const char *e;

    if (n < 0) return;
    e = md_util_base64url_encode(p, d, (apr_size_t)n);
    FUZZ_ASSERT(strlen(e) <= strlen(s));
    m = md_util_base64url_decode(p, e, &again);
    FUZZ_ASSERT(m == n && !memcmp(again, d, (size_t)n));
}

static void check_b64_bytes(const uint8_t *d, size_t n, apr_pool_t *p)
{
    const char *e = md_util_base64url_encode(p, d, n), *c;
    unsigned char *back;
    long m;

    for (c = e; *c; ++c)
        FUZZ_ASSERT((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')
                    || *c == '-' || *c == '_');
    FUZZ_ASSERT(strlen(e) == (n * 4 + 2) / 3);
    m = md_util_base64url_decode(p, e, &back);
    FUZZ_ASSERT(m == (long)n && !memcmp(back, d, n));
}

/* base64url member of a JSON object, decoded and NUL-terminated */
static char *b64_member(json_t *j, const char *name, long *plen, apr_pool_t *p)
{
    const char *s = json_string_value(json_object_get(j, name));
    unsigned char *d;
    long n;
    char *r;

    FUZZ_ASSERT(s != NULL);
    n = md_util_base64url_decode(p, s, &d);
    FUZZ_ASSERT(n >= 0);
    r = apr_palloc(p, (apr_size_t)n + 1);
    memcpy(r, d, (size_t)n);
    r[n] = '\0';
    if (plen) *plen = n;
    return r;
}

static void verify_sig(EVP_PKEY *key, const char *alg, const char *input, const unsigned char *sig,
                       long siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const EVP_MD *md = !strcmp(alg, "ES384") ? EVP_sha384() : EVP_sha256();
    unsigned char *der = NULL;
    int derlen = 0, ok;

    if (EVP_PKEY_is_a(key, "EC")) {
        ECDSA_SIG *es = ECDSA_SIG_new();
        long w = siglen / 2;
        FUZZ_ASSERT(siglen == 2 * ((EVP_PKEY_get_bits(key) + 7) / 8));
        ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)w, NULL), BN_bin2bn(sig + w, (int)w, NULL));
        derlen = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        sig = der;
        siglen = derlen;
    }
    ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1
         && EVP_DigestVerify(ctx, sig, (size_t)siglen, (const unsigned char *)input, strlen(input)) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    FUZZ_ASSERT(ok);
}

static void check_sign(const uint8_t *d, size_t n, apr_pool_t *p)
{
    const uint8_t *parts[4];
    size_t lens[4];
    EVP_PKEY *key;
    const char *kid, *nonce, *url, *payload, *jws, *err = NULL, *alg;
    json_t *j, *prot;
    char *ptext, *ptext_payload, *sig;
    long siglen, plen;

    if (n < 1) return;
    key = keys[d[0] % 3];
    if (fuzz_split(d + 1, n - 1, "\n", 4, parts, lens) != 4) return;
    kid = fuzz_str(p, parts[0], lens[0]);
    if (!strcmp(kid, "-")) kid = NULL;
    nonce = fuzz_str(p, parts[1], lens[1]);
    url = fuzz_str(p, parts[2], lens[2]);
    payload = fuzz_str(p, parts[3], lens[3]);
    if (md_jws_sign(&jws, key, kid, nonce, url, payload, p, &err) != APR_SUCCESS) {
        FUZZ_ASSERT(err != NULL);
        return;
    }
    j = json_loads(jws, 0, NULL);
    FUZZ_ASSERT(json_is_object(j) && json_object_size(j) == 3);
    ptext = b64_member(j, "protected", NULL, p);
    prot = json_loads(ptext, 0, NULL);
    FUZZ_ASSERT(json_is_object(prot));
    alg = json_string_value(json_object_get(prot, "alg"));
    FUZZ_ASSERT(alg != NULL);
    FUZZ_ASSERT(!strcmp(json_string_value(json_object_get(prot, "nonce")) ?: "(none)", nonce));
    FUZZ_ASSERT(!strcmp(json_string_value(json_object_get(prot, "url")) ?: "(none)", url));
    if (kid) {
        FUZZ_ASSERT(!strcmp(json_string_value(json_object_get(prot, "kid")) ?: "(none)", kid));
        FUZZ_ASSERT(!json_object_get(prot, "jwk"));
    }
    else FUZZ_ASSERT(json_is_object(json_object_get(prot, "jwk")) && !json_object_get(prot, "kid"));
    ptext_payload = b64_member(j, "payload", &plen, p);
    FUZZ_ASSERT(plen == (long)strlen(payload) && !strcmp(ptext_payload, payload));
    sig = b64_member(j, "signature", &siglen, p);
    verify_sig(key, alg, apr_pstrcat(p, json_string_value(json_object_get(j, "protected")), ".",
                                     json_string_value(json_object_get(j, "payload")), NULL),
               (const unsigned char *)sig, siglen);
    json_decref(prot);
    json_decref(j);
}

static void check_eab(const uint8_t *d, size_t n, apr_pool_t *p)
{
    const uint8_t *parts[3];
    size_t lens[3];
    const char *kid, *url, *input;
    json_t *eab, *prot, *jwk, *payload;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char *sig;
    long siglen;

    if (fuzz_split(d, n, "\n", 3, parts, lens) != 3) return;
    kid = fuzz_str(p, parts[0], lens[0]);
    url = fuzz_str(p, parts[1], lens[1]);
    eab = md_jws_eab(keys[0], kid, parts[2], lens[2], url, p);
    if (!eab) return;
    prot = json_loads(b64_member(eab, "protected", NULL, p), 0, NULL);
    FUZZ_ASSERT(json_is_object(prot));
    FUZZ_ASSERT(!strcmp(json_string_value(json_object_get(prot, "alg")) ?: "", "HS256"));
    FUZZ_ASSERT(!strcmp(json_string_value(json_object_get(prot, "kid")) ?: "(none)", kid));
    FUZZ_ASSERT(!strcmp(json_string_value(json_object_get(prot, "url")) ?: "(none)", url));
    payload = json_loads(b64_member(eab, "payload", NULL, p), 0, NULL);
    jwk = md_jws_jwk(keys[0]);
    FUZZ_ASSERT(json_equal(payload, jwk));
    input = apr_pstrcat(p, json_string_value(json_object_get(eab, "protected")), ".",
                        json_string_value(json_object_get(eab, "payload")), NULL);
    HMAC(EVP_sha256(), parts[2], (int)lens[2], (const unsigned char *)input, strlen(input), mac, &maclen);
    sig = b64_member(eab, "signature", &siglen, p);
    FUZZ_ASSERT(siglen == (long)maclen && !memcmp(sig, mac, maclen));
    json_decref(jwk);
    json_decref(payload);
    json_decref(prot);
    json_decref(eab);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;

    if (!keys[0]) {
        fuzz_init_begin();
        init();
        fuzz_init_end();
    }
    if (size < 1) return 0;
    p = fuzz_run_pool();
    switch (data[0] % 4) {
    case 0: check_b64_text(fuzz_str(p, data + 1, size - 1), p); break;
    case 1: check_b64_bytes(data + 1, size - 1, p); break;
    case 2: check_sign(data + 1, size - 1, p); break;
    default: check_eab(data + 1, size - 1, p); break;
    }
    fuzz_run_end(p);
    return 0;
}
