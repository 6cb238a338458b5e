/* mod_ssl_openssl.h: the OpenSSL-level optional hooks of mod_ssl.
 *
 * Debian's mod_ssl.so implements these hooks but does not install their header; this file
 * declares the same three so that other modules can register with
 * APR_OPTIONAL_HOOK(ssl, NAME, fn, pre, succ, order). Signatures must match mod_ssl's.
 */
#ifndef MOD_SSL_OPENSSL_H
#define MOD_SSL_OPENSSL_H

#include <httpd.h>
#include <apr_optional_hooks.h>
#include <openssl/ssl.h>
#include <mod_ssl.h>

/* Called for every SSL_CTX mod_ssl sets up, for servers (is_proxy 0) and for the proxy
 * side of a vhost (is_proxy 1), from mod_ssl's post_config. */
APR_DECLARE_EXTERNAL_HOOK(ssl, SSL, int, init_server,
                          (server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx))

/* Called for each new SSL connection before the handshake starts. */
APR_DECLARE_EXTERNAL_HOOK(ssl, SSL, int, pre_handshake,
                          (conn_rec *c, SSL *ssl, int is_proxy))

/* Called after a successful handshake to a backend; a return other than OK fails the
 * backend connection. */
APR_DECLARE_EXTERNAL_HOOK(ssl, SSL, int, proxy_post_handshake,
                          (conn_rec *c, SSL *ssl))

#endif
