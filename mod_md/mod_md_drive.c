/* mod_md_drive.c: the renewal driver (mod_watchdog thread) and ACME challenge answers.
 * Placeholder until the ACME work lands. */
#include <httpd.h>
#include <http_config.h>

#include "mod_md.h"

void md_drive_register_hooks(apr_pool_t *p)
{
    (void)p;
}
