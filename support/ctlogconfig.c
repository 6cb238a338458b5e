/* ctlogconfig.c: command line tool for the CT log configuration database (CTLogConfigDB).
 *
 *   ctlogconfig DB dump
 *   ctlogconfig DB configure-public-key [log-id|#REC] key.pem
 *   ctlogconfig DB configure-url [log-id|#REC] URL
 *   ctlogconfig DB valid-time-range log-id|#REC MIN|- MAX|-
 *   ctlogconfig DB trust|distrust|forget log-id|#REC
 *
 * Owns: the loginfo table of docs/ctlogconfig.1 (created when missing) and its dump format.
 * Rules kept here: SQL only through prepared statements with bound parameters; a log id is
 * exactly 64 hex digits (stored upper-case); a key file gives the log id (SHA-256 of its
 * SubjectPublicKeyInfo), so a row never has a key without an id; a command naming a known
 * log id updates that row instead of adding a duplicate. Usage errors go to stderr with
 * exit 1; a failure of the DB or of a key file exits 2.
 * Built on the ct_* core (key loading, log ids, timestamps); never a second copy of it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <sqlite3.h>

#include "ct_log.h"

#define EXIT_USAGE 1
#define EXIT_FAIL  2

static const char *prog = "ctlogconfig";

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS loginfo(id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "
    "log_id TEXT, public_key TEXT, distrusted INTEGER, min_valid_timestamp INTEGER, "
    "max_valid_timestamp INTEGER, url TEXT)";

static void usage(const char *msg)
{
    if (msg) fprintf(stderr, "%s: %s\n", prog, msg);
    fprintf(stderr,
        "usage: %s DB COMMAND [ARGS]\n"
        "  dump\n"
        "  configure-public-key [log-id|#REC] key.pem\n"
        "  configure-url [log-id|#REC] URL\n"
        "  valid-time-range log-id|#REC MIN|- MAX|-   (ms since the epoch)\n"
        "  trust log-id|#REC\n"
        "  distrust log-id|#REC\n"
        "  forget log-id|#REC\n"
        "log-id is 64 hex digits (SHA-256 of the log's public key), #REC a record number.\n",
        prog);
    exit(EXIT_USAGE);
}

static void fail(sqlite3 *db, const char *what)
{
    fprintf(stderr, "%s: %s%s%s\n", prog, what, db ? ": " : "", db ? sqlite3_errmsg(db) : "");
    if (db) sqlite3_close(db);
    exit(EXIT_FAIL);
}

/* A log is named either by record number (#N) or by log id. */
typedef struct {
    sqlite3_int64 rec;             /* > 0 when named by record */
    const char *log_id;            /* upper-case hex when named by id */
} target_t;

static int is_target(const char *s)
{
    unsigned char id[CT_LOG_ID_LEN];
    char *end;

    if (s[0] == '#') {
        long long v = strtoll(s + 1, &end, 10);
        return s[1] >= '0' && s[1] <= '9' && *end == 0 && v > 0;
    }
    return ct_log_id_parse(id, s) == APR_SUCCESS;
}

static target_t parse_target(apr_pool_t *p, const char *s)
{
    target_t t = { 0, NULL };
    unsigned char id[CT_LOG_ID_LEN];

    if (s[0] == '#') {
        char *end;
        t.rec = strtoll(s + 1, &end, 10);
        if (s[1] < '0' || s[1] > '9' || *end || t.rec <= 0)
            usage(apr_psprintf(p, "'%s' is not a record number (#N)", s));
    }
    else if (ct_log_id_parse(id, s) == APR_SUCCESS) {
        t.log_id = ct_log_id_format(p, id);
    }
    else {
        usage(apr_psprintf(p, "'%s' is neither a log id (64 hex digits) nor #REC", s));
    }
    return t;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail(db, "the database is not a CT log config DB (or is locked)");
    }
    return st;
}

static void step_done(sqlite3 *db, sqlite3_stmt *st)
{
    if (sqlite3_step(st) != SQLITE_DONE) fail(db, "writing the database failed");
    sqlite3_finalize(st);
}

/* The row id of the target: for a record it must exist; for a log id the row is created
 * when create is set, else 0 is returned. */
static sqlite3_int64 find_row(sqlite3 *db, const target_t *t, int create)
{
    sqlite3_stmt *st;
    sqlite3_int64 id = 0;

    if (t->rec > 0) {
        st = prepare(db, "SELECT id FROM loginfo WHERE id = ?1");
        sqlite3_bind_int64(st, 1, t->rec);
    }
    else {
        st = prepare(db, "SELECT id FROM loginfo WHERE upper(log_id) = ?1 ORDER BY id");
        sqlite3_bind_text(st, 1, t->log_id, -1, SQLITE_STATIC);
    }
    if (sqlite3_step(st) == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (id == 0 && t->rec > 0) {
        fprintf(stderr, "%s: no record #%lld\n", prog, (long long)t->rec);
        sqlite3_close(db);
        exit(EXIT_FAIL);
    }
    if (id == 0 && create) {
        st = prepare(db, "INSERT INTO loginfo(log_id, distrusted) VALUES(?1, 0)");
        sqlite3_bind_text(st, 1, t->log_id, -1, SQLITE_STATIC);
        step_done(db, st);
        id = sqlite3_last_insert_rowid(db);
    }
    return id;
}

static void cmd_dump(sqlite3 *db)
{
    sqlite3_stmt *st = prepare(db, "SELECT id, log_id, public_key, distrusted, "
                                   "min_valid_timestamp, max_valid_timestamp, url "
                                   "FROM loginfo ORDER BY id");
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *logid = (const char *)sqlite3_column_text(st, 1);
        const char *key = (const char *)sqlite3_column_text(st, 2);
        const char *url = (const char *)sqlite3_column_text(st, 6);
        char min[32] = "-INF", max[32] = "+INF";

        if (sqlite3_column_type(st, 4) != SQLITE_NULL)
            snprintf(min, sizeof(min), "%lld", (long long)sqlite3_column_int64(st, 4));
        if (sqlite3_column_type(st, 5) != SQLITE_NULL)
            snprintf(max, sizeof(max), "%lld", (long long)sqlite3_column_int64(st, 5));
        printf("Log entry:\n");
        printf("  Record %lld%s\n", (long long)sqlite3_column_int64(st, 0),
               sqlite3_column_int(st, 3) == 1 ? " (DISTRUSTED)" : "");
        printf("  Log id         : %s\n", logid && *logid ? logid : "(not configured)");
        printf("  Public key file: %s\n", key && *key ? key : "(not configured)");
        printf("  URL            : %s\n", url && *url ? url : "(not configured)");
        printf("  Time range     : %s to %s\n", min, max);
        printf("\n");
    }
    if (rc != SQLITE_DONE) fail(db, "reading the database failed");
    sqlite3_finalize(st);
}

static void cmd_public_key(sqlite3 *db, apr_pool_t *p, const target_t *t, const char *file)
{
    EVP_PKEY *pkey;
    unsigned char id[CT_LOG_ID_LEN];
    const char *err = NULL, *hex, *path = file;
    char cwd[PATH_MAX];
    sqlite3_int64 row;
    sqlite3_stmt *st;

    if (file[0] != '/' && getcwd(cwd, sizeof(cwd))) path = apr_pstrcat(p, cwd, "/", file, NULL);
    if (ct_log_key_load(&pkey, path, p, &err) != APR_SUCCESS) fail(NULL, err);
    if (ct_log_id_from_key(id, pkey) != APR_SUCCESS) fail(NULL, "cannot compute the log id");
    hex = ct_log_id_format(p, id);
    if (t && t->log_id && strcmp(t->log_id, hex)) {
        fprintf(stderr, "%s: log id %s does not match the key in %s (its log id is %s)\n",
                prog, t->log_id, file, hex);
        sqlite3_close(db);
        exit(EXIT_FAIL);
    }
    if (t && t->rec > 0) {
        row = find_row(db, t, 0);
    }
    else {
        target_t byid = { 0, hex };
        row = find_row(db, &byid, 1);
    }
    st = prepare(db, "UPDATE loginfo SET public_key = ?1, log_id = ?2 WHERE id = ?3");
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, row);
    step_done(db, st);
}

static void cmd_url(sqlite3 *db, const target_t *t, const char *url)
{
    sqlite3_stmt *st;
    sqlite3_int64 row;

    if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)) {
        usage("the log URL must start with http:// or https://");
    }
    if (t == NULL) {
        st = prepare(db, "INSERT INTO loginfo(url, distrusted) VALUES(?1, 0)");
        sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
        step_done(db, st);
        return;
    }
    row = find_row(db, t, 1);
    st = prepare(db, "UPDATE loginfo SET url = ?1 WHERE id = ?2");
    sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, row);
    step_done(db, st);
}

static void cmd_time_range(sqlite3 *db, const target_t *t, const char *smin,
                           const char *smax)
{
    apr_uint64_t min, max;
    sqlite3_stmt *st;
    sqlite3_int64 row;

    if (ct_log_ts_parse(&min, smin) != APR_SUCCESS)
        usage("MIN must be a timestamp in ms or -");
    if (ct_log_ts_parse(&max, smax) != APR_SUCCESS)
        usage("MAX must be a timestamp in ms or -");
    if (min != CT_LOG_TS_UNSET && max != CT_LOG_TS_UNSET && min > max)
        usage("MIN is after MAX");
    row = find_row(db, t, 1);
    st = prepare(db, "UPDATE loginfo SET min_valid_timestamp = ?1, max_valid_timestamp = ?2 "
                     "WHERE id = ?3");
    if (min == CT_LOG_TS_UNSET) sqlite3_bind_null(st, 1);
    else sqlite3_bind_int64(st, 1, (sqlite3_int64)min);
    if (max == CT_LOG_TS_UNSET) sqlite3_bind_null(st, 2);
    else sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    sqlite3_bind_int64(st, 3, row);
    step_done(db, st);
}

static void cmd_trust(sqlite3 *db, const target_t *t, int distrusted)
{
    sqlite3_int64 row = find_row(db, t, 1);
    sqlite3_stmt *st = prepare(db, "UPDATE loginfo SET distrusted = ?1 WHERE id = ?2");

    sqlite3_bind_int(st, 1, distrusted);
    sqlite3_bind_int64(st, 2, row);
    step_done(db, st);
}

static void cmd_forget(sqlite3 *db, const target_t *t)
{
    sqlite3_int64 row = find_row(db, t, 0);
    sqlite3_stmt *st;

    if (row == 0) {
        fprintf(stderr, "%s: no log with id %s\n", prog, t->log_id);
        sqlite3_close(db);
        exit(EXIT_FAIL);
    }
    /* a log id may have been stored twice by older tools: forget them all */
    if (t->log_id) {
        st = prepare(db, "DELETE FROM loginfo WHERE upper(log_id) = ?1");
        sqlite3_bind_text(st, 1, t->log_id, -1, SQLITE_STATIC);
    }
    else {
        st = prepare(db, "DELETE FROM loginfo WHERE id = ?1");
        sqlite3_bind_int64(st, 1, row);
    }
    step_done(db, st);
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    sqlite3 *db = NULL;
    const char *cmd;
    target_t t;
    int nargs;

    prog = argv[0];
    if (argc < 3) usage(NULL);
    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    apr_pool_create(&p, NULL);
    cmd = argv[2];
    nargs = argc - 3;

    /* check the command line completely before touching the DB */
    if (!strcmp(cmd, "dump")) {
        if (nargs != 0) usage("dump takes no arguments");
    }
    else if (!strcmp(cmd, "configure-public-key") || !strcmp(cmd, "configure-url")) {
        if (nargs == 2) (void)parse_target(p, argv[3]);
        else if (nargs != 1) usage(apr_psprintf(p, "%s takes [log-id|#REC] and one value", cmd));
        if (!strcmp(cmd, "configure-url")) {
            const char *url = argv[2 + nargs];
            if (nargs == 1 && is_target(url)) usage("configure-url needs a URL");
            if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
                usage("the log URL must start with http:// or https://");
        }
    }
    else if (!strcmp(cmd, "valid-time-range")) {
        apr_uint64_t min, max;
        if (nargs != 3) usage("valid-time-range takes log-id|#REC MIN|- MAX|-");
        (void)parse_target(p, argv[3]);
        if (ct_log_ts_parse(&min, argv[4]) != APR_SUCCESS)
            usage("MIN must be a timestamp in ms or -");
        if (ct_log_ts_parse(&max, argv[5]) != APR_SUCCESS)
            usage("MAX must be a timestamp in ms or -");
        if (min != CT_LOG_TS_UNSET && max != CT_LOG_TS_UNSET && min > max)
            usage("MIN is after MAX");
    }
    else if (!strcmp(cmd, "trust") || !strcmp(cmd, "distrust") || !strcmp(cmd, "forget")) {
        if (nargs != 1) usage(apr_psprintf(p, "%s takes exactly one log-id or #REC", cmd));
        (void)parse_target(p, argv[3]);
    }
    else {
        usage(apr_psprintf(p, "unknown command '%s'", cmd));
    }

    if (sqlite3_open_v2(argv[1], &db, !strcmp(cmd, "dump") ? SQLITE_OPEN_READONLY
                        : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        fail(db, apr_psprintf(p, "cannot open %s", argv[1]));
    }
    sqlite3_busy_timeout(db, 2000);
    if (strcmp(cmd, "dump")) {
        sqlite3_stmt *st = prepare(db, SCHEMA);
        step_done(db, st);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            fail(db, "cannot lock the database");
    }

    if (!strcmp(cmd, "dump")) {
        cmd_dump(db);
    }
    else if (!strcmp(cmd, "configure-public-key")) {
        if (nargs == 2) { t = parse_target(p, argv[3]); cmd_public_key(db, p, &t, argv[4]); }
        else cmd_public_key(db, p, NULL, argv[3]);
    }
    else if (!strcmp(cmd, "configure-url")) {
        if (nargs == 2) { t = parse_target(p, argv[3]); cmd_url(db, &t, argv[4]); }
        else if (is_target(argv[3])) usage("configure-url needs a URL");
        else cmd_url(db, NULL, argv[3]);
    }
    else if (!strcmp(cmd, "valid-time-range")) {
        t = parse_target(p, argv[3]);
        cmd_time_range(db, &t, argv[4], argv[5]);
    }
    else if (!strcmp(cmd, "forget")) {
        t = parse_target(p, argv[3]);
        cmd_forget(db, &t);
    }
    else {
        t = parse_target(p, argv[3]);
        cmd_trust(db, &t, !strcmp(cmd, "distrust"));
    }
    if (strcmp(cmd, "dump") && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fail(db, "cannot commit the change");
    }
    sqlite3_close(db);
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
