/* test_ct_log.c: log configuration rows, the SQLite DB and merging (ct_log.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <sqlite3.h>

#include "ct_log.h"
#include "ct_helpers.h"

static apr_pool_t *pool;
static const char *dir, *keyfile;
static EVP_PKEY *key;
static unsigned char keyid[32];

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    dir = th_tmpdir(pool);
    key = th_ec_key();
    keyfile = th_write_pubkey(pool, key, dir, "log.pem");
    ck_assert_int_eq(ct_log_id_from_key(keyid, key), APR_SUCCESS);
}

static void teardown(void)
{
    EVP_PKEY_free(key);
    apr_pool_destroy(pool);
}

static apr_status_t fields(ct_log_t **plog, const char *a, const char *b, const char *c,
                           const char *d, const char *e, const char *f, const char **perr)
{
    const char *v[6] = { a, b, c, d, e, f };
    *perr = NULL;
    return ct_log_from_fields(plog, v, dir, pool, perr);
}

START_TEST(log_id_parse_and_format)
{
    unsigned char id[32];
    const char *hex = "0123456789abcdefABCDEF0123456789abcdef0123456789abcdef0123456789";

    ck_assert_int_eq(ct_log_id_parse(id, hex), APR_SUCCESS);
    ck_assert_str_eq(ct_log_id_format(pool, id),
                     "0123456789ABCDEFABCDEF0123456789ABCDEF0123456789ABCDEF0123456789");
    ck_assert_int_eq(ct_log_id_parse(id, "0123"), APR_EINVAL);
    ck_assert_int_eq(ct_log_id_parse(id, apr_pstrcat(pool, hex, "0", NULL)), APR_EINVAL);
    ck_assert_int_eq(ct_log_id_parse(id,
        "g123456789abcdefABCDEF0123456789abcdef0123456789abcdef0123456789"), APR_EINVAL);
    ck_assert_int_eq(ct_log_id_parse(id, NULL), APR_EINVAL);
}
END_TEST

START_TEST(static_fields)
{
    ct_log_t *log;
    const char *err;

    ck_assert_int_eq(fields(&log, "-", "log.pem", "-", "-", "-", "http://127.0.0.1:1/", &err),
                     APR_SUCCESS);
    ck_assert(log->has_id);
    ck_assert(!memcmp(log->id, keyid, 32));
    ck_assert_ptr_nonnull(log->pkey);
    ck_assert_str_eq(log->url, "http://127.0.0.1:1/");
    ck_assert_int_eq(fields(&log, ct_log_id_format(pool, keyid), keyfile, "1", "100", "200",
                            "-", &err), APR_SUCCESS);
    ck_assert(log->distrusted);
    ck_assert_uint_eq(log->min_ts, 100);
    ck_assert_uint_eq(log->max_ts, 200);
    ck_assert_int_eq(fields(&log, "-", "-", "-", "-", "-", "https://log.example/ct", &err),
                     APR_SUCCESS);
    ck_assert(!log->has_id);

    ck_assert_int_eq(fields(&log, "abc", "-", "-", "-", "-", "-", &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "abc"));
    ck_assert_int_eq(fields(&log, "-", "nope.pem", "-", "-", "-", "-", &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "nope.pem"));
    th_write(apr_pstrcat(pool, dir, "/junk.pem", NULL), "hello", 5);
    ck_assert_int_eq(fields(&log, "-", "junk.pem", "-", "-", "-", "-", &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "public key"));
    ck_assert_int_eq(fields(&log, "-", "-", "2", "-", "-", "http://x/", &err), APR_EINVAL);
    ck_assert_int_eq(fields(&log, "-", "-", "-", "12x", "-", "http://x/", &err), APR_EINVAL);
    ck_assert_int_eq(fields(&log, "-", "-", "-", "-", "-1", "http://x/", &err), APR_EINVAL);
    ck_assert_int_eq(fields(&log, "-", "-", "-", "5", "4", "http://x/", &err), APR_EINVAL);
    ck_assert_int_eq(fields(&log, "-", "-", "-", "-", "-", "ftp://x/", &err), APR_EINVAL);
    ck_assert_int_eq(fields(&log, "-", "-", "-", "-", "-", "-", &err), APR_EINVAL);
    /* an id that does not belong to the key */
    ck_assert_int_eq(fields(&log, "00000000000000000000000000000000"
                            "00000000000000000000000000000000",
                            "log.pem", "-", "-", "-", "-", &err), APR_EINVAL);
}
END_TEST

static const char *make_db(const char *name, const char *schema, const char *rows)
{
    const char *path = apr_pstrcat(pool, dir, "/", name, NULL);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, schema, NULL, NULL, NULL), SQLITE_OK);
    if (rows) ck_assert_int_eq(sqlite3_exec(db, rows, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    return path;
}

#define SCHEMA "CREATE TABLE loginfo(id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, " \
    "log_id TEXT, public_key TEXT, distrusted INTEGER, min_valid_timestamp INTEGER, " \
    "max_valid_timestamp INTEGER, url TEXT)"

START_TEST(db_read_and_merge)
{
    apr_array_header_t *rows, *statics;
    const char *err = NULL, *warn = NULL;
    const char *db;
    ct_logs_t *logs;
    ct_log_t *st;
    const ct_log_t *found;

    db = make_db("ok.db", SCHEMA, apr_psprintf(pool,
        "INSERT INTO loginfo(log_id, public_key, distrusted, min_valid_timestamp, "
        "max_valid_timestamp, url) VALUES(NULL, '%s', 0, NULL, 5000, 'http://a/');"
        "INSERT INTO loginfo(url) VALUES('http://b/');", keyfile));
    ck_assert_int_eq(ct_log_db_read(&rows, db, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 2);
    /* a static row distrusting the same log id: both apply, distrust wins */
    ck_assert_int_eq(fields(&st, ct_log_id_format(pool, keyid), "-", "1", "-", "-", "-", &err),
                     APR_SUCCESS);
    statics = apr_array_make(pool, 1, sizeof(ct_log_t *));
    APR_ARRAY_PUSH(statics, ct_log_t *) = st;
    ck_assert_int_eq(ct_logs_make(&logs, statics, rows, dir, pool, &warn), APR_SUCCESS);
    ck_assert_ptr_null(warn);
    ck_assert_int_eq(logs->logs->nelts, 2);
    found = ct_logs_find(logs, keyid);
    ck_assert_ptr_nonnull(found);
    ck_assert(found->distrusted);
    ck_assert_ptr_nonnull(found->pkey);
    ck_assert_uint_eq(found->max_ts, 5000);
    ck_assert_str_eq(found->url, "http://a/");
    ck_assert_ptr_nonnull(logs->store);
    ck_assert(!ct_log_usable(found, 1000));
}
END_TEST

START_TEST(merged_logs_outlive_the_rows)
{
    apr_array_header_t *rows;
    apr_pool_t *rp;
    const char *err = NULL, *warn = NULL, *db;
    ct_logs_t *logs;
    const ct_log_t *found;
    int i;

    db = make_db("life.db", SCHEMA, apr_psprintf(pool,
        "INSERT INTO loginfo(public_key, url) VALUES('%s', 'http://log.example/ct/')",
        keyfile));
    apr_pool_create(&rp, pool);
    ck_assert_int_eq(ct_log_db_read(&rows, db, rp, &err), APR_SUCCESS);
    ck_assert_int_eq(ct_logs_make(&logs, NULL, rows, dir, pool, &warn), APR_SUCCESS);
    apr_pool_destroy(rp);
    /* reuse the memory the rows had */
    for (i = 0; i < 8; ++i) {
        apr_pool_create(&rp, pool);
        memset(apr_palloc(rp, 8000), 'X', 8000);
    }
    found = ct_logs_find(logs, keyid);
    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(found->url, "http://log.example/ct/");
    ck_assert_str_eq(found->key_file, keyfile);
}
END_TEST

START_TEST(db_bad)
{
    apr_array_header_t *rows = NULL;
    const char *err = NULL, *db;

    db = make_db("wrong.db", "CREATE TABLE other(x INTEGER)", NULL);
    ck_assert_int_ne(ct_log_db_read(&rows, db, pool, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "not a CT log config DB"));
    ck_assert_ptr_null(rows);
    db = apr_pstrcat(pool, dir, "/garbage.db", NULL);
    th_write(db, "this is not sqlite at all, not even close......................", 64);
    ck_assert_int_ne(ct_log_db_read(&rows, db, pool, &err), APR_SUCCESS);
    ck_assert_ptr_null(rows);
    ck_assert_int_ne(ct_log_db_read(&rows, apr_pstrcat(pool, dir, "/missing.db", NULL), pool,
                                    &err), APR_SUCCESS);
    db = make_db("badid.db", SCHEMA, "INSERT INTO loginfo(log_id) VALUES('xyz')");
    ck_assert_int_ne(ct_log_db_read(&rows, db, pool, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "xyz"));
}
END_TEST

START_TEST(db_locked)
{
    apr_array_header_t *rows = NULL;
    const char *err = NULL, *db = make_db("locked.db", SCHEMA,
                                          "INSERT INTO loginfo(url) VALUES('http://a/')");
    sqlite3 *h;

    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_ne(ct_log_db_read(&rows, db, pool, &err), APR_SUCCESS);
    ck_assert_ptr_null(rows);
    ck_assert_ptr_nonnull(err);
    sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(h);
    ck_assert_int_eq(ct_log_db_read(&rows, db, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 1);
}
END_TEST

START_TEST(db_key_missing_is_warned)
{
    apr_array_header_t *rows;
    const char *err = NULL, *warn = NULL, *db;
    ct_logs_t *logs;

    db = make_db("nokey.db", SCHEMA,
                 "INSERT INTO loginfo(public_key, url) VALUES('/nonexistent/k.pem', 'http://a/')");
    ck_assert_int_eq(ct_log_db_read(&rows, db, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(ct_logs_make(&logs, NULL, rows, dir, pool, &warn), APR_SUCCESS);
    ck_assert_ptr_nonnull(warn);
    ck_assert_ptr_nonnull(strstr(warn, "/nonexistent/k.pem"));
    ck_assert_ptr_null(logs->store);
}
END_TEST

int main(void)
{
    const TTest *tests[] = { log_id_parse_and_format, static_fields, db_read_and_merge, merged_logs_outlive_the_rows, db_bad, db_locked, db_key_missing_is_warned, NULL };
    return th_run("ct_log", setup, teardown, tests);
}
