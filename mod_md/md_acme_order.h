/* md_acme_order.h: obtaining one certificate for an MD over ACME (RFC 8555 section 7.4).
 *
 * Owns: the order for all names of an MD, its authorizations, the challenges http-01,
 * tls-alpn-01 (RFC 8737) and dns-01 (their answers under challenges/<domain>/ or through
 * the MDChallengeDns01 command), polling with short-then-longer intervals, the CSR (all
 * names, must-staple when asked), finalization and the checked download of the chain.
 * Never: writes staging/ or domains/ (md_drive does) and never accepts a certificate
 * that does not cover the MD's names or does not belong to the key.
 */
#ifndef MD_ACME_ORDER_H
#define MD_ACME_ORDER_H

#include "md_acme.h"

#define MD_FN_HTTP01 "acme-http-01.txt"
#define MD_FN_TLSALPN01_KEY "acme-tls-alpn-01-privkey.pem"
#define MD_FN_TLSALPN01_CERT "acme-tls-alpn-01-pubcert.pem"
/* the tls-alpn-01 files per key type (md_store_fname): the names above for RSA,
 * acme-tls-alpn-01-pubcert.p-256.pem for P-256, as the reference names them */
#define MD_FN_TLSALPN01_KEY_BASE "acme-tls-alpn-01-privkey"
#define MD_FN_TLSALPN01_CERT_BASE "acme-tls-alpn-01-pubcert"

/* renewal.last "problem" when no challenge type can be used / set up (the reference's) */
#define MD_ACME_ORDER_PROBLEM_MISMATCH "challenge-mismatch"
#define MD_ACME_ORDER_PROBLEM_SETUP "challenge-setup-failure"

/* What the order needs from its surroundings. */
typedef struct md_acme_env_t {
    md_store_t *store;
    int can_http;                   /* port 80 (mapped) is served: http-01 possible */
    int can_https;                  /* port 443 (mapped) is served: tls-alpn-01 possible */
    /* run "challenge-setup:TYPE:DOMAIN" (MDMessageCmd); non-success aborts */
    apr_status_t (*on_setup)(void *baton, const char *type, const char *domain, apr_pool_t *p);
    /* run MDChallengeDns01: verb "setup"/"teardown"; token NULL for version 1 teardown */
    apr_status_t (*run_dns01)(void *baton, const char *verb, const char *domain,
                              const char *token, apr_pool_t *p, const char **perr);
    void *baton;
    const volatile int *abort_flag;
    apr_interval_time_t poll_timeout; /* for validations and issuance, 0: 5 minutes */
    const char *replaces;             /* ARI id of the replaced certificate, or NULL */
    const char *profile;              /* ACME profile to order with, or NULL (CA default) */
} md_acme_env_t;

/* Which ACME profile to order md's certificate with at this CA (its directory read):
 * MDProfile when the CA offers it (*pprofile), else none: with *pnotice saying so, or,
 * under MDProfileMandatory on, APR_EINVAL with the result naming the profile and the CA. */
apr_status_t md_acme_order_profile(const char **pprofile, const char **pnotice, md_acme_t *acme,
                                   const md_t *md, apr_pool_t *p);

/* The activity of creating the order, in the reference's words ("Creating new order ..."),
 * which renewal.last shows when the CA refuses it (or the mandatory profile is missing). */
const char *md_acme_order_activity(const md_t *md, const char *profile, apr_pool_t *p);

/* Order, validate, finalize with pkey and download: *pchain is leaf first (X509*). */
apr_status_t md_acme_order_cert(apr_array_header_t **pchain, md_acme_t *acme, const md_t *md,
                                EVP_PKEY *pkey, const md_acme_env_t *env, apr_pool_t *p);

/* The CSR (DER) for md's names with pkey. */
apr_status_t md_acme_csr_der(unsigned char **pder, apr_size_t *plen, const md_t *md,
                             EVP_PKEY *pkey, apr_pool_t *p);
/* The tls-alpn-01 certificate (RFC 8737) for domain and key authorization, as PEM, with a
 * new key of type spec (the MD's: RSA by default). */
apr_status_t md_acme_tls_alpn01_cert(const char **pcert_pem, const char **pkey_pem,
                                     const char *domain, const char *key_authz,
                                     const md_pkey_spec_t *spec, apr_pool_t *p);
/* The tls-alpn-01 answer for host from challenges/<host>/ (set up by ours or by the
 * reference, whatever the key type): the RSA one when there, else another. */
apr_status_t md_acme_tls_alpn01_load(char **pcert_pem, char **pkey_pem, md_store_t *store,
                                     const char *host, apr_pool_t *p);

#endif
