/* mod_md.h: declarations shared by the mod_md glue files. */
#ifndef MOD_MD_H
#define MOD_MD_H

#include <httpd.h>

/* md-status handler (mod_md_status.c) */
int md_status_handler(request_rec *r);

/* renewal driver and challenge answers (mod_md_drive.c) */
void md_drive_register_hooks(apr_pool_t *p);

/* OCSP stapling (mod_md_ocsp.c) */
void md_ocsp_register_hooks(apr_pool_t *p);

#endif
