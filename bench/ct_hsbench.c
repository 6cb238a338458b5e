/* ct_hsbench.c: TLS handshakes per second against a server, asking for SCTs.
 *
 *   ct_hsbench HOST PORT SNI SECONDS THREADS
 *
 * Each thread opens a new TCP connection per handshake, sends a ClientHello with the
 * signed_certificate_timestamp extension (as a CT-aware client does), completes a full
 * TLS 1.3 handshake without session resumption and closes. Prints
 * "handshakes=N seconds=S rate=R sct_responses=M". Built by bench/ct_bench.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <openssl/ssl.h>

static const char *host, *sni;
static int port;
static double seconds;
static SSL_CTX *ctx;
static long total, with_scts;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int add_cb(SSL *s, unsigned int type, unsigned int context, const unsigned char **out,
                  size_t *outlen, X509 *x, size_t chainidx, int *al, void *arg)
{
    *out = NULL;
    *outlen = 0;
    return 1;
}

static int parse_cb(SSL *s, unsigned int type, unsigned int context, const unsigned char *in,
                    size_t inlen, X509 *x, size_t chainidx, int *al, void *arg)
{
    if (inlen > 0) *(int *)SSL_get_app_data(s) = 1;
    return 1;
}

static void *run(void *arg)
{
    struct sockaddr_in sa;
    double end = now() + seconds;
    long n = 0, m = 0;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, host, &sa.sin_addr);
    while (now() < end) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, got = 0;
        SSL *ssl;

        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            close(fd);
            continue;
        }
        ssl = SSL_new(ctx);
        SSL_set_app_data(ssl, &got);
        SSL_set_fd(ssl, fd);
        SSL_set_tlsext_host_name(ssl, sni);
        if (SSL_connect(ssl) == 1) {
            n++;
            m += got;
        }
        SSL_free(ssl);
        close(fd);
    }
    pthread_mutex_lock(&lock);
    total += n;
    with_scts += m;
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads, i;
    pthread_t *t;

    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST PORT SNI SECONDS THREADS\n", argv[0]);
        return 1;
    }
    host = argv[1];
    port = atoi(argv[2]);
    sni = argv[3];
    seconds = atof(argv[4]);
    threads = atoi(argv[5]);
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_add_custom_ext(ctx, 18, SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_2_SERVER_HELLO
                           | SSL_EXT_TLS1_3_CERTIFICATE, add_cb, NULL, NULL, parse_cb, NULL);
    t = calloc((size_t)threads, sizeof(*t));
    for (i = 0; i < threads; ++i) pthread_create(&t[i], NULL, run, NULL);
    for (i = 0; i < threads; ++i) pthread_join(t[i], NULL);
    printf("handshakes=%ld seconds=%.1f rate=%.1f sct_responses=%ld\n", total, seconds,
           total / seconds, with_scts);
    SSL_CTX_free(ctx);
    return 0;
}
