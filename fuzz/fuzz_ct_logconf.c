/* fuzz_ct_logconf: the configuration of CT logs (ct_log.c): CTStaticLogConfig fields and the
 * rows of the log DB that ctlogconfig writes.
 *
 * The first byte chooses:
 *   0  the six CTStaticLogConfig fields, one per line ('@' at the start of the key field
 *      means the harness's directory, which holds a real key "log.pem" and garbage
 *      "bad.pem"): an accepted row keeps what the fields said, and ct_logs_make turns it
 *      into a log whose id is the key's;
 *   1  a log id: accepted ids are 64 hex digits and format back to themselves;
 *   2  a timestamp: accepted ones are "-" or plain decimal numbers, read exactly;
 *   3  DB rows, one per line, fields separated by '|' (log_id|public_key|distrusted|min|max|url,
 *      numbers stored as integers, anything else as text, empty as NULL), written into a
 *      real SQLite DB: what ct_log_db_read accepts merges into logs with unique ids whose
 *      keys match them, distrusted when any row of theirs is.
 */
#include <errno.h>
#include <unistd.h>
#include <sqlite3.h>

#include "fuzz.h"
#include "ct_log.h"
#include "ct_helpers.h"

static const char *dir, *db_path, *key_path;
static unsigned char key_id[CT_LOG_ID_LEN];

static void write_seeds(void)
{
    const char *hex = ct_log_id_format(fuzz_root(), key_id);
    const char *s;

    s = apr_psprintf(fuzz_root(), "%s\n@log.pem\n0\n1500000000000\n-\nhttps://ct.example.org/log/", hex);
    fuzz_seed("static", 0, s, strlen(s));
    s = "-\n@log.pem\n1\n-\n1900000000000\n-";
    fuzz_seed("static-distrusted", 0, s, strlen(s));
    s = "-\n@bad.pem\n0\n-\n-\nhttp://127.0.0.1:8080/";
    fuzz_seed("static-badkey", 0, s, strlen(s));
    fuzz_seed("id", 1, hex, strlen(hex));
    fuzz_seed("ts", 2, "1700000000000", 13);
    fuzz_seed("ts-unset", 2, "-", 1);
    s = apr_psprintf(fuzz_root(), "%s|@log.pem|0|1500000000000||https://ct.example.org/\n"
                     "|@log.pem|1|||\n%s||0|||http://log2.example.org/", hex, hex);
    fuzz_seed("db", 3, s, strlen(s));
    _exit(0);
}

static void init(void)
{
    apr_pool_t *p = fuzz_root();
    EVP_PKEY *key = th_ec_key();

    dir = fuzz_tmpdir();
    key_path = th_write_pubkey(p, key, dir, "log.pem");
    th_write(apr_pstrcat(p, dir, "/bad.pem", NULL), "-----BEGIN PUBLIC KEY-----\nAAAA\n", 32);
    ct_log_id_from_key(key_id, key);
    EVP_PKEY_free(key);
    db_path = apr_pstrcat(p, dir, "/log.db", NULL);
    if (fuzz_seeds_wanted()) write_seeds();
}

/* '@x' is dir/x */
static const char *field(apr_pool_t *p, const uint8_t *d, size_t n)
{
    const char *s = fuzz_str(p, d, n);
    return s[0] == '@' ? apr_pstrcat(p, dir, "/", s + 1, NULL) : s;
}

/* Properties every merged configuration has. */
static void check_logs(const ct_logs_t *logs, apr_pool_t *p)
{
    int i, k;

    for (i = 0; i < logs->logs->nelts; ++i) {
        const ct_log_t *a = APR_ARRAY_IDX(logs->logs, i, const ct_log_t *);
        if (a->pkey) {
            unsigned char id[CT_LOG_ID_LEN];
            FUZZ_ASSERT(a->has_id);
            FUZZ_ASSERT(ct_log_id_from_key(id, a->pkey) == APR_SUCCESS);
            FUZZ_ASSERT(!memcmp(id, a->id, CT_LOG_ID_LEN));
            FUZZ_ASSERT(ct_logs_find(logs, a->id) == a);
        }
        for (k = i + 1; k < logs->logs->nelts && a->has_id; ++k) {
            const ct_log_t *b = APR_ARRAY_IDX(logs->logs, k, const ct_log_t *);
            FUZZ_ASSERT(!b->has_id || memcmp(a->id, b->id, CT_LOG_ID_LEN));
        }
    }
    (void)p;
}

static void check_fields(const uint8_t *d, size_t n, apr_pool_t *p)
{
    const uint8_t *parts[6];
    size_t lens[6];
    const char *f[6], *err = NULL, *warn = NULL;
    apr_array_header_t *rows;
    ct_log_t *log;
    ct_logs_t *logs;
    apr_uint64_t ts;
    int i;

    if (fuzz_split(d, n, "\n", 6, parts, lens) != 6) return;
    for (i = 0; i < 6; ++i) f[i] = field(p, parts[i], lens[i]);
    if (ct_log_from_fields(&log, f, dir, p, &err) != APR_SUCCESS) {
        FUZZ_ASSERT(err != NULL);
        return;
    }
    FUZZ_ASSERT(ct_log_ts_parse(&ts, f[3]) == APR_SUCCESS && ts == log->min_ts);
    FUZZ_ASSERT(ct_log_ts_parse(&ts, f[4]) == APR_SUCCESS && ts == log->max_ts);
    if (log->has_id) {
        unsigned char id[CT_LOG_ID_LEN];
        FUZZ_ASSERT(ct_log_id_parse(id, ct_log_id_format(p, log->id)) == APR_SUCCESS);
        FUZZ_ASSERT(!memcmp(id, log->id, CT_LOG_ID_LEN));
    }
    rows = apr_array_make(p, 1, sizeof(ct_log_t *));
    APR_ARRAY_PUSH(rows, ct_log_t *) = log;
    FUZZ_ASSERT(ct_logs_make(&logs, rows, NULL, dir, p, &warn) == APR_SUCCESS);
    check_logs(logs, p);
    for (i = 0; i < logs->logs->nelts; ++i)
        FUZZ_ASSERT(APR_ARRAY_IDX(logs->logs, i, ct_log_t *)->distrusted == log->distrusted);
}

static void check_id(const uint8_t *d, size_t n, apr_pool_t *p)
{
    unsigned char id[CT_LOG_ID_LEN];
    const char *s = fuzz_str(p, d, n);

    if (ct_log_id_parse(id, s) != APR_SUCCESS) return;
    FUZZ_ASSERT(strlen(s) == 64);
    FUZZ_ASSERT(!strcasecmp(ct_log_id_format(p, id), s));
}

static void check_ts(const uint8_t *d, size_t n, apr_pool_t *p)
{
    const char *s = fuzz_str(p, d, n), *digits;
    apr_uint64_t ts;

    if (ct_log_ts_parse(&ts, s) != APR_SUCCESS) return;
    if (ts == CT_LOG_TS_UNSET) {
        FUZZ_ASSERT(!strcmp(s, "-"));
        return;
    }
    for (digits = s; *digits == '0' && digits[1]; ++digits) ;
    FUZZ_ASSERT(!strcmp(apr_psprintf(p, "%" APR_UINT64_T_FMT, ts), digits));
}

static void bind_field(sqlite3_stmt *st, int col, const char *s, int numeric)
{
    char *end;
    long long v;

    if (!*s) {
        sqlite3_bind_null(st, col);
        return;
    }
    if (numeric) {
        errno = 0;
        v = strtoll(s, &end, 10);
        if (!errno && !*end) {
            sqlite3_bind_int64(st, col, v);
            return;
        }
    }
    sqlite3_bind_text(st, col, s, -1, SQLITE_TRANSIENT);
}

static void check_db(const uint8_t *d, size_t n, apr_pool_t *p)
{
    const uint8_t *lines[16], *f[6];
    size_t llens[16], flens[6];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    apr_array_header_t *rows;
    ct_logs_t *logs;
    const char *err = NULL, *warn = NULL;
    int nlines, i, k, any_distrusted = 0;

    unlink(db_path);
    if (sqlite3_open(db_path, &db) != SQLITE_OK
        || sqlite3_exec(db, "CREATE TABLE loginfo(id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "
                        "log_id TEXT, public_key TEXT, distrusted INTEGER, min_valid_timestamp "
                        "INTEGER, max_valid_timestamp INTEGER, url TEXT)", NULL, NULL, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(db, "INSERT INTO loginfo(log_id, public_key, distrusted, "
                              "min_valid_timestamp, max_valid_timestamp, url) VALUES(?,?,?,?,?,?)",
                              -1, &st, NULL) != SQLITE_OK)
        abort();
    nlines = fuzz_split(d, n, "\n", 16, lines, llens);
    for (i = 0; i < nlines; ++i) {
        if (fuzz_split(lines[i], llens[i], "|", 6, f, flens) != 6) continue;
        for (k = 0; k < 6; ++k)
            bind_field(st, k + 1, field(p, f[k], flens[k]), k >= 2 && k <= 4);
        if (sqlite3_step(st) != SQLITE_DONE) abort();
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);

    if (ct_log_db_read(&rows, db_path, p, &err) != APR_SUCCESS) {
        FUZZ_ASSERT(err != NULL);
        return;
    }
    for (i = 0; i < rows->nelts; ++i)
        any_distrusted |= APR_ARRAY_IDX(rows, i, ct_log_t *)->distrusted;
    FUZZ_ASSERT(ct_logs_make(&logs, NULL, rows, dir, p, &warn) == APR_SUCCESS);
    check_logs(logs, p);
    /* one row, one log: its trust is the row's */
    if (rows->nelts == 1 && logs->logs->nelts == 1)
        FUZZ_ASSERT(APR_ARRAY_IDX(logs->logs, 0, ct_log_t *)->distrusted == any_distrusted);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;

    if (!dir) {
        fuzz_init_begin();
        init();
        fuzz_init_end();
    }
    if (size < 1) return 0;
    p = fuzz_run_pool();
    switch (data[0] % 4) {
    case 0: check_fields(data + 1, size - 1, p); break;
    case 1: check_id(data + 1, size - 1, p); break;
    case 2: check_ts(data + 1, size - 1, p); break;
    default: check_db(data + 1, size - 1, p); break;
    }
    fuzz_run_end(p);
    return 0;
}
