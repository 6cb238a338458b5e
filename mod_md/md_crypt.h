/* md_crypt.h: private keys and X.509 certificates, on OpenSSL 3.
 *
 * Owns: key generation per md_pkey_spec_t, PEM in and out (PKCS#8, optionally encrypted
 * with AES-256-CBC under the store key), self-signed fallback certificates, and the
 * certificate facts that status pages show (validity, serial, fingerprint, issuer).
 * Never: touches the store layout (md_store does) or logs.
 * OpenSSL objects handed out are freed by a cleanup of the pool given.
 */
#ifndef MD_CRYPT_H
#define MD_CRYPT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "md.h"

apr_status_t md_pkey_gen(EVP_PKEY **ppkey, const md_pkey_spec_t *spec, apr_pool_t *p);
/* PEM of the key: PKCS#8, encrypted when pass is given. */
apr_status_t md_pkey_to_pem(const char **ppem, EVP_PKEY *pkey, const unsigned char *pass,
                            apr_size_t pass_len, apr_pool_t *p);
apr_status_t md_pkey_from_pem(EVP_PKEY **ppkey, const char *pem, apr_size_t len,
                              const unsigned char *pass, apr_size_t pass_len, apr_pool_t *p);
apr_status_t md_pkey_load(EVP_PKEY **ppkey, const char *path, const unsigned char *pass,
                          apr_size_t pass_len, apr_pool_t *p);

/* Load all certificates of a PEM file, leaf first. APR_ENOENT if none. */
apr_status_t md_chain_load(apr_array_header_t **pchain, const char *path, apr_pool_t *p);
apr_status_t md_chain_from_pem(apr_array_header_t **pchain, const char *pem, apr_size_t len,
                               apr_pool_t *p);
const char *md_chain_to_pem(const apr_array_header_t *chain, apr_pool_t *p);

/* A self-signed certificate for the names, valid from now for 'valid'. */
apr_status_t md_cert_self_sign(X509 **pcert, const char *cn, const apr_array_header_t *domains,
                               EVP_PKEY *pkey, apr_interval_time_t valid, apr_pool_t *p);

apr_time_t md_cert_not_before(const X509 *cert);
apr_time_t md_cert_not_after(const X509 *cert);
const char *md_cert_serial_hex(const X509 *cert, apr_pool_t *p);
/* Lower-case hex of the certificate's digest of the given type; NULL when OpenSSL fails. */
const char *md_cert_digest_hex(const X509 *cert, const EVP_MD *type, apr_pool_t *p);
const char *md_cert_sha256_hex(const X509 *cert, apr_pool_t *p);
const char *md_cert_issuer_name(const X509 *cert, apr_pool_t *p);
/* The key type of the certificate as mod_md names it: "rsa" or the curve ("secp256r1"). */
const char *md_cert_key_type(X509 *cert, apr_pool_t *p);
/* CA Issuers URL of the AIA extension, or NULL. */
const char *md_cert_issuer_uri(X509 *cert, apr_pool_t *p);
/* ARI certificate id (RFC 9773): base64url(AKI key id) "." base64url(serial), or NULL. */
const char *md_cert_ari_id(X509 *cert, apr_pool_t *p);
/* Does the certificate's SAN list cover every domain? */
int md_cert_covers_domains(X509 *cert, const apr_array_header_t *domains);
/* Does the certificate belong to this private key? */
int md_cert_matches_key(X509 *cert, EVP_PKEY *pkey);
/* The last OpenSSL error as text, for error messages. */
const char *md_crypt_last_error(apr_pool_t *p);

#endif
