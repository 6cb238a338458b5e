/* mod_md_ocsp.c: OCSP stapling (MDStapling) through httpd's core OCSP hooks.
 * Placeholder until the stapling work lands. */
#include <httpd.h>
#include <http_config.h>

#include "mod_md.h"

void md_ocsp_register_hooks(apr_pool_t *p)
{
    (void)p;
}
