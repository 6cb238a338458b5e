/* md.h: the managed domain (MD) and its JSON form (md.json).
 *
 * Owns: md_t, its defaults/merging of per-MD settings over global ones, and the
 * conversion to and from the md.json format shared with upstream mod_md.
 * Never: touches the file system (md_store does) or httpd structures (the glue does).
 */
#ifndef MD_H
#define MD_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

#include "md_util.h"
#include "md_version.h"

typedef enum {
    MD_S_UNKNOWN = 0,
    MD_S_INCOMPLETE = 1,
    MD_S_COMPLETE = 2,
    MD_S_EXPIRED_DEPRECATED = 3,
    MD_S_ERROR = 4,
    MD_S_MISSING_INFORMATION = 5,
} md_state_t;

typedef enum {
    MD_RENEW_DEFAULT = -1,
    MD_RENEW_MANUAL = 0,
    MD_RENEW_AUTO = 1,
    MD_RENEW_ALWAYS = 2,
} md_renew_mode_t;

typedef enum {
    MD_REQUIRE_UNSET = -1,
    MD_REQUIRE_OFF = 0,
    MD_REQUIRE_TEMPORARY = 1,
    MD_REQUIRE_PERMANENT = 2,
} md_require_t;

#define MD_UNSET (-1)

/* MDActivation: staged certificates go live at the next restart, or at once. */
#define MD_ACTIVATION_GRACEFUL 0
#define MD_ACTIVATION_HOT 1

/* One private key specification, e.g. RSA 3072 or secp384r1. */
typedef enum { MD_PKEY_DEFAULT = 0, MD_PKEY_RSA = 1, MD_PKEY_EC = 2 } md_pkey_type_t;
typedef struct md_pkey_spec_t {
    md_pkey_type_t type;
    unsigned int bits;        /* RSA */
    const char *curve;        /* EC: as configured, e.g. "P-256" or "secp384r1" */
} md_pkey_spec_t;

#define MD_PKEY_RSA_MIN_BITS 2048
#define MD_PKEY_RSA_DEFAULT_BITS 2048

/* A managed domain. Every setting that may come from the global level starts unset
 * (MD_UNSET / NULL) and is filled by md_merge() from the global defaults. */
typedef struct md_t {
    const char *name;
    apr_array_header_t *domains;      /* const char*, lower case, first is the name */
    apr_array_header_t *contacts;     /* "mailto:..." */
    int transitive;                   /* MDMembers auto (1) / manual (0) */
    const char *ca_proto;             /* "ACME" or "tailscale" */
    apr_array_header_t *ca_urls;      /* directory URLs (failover order) */
    const char *ca_account;
    const char *ca_agreement;
    const char *ca_effective;         /* the URL in use */
    apr_array_header_t *ca_challenges;/* explicit MDCAChallenges, NULL = detect */
    apr_array_header_t *pkey_specs;   /* md_pkey_spec_t*, NULL = default RSA 2048 */
    int state;
    const char *state_descr;
    int renew_mode;
    md_timeslice_t *renew_window;
    md_timeslice_t *warn_window;
    int require_https;
    int must_staple;
    int stapling;
    apr_array_header_t *acme_tls_1_domains; /* domains reachable with acme-tls/1 */
    apr_array_header_t *cert_files;   /* static MDCertificateFile(s) */
    apr_array_header_t *pkey_files;   /* static MDCertificateKeyFile(s) */
    const char *dns01_cmd;
    int dns01_version;
    const char *proxy_url;
    const char *ca_certs;
    const char *eab_kid;
    const char *eab_hmac;
    const char *profile;
    int profile_mandatory;
    int ari_renewals;
    int activation;                   /* MDActivation: MD_ACTIVATION_GRACEFUL or _HOT */

    /* runtime only, not in md.json */
    const char *defn_name;            /* config file and line that defined it */
    unsigned defn_line;
    int watched;                      /* used by at least one vhost */
    int has_section;                  /* defined via <MDomain> */
    apr_array_header_t *rt_cert_files;/* what mod_ssl gets for this MD: real certs... */
    apr_array_header_t *rt_key_files;
    int rt_fallback;                  /* ...or fallback certs (no usable cert yet) */
    const char *rt_error;             /* a store problem, shown on the status page */
    struct md_cert_info_t **rt_certs; /* facts of the served certificates, per key spec */
    int rt_https_port;                /* a port of one of its https hosts (redirects) */
    void *rt_hot;                     /* its hot activation state (mod_md_hot.c), or NULL */
} md_t;

md_t *md_create_empty(apr_pool_t *p);
md_t *md_create(apr_pool_t *p, const apr_array_header_t *domains);
md_t *md_clone(apr_pool_t *p, const md_t *md);
/* Fill every unset setting of md from defaults (which is fully set). */
void md_merge(md_t *md, const md_t *defaults);
/* An md_t with the documented defaults of every setting. */
md_t *md_create_defaults(apr_pool_t *p);

int md_contains(const md_t *md, const char *domain);
/* Does md's name list match domain, with wildcards "*.x" matching one label? */
int md_covers(const md_t *md, const char *domain);

const char *md_pkey_spec_name(apr_pool_t *p, const md_pkey_spec_t *spec);
/* OpenSSL's name of an EC curve given as secp256r1, P-256, prime256v1..., or NULL when
 * OpenSSL does not know it. */
const char *md_pkey_curve_canonical(apr_pool_t *p, const char *name);
/* Parse MDPrivateKeys arguments into md_pkey_spec_t* entries; NULL or the error. */
const char *md_pkey_specs_parse(apr_pool_t *p, int argc, char *const argv[],
                                apr_array_header_t **pspecs);
int md_pkey_spec_count(const md_t *md);
const md_pkey_spec_t *md_pkey_spec_get(const md_t *md, int i);
/* File name suffix of a spec: "" for RSA, the curve as configured in lower case for EC
 * (".p-256" for P-256, ".secp384r1"), as the reference names them. */
const char *md_pkey_spec_suffix(apr_pool_t *p, const md_pkey_spec_t *spec);

const char *md_state_str(int state);
const char *md_require_https_str(int r);
const char *md_renew_mode_str(int m);

/* md.json: returns a new reference; md_from_json returns NULL and sets *perr on bad input. */
json_t *md_to_json(const md_t *md, apr_pool_t *p);
md_t *md_from_json(json_t *json, apr_pool_t *p, const char **perr);

/* Two MDs equal in everything stored in md.json? */
int md_equal_json(const md_t *a, const md_t *b, apr_pool_t *p);

#endif
