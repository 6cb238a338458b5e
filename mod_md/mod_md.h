/* mod_md.h: declarations shared by the mod_md glue files. */
#ifndef MOD_MD_H
#define MOD_MD_H

#include <httpd.h>

/* MDRequireHttps, certificate-status (mod_md_http.c) */
void mod_md_http_register_hooks(apr_pool_t *p);

/* server-status section, md-metrics handler (mod_md_status.c) */
void mod_md_status_register_hooks(apr_pool_t *p);

/* renewal driver and challenge answers (mod_md_drive.c) */
void mod_md_drive_register_hooks(apr_pool_t *p);
/* post_config, parent: activate staged certificates, before the store is synced */
struct md_mod_conf_t;
struct md_lock_t;
apr_status_t mod_md_drive_post_config_activate(struct md_mod_conf_t *mc, server_rec *s,
                                           int may_activate, struct md_lock_t *lock,
                                           apr_pool_t *pconf, apr_pool_t *ptemp);
/* This server as lock files and job logs name it: HOST:SERVERROOT. */
const char *mod_md_drive_node_name(apr_pool_t *p);

/* hot activation (mod_md_hot.c) */
void mod_md_hot_register_hooks(apr_pool_t *p);
/* post_config, parent, after the store is synced: shared memory and the activation helper */
apr_status_t mod_md_hot_post_config(struct md_mod_conf_t *mc, server_rec *s, apr_pool_t *pconf,
                                apr_pool_t *ptemp);
/* children: make md's runtime facts (rt_certs, rt_fallback, state; rt_error with_message,
 * which costs a copy of the slot: status pages only) those of the certificate actually
 * served; nothing for MDs without MDActivation hot */
struct md_t;
void mod_md_hot_sync(struct md_t *md, int with_message);
/* the renewal driver (watchdog child): when a new set went live, the facts of it in
 * *certs, *pstaged cleared and 1 returned; also 1 (staged cleared) when a staged set was
 * discarded by the parent */
struct md_drive_certs_t;
int mod_md_hot_drive_update(struct md_t *md, struct md_drive_certs_t *certs, int *pstaged,
                        apr_pool_t *p);
/* children: the set hot activation serves for md now (it stays usable at least a minute
 * after being replaced), NULL while what mod_ssl loaded at start is served */
struct md_hot_set_t;
const struct md_hot_set_t *mod_md_hot_current(struct md_t *md);

/* OCSP stapling (mod_md_ocsp.c) */
void mod_md_ocsp_register_hooks(apr_pool_t *p);

#endif
