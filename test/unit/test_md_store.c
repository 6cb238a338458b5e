/* Unit tests of md_store: creation, the store key, groups, md.json, keys, fallbacks, and the
 * operations on sets (iteration, file lists, the archiving move, purges, account ids). */
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "md_unit.h"
#include "md_crypt.h"
#include "md_store.h"
#include "md_acme.h"
#include "md_acme_order.h"
#include <sys/stat.h>

START_TEST(open_creates_and_keeps_key)
{
    const char *base = apr_pstrcat(pool, tmp_dir(), "/store", NULL), *err = NULL;
    md_store_t *s1, *s2;
    apr_finfo_t fi;
    json_t *j;

    ck_assert_int_eq(md_store_open(&s1, base, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(s1->key_len, MD_STORE_KEY_LEN);
    ck_assert_int_eq(apr_stat(&fi, md_store_path(s1, MD_SG_NONE, NULL, MD_FN_STORE, pool),
                              APR_FINFO_PROT, pool), APR_SUCCESS);
    ck_assert_int_eq(fi.protection, 0x0600);
    ck_assert_int_eq(md_store_load_json(s1, MD_SG_NONE, NULL, MD_FN_STORE, &j, pool, &err), APR_SUCCESS);
    ck_assert(json_is_real(json_object_get(json_object_get(j, "store"), "version")));
    ck_assert_int_eq(md_store_open(&s2, base, pool, &err), APR_SUCCESS);
    ck_assert(!memcmp(s1->key, s2->key, MD_STORE_KEY_LEN));
}
END_TEST

START_TEST(concurrent_open_one_key)
{
    /* servers sharing a store start at the same moment on an empty store: all get one key */
    const char *base = apr_pstrcat(pool, tmp_dir(), "/store", NULL), *err = NULL;
    int fds[2], i, status;
    pid_t pids[6];
    md_store_t *s;
    char got[6][MD_STORE_KEY_LEN];

    ck_assert_int_eq(pipe(fds), 0);
    for (i = 0; i < 6; ++i) {
        if ((pids[i] = fork()) == 0) {
            apr_pool_t *p;
            md_store_t *cs;
            const char *cerr;
            apr_pool_create(&p, NULL);
            if (md_store_open(&cs, base, p, &cerr) != APR_SUCCESS) _exit(1);
            if (write(fds[1], cs->key, MD_STORE_KEY_LEN) != MD_STORE_KEY_LEN) _exit(2);
            _exit(0);
        }
    }
    close(fds[1]);
    for (i = 0; i < 6; ++i) {
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ck_assert_int_eq(read(fds[0], got[i], MD_STORE_KEY_LEN), MD_STORE_KEY_LEN);
    }
    close(fds[0]);
    ck_assert_int_eq(md_store_open(&s, base, pool, &err), APR_SUCCESS);
    for (i = 0; i < 6; ++i) ck_assert(!memcmp(got[i], s->key, MD_STORE_KEY_LEN));
}
END_TEST

START_TEST(corrupt_store_file_is_an_error)
{
    const char *base = tmp_dir(), *err = NULL;
    md_store_t *s;
    const char *path = apr_pstrcat(pool, base, "/md_store.json", NULL);
    apr_time_t old = apr_time_now() - apr_time_from_sec(3600);   /* not one being written */
    ck_assert_int_eq(md_util_file_write_atomic(path, "{\"store\":", 9, 0x0600, pool), APR_SUCCESS);
    ck_assert_int_eq(apr_file_mtime_set(path, old, pool), APR_SUCCESS);
    ck_assert_int_ne(md_store_open(&s, base, pool, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "not valid JSON"));
    ck_assert_int_eq(md_util_file_write_atomic(path, "{\"key\":\"!!\"}", 12, 0x0600, pool), APR_SUCCESS);
    ck_assert_int_eq(apr_file_mtime_set(path, old, pool), APR_SUCCESS);
    ck_assert_int_ne(md_store_open(&s, base, pool, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "key"));
}
END_TEST

START_TEST(store_file_being_written_is_waited_for)
{
    /* where link() is refused, the first server creates md_store.json with O_EXCL and writes
     * it after: another one starting then finds it empty and waits instead of failing */
    const char *base = apr_pstrcat(pool, tmp_dir(), "/store", NULL), *err = NULL, *path;
    md_store_t *s1, *s2;
    char *data;
    pid_t pid;
    int status;

    ck_assert_int_eq(md_store_open(&s1, base, pool, &err), APR_SUCCESS);
    path = md_store_path(s1, MD_SG_NONE, NULL, MD_FN_STORE, pool);
    ck_assert_int_eq(md_util_file_read(&data, NULL, path, 4096, pool), APR_SUCCESS);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(md_util_file_create_excl(path, "", 0, 0x0600, pool), APR_SUCCESS);
    if ((pid = fork()) == 0) {
        apr_sleep(apr_time_from_msec(300));
        _exit(md_util_file_write_atomic(path, data, strlen(data), 0x0600, pool) == APR_SUCCESS ? 0 : 1);
    }
    ck_assert_int_eq(md_store_open(&s2, base, pool, &err), APR_SUCCESS);
    ck_assert(!memcmp(s1->key, s2->key, MD_STORE_KEY_LEN));
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}
END_TEST

START_TEST(challenge_answers_public_keys_private)
{
    /* http-01 answers are read by the children of every server of a cluster, whatever user
     * the file server maps them to; keys stay 0600 wherever they are */
    const char *err = NULL;
    md_store_t *s;
    apr_finfo_t fi;

    umask(022);
    ck_assert_int_eq(md_store_open(&s, tmp_dir(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_store_setup_groups(s, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_data(s, MD_SG_CHALLENGES, "a.example.org", "acme-http-01.txt",
                                        "token.thumb", pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_data(s, MD_SG_CHALLENGES, "a.example.org",
                                        "acme-tls-alpn-01-privkey.pem", "KEY", pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_data(s, MD_SG_STAGING, "a.example.org", "privkey.pem", "KEY",
                                        pool), APR_SUCCESS);
    ck_assert_int_eq(apr_stat(&fi, md_store_path(s, MD_SG_CHALLENGES, NULL, NULL, pool), APR_FINFO_PROT, pool), APR_SUCCESS);
    ck_assert_int_eq(fi.protection, 0x0755);
    ck_assert_int_eq(apr_stat(&fi, md_store_path(s, MD_SG_CHALLENGES, "a.example.org", NULL, pool), APR_FINFO_PROT, pool), APR_SUCCESS);
    ck_assert_int_eq(fi.protection, 0x0755);
    ck_assert_int_eq(apr_stat(&fi, md_store_path(s, MD_SG_CHALLENGES, "a.example.org", "acme-http-01.txt", pool),
                              APR_FINFO_PROT, pool), APR_SUCCESS);
    ck_assert_int_eq(fi.protection, 0x0644);
    ck_assert_int_eq(apr_stat(&fi, md_store_path(s, MD_SG_CHALLENGES, "a.example.org", "acme-tls-alpn-01-privkey.pem", pool),
                              APR_FINFO_PROT, pool), APR_SUCCESS);
    ck_assert_int_eq(fi.protection, 0x0600);
    ck_assert_int_eq(apr_stat(&fi, md_store_path(s, MD_SG_STAGING, "a.example.org", "privkey.pem", pool),
                              APR_FINFO_PROT, pool), APR_SUCCESS);
    ck_assert_int_eq(fi.protection, 0x0600);
}
END_TEST

START_TEST(md_save_load)
{
    const char *err = NULL;
    md_store_t *s;
    md_t *md = unit_md("a.example.org"), *back;
    apr_finfo_t fi;

    ck_assert_int_eq(md_store_open(&s, tmp_dir(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_store_setup_groups(s, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_md(s, MD_SG_DOMAINS, md, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_load_md(s, MD_SG_DOMAINS, "a.example.org", &back, pool, &err), APR_SUCCESS);
    ck_assert(md_equal_json(md, back, pool));
    ck_assert_int_eq(apr_stat(&fi, md_store_path(s, MD_SG_DOMAINS, "a.example.org", NULL, pool),
                              APR_FINFO_PROT, pool), APR_SUCCESS);
    ck_assert_int_eq(fi.protection, 0x0700);
    ck_assert_int_eq(md_store_load_md(s, MD_SG_DOMAINS, "none.example.org", &back, pool, &err), APR_ENOENT);
}
END_TEST

START_TEST(keys_encrypted_where_required)
{
    const char *err = NULL, *pem;
    md_store_t *s;
    md_pkey_spec_t ec = { MD_PKEY_EC, 0, "secp256r1" };
    EVP_PKEY *k, *back;
    char *data;
    apr_size_t len;

    ck_assert_int_eq(md_store_open(&s, tmp_dir(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_pkey_gen(&k, &ec, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_pkey(s, MD_SG_STAGING, "a", "privkey.pem", k, pool), APR_SUCCESS);
    ck_assert_int_eq(md_util_file_read(&data, &len, md_store_path(s, MD_SG_STAGING, "a", "privkey.pem", pool),
                                       100000, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(data, "ENCRYPTED PRIVATE KEY"));
    ck_assert_int_eq(md_store_load_pkey(s, MD_SG_STAGING, "a", "privkey.pem", &back, pool), APR_SUCCESS);
    ck_assert(EVP_PKEY_eq(k, back) == 1);
    /* the passphrase is the raw decoded key, as upstream uses it */
    ck_assert_int_eq(md_pkey_from_pem(&back, data, len, s->key, s->key_len, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_pkey(s, MD_SG_DOMAINS, "a", "privkey.pem", k, pool), APR_SUCCESS);
    ck_assert_int_eq(md_util_file_read(&data, &len, md_store_path(s, MD_SG_DOMAINS, "a", "privkey.pem", pool),
                                       100000, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(data, "BEGIN PRIVATE KEY"));
    (void)pem;
}
END_TEST

static mode_t mode_of(const char *path)
{
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

/* Every file holding a private key is 0600 from its creation, in every group, whatever the
 * umask; other files keep the mode of their group. */
START_TEST(key_files_are_0600_whatever_the_umask)
{
    static const mode_t masks[] = { 0, 022, 077 };
    const char *err = NULL;
    md_store_t *s;
    md_pkey_spec_t ec = { MD_PKEY_EC, 0, "secp256r1" };
    md_acme_acct_t acct;
    EVP_PKEY *k;
    const char *pem;
    mode_t old;
    size_t i;
    int g;

    ck_assert_int_eq(md_pkey_gen(&k, &ec, pool), APR_SUCCESS);
    ck_assert_int_eq(md_pkey_to_pem(&pem, k, NULL, 0, pool), APR_SUCCESS);
    memset(&acct, 0, sizeof(acct));
    acct.url = "https://ca.test/acct/1";
    acct.ca_url = "https://ca.test/dir";
    acct.contacts = apr_array_make(pool, 1, sizeof(const char *));
    acct.key_pem = pem;
    for (i = 0; i < sizeof(masks) / sizeof(masks[0]); ++i) {
        old = umask(masks[i]);
        ck_assert_int_eq(md_store_open(&s, tmp_dir(), pool, &err), APR_SUCCESS);
        for (g = MD_SG_ACCOUNTS; g < MD_SG_COUNT; ++g) {
            const char *path = md_store_path(s, (md_store_group_t)g, "a", "privkey.pem", pool);
            ck_assert_int_eq(md_store_save_pkey(s, (md_store_group_t)g, "a", "privkey.pem", k, pool),
                             APR_SUCCESS);
            ck_assert_msg(mode_of(path) == 0600, "%s: mode %o with umask %03o", path,
                          (unsigned)mode_of(path), (unsigned)masks[i]);
            /* written again over an existing file: still 0600 */
            ck_assert_int_eq(md_store_save_pkey(s, (md_store_group_t)g, "a", "privkey.pem", k, pool),
                             APR_SUCCESS);
            ck_assert_int_eq(mode_of(path), 0600);
        }
        /* the staged account's key and a tls-alpn-01 challenge key */
        ck_assert_int_eq(md_acme_acct_save(&acct, s, MD_SG_STAGING, "a", pool), APR_SUCCESS);
        ck_assert_int_eq(mode_of(md_store_path(s, MD_SG_STAGING, "a", MD_FN_ACCOUNT_KEY, pool)), 0600);
        ck_assert_int_eq(md_store_save_secret(s, MD_SG_CHALLENGES, "a", MD_FN_TLSALPN01_KEY, pem, pool),
                         APR_SUCCESS);
        ck_assert_int_eq(mode_of(md_store_path(s, MD_SG_CHALLENGES, "a", MD_FN_TLSALPN01_KEY, pool)), 0600);
        /* a certificate in staging/ keeps the group's 0644, whatever the umask */
        ck_assert_int_eq(md_store_save_data(s, MD_SG_STAGING, "a", "pubcert.pem", "x", pool), APR_SUCCESS);
        ck_assert_int_eq(mode_of(md_store_path(s, MD_SG_STAGING, "a", "pubcert.pem", pool)), 0644);
        umask(old);
    }
}
END_TEST

START_TEST(fallback_created_once)
{
    const char *err = NULL, *cf, *kf, *cf2, *kf2;
    md_store_t *s;
    md_t *md = unit_md("a.example.org");
    md_pkey_spec_t rsa = { MD_PKEY_RSA, 2048, NULL };
    apr_array_header_t *chain;
    char *first, *second;
    apr_size_t len;

    APR_ARRAY_PUSH(md->domains, const char *) = "www.a.example.org";
    ck_assert_int_eq(md_store_open(&s, tmp_dir(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_store_ensure_fallback(s, md, &rsa, &cf, &kf, pool, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(cf, "/domains/a.example.org/fallback-pubcert.pem"));
    ck_assert_int_eq(md_chain_load(&chain, cf, pool), APR_SUCCESS);
    ck_assert(md_cert_covers_domains(APR_ARRAY_IDX(chain, 0, X509 *), md->domains));
    ck_assert_int_eq(md_util_file_read(&first, &len, cf, 100000, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_ensure_fallback(s, md, &rsa, &cf2, &kf2, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_util_file_read(&second, &len, cf2, 100000, pool), APR_SUCCESS);
    ck_assert_str_eq(first, second);
    /* a new name makes the old fallback unusable: it is replaced */
    APR_ARRAY_PUSH(md->domains, const char *) = "new.a.example.org";
    ck_assert_int_eq(md_store_ensure_fallback(s, md, &rsa, &cf2, &kf2, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_util_file_read(&second, &len, cf2, 100000, pool), APR_SUCCESS);
    ck_assert_str_ne(first, second);
}
END_TEST

/* Does the fallback pair in domains/ match (what mod_ssl checks right after post_config)? */
static int fallback_pair_matches(const char *cf, const char *kf, apr_pool_t *p)
{
    apr_array_header_t *chain;
    EVP_PKEY *pkey;
    return md_chain_load(&chain, cf, p) == APR_SUCCESS && chain->nelts
           && md_pkey_load(&pkey, kf, NULL, 0, p) == APR_SUCCESS
           && X509_check_private_key(APR_ARRAY_IDX(chain, 0, X509 *), pkey) == 1;
}

START_TEST(concurrent_fallbacks_match_their_keys)
{
    /* servers sharing a store make the fallback of a new MD at the same moment (the first
     * configuration pass holds no lock): each finds a certificate matching the key on disk */
    const char *base = apr_pstrcat(pool, tmp_dir(), "/store", NULL), *err = NULL, *cf, *kf;
    md_pkey_spec_t ec = { MD_PKEY_EC, 0, "secp256r1" };
    md_t *md = unit_md("a.example.org");
    md_store_t *s;
    int round, i, status, go[2];
    pid_t pids[4];

    ck_assert_int_eq(md_store_open(&s, base, pool, &err), APR_SUCCESS);
    for (round = 0; round < 8; ++round) {
        apr_file_remove(md_store_path(s, MD_SG_DOMAINS, md->name, "fallback-privkey.pem", pool), pool);
        apr_file_remove(md_store_path(s, MD_SG_DOMAINS, md->name, "fallback-pubcert.pem", pool), pool);
        ck_assert_int_eq(pipe(go), 0);
        for (i = 0; i < 4; ++i) {
            if ((pids[i] = fork()) == 0) {
                apr_pool_t *p;
                md_store_t *cs;
                const char *ccf, *ckf, *cerr;
                char c;
                apr_pool_create(&p, NULL);
                close(go[1]);
                if (read(go[0], &c, 1) != 0) _exit(1);          /* all start when it closes */
                if (md_store_open(&cs, base, p, &cerr) != APR_SUCCESS) _exit(2);
                if (md_store_ensure_fallback(cs, md, &ec, &ccf, &ckf, p, &cerr) != APR_SUCCESS) _exit(3);
                _exit(fallback_pair_matches(ccf, ckf, p) ? 0 : 4);
            }
        }
        close(go[0]);
        close(go[1]);
        for (i = 0; i < 4; ++i) {
            ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
            ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "round %d: child exit %d",
                          round, WEXITSTATUS(status));
        }
    }
    ck_assert_int_eq(md_store_ensure_fallback(s, md, &ec, &cf, &kf, pool, &err), APR_SUCCESS);
    ck_assert(fallback_pair_matches(cf, kf, pool));
    /* no temporary key files stay behind */
    {
        apr_dir_t *d;
        apr_finfo_t fi;
        ck_assert_int_eq(apr_dir_open(&d, md_store_path(s, MD_SG_DOMAINS, md->name, NULL, pool), pool),
                         APR_SUCCESS);
        while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS)
            ck_assert_msg(!strstr(fi.name, ".tmp"), "left behind: %s", fi.name);
        apr_dir_close(d);
    }
}
END_TEST

START_TEST(fallback_keeps_a_usable_key)
{
    /* a certificate missing or stale next to a usable key: the key stays, a new certificate
     * is made for it */
    const char *err = NULL, *cf, *kf;
    md_pkey_spec_t ec = { MD_PKEY_EC, 0, "secp256r1" };
    md_t *md = unit_md("a.example.org");
    md_store_t *s;
    char *key1, *key2;
    apr_size_t len;

    ck_assert_int_eq(md_store_open(&s, tmp_dir(), pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_store_ensure_fallback(s, md, &ec, &cf, &kf, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_util_file_read(&key1, &len, kf, 100000, pool), APR_SUCCESS);
    apr_file_remove(cf, pool);
    ck_assert_int_eq(md_store_ensure_fallback(s, md, &ec, &cf, &kf, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_util_file_read(&key2, &len, kf, 100000, pool), APR_SUCCESS);
    ck_assert_str_eq(key1, key2);
    ck_assert(fallback_pair_matches(cf, kf, pool));
    /* an unusable key is replaced */
    ck_assert_int_eq(md_util_file_write_atomic(kf, "garbage", 7, 0x0600, pool), APR_SUCCESS);
    apr_file_remove(cf, pool);
    ck_assert_int_eq(md_store_ensure_fallback(s, md, &ec, &cf, &kf, pool, &err), APR_SUCCESS);
    ck_assert(fallback_pair_matches(cf, kf, pool));
}
END_TEST

START_TEST(cert_facts_cached_by_size_and_mtime)
{
    const char *err = NULL, *cf, *kf;
    md_store_t *s;
    md_t *md = unit_md("a.example.org");
    md_pkey_spec_t rsa = { MD_PKEY_RSA, 2048, NULL };
    md_cert_facts_t facts;
    apr_hash_t *cache = apr_hash_make(pool);
    apr_finfo_t fi;
    char *data;
    apr_size_t len;

    ck_assert_int_eq(md_store_open(&s, tmp_dir(), pool, &err), APR_SUCCESS);
    md_store_set_facts_cache(s, cache);
    ck_assert_int_eq(md_store_ensure_fallback(s, md, &rsa, &cf, &kf, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(md_store_cert_facts(s, cf, md->domains, &facts, pool), APR_SUCCESS);
    ck_assert(facts.covers);
    ck_assert(facts.not_after > apr_time_now());
    /* same size and mtime: the cached facts are used, the content is not read again */
    ck_assert_int_eq(apr_stat(&fi, cf, APR_FINFO_MTIME | APR_FINFO_SIZE, pool), APR_SUCCESS);
    ck_assert_int_eq(md_util_file_read(&data, &len, cf, 100000, pool), APR_SUCCESS);
    memset(data, 'x', len);
    ck_assert_int_eq(md_util_file_write_atomic(cf, data, len, 0x0600, pool), APR_SUCCESS);
    ck_assert_int_eq(apr_file_mtime_set(cf, fi.mtime, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_cert_facts(s, cf, md->domains, &facts, pool), APR_SUCCESS);
    /* other domains: computed anew */
    APR_ARRAY_PUSH(md->domains, const char *) = "b.example.org";
    ck_assert_int_eq(md_store_cert_facts(s, cf, md->domains, &facts, pool), APR_EINVAL);
    /* a changed file is parsed again */
    ck_assert_int_eq(apr_file_mtime_set(cf, fi.mtime + apr_time_from_sec(5), pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_cert_facts(s, cf, md->domains, &facts, pool), APR_EINVAL);
    ck_assert_int_eq(md_store_cert_facts(s, "/nonexistent/x.pem", md->domains, &facts, pool), APR_ENOENT);
}
END_TEST

START_TEST(safe_names)
{
    ck_assert(md_store_name_is_safe("a.example.org"));
    ck_assert(!md_store_name_is_safe(".."));
    ck_assert(!md_store_name_is_safe("a/b"));
    ck_assert(!md_store_name_is_safe(""));
    ck_assert(!md_store_name_is_safe("a\nb"));
}
END_TEST

/* ---- sets: walking, moving, removing ---- */

static md_store_t *set_store(void)
{
    md_store_t *s;
    const char *err = NULL;
    ck_assert_int_eq(md_store_open(&s, tmp_dir(), pool, &err), APR_SUCCESS);
    return s;
}

static const char *read_back(md_store_t *s, md_store_group_t group, const char *name, const char *fname)
{
    char *data;
    if (md_store_load_data(s, group, name, fname, &data, NULL, 1000, pool) != APR_SUCCESS) return "(none)";
    return data;
}

static int collect(void *baton, const char *name, apr_pool_t *p)
{
    (void)p;
    APR_ARRAY_PUSH((apr_array_header_t *)baton, const char *) = name;
    return 1;
}

static int stop_at_first(void *baton, const char *name, apr_pool_t *p)
{
    (void)p;
    APR_ARRAY_PUSH((apr_array_header_t *)baton, const char *) = name;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *sorted(apr_array_header_t *names)
{
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), cmp_str);
    return apr_array_pstrcat(pool, names, ' ');
}

START_TEST(iteration_skips_non_directories_and_unsafe_names)
{
    md_store_t *s = set_store();
    apr_array_header_t *names = apr_array_make(pool, 4, sizeof(const char *));
    const char *dom = md_store_path(s, MD_SG_DOMAINS, NULL, NULL, pool);

    /* no domains/ yet: no sets, no error */
    ck_assert_int_eq(md_store_iter_names(collect, names, s, MD_SG_DOMAINS, pool), APR_SUCCESS);
    ck_assert_int_eq(names->nelts, 0);
    ck_assert_int_eq(md_store_save_data(s, MD_SG_DOMAINS, "a.example.org", "md.json", "{}", pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_data(s, MD_SG_DOMAINS, "b.example.org", "md.json", "{}", pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_save_data(s, MD_SG_DOMAINS, NULL, "a-file", "x", pool), APR_SUCCESS);
    ck_assert_int_eq(mkdir(apr_pstrcat(pool, dom, "/.hidden", NULL), 0700), 0);
    ck_assert_int_eq(mkdir(apr_pstrcat(pool, dom, "/bad\001name", NULL), 0700), 0);
    ck_assert_int_eq(symlink(apr_pstrcat(pool, dom, "/a.example.org", NULL),
                             apr_pstrcat(pool, dom, "/link.example.org", NULL)), 0);
    ck_assert_int_eq(md_store_iter_names(collect, names, s, MD_SG_DOMAINS, pool), APR_SUCCESS);
    ck_assert_str_eq(sorted(names), "a.example.org b.example.org");
    /* the callback stops the walk */
    names = apr_array_make(pool, 4, sizeof(const char *));
    ck_assert_int_eq(md_store_iter_names(stop_at_first, names, s, MD_SG_DOMAINS, pool), APR_SUCCESS);
    ck_assert_int_eq(names->nelts, 1);
}
END_TEST

START_TEST(list_files_gives_regular_files_sorted)
{
    md_store_t *s = set_store();
    apr_array_header_t *files;
    const char *dir;

    ck_assert_int_eq(md_store_list_files(&files, s, MD_SG_STAGING, "none.example.org", pool), APR_SUCCESS);
    ck_assert_int_eq(files->nelts, 0);
    md_store_save_data(s, MD_SG_STAGING, "a.example.org", "pubcert.pem", "c", pool);
    md_store_save_data(s, MD_SG_STAGING, "a.example.org", "job.json", "{}", pool);
    md_store_save_data(s, MD_SG_STAGING, "a.example.org", "md.json", "{}", pool);
    dir = md_store_path(s, MD_SG_STAGING, "a.example.org", NULL, pool);
    ck_assert_int_eq(mkdir(apr_pstrcat(pool, dir, "/subdir", NULL), 0700), 0);
    ck_assert_int_eq(symlink("/etc/passwd", apr_pstrcat(pool, dir, "/link", NULL)), 0);
    ck_assert_int_eq(md_store_list_files(&files, s, MD_SG_STAGING, "a.example.org", pool), APR_SUCCESS);
    ck_assert_str_eq(apr_array_pstrcat(pool, files, ' '), "job.json md.json pubcert.pem");
    /* files of the group directory itself */
    md_store_save_data(s, MD_SG_TMP, NULL, "x.lock", "{}", pool);
    ck_assert_int_eq(md_store_list_files(&files, s, MD_SG_TMP, NULL, pool), APR_SUCCESS);
    ck_assert_str_eq(apr_array_pstrcat(pool, files, ' '), "x.lock");
}
END_TEST

START_TEST(move_archives_the_previous_set_with_the_next_number)
{
    md_store_t *s = set_store();
    const char *archived = "unset";

    md_store_save_data(s, MD_SG_DOMAINS, "a.example.org", "pubcert.pem", "old", pool);
    md_store_save_data(s, MD_SG_ARCHIVE, "a.example.org.1", "pubcert.pem", "older", pool);
    md_store_save_data(s, MD_SG_DOMAINS, "a.example.org.activating", "pubcert.pem", "new", pool);
    ck_assert_int_eq(md_store_move(s, MD_SG_DOMAINS, "a.example.org.activating", MD_SG_DOMAINS,
                                   "a.example.org", 1, &archived, pool), APR_SUCCESS);
    ck_assert_str_eq(archived, md_store_path(s, MD_SG_ARCHIVE, "a.example.org.2", NULL, pool));
    ck_assert_str_eq(read_back(s, MD_SG_DOMAINS, "a.example.org", "pubcert.pem"), "new");
    ck_assert_str_eq(read_back(s, MD_SG_ARCHIVE, "a.example.org.2", "pubcert.pem"), "old");
    ck_assert_str_eq(read_back(s, MD_SG_ARCHIVE, "a.example.org.1", "pubcert.pem"), "older");
    ck_assert(!md_store_exists(s, MD_SG_DOMAINS, "a.example.org.activating", NULL, pool));
    /* nothing in place: nothing archived */
    md_store_save_data(s, MD_SG_STAGING, "b.example.org", "pubcert.pem", "b", pool);
    ck_assert_int_eq(md_store_move(s, MD_SG_STAGING, "b.example.org", MD_SG_DOMAINS, "b.example.org",
                                   1, &archived, pool), APR_SUCCESS);
    ck_assert_ptr_null(archived);
    ck_assert_str_eq(read_back(s, MD_SG_DOMAINS, "b.example.org", "pubcert.pem"), "b");
    ck_assert(!md_store_exists(s, MD_SG_STAGING, "b.example.org", NULL, pool));
    /* without archive, the set in place is replaced */
    md_store_save_data(s, MD_SG_DOMAINS, "c.example.org", "pubcert.pem", "c", pool);
    ck_assert_int_eq(md_store_move(s, MD_SG_DOMAINS, "b.example.org", MD_SG_DOMAINS, "c.example.org",
                                   0, &archived, pool), APR_SUCCESS);
    ck_assert_ptr_null(archived);
    ck_assert_str_eq(read_back(s, MD_SG_DOMAINS, "c.example.org", "pubcert.pem"), "b");
    ck_assert(!md_store_exists(s, MD_SG_ARCHIVE, "c.example.org.1", NULL, pool));
    ck_assert_int_eq(md_store_move(s, MD_SG_DOMAINS, "../x", MD_SG_DOMAINS, "c.example.org", 1,
                                   NULL, pool), APR_EINVAL);
}
END_TEST

START_TEST(move_that_fails_puts_the_previous_set_back)
{
    md_store_t *s = set_store();
    const char *archived = "unset";

    md_store_save_data(s, MD_SG_DOMAINS, "a.example.org", "pubcert.pem", "old", pool);
    /* the new set is missing: its rename fails after the old set went to the archive */
    ck_assert_int_ne(md_store_move(s, MD_SG_DOMAINS, "a.example.org.activating", MD_SG_DOMAINS,
                                   "a.example.org", 1, &archived, pool), APR_SUCCESS);
    ck_assert_ptr_null(archived);
    ck_assert_str_eq(read_back(s, MD_SG_DOMAINS, "a.example.org", "pubcert.pem"), "old");
    ck_assert(!md_store_exists(s, MD_SG_ARCHIVE, "a.example.org.1", NULL, pool));
}
END_TEST

START_TEST(purge_does_not_follow_a_link_out_of_the_store)
{
    md_store_t *s = set_store();
    const char *out = tmp_dir(), *staged;
    struct stat st;

    ck_assert_int_eq(md_util_file_write_atomic(apr_pstrcat(pool, out, "/precious", NULL), "keep", 4,
                                               0x0600, pool), APR_SUCCESS);
    /* the set itself swapped for a link: the link goes, nothing behind it */
    md_store_save_data(s, MD_SG_STAGING, "a.example.org", "pubcert.pem", "c", pool);
    staged = md_store_path(s, MD_SG_STAGING, "a.example.org", NULL, pool);
    ck_assert_int_eq(system(apr_psprintf(pool, "rm -rf %s", staged)), 0);
    ck_assert_int_eq(symlink(out, staged), 0);
    ck_assert_int_eq(md_store_purge(s, MD_SG_STAGING, "a.example.org", pool), APR_SUCCESS);
    ck_assert_int_ne(lstat(staged, &st), 0);
    ck_assert(md_util_file_exists(apr_pstrcat(pool, out, "/precious", NULL), pool));
    /* a link inside the set: removed, not followed */
    md_store_save_data(s, MD_SG_STAGING, "b.example.org", "pubcert.pem", "c", pool);
    staged = md_store_path(s, MD_SG_STAGING, "b.example.org", NULL, pool);
    ck_assert_int_eq(symlink(out, apr_pstrcat(pool, staged, "/inner", NULL)), 0);
    ck_assert_int_eq(md_store_purge(s, MD_SG_STAGING, "b.example.org", pool), APR_SUCCESS);
    ck_assert_int_ne(lstat(staged, &st), 0);
    ck_assert(md_util_file_exists(apr_pstrcat(pool, out, "/precious", NULL), pool));
    /* nothing there is no error; a name that is no single component is refused */
    ck_assert_int_eq(md_store_purge(s, MD_SG_STAGING, "b.example.org", pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_purge(s, MD_SG_STAGING, "..", pool), APR_EINVAL);
    ck_assert_int_eq(md_store_purge(s, MD_SG_STAGING, "a/../..", pool), APR_EINVAL);
}
END_TEST

static int keep_a(void *baton, const char *name, apr_pool_t *p)
{
    (void)baton;
    (void)p;
    return !strcmp(name, "a.example.org");
}

START_TEST(purge_group_removes_what_is_not_kept)
{
    md_store_t *s = set_store();
    const char *out = tmp_dir();

    md_store_save_data(s, MD_SG_CHALLENGES, "a.example.org", "acme-http-01.txt", "t", pool);
    md_store_save_data(s, MD_SG_CHALLENGES, "b.example.org", "acme-http-01.txt", "t", pool);
    md_store_save_data(s, MD_SG_CHALLENGES, NULL, "stray-file", "t", pool);
    ck_assert_int_eq(md_util_file_write_atomic(apr_pstrcat(pool, out, "/precious", NULL), "keep", 4,
                                               0x0600, pool), APR_SUCCESS);
    ck_assert_int_eq(symlink(out, md_store_path(s, MD_SG_CHALLENGES, "link", NULL, pool)), 0);
    ck_assert_int_eq(md_store_purge_group(s, MD_SG_CHALLENGES, keep_a, NULL, pool), 3);
    ck_assert(md_store_exists(s, MD_SG_CHALLENGES, "a.example.org", "acme-http-01.txt", pool));
    ck_assert(!md_store_exists(s, MD_SG_CHALLENGES, "b.example.org", NULL, pool));
    ck_assert(!md_store_exists(s, MD_SG_CHALLENGES, NULL, "stray-file", pool));
    ck_assert(!md_store_exists(s, MD_SG_CHALLENGES, "link", NULL, pool));
    ck_assert(md_util_file_exists(apr_pstrcat(pool, out, "/precious", NULL), pool));
    ck_assert_int_eq(md_store_purge_group(s, MD_SG_CHALLENGES, keep_a, NULL, pool), 0);
}
END_TEST

START_TEST(files_are_removed_renamed_and_copied)
{
    md_store_t *s = set_store();
    char *data;
    apr_size_t len;
    apr_finfo_t fi;

    md_store_save_data(s, MD_SG_CHALLENGES, "a.example.org", "one", "1", pool);
    md_store_save_data(s, MD_SG_CHALLENGES, "a.example.org", "two", "2", pool);
    /* a directory goes only once it is empty */
    ck_assert_int_ne(md_store_remove(s, MD_SG_CHALLENGES, "a.example.org", NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_remove(s, MD_SG_CHALLENGES, "a.example.org", "one", pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_rename(s, MD_SG_CHALLENGES, "a.example.org", "two", "three", pool), APR_SUCCESS);
    ck_assert(!md_store_exists(s, MD_SG_CHALLENGES, "a.example.org", "two", pool));
    ck_assert_str_eq(read_back(s, MD_SG_CHALLENGES, "a.example.org", "three"), "2");
    ck_assert_int_eq(md_store_remove(s, MD_SG_CHALLENGES, "a.example.org", "three", pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_remove(s, MD_SG_CHALLENGES, "a.example.org", NULL, pool), APR_SUCCESS);
    ck_assert(!md_store_exists(s, MD_SG_CHALLENGES, "a.example.org", NULL, pool));
    /* a copy is the same bytes (a NUL too), with the permissions of its new place */
    ck_assert_int_eq(md_util_file_write_atomic(md_store_path(s, MD_SG_CHALLENGES, NULL, "bin", pool),
                                               "a\0b", 3, 0x0644, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_copy(s, MD_SG_CHALLENGES, NULL, MD_SG_DOMAINS, "b.example.org", "bin", pool),
                     APR_SUCCESS);
    ck_assert_int_eq(md_store_load_data(s, MD_SG_DOMAINS, "b.example.org", "bin", &data, &len, 10, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(len, 3);
    ck_assert(!memcmp(data, "a\0b", 3));
    ck_assert_int_eq(apr_stat(&fi, md_store_path(s, MD_SG_DOMAINS, "b.example.org", "bin", pool),
                              APR_FINFO_PROT, pool), APR_SUCCESS);
    ck_assert_int_eq(fi.protection, 0x0600);
    ck_assert_int_eq(md_store_load_data(s, MD_SG_DOMAINS, "b.example.org", "bin", &data, &len, 2, pool),
                     APR_EINVAL);                                        /* longer than allowed */
}
END_TEST

START_TEST(account_ids_are_allocated_once)
{
    md_store_t *s = set_store();
    const char *id1, *id2, *id3;

    ck_assert_int_eq(md_store_account_id_alloc(&id1, s, "https://ca.example:14000/dir", pool), APR_SUCCESS);
    ck_assert_str_eq(id1, "ACME-ca.example-0000");
    ck_assert(md_store_exists(s, MD_SG_ACCOUNTS, id1, NULL, pool));
    ck_assert_int_eq(md_store_account_id_alloc(&id2, s, "https://ca.example/other", pool), APR_SUCCESS);
    ck_assert_str_eq(id2, "ACME-ca.example-0001");
    /* a number freed is given again */
    ck_assert_int_eq(md_store_purge(s, MD_SG_ACCOUNTS, id1, pool), APR_SUCCESS);
    ck_assert_int_eq(md_store_account_id_alloc(&id3, s, "https://ca.example/dir", pool), APR_SUCCESS);
    ck_assert_str_eq(id3, "ACME-ca.example-0000");
    ck_assert_int_eq(md_store_account_id_alloc(&id3, s, NULL, pool), APR_SUCCESS);
    ck_assert_str_eq(id3, "ACME-unknown-0000");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("md_store");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_add_test(tc, open_creates_and_keeps_key);
    tcase_add_test(tc, concurrent_open_one_key);
    tcase_add_test(tc, corrupt_store_file_is_an_error);
    tcase_add_test(tc, store_file_being_written_is_waited_for);
    tcase_add_test(tc, challenge_answers_public_keys_private);
    tcase_add_test(tc, md_save_load);
    tcase_add_test(tc, keys_encrypted_where_required);
    tcase_add_test(tc, fallback_created_once);
    tcase_add_test(tc, concurrent_fallbacks_match_their_keys);
    tcase_add_test(tc, fallback_keeps_a_usable_key);
    tcase_add_test(tc, key_files_are_0600_whatever_the_umask);
    tcase_add_test(tc, cert_facts_cached_by_size_and_mtime);
    tcase_add_test(tc, safe_names);
    tcase_add_test(tc, iteration_skips_non_directories_and_unsafe_names);
    tcase_add_test(tc, list_files_gives_regular_files_sorted);
    tcase_add_test(tc, move_archives_the_previous_set_with_the_next_number);
    tcase_add_test(tc, move_that_fails_puts_the_previous_set_back);
    tcase_add_test(tc, purge_does_not_follow_a_link_out_of_the_store);
    tcase_add_test(tc, purge_group_removes_what_is_not_kept);
    tcase_add_test(tc, files_are_removed_renamed_and_copied);
    tcase_add_test(tc, account_ids_are_allocated_once);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(suite)
