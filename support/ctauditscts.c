/* ctauditscts.c: offline audit of the SCTs that mod_ssl_ct's proxy saw.
 *
 *   ctauditscts [-t SECONDS] [-m MMD-SECONDS] [-l KEYFILE=URL]... AUDIT_DIR [LOG_DB]
 *
 * Reads every audit_*.out file of AUDIT_DIR (CTAuditStorage), and for each certificate and
 * SCT asks the SCT's log for its signed tree head (get-sth, signature checked when the
 * log's key is known) and an inclusion proof (get-proof-by-hash), then checks the Merkle
 * audit path itself (RFC 6962 2.1.1). Logs are found by log id in LOG_DB (CTLogConfigDB)
 * and in -l options. Before any question about inclusion, the SCT's signature is checked
 * with the log's key (when known) and its timestamp must not lie in the future. Each SCT
 * is reported as: included, not yet included (inside the maximum merge delay), not found,
 * log unreachable, unknown log, invalid proof, invalid signature or future timestamp.
 * Exit status: 0 when nothing failed (included or not yet included), 1 on a usage error,
 * 2 when any SCT was not found, had a bad signature or a future timestamp, a log was
 * unreachable or unknown, a proof or tree head did not verify, or an audit file was
 * damaged.
 * Built on the ct_* core: audit codec, Merkle hashes and paths, log DB and ids, HTTP GET.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_getopt.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/objects.h>

#include "ct_audit.h"
#include "ct_sct.h"
#include "ct_sct_verify.h"
#include "ct_log.h"
#include "ct_merkle.h"
#include "ct_store.h"
#include "ct_submit.h"

typedef enum { R_INCLUDED, R_PENDING, R_NOT_FOUND, R_UNREACHABLE, R_UNKNOWN, R_BAD,
               R_BAD_SIG, R_FUTURE, R_MAX } result_t;
static const char *result_names[R_MAX] = {
    "included", "not yet included", "not found", "log unreachable", "unknown log",
    "invalid proof", "invalid signature", "timestamp in the future"
};

typedef struct {
    const char *url;
    EVP_PKEY *pkey;
    int fetched;
    const char *error;             /* set when the tree head could not be had */
    apr_uint64_t tree_size;
    apr_uint64_t timestamp;
    unsigned char root[CT_HASH_LEN];
} sth_t;

static long timeout_s = 10;
static apr_uint64_t mmd_ms = 24ULL * 3600 * 1000;
static ct_logs_t *known_logs;      /* every log with its key, for the SCT signatures */

static long b64dec(apr_pool_t *p, const char *s, unsigned char **out)
{
    size_t n = strlen(s);
    int len;

    if (n == 0 || n % 4) return -1;
    *out = apr_palloc(p, n / 4 * 3 + 1);
    len = EVP_DecodeBlock(*out, (const unsigned char *)s, (int)n);
    if (len < 0) return -1;
    if (s[n - 1] == '=') len--;
    if (s[n - 2] == '=') len--;
    return len;
}

static const char *endpoint(apr_pool_t *p, const char *url, const char *path)
{
    return apr_pstrcat(p, url, url[strlen(url) - 1] == '/' ? "" : "/", path, NULL);
}

/* RFC 6962 3.5: the signature over version, tree_hash, timestamp, size and root, as a
 * DigitallySigned struct: hash algorithm sha256 (4), the signature algorithm of the log's
 * key (ecdsa 3, rsa 1), u16 length, signature. NULL when it verifies, else why not. */
static const char *sth_signature_problem(sth_t *sth, const unsigned char *sig, long siglen,
                                         apr_pool_t *p)
{
    unsigned char data[2 + 8 + 8 + CT_HASH_LEN];
    EVP_MD_CTX *md;
    int i, ok, want;

    if (siglen < 4 || ((long)sig[2] << 8 | sig[3]) != siglen - 4)
        return "tree head signature is not a DigitallySigned struct";
    want = EVP_PKEY_get_base_id(sth->pkey) == EVP_PKEY_EC ? 3
           : EVP_PKEY_get_base_id(sth->pkey) == EVP_PKEY_RSA ? 1 : -1;
    if (sig[0] != 4 || sig[1] != want)
        return apr_psprintf(p, "tree head signature names hash algorithm %d and signature "
                            "algorithm %d; the log's key needs %d (sha256) and %d", sig[0],
                            sig[1], 4, want);
    data[0] = 0;
    data[1] = 1;
    for (i = 0; i < 8; ++i) {
        data[2 + i] = (unsigned char)(sth->timestamp >> (56 - 8 * i));
        data[10 + i] = (unsigned char)(sth->tree_size >> (56 - 8 * i));
    }
    memcpy(data + 18, sth->root, CT_HASH_LEN);
    md = EVP_MD_CTX_new();
    ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, sth->pkey) == 1
         && EVP_DigestVerify(md, sig + 4, (size_t)(siglen - 4), data, sizeof(data)) == 1;
    EVP_MD_CTX_free(md);
    return ok ? NULL : "tree head signature does not verify with the log's key";
}

static void fetch_sth(sth_t *sth, apr_pool_t *p)
{
    const char *err = NULL;
    char *body;
    apr_size_t len;
    int status;
    json_t *j;
    json_error_t je;
    unsigned char *root = NULL, *sig = NULL;
    long rlen, slen;

    sth->fetched = 1;
    if (ct_submit_http_get(&status, &body, &len, endpoint(p, sth->url, "ct/v1/get-sth"),
                           timeout_s, p, &err) != APR_SUCCESS) {
        sth->error = err;
        return;
    }
    if (status != 200) {
        sth->error = apr_psprintf(p, "get-sth answered HTTP %d", status);
        return;
    }
    j = json_loadb(body, len, 0, &je);
    if (!j || !json_is_integer(json_object_get(j, "tree_size"))
        || !json_is_integer(json_object_get(j, "timestamp"))
        || json_integer_value(json_object_get(j, "tree_size")) < 0
        || json_integer_value(json_object_get(j, "timestamp")) < 0
        || !json_is_string(json_object_get(j, "sha256_root_hash"))
        || (rlen = b64dec(p, json_string_value(json_object_get(j, "sha256_root_hash")), &root))
           != CT_HASH_LEN) {
        sth->error = "get-sth answer is not a valid tree head";
        json_decref(j);
        return;
    }
    sth->tree_size = (apr_uint64_t)json_integer_value(json_object_get(j, "tree_size"));
    sth->timestamp = (apr_uint64_t)json_integer_value(json_object_get(j, "timestamp"));
    memcpy(sth->root, root, CT_HASH_LEN);
    if (sth->pkey) {
        json_t *js = json_object_get(j, "tree_head_signature");
        slen = json_is_string(js) ? b64dec(p, json_string_value(js), &sig) : -1;
        sth->error = slen < 0 ? "tree head has no readable signature"
                              : sth_signature_problem(sth, sig, slen, p);
    }
    json_decref(j);
}

/* Ask for an inclusion proof of leaf in the tree head and check it. */
static result_t prove(sth_t *sth, const unsigned char leaf[CT_HASH_LEN], apr_pool_t *p,
                      const char **detail)
{
    const char *err = NULL, *hash, *url;
    unsigned char *h;
    char *body, *q;
    apr_size_t len;
    int status, i;
    json_t *j, *pathj;
    json_error_t je;
    apr_array_header_t *path;
    apr_uint64_t index;
    result_t r;

    h = apr_palloc(p, 4 * (CT_HASH_LEN / 3 + 1) + 1);
    EVP_EncodeBlock(h, leaf, CT_HASH_LEN);
    q = curl_easy_escape(NULL, (const char *)h, 0);
    hash = apr_pstrdup(p, q);
    curl_free(q);
    url = apr_psprintf(p, "%s?hash=%s&tree_size=%" APR_UINT64_T_FMT,
                       endpoint(p, sth->url, "ct/v1/get-proof-by-hash"), hash, sth->tree_size);
    if (ct_submit_http_get(&status, &body, &len, url, timeout_s, p, &err) != APR_SUCCESS) {
        *detail = err;
        return R_UNREACHABLE;
    }
    if (status == 404 || status == 400) return R_NOT_FOUND;
    if (status != 200) {
        *detail = apr_psprintf(p, "get-proof-by-hash answered HTTP %d", status);
        return R_UNREACHABLE;
    }
    j = json_loadb(body, len, 0, &je);
    pathj = j ? json_object_get(j, "audit_path") : NULL;
    if (!j || !json_is_integer(json_object_get(j, "leaf_index")) || !json_is_array(pathj)
        || json_integer_value(json_object_get(j, "leaf_index")) < 0) {
        *detail = "get-proof-by-hash answer is not a valid proof";
        json_decref(j);
        return R_BAD;
    }
    index = (apr_uint64_t)json_integer_value(json_object_get(j, "leaf_index"));
    path = apr_array_make(p, 16, sizeof(const unsigned char *));
    r = R_INCLUDED;
    for (i = 0; i < (int)json_array_size(pathj) && r == R_INCLUDED; ++i) {
        json_t *e = json_array_get(pathj, (size_t)i);
        unsigned char *node;
        if (!json_is_string(e) || b64dec(p, json_string_value(e), &node) != CT_HASH_LEN) {
            r = R_BAD;
        }
        else {
            APR_ARRAY_PUSH(path, const unsigned char *) = node;
        }
    }
    if (r == R_INCLUDED && !ct_merkle_verify_path(leaf, index, sth->tree_size, path,
                                                  sth->root)) {
        r = R_BAD;
    }
    if (r == R_BAD) *detail = "the audit path does not lead to the tree head's root";
    else *detail = apr_psprintf(p, "leaf %" APR_UINT64_T_FMT " of %" APR_UINT64_T_FMT,
                                index, sth->tree_size);
    json_decref(j);
    return r;
}

static X509 *der_cert(const ct_blob_t *b)
{
    const unsigned char *pp = b->data;
    return d2i_X509(NULL, &pp, (long)b->len);
}

static result_t audit_sct(apr_hash_t *logs, const ct_blob_t *sct, X509 *leaf, X509 *issuer,
                          apr_pool_t *p, const char **detail)
{
    ct_sct_info_t info;
    sth_t *sth;
    unsigned char hash[CT_HASH_LEN];
    result_t r = R_NOT_FOUND;
    int precert, first = 0, last = 1;
    int embedded = issuer && X509_get_ext_by_NID(leaf, NID_ct_precert_scts, -1) >= 0;
    apr_uint64_t now = ct_now_ms();
    ct_sct_status_t st;

    if (ct_sct_parse(&info, sct->data, sct->len) != APR_SUCCESS) {
        *detail = "malformed SCT";
        return R_BAD;
    }
    sth = apr_hash_get(logs, ct_log_id_format(p, info.log_id), APR_HASH_KEY_STRING);
    if (!sth) {
        *detail = "no URL configured for this log id";
        return R_UNKNOWN;
    }
    /* the signature first: what the log never signed says nothing about the log. The
     * audit file does not say where the SCT came from: an embedded one signs the
     * precertificate entry, the others the certificate itself. (The time check is ours,
     * below, so the verification is asked at the SCT's own time.) */
    st = ct_sct_verify_blob(sct, SCT_SOURCE_TLS_EXTENSION, leaf, issuer, known_logs,
                            info.timestamp > now ? info.timestamp : now);
    if (st == CT_SCT_BAD_SIGNATURE && embedded) {
        st = ct_sct_verify_blob(sct, SCT_SOURCE_X509V3_EXTENSION, leaf, issuer, known_logs,
                                info.timestamp > now ? info.timestamp : now);
        if (st == CT_SCT_VALID) first = 1;
    }
    else if (st == CT_SCT_VALID) {
        last = 0;
    }
    if (st == CT_SCT_BAD_SIGNATURE || st == CT_SCT_MALFORMED) {
        *detail = "the signature does not verify with the log's key for this certificate";
        return R_BAD_SIG;
    }
    if (info.timestamp > now) {
        *detail = apr_psprintf(p, "the log signed a time %" APR_UINT64_T_FMT " s ahead of this "
                               "machine's clock", (info.timestamp - now + 999) / 1000);
        return R_FUTURE;
    }
    if (!sth->fetched) fetch_sth(sth, apr_hash_pool_get(logs));
    if (sth->error) {
        *detail = sth->error;
        return R_UNREACHABLE;
    }
    /* the entry the signature was made over, or both without a key to tell */
    for (precert = first; precert <= last && r == R_NOT_FOUND; ++precert) {
        if (precert && !embedded) break;
        if (ct_merkle_leaf_hash(hash, sct, leaf, issuer, precert) != APR_SUCCESS) continue;
        r = prove(sth, hash, p, detail);
    }
    if (r == R_NOT_FOUND) {
        if (info.timestamp + mmd_ms > sth->timestamp) {
            *detail = "within the log's maximum merge delay";
            return R_PENDING;
        }
        *detail = "the log has no such entry although its merge delay has passed";
    }
    if (st != CT_SCT_VALID && r != R_BAD)
        *detail = apr_pstrcat(p, *detail, "; signature not checked: the log's key is unknown",
                              NULL);
    return r;
}

static void add_log(apr_hash_t *logs, const unsigned char id[CT_LOG_ID_LEN], const char *url,
                    EVP_PKEY *pkey, apr_pool_t *p)
{
    sth_t *sth = apr_pcalloc(p, sizeof(*sth));

    sth->url = url;
    sth->pkey = pkey;
    apr_hash_set(logs, ct_log_id_format(p, id), APR_HASH_KEY_STRING, sth);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void usage(const char *prog, const char *msg)
{
    if (msg) fprintf(stderr, "%s: %s\n", prog, msg);
    fprintf(stderr, "usage: %s [-t SECONDS] [-m MMD-SECONDS] [-l KEYFILE=URL]... AUDIT_DIR "
            "[LOG_DB]\n", prog);
    exit(1);
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    apr_getopt_t *opt;
    apr_hash_t *logs;
    apr_dir_t *dir;
    apr_finfo_t fi;
    apr_array_header_t *files;
    const char *prog = argv[0], *arg, *err = NULL, *auditdir;
    int counts[R_MAX] = { 0 }, damaged = 0, i, j, k, total = 0;
    char c;
    apr_status_t orv;
    apr_array_header_t *keyed, *db_rows = NULL;
    const char *warn = NULL;

    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&p, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    logs = apr_hash_make(p);
    keyed = apr_array_make(p, 4, sizeof(ct_log_t *));
    apr_getopt_init(&opt, p, argc, argv);
    while ((orv = apr_getopt(opt, "t:m:l:h", &c, &arg)) == APR_SUCCESS) {
        switch (c) {
        case 't':
            timeout_s = atol(arg);
            if (timeout_s <= 0) usage(prog, "-t needs a positive number of seconds");
            break;
        case 'm':
            if (atol(arg) < 0) usage(prog, "-m needs a number of seconds");
            mmd_ms = (apr_uint64_t)atol(arg) * 1000;
            break;
        case 'l': {
            const char *eq = strchr(arg, '=');
            EVP_PKEY *pkey;
            unsigned char id[CT_LOG_ID_LEN];

            if (!eq) usage(prog, "-l needs KEYFILE=URL");
            if (ct_log_key_load(&pkey, apr_pstrndup(p, arg, (apr_size_t)(eq - arg)), p, &err)
                != APR_SUCCESS || ct_log_id_from_key(id, pkey) != APR_SUCCESS) {
                usage(prog, err ? err : "bad key");
            }
            add_log(logs, id, eq + 1, pkey, p);
            {
                ct_log_t *row = apr_pcalloc(p, sizeof(*row));
                row->has_id = 1;
                memcpy(row->id, id, CT_LOG_ID_LEN);
                row->pkey = pkey;
                row->min_ts = row->max_ts = CT_LOG_TS_UNSET;
                APR_ARRAY_PUSH(keyed, ct_log_t *) = row;
            }
            break;
        }
        default:
            usage(prog, NULL);
        }
    }
    if (orv != APR_EOF || opt->ind >= argc || argc - opt->ind > 2) usage(prog, NULL);
    auditdir = argv[opt->ind];
    if (argc - opt->ind == 2
        && ct_log_db_read(&db_rows, argv[opt->ind + 1], p, &err) != APR_SUCCESS) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 2;
    }
    /* one set of every key, for the SCT signatures: the audit asks what a log signed and
     * published, not whether we trust it today, so distrust and time ranges are left out */
    for (i = 0; db_rows && i < db_rows->nelts; ++i) {
        ct_log_t *l = APR_ARRAY_IDX(db_rows, i, ct_log_t *);
        l->distrusted = 0;
        l->min_ts = l->max_ts = CT_LOG_TS_UNSET;
    }
    ct_logs_make(&known_logs, keyed, db_rows, NULL, p, &warn);
    if (warn) fprintf(stderr, "%s: warning: %s\n", prog, warn);
    for (i = 0; db_rows && i < known_logs->logs->nelts; ++i) {
        ct_log_t *l = APR_ARRAY_IDX(known_logs->logs, i, ct_log_t *);
        if (l->has_id && l->url && !apr_hash_get(logs, ct_log_id_format(p, l->id),
                                                 APR_HASH_KEY_STRING)) {
            add_log(logs, l->id, l->url, l->pkey, p);
        }
    }
    if (apr_dir_open(&dir, auditdir, p) != APR_SUCCESS) {
        fprintf(stderr, "%s: cannot read directory %s\n", prog, auditdir);
        return 2;
    }
    files = apr_array_make(p, 8, sizeof(const char *));
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, dir) == APR_SUCCESS) {
        size_t n = strlen(fi.name);
        if (fi.filetype == APR_REG && n > 4 && !strcmp(fi.name + n - 4, ".out"))
            APR_ARRAY_PUSH(files, const char *) = apr_pstrdup(p, fi.name);
    }
    apr_dir_close(dir);
    qsort(files->elts, (size_t)files->nelts, sizeof(const char *), cmp_names);

    for (i = 0; i < files->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(files, i, const char *);
        const char *path = apr_pstrcat(p, auditdir, "/", name, NULL);
        unsigned char *data;
        apr_size_t len, good;
        apr_array_header_t *entries;
        apr_status_t rv;

        if (ct_store_read_file(&data, &len, path, 256 * 1024 * 1024, p) != APR_SUCCESS) {
            printf("%s: cannot be read\n", name);
            damaged++;
            continue;
        }
        rv = ct_audit_decode(&entries, &good, data, len, p);
        if (rv != APR_SUCCESS) {
            printf("%s: %s after byte %lu; the %d complete record(s) before are audited\n",
                   name, rv == APR_INCOMPLETE ? "truncated" : "garbled",
                   (unsigned long)good, entries->nelts);
            damaged++;
        }
        for (j = 0; j < entries->nelts; ++j) {
            ct_audit_entry_t *e = &APR_ARRAY_IDX(entries, j, ct_audit_entry_t);
            X509 *leaf = e->certs->nelts ? der_cert(&APR_ARRAY_IDX(e->certs, 0, ct_blob_t))
                                         : NULL;
            X509 *issuer = e->certs->nelts > 1
                           ? der_cert(&APR_ARRAY_IDX(e->certs, 1, ct_blob_t)) : NULL;
            char cn[256] = "?";

            if (!leaf) {
                printf("%s: certificate %s: no readable certificate, skipped\n", name,
                       ct_audit_printable(p, e->key, e->key_len));
                damaged++;
                X509_free(issuer);
                continue;
            }
            X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn,
                                      sizeof(cn));
            printf("%s: certificate %s (CN=%s), %d SCT(s)\n", name,
                   ct_audit_printable(p, e->key, e->key_len), ct_audit_printable(p, cn, strlen(cn)),
                   e->scts->nelts);
            for (k = 0; k < e->scts->nelts; ++k) {
                const ct_blob_t *sct = &APR_ARRAY_IDX(e->scts, k, ct_blob_t);
                const char *detail = "";
                ct_sct_info_t info;
                result_t r = audit_sct(logs, sct, leaf, issuer, p, &detail);

                memset(&info, 0, sizeof(info));
                ct_sct_parse(&info, sct->data, sct->len);
                printf("  SCT %d: log %s, timestamp %" APR_UINT64_T_FMT ": %s (%s)\n", k + 1,
                       ct_log_id_format(p, info.log_id), info.timestamp, result_names[r],
                       detail);
                counts[r]++;
                total++;
            }
            X509_free(leaf);
            X509_free(issuer);
        }
    }
    printf("%d SCT(s) in %d file(s): %d included, %d not yet included, %d not found, "
           "%d log unreachable, %d unknown log, %d invalid proof, %d invalid signature, "
           "%d timestamp in the future%s\n", total, files->nelts,
           counts[R_INCLUDED], counts[R_PENDING], counts[R_NOT_FOUND], counts[R_UNREACHABLE],
           counts[R_UNKNOWN], counts[R_BAD], counts[R_BAD_SIG], counts[R_FUTURE],
           damaged ? ", damaged audit data" : "");
    curl_global_cleanup();
    apr_pool_destroy(p);
    apr_terminate();
    return (counts[R_NOT_FOUND] || counts[R_UNREACHABLE] || counts[R_UNKNOWN] || counts[R_BAD]
            || counts[R_BAD_SIG] || counts[R_FUTURE] || damaged) ? 2 : 0;
}
