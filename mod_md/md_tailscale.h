/* md_tailscale.h: certificates from the local tailscale daemon (MDCertificateProtocol tailscale).
 *
 * Owns: what an MD using tailscale may configure (one socket given as a file:// URL, at
 * most one key spec), the exchange with tailscaled's local API over its unix socket
 * (GET /localapi/v0/cert/NAME?type=pair, Host local-tailscaled.sock), and the distrustful
 * reading of its answer: the private key PEM followed by the certificate chain PEM, which
 * must be complete, belong together, cover every name of the MD and not have expired.
 * Every failure is put into words for the job (job.json, md-status, error log).
 * Never: writes to the store (md_drive stages what this returns, as it does for ACME),
 * decides when to renew, or includes httpd headers.
 *
 * tailscaled chooses the key type of its certificates (ECDSA P-256 today); the MD's one
 * key spec only decides the names of the files in the store.
 */
#ifndef MD_TAILSCALE_H
#define MD_TAILSCALE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/evp.h>

#include "md.h"
#include "md_http.h"
#include "md_result.h"

#define MD_TAILSCALE_PROTO "tailscale"
/* the CA of a tailscale MD without MDCertificateAuthority */
#define MD_TAILSCALE_DEFAULT_URL "file://localhost/var/run/tailscale/tailscaled.sock"
/* the host name tailscaled expects in requests on its socket */
#define MD_TAILSCALE_HOST "local-tailscaled.sock"
/* tailscaled may have to order the certificate at Let's Encrypt first (dns-01 through
 * tailscale's servers): that takes seconds to a minute, not more. */
#define MD_TAILSCALE_TIMEOUT_MS (120 * 1000)
#define MD_TAILSCALE_MAX_ANSWER (256 * 1024)

/* Does the protocol name (MDCertificateProtocol, md.json "proto") mean tailscale? */
int md_tailscale_is_proto(const char *proto);

/* The socket path of a tailscale CA URL: file://localhost/PATH or file:///PATH.
 * NULL with *perr (naming the URL) when it is no such URL. */
const char *md_tailscale_socket_path(const char *url, apr_pool_t *p, const char **perr);

/* Configuration check of a merged MD: NULL when fine, else a message naming the MD, the
 * directive and the value. Tailscale MDs need exactly one file:// CA URL and at most one
 * MDPrivateKeys spec; other MDs must not have file:// CA URLs. */
const char *md_tailscale_check_md(const md_t *md, apr_pool_t *p);

/* Read tailscaled's answer for md: one private key and the chain, leaf first, all PEM.
 * The leaf must match the key, cover all of md's names and be valid at 'now'.
 * On failure *perr says what is wrong with the answer (APR_EINVAL). */
apr_status_t md_tailscale_parse_pair(EVP_PKEY **ppkey, apr_array_header_t **pchain,
                                     const char *body, apr_size_t len, const md_t *md,
                                     apr_time_t now, apr_pool_t *p, const char **perr);

/* Ask the tailscaled at ca_url for md's key and certificate. http gives the abort flag
 * and, when non-zero, timeouts (else MD_TAILSCALE_TIMEOUT_MS). Failures are set in
 * result (status, detail, activity). */
apr_status_t md_tailscale_obtain(EVP_PKEY **ppkey, apr_array_header_t **pchain, const md_t *md,
                                 const char *ca_url, const md_http_opts_t *http,
                                 md_result_t *result, apr_pool_t *p);

#endif
