/* ct_helpers.h: test helpers for the ct_* unit tests (keys, certificates, real SCTs). */
#ifndef CT_HELPERS_H
#define CT_HELPERS_H

#include <check.h>
#include <apr_pools.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "ct_sct.h"

EVP_PKEY *th_ec_key(void);
/* A certificate for cn signed by signer_key (issuer NULL: self-signed CA). */
X509 *th_cert(EVP_PKEY *key, EVP_PKEY *signer_key, X509 *issuer, const char *cn, int is_ca);
/* A real v1 SCT by logkey over cert (issuer set: precert entry over cert's TBS without its
 * SCT extension). */
ct_blob_t th_sct(apr_pool_t *p, EVP_PKEY *logkey, X509 *cert, X509 *issuer,
                 apr_uint64_t ts, const unsigned char *ext, apr_size_t extlen);
/* Add the embedded SCT list extension to cert and re-sign it with signkey. */
void th_embed(X509 *cert, EVP_PKEY *signkey, const ct_blob_t *list);
/* Write the public key as PEM into dir/name, return the path. */
const char *th_write_pubkey(apr_pool_t *p, EVP_PKEY *key, const char *dir, const char *name);
/* A fresh temp dir. */
const char *th_tmpdir(apr_pool_t *p);
void th_write(const char *path, const void *data, apr_size_t len);
/* The main of a ct_* unit test: one suite with one test case of the NULL-terminated tests,
 * each run between setup and teardown, inside apr_initialize/apr_terminate. Returns the
 * exit code. */
int th_run(const char *suite_name, void (*setup)(void), void (*teardown)(void),
           const TTest *const *tests);

#endif
