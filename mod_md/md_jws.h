/* md_jws.h: JSON Web Signatures as ACME needs them (RFC 7515, RFC 8555 section 6.2).
 *
 * Owns: the JWK of an account key and its thumbprint (RFC 7638), flattened JWS objects
 * signed RS256 (RSA), ES256/ES384 (EC P-256/P-384), and the HS256 external account
 * binding (RFC 8555 section 7.3.4).
 * Never: talks to the network or chooses keys.
 */
#ifndef MD_JWS_H
#define MD_JWS_H

#include <apr_pools.h>
#include <jansson.h>
#include <openssl/evp.h>

/* The public JWK of key (members in lexicographic order). New reference, NULL if the
 * key type is not supported. */
json_t *md_jws_jwk(EVP_PKEY *key);
/* base64url SHA-256 thumbprint of the JWK. */
const char *md_jws_thumbprint(EVP_PKEY *key, apr_pool_t *p);

/* Sign payload (a JSON text, or "" for POST-as-GET) into a flattened JWS (JSON text).
 * kid NULL puts the jwk into the protected header instead. nonce may be NULL (EAB). */
apr_status_t md_jws_sign(const char **pjws, EVP_PKEY *key, const char *kid, const char *nonce,
                         const char *url, const char *payload, apr_pool_t *p, const char **perr);

/* The externalAccountBinding object: the account's JWK signed HS256 with the EAB key.
 * New reference. */
json_t *md_jws_eab(EVP_PKEY *account_key, const char *eab_kid, const unsigned char *hmac_key,
                   apr_size_t hmac_len, const char *url, apr_pool_t *p);

#endif
