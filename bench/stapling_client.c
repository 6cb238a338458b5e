/* stapling_client.c: TLS handshakes per second with an OCSP status request on every one.
 *
 *   stapling_client HOST PORT SNI SECONDS THREADS
 *
 * Each thread loops: TCP connect, a full handshake (no session resumption) that asks for
 * OCSP status (status_request), note whether a staple came back, close. Prints one line:
 *   handshakes=N staples=M errors=E seconds=S
 * wrk, ab and `openssl s_time` never send status_request, so they cannot measure stapling.
 * Built by bench/stapling.py: cc -O2 -o stapling_client stapling_client.c -lssl -lcrypto -lpthread
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static const char *host, *sni;
static int port;
static double seconds;
static SSL_CTX *ctx;

typedef struct { long handshakes, staples, errors; } counts_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int one_handshake(counts_t *c)
{
    struct sockaddr_in sa;
    const unsigned char *resp = NULL;
    SSL *ssl = NULL;
    int fd, one = 1, ok = 0;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) goto out;
    ssl = SSL_new(ctx);
    if (!ssl) goto out;
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, sni);
    SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp);
    if (SSL_connect(ssl) != 1) goto out;
    ++c->handshakes;
    if (SSL_get_tlsext_status_ocsp_resp(ssl, &resp) > 0 && resp) ++c->staples;
    SSL_shutdown(ssl);
    ok = 1;
out:
    if (!ok) ++c->errors;
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
    return ok;
}

static void *worker(void *arg)
{
    counts_t *c = arg;
    double end = now_s() + seconds;
    while (now_s() < end) one_handshake(c);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads, i;
    pthread_t *tids;
    counts_t *cs, total = { 0, 0, 0 };
    double t0, dt;

    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST PORT SNI SECONDS THREADS\n", argv[0]);
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    sni = argv[3];
    seconds = atof(argv[4]);
    threads = atoi(argv[5]);
    if (threads < 1) threads = 1;
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return 1;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    tids = calloc((size_t)threads, sizeof(*tids));
    cs = calloc((size_t)threads, sizeof(*cs));
    t0 = now_s();
    for (i = 0; i < threads; ++i) pthread_create(&tids[i], NULL, worker, &cs[i]);
    for (i = 0; i < threads; ++i) {
        pthread_join(tids[i], NULL);
        total.handshakes += cs[i].handshakes;
        total.staples += cs[i].staples;
        total.errors += cs[i].errors;
    }
    dt = now_s() - t0;
    printf("handshakes=%ld staples=%ld errors=%ld seconds=%.3f\n", total.handshakes,
           total.staples, total.errors, dt);
    SSL_CTX_free(ctx);
    free(tids);
    free(cs);
    return 0;
}
