/* mod_md_config.h: mod_md's configuration (directives, module-wide settings).
 *
 * Owns: the directive table, parsing and validation of every MDxxx directive with a
 * message naming the directive and the value, the <MDomain>/<MDomainSet> sections and
 * which directives they may override.
 * Never: touches the store (mod_md.c does at post_config).
 */
#ifndef MOD_MD_CONFIG_H
#define MOD_MD_CONFIG_H

#include <httpd.h>
#include <http_config.h>
#include <apr_hash.h>

#include "md.h"
#include "md_store.h"

/* Module-wide settings: there is one of these, shared by every server_rec's config. */
typedef struct md_mod_conf_t {
    apr_array_header_t *mds;          /* md_t*, in order of definition */
    md_t *defaults;                   /* global values of per-MD settings (unset = default) */
    const char *base_dir;             /* MDStoreDir as given */
    int local_80;                     /* MDPortMap: local port for http (-1: none) */
    int local_443;                    /* MDPortMap: local port for https (-1: none) */
    int match_servernames;            /* MDMatchNames servernames */
    int manage_base_server;           /* MDBaseServer */
    const char *notify_cmd;
    const char *message_cmd;
    apr_interval_time_t check_interval;
    apr_interval_time_t initial_delay;
    apr_interval_time_t activation_delay;
    apr_interval_time_t retry_delay;
    int retry_failover;
    int renew_jobs;                   /* MDRenewJobs: renewals running at the same time */
    int hot_slot_size;                /* MDActivationSlotSize: shared memory per hot MD */
    int use_store_locks;
    apr_interval_time_t lock_wait_timeout;
    const char *ca_certs_file;        /* MDCACertificateFile */
    const char *proxy_ca_certs_file;  /* MDHttpProxyCACertificateFile */
    int server_status_enabled;
    int certificate_status_enabled;
    const char *cert_check_name;
    const char *cert_check_url;
    int staple_others;
    apr_interval_time_t stapling_keep;
    md_timeslice_t *ocsp_renew_window;

    /* computed at start-up */
    int can_http;
    int can_https;
    md_store_t *store;
    apr_hash_t *name2md;
} md_mod_conf_t;

typedef struct md_srv_conf_t {
    md_mod_conf_t *mc;
    md_t *current;                    /* the <MDomain> section being read */
    md_t *assigned;                   /* the MD this server belongs to */
    md_t *vhost_ignored;              /* MD settings written in this <VirtualHost>: no effect */
} md_srv_conf_t;

extern const command_rec mod_md_cmds[];
void *mod_md_config_create_svr(apr_pool_t *p, server_rec *s);
void *mod_md_config_merge_svr(apr_pool_t *p, void *basev, void *addv);
md_srv_conf_t *mod_md_config_get(server_rec *s);
md_mod_conf_t *mod_md_mod_conf_get(apr_pool_t *pconf);

/* Resolve CA names ("letsencrypt", ...) to URLs; NULL for anything that is no URL. */
const char *mod_md_config_ca_url(apr_pool_t *p, const char *name);

#endif
