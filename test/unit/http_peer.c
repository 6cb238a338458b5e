/* http_peer.c: see http_peer.h. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <apr_strings.h>

#include "http_peer.h"
#include "ct_helpers.h"

/* Wait until fd is readable; 0 when the peer is stopped first. */
static int wait_readable(http_peer_t *pe, int fd)
{
    while (!pe->stop) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        if (poll(&pfd, 1, 50) > 0) return 1;
    }
    return 0;
}

/* Read one request into pe->request: the head, then Content-Length bytes of body. */
static void read_request(http_peer_t *pe, int c)
{
    size_t got = 0;

    pe->request[0] = '\0';
    for (;;) {
        const char *end = strstr(pe->request, "\r\n\r\n"), *cl;
        ssize_t n;

        if (end) {
            size_t want = (size_t)(end + 4 - pe->request);
            if ((cl = strstr(pe->request, "Content-Length: ")) != NULL && cl < end)
                want += (size_t)atol(cl + 16);
            if (got >= want) break;
        }
        if (got >= sizeof(pe->request) - 1 || !wait_readable(pe, c)) break;
        if ((n = read(c, pe->request + got, sizeof(pe->request) - 1 - got)) <= 0) break;
        got += (size_t)n;
        pe->request[got] = '\0';
    }
    pe->request_len = got;
    pe->requests++;
}

static void *APR_THREAD_FUNC serve(apr_thread_t *t, void *data)
{
    http_peer_t *pe = data;
    (void)t;

    while (wait_readable(pe, pe->fd)) {
        size_t off = 0, len = pe->reply ? strlen(pe->reply) : 0;
        int c;

        if ((c = accept(pe->fd, NULL, NULL)) < 0) continue;
        read_request(pe, c);
        if (pe->mode == HTTP_PEER_HANG) {
            while (!pe->stop) apr_sleep(apr_time_from_msec(10));
        }
        while (pe->mode == HTTP_PEER_REPLY && off < len) {
            ssize_t n = write(c, pe->reply + off, len - off);
            if (n <= 0) break;
            off += (size_t)n;
        }
        close(c);
    }
    return NULL;
}

http_peer_t *http_peer_start(apr_pool_t *p, const char *socket_name, http_peer_mode_t mode,
                             const char *reply)
{
    http_peer_t *pe = apr_pcalloc(p, sizeof(*pe));

    pe->mode = mode;
    pe->reply = reply;
    if (socket_name) {
        struct sockaddr_un sa;
        pe->dir = th_tmpdir(p);
        pe->path = apr_pstrcat(p, pe->dir, "/", socket_name, NULL);
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        ck_assert(strlen(pe->path) < sizeof(sa.sun_path));
        strcpy(sa.sun_path, pe->path);
        pe->fd = socket(AF_UNIX, SOCK_STREAM, 0);
        ck_assert_int_ge(pe->fd, 0);
        ck_assert_int_eq(bind(pe->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    }
    else {
        struct sockaddr_in sa;
        socklen_t salen = sizeof(sa);
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        pe->fd = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert_int_ge(pe->fd, 0);
        ck_assert_int_eq(bind(pe->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(getsockname(pe->fd, (struct sockaddr *)&sa, &salen), 0);
        pe->port = ntohs(sa.sin_port);
    }
    ck_assert_int_eq(listen(pe->fd, 4), 0);
    ck_assert_int_eq(apr_thread_create(&pe->thread, NULL, serve, pe, p), APR_SUCCESS);
    return pe;
}

void http_peer_stop(http_peer_t *pe)
{
    apr_status_t trv;

    pe->stop = 1;
    apr_thread_join(&trv, pe->thread);
    close(pe->fd);
    if (pe->path) {
        unlink(pe->path);
        rmdir(pe->dir);
    }
}
