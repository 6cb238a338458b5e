/* mod_ssl_ct.c: httpd glue of the Certificate Transparency module.
 * Placeholder until the CT issue lands: registers the module so it loads cleanly. */
#include <httpd.h>
#include <http_config.h>

static void ssl_ct_register_hooks(apr_pool_t *p)
{
    (void)p;
}

AP_DECLARE_MODULE(ssl_ct) = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL, NULL,
    ssl_ct_register_hooks,
    0
};
