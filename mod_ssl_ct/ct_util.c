/* ct_util.c: time, hex; see ct_util.h. */
#include <apr_time.h>

#include "ct_util.h"

apr_uint64_t ct_now_ms(void)
{
    return (apr_uint64_t)(apr_time_now() / 1000);
}

const char *ct_hex(apr_pool_t *p, const unsigned char *data, apr_size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = apr_palloc(p, 2 * len + 1);
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        s[2 * i] = digits[data[i] >> 4];
        s[2 * i + 1] = digits[data[i] & 0x0f];
    }
    s[2 * len] = '\0';
    return s;
}
