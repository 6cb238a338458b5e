/* mod_ssl_ct.h: what the three glue files of mod_ssl_ct share.
 *
 *   mod_ssl_ct.c         module anatomy: module record, runtime state, hook registration
 *   mod_ssl_ct_config.c  the directives, config create/merge
 *   mod_ssl_ct_server.c  server side: certificates seen by mod_ssl, the SCT list per
 *                        certificate kept in memory, TLS extension 18, the refresh thread
 *   mod_ssl_ct_proxy.c   proxy side: SCTs from backends, verification, cache, audit, env
 *
 * Everything that can be tested without httpd lives in the ct_*.c core.
 */
#ifndef MOD_SSL_CT_H
#define MOD_SSL_CT_H

#include <httpd.h>
#include <http_config.h>
#include <apr_thread_mutex.h>
#include <apr_thread_rwlock.h>
#include <apr_hash.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ct_sct_verify.h"
#include "ct_store.h"

extern module AP_MODULE_DECLARE_DATA ssl_ct_module;

#define CT_AWARE_UNSET      -1
#define CT_OBLIVIOUS         0
#define CT_AWARE             1
#define CT_REQUIRE           2

#define CT_DEFAULT_MAX_AGE   86400
#define CT_DEFAULT_LIMIT     100
/* how often each child looks at static SCT dirs, the log DB and SCT ages */
#define CT_REFRESH_SECONDS   2
/* how long to leave a log alone after a failed submission */
#define CT_SUBMIT_BACKOFF    30
#define CT_SUBMIT_TIMEOUT    10
/* proxy verdicts are kept this long and for at most this many certificates per child */
#define CT_CACHE_SECONDS     600
#define CT_CACHE_MAX         1000

typedef struct mod_ssl_ct_static_scts_t {
    const char *cert_file;
    const char *sct_dir;
} mod_ssl_ct_static_scts_t;

typedef struct mod_ssl_ct_server_conf_t {
    const char *sct_storage;
    const char *log_db;
    const char *log_client;
    const char *audit_storage;
    apr_array_header_t *static_logs;   /* ct_log_t* */
    apr_array_header_t *static_scts;   /* mod_ssl_ct_static_scts_t */
    int max_sct_age;                   /* seconds, -1 unset */
    int hello_limit;                   /* -1 unset */
    int awareness;
} mod_ssl_ct_server_conf_t;

/* The SCT list of one certificate as sent on the wire: swapped whole, never edited. */
typedef struct mod_ssl_ct_list_t {
    apr_size_t len;
    int count;
    apr_time_t retired;                /* when it was replaced (for delayed free) */
    struct mod_ssl_ct_list_t *next_retired;
    unsigned char data[1];
} mod_ssl_ct_list_t;

/* A server certificate that mod_ssl uses. */
typedef struct mod_ssl_ct_cert_t {
    const char *name;                  /* lower-hex SHA-256 of the leaf DER */
    const char *dir;                   /* CTSCTStorage/name, NULL without storage */
    const char *server;                /* a server name using it, for log lines */
    X509 *leaf;
    X509 *issuer;                      /* may be NULL */
    apr_array_header_t *chain_der;     /* ct_blob_t, leaf first */
    const char *pem;                   /* leaf + chain */
    apr_array_header_t *static_dirs;   /* const char*, from CTStaticSCTs */
    mod_ssl_ct_list_t *list;                   /* read with __atomic_load_n */
    const char *last_report;           /* the problems last logged */
    apr_hash_t *next_try;              /* log URL -> apr_time_t* */
} mod_ssl_ct_cert_t;

/* Per process state of one configuration generation. */
typedef struct mod_ssl_ct_runtime_t {
    apr_pool_t *pool;                  /* pconf: read-only once children run */
    apr_pool_t *tpool;                 /* owned by the refresh thread in a child */
    server_rec *s;
    mod_ssl_ct_server_conf_t *conf;            /* of the main server: the global directives */
    apr_hash_t *certs;                 /* name -> mod_ssl_ct_cert_t */
    apr_thread_rwlock_t *logs_lock;    /* guards logs (swapped by the refresh thread) */
    apr_pool_t *logs_pool;
    ct_logs_t *logs;
    apr_uint64_t logs_gen;             /* +1 at every load of logs (written under the write
                                        * lock, read with __atomic_load_n): cached verdicts
                                        * name the generation they were made with, never an
                                        * address, which a later configuration may reuse */
    const char *db_error;              /* last DB problem logged */
    apr_time_t db_mtime;
    apr_off_t db_size;
    mod_ssl_ct_list_t *retired;
    volatile int stopping;
    apr_thread_t *thread;
    /* proxy side */
    apr_thread_mutex_t *cache_lock;
    apr_hash_t *cache;
    apr_file_t *audit_file;
    const char *audit_path;
} mod_ssl_ct_runtime_t;

extern mod_ssl_ct_runtime_t *mod_ssl_ct_rt;
extern int mod_ssl_ct_conn_ex_idx;
extern int mod_ssl_ct_cert_ex_idx;

/* Per frontend connection. */
typedef struct mod_ssl_ct_conn_t {
    int client_aware;                  /* the client sent extension 18 */
} mod_ssl_ct_conn_t;

/* mod_ssl_ct_config.c */
mod_ssl_ct_server_conf_t *mod_ssl_ct_conf(server_rec *s);
void *mod_ssl_ct_config_create_svr(apr_pool_t *p, server_rec *s);
void *mod_ssl_ct_config_merge_svr(apr_pool_t *p, void *basev, void *addv);
extern const command_rec mod_ssl_ct_cmds[];

/* mod_ssl_ct_server.c */
int mod_ssl_ct_server_init_ctx(server_rec *s, apr_pool_t *p, SSL_CTX *ctx);
apr_status_t mod_ssl_ct_server_post_config(mod_ssl_ct_runtime_t *rt, apr_pool_t *ptemp);
void mod_ssl_ct_server_child_init(mod_ssl_ct_runtime_t *rt, apr_pool_t *pchild);

/* mod_ssl_ct_proxy.c */
void mod_ssl_ct_proxy_child_init(mod_ssl_ct_runtime_t *rt, apr_pool_t *pchild);
int mod_ssl_ct_proxy_post_handshake(conn_rec *c, SSL *ssl);
int mod_ssl_ct_proxy_pre_handshake(conn_rec *c, SSL *ssl);
int mod_ssl_ct_proxy_create_req(request_rec *r, request_rec *pr);

#endif
