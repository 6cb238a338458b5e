/* http_peer.h: a scripted HTTP peer for the unit tests of the HTTP clients (md_http and the
 * units on it: md_acme, md_tailscale, ct_submit).
 *
 * It listens on a unix socket in a temp dir of its own or on a loopback TCP port the kernel
 * picks, reads each request (head, and the body its Content-Length announces) and then
 * answers with a fixed reply, hangs until stopped, or closes without a word. A thread of its
 * own serves one connection after the other until http_peer_stop().
 */
#ifndef HTTP_PEER_H
#define HTTP_PEER_H

#include <stddef.h>
#include <apr_pools.h>
#include <apr_thread_proc.h>

typedef enum { HTTP_PEER_REPLY, HTTP_PEER_HANG, HTTP_PEER_CLOSE } http_peer_mode_t;

typedef struct http_peer_t {
    const char *dir, *path;        /* the unix socket and its temp dir, NULL on TCP */
    int port;                      /* the loopback port, 0 on a unix socket */
    int fd;
    http_peer_mode_t mode;
    const char *reply;             /* the bytes sent back (HTTP_PEER_REPLY) */
    char request[16384];           /* the last request, NUL-terminated */
    volatile size_t request_len;
    volatile int requests;         /* requests read so far */
    volatile int stop;
    apr_thread_t *thread;
} http_peer_t;

/* Start a peer on the unix socket socket_name (in a new temp dir), or on loopback TCP when
 * socket_name is NULL. reply may be NULL unless mode is HTTP_PEER_REPLY. */
http_peer_t *http_peer_start(apr_pool_t *p, const char *socket_name, http_peer_mode_t mode,
                             const char *reply);
/* Stop serving (a hanging connection is closed), remove the socket and its directory. */
void http_peer_stop(http_peer_t *pe);

#endif
