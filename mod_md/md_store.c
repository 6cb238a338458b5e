/* md_store.c: see md_store.h. */
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_uri.h>
#include <openssl/rand.h>

#include "md_crypt.h"
#include "md_store.h"

/* Group directory names and permissions, the same as upstream's so that a store can be
 * shared with (or taken over from) Debian's mod_md. Child-writable groups get the
 * child's user as owner. */
static const struct {
    const char *dir;
    apr_fileperms_t dir_perms;
    apr_fileperms_t file_perms;
    int child_writable;
    int encrypt_keys;
} groups[MD_SG_COUNT] = {
    [MD_SG_NONE]       = { "",           0x0755, 0x0600, 0, 0 },
    [MD_SG_ACCOUNTS]   = { "accounts",   0x0750, 0x0600, 0, 1 },
    /* http-01 answers are public and must be readable by every server of a cluster, also
     * where the file server maps their child users differently (see md_store_save_data) */
    [MD_SG_CHALLENGES] = { "challenges", 0x0755, 0x0644, 1, 0 },
    [MD_SG_DOMAINS]    = { "domains",    0x0700, 0x0600, 0, 0 },
    [MD_SG_STAGING]    = { "staging",    0x0755, 0x0644, 1, 1 },
    [MD_SG_ARCHIVE]    = { "archive",    0x0700, 0x0600, 0, 1 },
    [MD_SG_TMP]        = { "tmp",        0x0755, 0x0644, 1, 1 },
    [MD_SG_OCSP]       = { "ocsp",       0x0750, 0x0640, 1, 0 },
};

const char *md_store_group_name(md_store_group_t group)
{
    return group < MD_SG_COUNT ? groups[group].dir : "";
}

int md_store_name_is_safe(const char *name)
{
    const char *s;
    if (!name || !*name || !strcmp(name, ".") || !strcmp(name, "..") || strlen(name) > 255) return 0;
    for (s = name; *s; ++s) {
        if (*s == '/' || *s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    }
    return 1;
}

const char *md_store_path(md_store_t *store, md_store_group_t group, const char *name,
                          const char *fname, apr_pool_t *p)
{
    const char *path = group == MD_SG_NONE ? store->base
                       : apr_pstrcat(p, store->base, "/", groups[group].dir, NULL);
    if (name) path = apr_pstrcat(p, path, "/", name, NULL);
    if (fname) path = apr_pstrcat(p, path, "/", fname, NULL);
    return path;
}

static apr_status_t chown_path(md_store_t *store, const char *path)
{
    if (store->owner_set && geteuid() == 0 && chown(path, store->uid, store->gid) != 0)
        return APR_FROM_OS_ERROR(errno);
    return APR_SUCCESS;
}

static apr_status_t ensure_dir(md_store_t *store, md_store_group_t group, const char *name,
                               apr_pool_t *p)
{
    const char *dir = md_store_path(store, group, name, NULL, p);
    apr_status_t rv = md_util_mkdirs(dir, groups[group].dir_perms, p);
    if (rv == APR_SUCCESS && groups[group].child_writable) rv = chown_path(store, dir);
    return rv;
}

/* ---- sets: walking, moving, removing ---- */

/* Call cb for every entry of dir but . and ..: with its name and type (symbolic links are
 * APR_LNK, never followed). Stops when cb returns 0. */
typedef int entry_cb(void *baton, const char *name, apr_filetype_e type, apr_pool_t *p);

static apr_status_t iter_entries(const char *dir, entry_cb *cb, void *baton, apr_pool_t *p)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_status_t rv = apr_dir_open(&d, dir, p);

    if (rv != APR_SUCCESS) return rv;
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
        if (!strcmp(fi.name, ".") || !strcmp(fi.name, "..")) continue;
        if (!cb(baton, apr_pstrdup(p, fi.name), fi.filetype, p)) break;
    }
    apr_dir_close(d);
    return APR_SUCCESS;
}

typedef struct {
    md_store_name_cb *cb;
    void *baton;
} names_t;

static int on_set(void *baton, const char *name, apr_filetype_e type, apr_pool_t *p)
{
    names_t *n = baton;
    if (type != APR_DIR || name[0] == '.' || !md_store_name_is_safe(name)) return 1;
    return n->cb(n->baton, name, p);
}

apr_status_t md_store_iter_names(md_store_name_cb *cb, void *baton, md_store_t *store,
                                 md_store_group_t group, apr_pool_t *p)
{
    names_t n = { cb, baton };
    apr_status_t rv = iter_entries(md_store_path(store, group, NULL, NULL, p), on_set, &n, p);
    return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
}

static int on_file(void *baton, const char *name, apr_filetype_e type, apr_pool_t *p)
{
    (void)p;
    if (type == APR_REG) APR_ARRAY_PUSH((apr_array_header_t *)baton, const char *) = name;
    return 1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

apr_status_t md_store_list_files(apr_array_header_t **pfiles, md_store_t *store,
                                 md_store_group_t group, const char *name, apr_pool_t *p)
{
    apr_array_header_t *files = apr_array_make(p, 8, sizeof(const char *));
    apr_status_t rv = iter_entries(md_store_path(store, group, name, NULL, p), on_file, files, p);

    qsort(files->elts, (size_t)files->nelts, sizeof(const char *), cmp_names);
    *pfiles = files;
    return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
}

int md_store_exists(md_store_t *store, md_store_group_t group, const char *name,
                    const char *fname, apr_pool_t *p)
{
    apr_finfo_t fi;
    return apr_stat(&fi, md_store_path(store, group, name, fname, p), APR_FINFO_TYPE | APR_FINFO_LINK,
                    p) == APR_SUCCESS;
}

apr_status_t md_store_remove(md_store_t *store, md_store_group_t group, const char *name,
                             const char *fname, apr_pool_t *p)
{
    const char *path = md_store_path(store, group, name, fname, p);
    return fname ? apr_file_remove(path, p) : apr_dir_remove(path, p);
}

/* group/name removed fd-relative from the store root (md_util_remove_tree). */
static apr_status_t purge(md_store_t *store, md_store_group_t group, const char *name, apr_pool_t *p)
{
    return md_util_remove_tree(store->base, group == MD_SG_NONE ? name
                               : apr_pstrcat(p, groups[group].dir, "/", name, NULL), p);
}

apr_status_t md_store_purge(md_store_t *store, md_store_group_t group, const char *name,
                            apr_pool_t *p)
{
    return md_store_name_is_safe(name) ? purge(store, group, name, p) : APR_EINVAL;
}

typedef struct {
    md_store_t *store;
    md_store_group_t group;
    md_store_name_cb *keep;
    void *baton;
    int removed;
} purge_t;

static int on_purge(void *baton, const char *name, apr_filetype_e type, apr_pool_t *p)
{
    purge_t *pg = baton;
    (void)type;
    if (!pg->keep(pg->baton, name, p)) {
        purge(pg->store, pg->group, name, p);
        ++pg->removed;
    }
    return 1;
}

int md_store_purge_group(md_store_t *store, md_store_group_t group, md_store_name_cb *keep,
                         void *baton, apr_pool_t *p)
{
    purge_t pg = { store, group, keep, baton, 0 };
    iter_entries(md_store_path(store, group, NULL, NULL, p), on_purge, &pg, p);
    return pg.removed;
}

apr_status_t md_store_rename(md_store_t *store, md_store_group_t group, const char *name,
                             const char *from, const char *to, apr_pool_t *p)
{
    return apr_file_rename(md_store_path(store, group, name, from, p),
                           md_store_path(store, group, name, to, p), p);
}

apr_status_t md_store_load_data(md_store_t *store, md_store_group_t group, const char *name,
                                const char *fname, char **pdata, apr_size_t *plen,
                                apr_size_t max_len, apr_pool_t *p)
{
    return md_util_file_read(pdata, plen, md_store_path(store, group, name, fname, p), max_len, p);
}

/* The archive can take this many sets of one name. */
#define ARCHIVE_MAX 100000

apr_status_t md_store_move(md_store_t *store, md_store_group_t from_group, const char *from_name,
                           md_store_group_t to_group, const char *to_name, int archive,
                           const char **parchived, apr_pool_t *p)
{
    const char *from = md_store_path(store, from_group, from_name, NULL, p);
    const char *to = md_store_path(store, to_group, to_name, NULL, p);
    const char *archived = NULL;
    apr_status_t rv;
    int n;

    if (parchived) *parchived = NULL;
    if (!md_store_name_is_safe(from_name) || !md_store_name_is_safe(to_name)) return APR_EINVAL;
    if (md_store_exists(store, to_group, to_name, NULL, p)) {
        if (!archive) rv = purge(store, to_group, to_name, p);
        else if ((rv = ensure_dir(store, MD_SG_ARCHIVE, NULL, p)) == APR_SUCCESS) {
            for (n = 1; n < ARCHIVE_MAX && !archived; ++n) {
                const char *aname = apr_psprintf(p, "%s.%d", to_name, n);
                if (!md_store_exists(store, MD_SG_ARCHIVE, aname, NULL, p))
                    archived = md_store_path(store, MD_SG_ARCHIVE, aname, NULL, p);
            }
            rv = archived ? apr_file_rename(to, archived, p) : APR_EEXIST;
        }
        if (rv != APR_SUCCESS) return rv;
    }
    if ((rv = apr_file_rename(from, to, p)) != APR_SUCCESS) {
        /* all or nothing: the previous set goes back in place */
        if (archived) apr_file_rename(archived, to, p);
        return rv;
    }
    if (parchived) *parchived = archived;
    return APR_SUCCESS;
}

/* Account ids as the reference makes them: ACME-<host>-NNNN. */
#define ACCOUNT_IDS_MAX 10000

apr_status_t md_store_account_id_alloc(const char **pid, md_store_t *store, const char *ca_url,
                                       apr_pool_t *p)
{
    apr_uri_t uri;
    const char *host = ca_url && apr_uri_parse(p, ca_url, &uri) == APR_SUCCESS && uri.hostname
                       ? uri.hostname : "unknown";
    apr_status_t rv = ensure_dir(store, MD_SG_ACCOUNTS, NULL, p);
    int i;

    for (i = 0; i < ACCOUNT_IDS_MAX && rv == APR_SUCCESS; ++i) {
        const char *id = apr_psprintf(p, "ACME-%s-%04d", host, i);
        if (!md_store_name_is_safe(id)) return APR_EINVAL;
        rv = apr_dir_make(md_store_path(store, MD_SG_ACCOUNTS, id, NULL, p),
                          groups[MD_SG_ACCOUNTS].dir_perms, p);
        if (rv == APR_SUCCESS) {
            *pid = id;
            return APR_SUCCESS;
        }
        if (APR_STATUS_IS_EEXIST(rv)) rv = APR_SUCCESS;
    }
    return rv == APR_SUCCESS ? APR_EEXIST : rv;
}

static apr_status_t read_store_file(md_store_t *store, apr_pool_t *p, const char **perr)
{
    const char *path = md_store_path(store, MD_SG_NONE, NULL, MD_FN_STORE, p);
    json_t *j;
    const char *key;
    unsigned char *raw;
    long n;
    apr_status_t rv = md_json_read_file(&j, path, p, perr);

    if (rv != APR_SUCCESS) return rv;
    key = json_string_value(json_object_get(j, "key"));
    if (!key || (n = md_util_base64url_decode(p, key, &raw)) < 16 || n > MD_STORE_KEY_LEN) {
        *perr = apr_psprintf(p, "%s has no valid \"key\": the store cannot decrypt its keys", path);
        return APR_EINVAL;
    }
    memcpy(store->key, raw, (size_t)n);
    store->key_len = (apr_size_t)n;
    return APR_SUCCESS;
}

/* read_store_file, patient with a file just created: where the file system refuses hard
 * links, its creator makes it with O_CREAT|O_EXCL and writes it after, so a server starting
 * at the same moment may find it empty or half-written for a few milliseconds. */
static apr_status_t read_store_file_settled(md_store_t *store, apr_pool_t *p, const char **perr)
{
    const char *path = md_store_path(store, MD_SG_NONE, NULL, MD_FN_STORE, p);
    apr_time_t end = apr_time_now() + apr_time_from_sec(5);
    apr_finfo_t fi;
    apr_status_t rv;

    while ((rv = read_store_file(store, p, perr)) == APR_EINVAL && apr_time_now() < end
           && apr_stat(&fi, path, APR_FINFO_MTIME, p) == APR_SUCCESS
           && fi.mtime > apr_time_now() - apr_time_from_sec(10))
        apr_sleep(apr_time_from_msec(50));
    return rv;
}

apr_status_t md_store_open(md_store_t **pstore, const char *base, apr_pool_t *p, const char **perr)
{
    md_store_t *store = apr_pcalloc(p, sizeof(*store));
    apr_status_t rv;
    const char *path;

    store->p = p;
    store->base = apr_pstrdup(p, base);
    rv = md_util_mkdirs(base, groups[MD_SG_NONE].dir_perms, p);
    if (rv != APR_SUCCESS) {
        *perr = apr_psprintf(p, "cannot create store directory %s: %s", base,
                             apr_strerror(rv, apr_palloc(p, 128), 128));
        return rv;
    }
    rv = read_store_file_settled(store, p, perr);
    if (APR_STATUS_IS_ENOENT(rv)) {
        /* A new store. Servers sharing it may start at the same moment: the file is created
         * with link() (or O_CREAT|O_EXCL), so exactly one key wins and every server reads
         * that one. */
        json_t *j;
        char *s;
        if (RAND_bytes(store->key, MD_STORE_KEY_LEN) != 1) {
            *perr = "no random bytes for the store key";
            return APR_EGENERAL;
        }
        store->key_len = MD_STORE_KEY_LEN;
        j = json_pack("{s:{s:f},s:s}", "store", "version", MD_STORE_VERSION,
                      "key", md_util_base64url_encode(p, store->key, store->key_len));
        s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        json_decref(j);
        if (!s) return APR_ENOMEM;
        path = md_store_path(store, MD_SG_NONE, NULL, MD_FN_STORE, p);
        rv = md_util_file_create_atomic(path, s, strlen(s), 0x0600, p);
        free(s);
        if (APR_STATUS_IS_EEXIST(rv)) rv = read_store_file_settled(store, p, perr);
        else if (rv != APR_SUCCESS)
            *perr = apr_psprintf(p, "cannot write %s: %s", path, apr_strerror(rv, apr_palloc(p, 128), 128));
    }
    if (rv == APR_SUCCESS) *pstore = store;
    return rv;
}

void md_store_set_owner(md_store_t *store, apr_uid_t uid, apr_gid_t gid)
{
    store->owner_set = 1;
    store->uid = uid;
    store->gid = gid;
}

apr_status_t md_store_setup_groups(md_store_t *store, apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    int g;
    for (g = MD_SG_ACCOUNTS; g < MD_SG_COUNT && rv == APR_SUCCESS; ++g)
        rv = ensure_dir(store, (md_store_group_t)g, NULL, p);
    return rv;
}

apr_status_t md_store_load_json(md_store_t *store, md_store_group_t group, const char *name,
                                const char *fname, json_t **pjson, apr_pool_t *p, const char **perr)
{
    return md_json_read_file(pjson, md_store_path(store, group, name, fname, p), p, perr);
}

static apr_status_t save_file(md_store_t *store, md_store_group_t group, const char *name,
                              const char *fname, const char *data, apr_size_t len,
                              apr_fileperms_t perms, apr_pool_t *p)
{
    const char *path = md_store_path(store, group, name, fname, p);
    apr_status_t rv = ensure_dir(store, group, name, p);
    /* private keys (privkey.pem, acme-tls-alpn-01-privkey.pem...) are their owner's alone */
    if (fname && strstr(fname, "privkey")) perms = MD_STORE_SECRET_PERMS;
    if (rv == APR_SUCCESS)
        rv = md_util_file_write_atomic(path, data, len, perms, p);
    if (rv == APR_SUCCESS && groups[group].child_writable) rv = chown_path(store, path);
    return rv;
}

apr_status_t md_store_save_data(md_store_t *store, md_store_group_t group, const char *name,
                                const char *fname, const char *data, apr_pool_t *p)
{
    return save_file(store, group, name, fname, data, strlen(data), groups[group].file_perms, p);
}

apr_status_t md_store_save_secret(md_store_t *store, md_store_group_t group, const char *name,
                                  const char *fname, const char *data, apr_pool_t *p)
{
    return save_file(store, group, name, fname, data, strlen(data), MD_STORE_SECRET_PERMS, p);
}

apr_status_t md_store_copy(md_store_t *store, md_store_group_t from_group, const char *from_name,
                           md_store_group_t to_group, const char *to_name, const char *fname,
                           apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    apr_status_t rv = md_store_load_data(store, from_group, from_name, fname, &data, &len,
                                         MD_JSON_MAX, p);
    if (rv != APR_SUCCESS) return rv;
    return save_file(store, to_group, to_name, fname, data, len, groups[to_group].file_perms, p);
}

apr_status_t md_store_save_json(md_store_t *store, md_store_group_t group, const char *name,
                                const char *fname, json_t *json, apr_pool_t *p)
{
    char *s = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    apr_status_t rv;
    if (!s) return APR_ENOMEM;
    rv = md_store_save_data(store, group, name, fname, s, p);
    free(s);
    return rv;
}

apr_status_t md_store_load_md(md_store_t *store, md_store_group_t group, const char *name,
                              md_t **pmd, apr_pool_t *p, const char **perr)
{
    json_t *j;
    const char *err = NULL;
    apr_status_t rv = md_store_load_json(store, group, name, MD_FN_MD, &j, p, perr);

    if (rv != APR_SUCCESS) return rv;
    *pmd = md_from_json(j, p, &err);
    if (!*pmd) {
        *perr = apr_psprintf(p, "%s: %s", md_store_path(store, group, name, MD_FN_MD, p), err);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t md_store_save_md(md_store_t *store, md_store_group_t group, const md_t *md,
                              apr_pool_t *p)
{
    json_t *j = md_to_json(md, p);
    apr_status_t rv = md_store_save_json(store, group, md->name, MD_FN_MD, j, p);
    json_decref(j);
    return rv;
}

apr_status_t md_store_save_pkey(md_store_t *store, md_store_group_t group, const char *name,
                                const char *fname, EVP_PKEY *pkey, apr_pool_t *p)
{
    const char *pem;
    int enc = groups[group].encrypt_keys;
    apr_status_t rv = md_pkey_to_pem(&pem, pkey, enc ? store->key : NULL, enc ? store->key_len : 0, p);
    if (rv != APR_SUCCESS) return rv;
    return md_store_save_secret(store, group, name, fname, pem, p);
}

apr_status_t md_store_load_pkey(md_store_t *store, md_store_group_t group, const char *name,
                                const char *fname, EVP_PKEY **ppkey, apr_pool_t *p)
{
    return md_pkey_load(ppkey, md_store_path(store, group, name, fname, p),
                        store->key, store->key_len, p);
}

const char *md_store_fname(apr_pool_t *p, const char *base, const md_pkey_spec_t *spec)
{
    return apr_pstrcat(p, base, md_pkey_spec_suffix(p, spec), ".pem", NULL);
}

void md_store_set_facts_cache(md_store_t *store, apr_hash_t *cache)
{
    store->facts_cache = cache;
}

typedef struct cached_facts_t {
    apr_time_t mtime;
    apr_off_t size;
    const char *domains;        /* the domain list the covers flag was computed for */
    md_cert_facts_t facts;
} cached_facts_t;

apr_status_t md_store_cert_facts(md_store_t *store, const char *path, const apr_array_header_t *domains,
                                 md_cert_facts_t *facts, apr_pool_t *p)
{
    const char *key = apr_array_pstrcat(p, domains, ' ');
    apr_array_header_t *chain;
    cached_facts_t *c = NULL;
    apr_finfo_t fi;
    apr_status_t rv;
    X509 *x;

    rv = apr_stat(&fi, path, APR_FINFO_MTIME | APR_FINFO_SIZE, p);
    if (rv != APR_SUCCESS) return APR_STATUS_IS_ENOENT(rv) ? APR_ENOENT : rv;
    if (store->facts_cache) {
        c = apr_hash_get(store->facts_cache, path, APR_HASH_KEY_STRING);
        if (c && c->mtime == fi.mtime && c->size == fi.size && !strcmp(c->domains, key)) {
            *facts = c->facts;
            return APR_SUCCESS;
        }
    }
    if (md_chain_load(&chain, path, p) != APR_SUCCESS) return APR_EINVAL;
    x = APR_ARRAY_IDX(chain, 0, X509 *);
    facts->not_after = md_cert_not_after(x);
    facts->covers = md_cert_covers_domains(x, domains);
    if (store->facts_cache) {
        apr_pool_t *cp = apr_hash_pool_get(store->facts_cache);
        if (!c) {
            c = apr_pcalloc(cp, sizeof(*c));
            apr_hash_set(store->facts_cache, apr_pstrdup(cp, path), APR_HASH_KEY_STRING, c);
        }
        c->mtime = fi.mtime;
        c->size = fi.size;
        if (!c->domains || strcmp(c->domains, key)) c->domains = apr_pstrdup(cp, key);
        c->facts = *facts;
    }
    return APR_SUCCESS;
}

#define MD_FALLBACK_VALID apr_time_from_sec(14 * 86400)

/* A fallback only has to let mod_ssl start; a P-256 key takes a millisecond where an RSA key
 * takes a tenth of a second, which is what makes start-up fast with many MDs. */
static const md_pkey_spec_t fallback_spec = { MD_PKEY_EC, 0, "secp256r1" };

/* The fallback key in domains/<md>/kfn: the one there when it is usable, else a new one.
 * Servers sharing the store may get here at the same moment (the first configuration pass
 * holds no lock): a new key is created only where none exists (md_util_file_create_atomic: one
 * of them wins) and the others use the winner's. A usable key is never replaced, so every
 * certificate signed for the key on disk matches it. */
static apr_status_t fallback_key(EVP_PKEY **ppkey, md_store_t *store, const md_t *md,
                                 const char *kfn, apr_pool_t *p, const char **perr)
{
    const char *path = md_store_path(store, MD_SG_DOMAINS, md->name, kfn, p), *pem;
    EVP_PKEY *ours, *theirs;
    apr_status_t rv;

    if (md_store_load_pkey(store, MD_SG_DOMAINS, md->name, kfn, ppkey, p) == APR_SUCCESS)
        return APR_SUCCESS;
    if ((rv = md_pkey_gen(&ours, &fallback_spec, p)) != APR_SUCCESS
        || (rv = md_pkey_to_pem(&pem, ours, NULL, 0, p)) != APR_SUCCESS) {
        *perr = "generating the fallback key failed";
        return rv;
    }
    *ppkey = ours;
    if ((rv = ensure_dir(store, MD_SG_DOMAINS, md->name, p)) == APR_SUCCESS)
        rv = md_util_file_create_atomic(path, pem, strlen(pem), MD_STORE_SECRET_PERMS, p);
    if (APR_STATUS_IS_EEXIST(rv)) {
        /* another server's, unless the one there is unusable: then ours replaces it */
        if (md_store_load_pkey(store, MD_SG_DOMAINS, md->name, kfn, &theirs, p) == APR_SUCCESS) {
            *ppkey = theirs;
            rv = APR_SUCCESS;
        }
        else rv = md_store_save_secret(store, MD_SG_DOMAINS, md->name, kfn, pem, p);
    }
    if (rv != APR_SUCCESS)
        *perr = apr_psprintf(p, "cannot write the fallback key %s: %s", path,
                             apr_strerror(rv, apr_palloc(p, 128), 128));
    return rv;
}

apr_status_t md_store_ensure_fallback(md_store_t *store, const md_t *md, const md_pkey_spec_t *spec,
                                      const char **pcert_path, const char **pkey_path,
                                      apr_pool_t *p, const char **perr)
{
    const char *kfn = md_store_fname(p, "fallback-privkey", spec);
    const char *cfn = md_store_fname(p, "fallback-pubcert", spec);
    apr_array_header_t *one;
    md_cert_facts_t facts;
    apr_finfo_t kinfo, cinfo;
    EVP_PKEY *pkey;
    X509 *cert;
    apr_status_t rv;

    *pcert_path = md_store_path(store, MD_SG_DOMAINS, md->name, cfn, p);
    *pkey_path = md_store_path(store, MD_SG_DOMAINS, md->name, kfn, p);
    /* Reuse a fallback that still covers the names for a day. The key is not decoded (that
     * costs more than everything else at start-up with thousands of MDs): the key is always
     * written before its certificate, so a pair cut short by a crash shows as a key file
     * newer than the certificate. */
    if (md_store_cert_facts(store, *pcert_path, md->domains, &facts, p) == APR_SUCCESS
        && apr_stat(&kinfo, *pkey_path, APR_FINFO_MTIME, p) == APR_SUCCESS
        && apr_stat(&cinfo, *pcert_path, APR_FINFO_MTIME, p) == APR_SUCCESS
        && kinfo.mtime <= cinfo.mtime
        && facts.not_after > apr_time_now() + apr_time_from_sec(86400) && facts.covers)
        return APR_SUCCESS;
    if ((rv = fallback_key(&pkey, store, md, kfn, p, perr)) != APR_SUCCESS) return rv;
    if ((rv = md_cert_self_sign(&cert, md->name, md->domains, pkey, MD_FALLBACK_VALID, p)) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "creating the fallback certificate failed: %s", md_crypt_last_error(p));
        return rv;
    }
    one = apr_array_make(p, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(one, X509 *) = cert;
    rv = md_store_save_data(store, MD_SG_DOMAINS, md->name, cfn, md_chain_to_pem(one, p), p);
    if (rv != APR_SUCCESS)
        *perr = apr_psprintf(p, "cannot write the fallback certificate of %s in %s: %s", md->name,
                             md_store_path(store, MD_SG_DOMAINS, md->name, NULL, p),
                             apr_strerror(rv, apr_palloc(p, 128), 128));
    return rv;
}
