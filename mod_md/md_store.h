/* md_store.h: the file store under MDStoreDir, in the layout of upstream mod_md.
 *
 * Owns: the directory layout (groups accounts/, domains/, staging/, archive/, tmp/,
 * challenges/, ocsp/), md_store.json with the store key, permissions and owners of what
 * it creates, and atomic writes of every file.
 * Never: decides what to store (md_reg and the driver do) or includes httpd headers.
 */
#ifndef MD_STORE_H
#define MD_STORE_H

#include <apr_pools.h>
#include <apr_file_info.h>
#include <apr_hash.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "md.h"

typedef enum {
    MD_SG_NONE = 0,
    MD_SG_ACCOUNTS,
    MD_SG_CHALLENGES,
    MD_SG_DOMAINS,
    MD_SG_STAGING,
    MD_SG_ARCHIVE,
    MD_SG_TMP,
    MD_SG_OCSP,
    MD_SG_COUNT
} md_store_group_t;

#define MD_FN_MD "md.json"
#define MD_FN_JOB "job.json"
#define MD_FN_HTTPD "httpd.json"
#define MD_FN_STORE "md_store.json"
#define MD_FN_ACTIVATION_LOCK "activation.lock"   /* lease lock (md_lock) of activations */
#define MD_STORE_VERSION 3.0
#define MD_STORE_KEY_LEN 48
#define MD_JSON_MAX (16 * 1024 * 1024)

typedef struct md_store_t md_store_t;

/* What start-up needs to know of a certificate file (its leaf). */
typedef struct md_cert_facts_t {
    apr_time_t not_after;
    int covers;                 /* its names cover all the domains asked about */
} md_cert_facts_t;

struct md_store_t {
    apr_pool_t *p;
    const char *base;
    unsigned char key[MD_STORE_KEY_LEN];   /* passphrase of encrypted private keys */
    apr_size_t key_len;
    int owner_set;                          /* chown child-writable groups */
    apr_uid_t uid;
    apr_gid_t gid;
    apr_hash_t *facts_cache;                /* optional: path -> facts, see md_store_cert_facts */
    int lock_create;                        /* md_lock_create_t: how lock files are created
                                             * here (md_lock_probe at start-up; 0: link()) */
};

/* Open (creating when missing) the store at base. On failure *perr says what. */
apr_status_t md_store_open(md_store_t **pstore, const char *base, apr_pool_t *p, const char **perr);
/* Directories of child-writable groups (staging, challenges, tmp, ocsp) get this owner. */
void md_store_set_owner(md_store_t *store, apr_uid_t uid, apr_gid_t gid);
/* Create all group directories with their permissions (and owners). */
apr_status_t md_store_setup_groups(md_store_t *store, apr_pool_t *p);

const char *md_store_group_name(md_store_group_t group);
/* Path of group/name/fname; name and fname may be NULL. */
const char *md_store_path(md_store_t *store, md_store_group_t group, const char *name,
                          const char *fname, apr_pool_t *p);
/* Is name usable as a single path component (no '/', no "..", no control chars)? */
int md_store_name_is_safe(const char *name);

/* Read a JSON file; APR_ENOENT when missing; APR_EINVAL with *perr when corrupt. */
apr_status_t md_json_read_file(json_t **pjson, const char *path, apr_pool_t *p, const char **perr);
/* Write a JSON document atomically with the given permissions. */
apr_status_t md_json_write_file(json_t *json, const char *path, apr_fileperms_t perms, apr_pool_t *p);

apr_status_t md_store_load_json(md_store_t *store, md_store_group_t group, const char *name,
                                const char *fname, json_t **pjson, apr_pool_t *p, const char **perr);
apr_status_t md_store_save_json(md_store_t *store, md_store_group_t group, const char *name,
                                const char *fname, json_t *json, apr_pool_t *p);
/* Save raw data (PEM) atomically in group/name/fname. */
apr_status_t md_store_save_data(md_store_t *store, md_store_group_t group, const char *name,
                                const char *fname, const char *data, apr_pool_t *p);
/* The same for a file holding a private key (encrypted or not): created with mode 0600 in
 * every group, whatever the umask (never readable by others, not even for a moment). */
#define MD_STORE_SECRET_PERMS 0x0600
apr_status_t md_store_save_secret(md_store_t *store, md_store_group_t group, const char *name,
                                  const char *fname, const char *data, apr_pool_t *p);

apr_status_t md_store_load_md(md_store_t *store, md_store_group_t group, const char *name,
                              md_t **pmd, apr_pool_t *p, const char **perr);
apr_status_t md_store_save_md(md_store_t *store, md_store_group_t group, const md_t *md,
                              apr_pool_t *p);

/* Private keys: encrypted with the store key in accounts/ and staging/, plain elsewhere
 * (mod_ssl reads those); mode 0600 everywhere (md_store_save_secret). */
apr_status_t md_store_save_pkey(md_store_t *store, md_store_group_t group, const char *name,
                                const char *fname, EVP_PKEY *pkey, apr_pool_t *p);
apr_status_t md_store_load_pkey(md_store_t *store, md_store_group_t group, const char *name,
                                const char *fname, EVP_PKEY **ppkey, apr_pool_t *p);

/* Keep certificate facts in cache (allocated from the cache's pool) for the lifetime of that
 * pool, e.g. the httpd process: unchanged files (same size and mtime) are not parsed again at
 * the next configuration pass or restart. */
void md_store_set_facts_cache(md_store_t *store, apr_hash_t *cache);
/* Facts of the certificate in path for these domains: APR_ENOENT when there is no such file,
 * APR_EINVAL when it holds no certificate. */
apr_status_t md_store_cert_facts(md_store_t *store, const char *path, const apr_array_header_t *domains,
                                 md_cert_facts_t *facts, apr_pool_t *p);

/* File names per key spec: privkey.pem / pubcert.pem for RSA, privkey.<curve>.pem for EC. */
const char *md_store_fname(apr_pool_t *p, const char *base, const md_pkey_spec_t *spec);

/* Make sure domains/<md>/fallback-{privkey,pubcert}<suffix>.pem exist and are usable
 * (valid for at least one more day); *pcert_path and *pkey_path name them. */
apr_status_t md_store_ensure_fallback(md_store_t *store, const md_t *md, const md_pkey_spec_t *spec,
                                      const char **pcert_path, const char **pkey_path,
                                      apr_pool_t *p, const char **perr);

#endif
