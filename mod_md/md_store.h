/* md_store.h: the file store under MDStoreDir, in the layout of upstream mod_md.
 *
 * Owns: the directory layout (groups accounts/, domains/, staging/, archive/, tmp/,
 * challenges/, ocsp/), md_store.json with the store key, permissions and owners of what
 * it creates, atomic writes of every file, and every walk, move and removal of a set
 * (group/name): iterating a group, the all-or-nothing move with the previous set archived,
 * purging without following a symbolic link out of the store, allocating account ids.
 * Other units name sets and files; md_store_path is for handing one file to a library
 * (OpenSSL, md_lock) or naming it in a message.
 * Never: decides what to store (md_drive, md_activate, md_acme, md_acme_order, md_ari,
 * md_job, md_ocsp and the glue do) or includes httpd headers.
 */
#ifndef MD_STORE_H
#define MD_STORE_H

#include <apr_pools.h>
#include <apr_file_info.h>
#include <apr_hash.h>
#include <apr_tables.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "md.h"
#include "md_json.h"

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

/* ---- sets: walking, moving, removing ---- */

/* Called by md_store_iter_names and md_store_purge_group with a name of the group.
 * md_store_iter_names goes on while it returns non-zero; md_store_purge_group keeps the
 * entry when it does. */
typedef int md_store_name_cb(void *baton, const char *name, apr_pool_t *p);
/* Call cb for each set of group (the subdirectories: domains/<md>, accounts/<id>...), in
 * no particular order. Skipped: what is not a directory (a symbolic link to one included),
 * names starting with '.', names that are not md_store_name_is_safe. A missing group
 * directory has no sets (APR_SUCCESS); other errors opening it are returned. */
apr_status_t md_store_iter_names(md_store_name_cb *cb, void *baton, md_store_t *store,
                                 md_store_group_t group, apr_pool_t *p);
/* The names of the regular files in group/name (name NULL: in the group directory itself),
 * sorted; *pfiles is empty when there is no such directory. */
apr_status_t md_store_list_files(apr_array_header_t **pfiles, md_store_t *store,
                                 md_store_group_t group, const char *name, apr_pool_t *p);
/* Is there a group/name/fname (name and fname may be NULL), of whatever type? */
int md_store_exists(md_store_t *store, md_store_group_t group, const char *name,
                    const char *fname, apr_pool_t *p);
/* Remove the file group/name/fname; with fname NULL the directory group/name only when it
 * is empty (APR_ENOTEMPTY, or APR_EEXIST, else). */
apr_status_t md_store_remove(md_store_t *store, md_store_group_t group, const char *name,
                             const char *fname, apr_pool_t *p);
/* Remove group/name and everything below it (a file or link of that name too). Safe where
 * the child's user can write (staging/, challenges/): no symbolic link below the store
 * root is ever followed, a directory swapped for a link loses the link and nothing else.
 * APR_SUCCESS also when there is no such set; APR_EINVAL for an unsafe name. */
apr_status_t md_store_purge(md_store_t *store, md_store_group_t group, const char *name,
                            apr_pool_t *p);
/* md_store_purge every entry of group (directories, files, links, whatever their name)
 * that keep does not claim. Returns how many were removed. */
int md_store_purge_group(md_store_t *store, md_store_group_t group, md_store_name_cb *keep,
                         void *baton, apr_pool_t *p);
/* Rename the file group/name/from to group/name/to (replacing to). */
apr_status_t md_store_rename(md_store_t *store, md_store_group_t group, const char *name,
                             const char *from, const char *to, apr_pool_t *p);
/* Copy the file from_group/from_name/fname to to_group/to_name/fname, atomically, with the
 * permissions of to_group (0600 for private keys); at most MD_JSON_MAX bytes. */
apr_status_t md_store_copy(md_store_t *store, md_store_group_t from_group, const char *from_name,
                           md_store_group_t to_group, const char *to_name, const char *fname,
                           apr_pool_t *p);
/* Read the file group/name/fname whole (at most max_len bytes, else APR_EINVAL), as a
 * NUL-terminated string; plen may be NULL. */
apr_status_t md_store_load_data(md_store_t *store, md_store_group_t group, const char *name,
                                const char *fname, char **pdata, apr_size_t *plen,
                                apr_size_t max_len, apr_pool_t *p);
/* Move the complete set from_group/from_name to to_group/to_name, all or nothing. A set
 * already at to_group/to_name is moved first to archive/<to_name>.<n> (the lowest n from 1
 * not taken; *parchived is its path, else NULL) when archive is set, purged otherwise; when
 * the move itself fails, the archived set is put back in place. */
apr_status_t md_store_move(md_store_t *store, md_store_group_t from_group, const char *from_name,
                           md_store_group_t to_group, const char *to_name, int archive,
                           const char **parchived, apr_pool_t *p);
/* A new account directory accounts/ACME-<host of ca_url>-NNNN (NNNN the lowest free number
 * from 0000), created empty and exclusively, so that two callers never get the same one.
 * APR_EINVAL when the host makes no safe name, APR_EEXIST when all numbers are taken. */
apr_status_t md_store_account_id_alloc(const char **pid, md_store_t *store, const char *ca_url,
                                       apr_pool_t *p);

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
