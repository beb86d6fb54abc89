/*
 * Load generator for benchmarks/nut_server_bench.py: NUT GET VAR requests at C speed.
 *
 * Usage: nut_load HOST PORT REQUEST CLIENTS REQUESTS_PER_CLIENT
 *
 * Opens CLIENTS connections to HOST:PORT (IPv4). Each sends REQUEST plus a
 * newline, waits for one reply line starting with "VAR ", and sends the next,
 * REQUESTS_PER_CLIENT times. One epoll loop drives every connection, so the
 * generator costs a few system calls per request and leaves the CPU to the
 * server under test; a Python loop costs several times more and caps a fast
 * server.
 *
 * Output on stdout, binary, native byte order: the elapsed time of the whole run
 * as one uint64 in nanoseconds, then one uint32 latency in nanoseconds per
 * request (send to the end of its reply line). Errors go to stderr, exit 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    long left;
    uint64_t sent_at;
    char line[4096];
    size_t used;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fail(const char *what) {
    fprintf(stderr, "nut_load: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void send_all(int fd, const char *data, size_t size) {
    while (size) {
        ssize_t sent = send(fd, data, size, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            fail("send");
        }
        data += sent;
        size -= (size_t)sent;
    }
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: nut_load HOST PORT REQUEST CLIENTS REQUESTS_PER_CLIENT\n");
        return 2;
    }
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &address.sin_addr) != 1) {
        fprintf(stderr, "nut_load: not an IPv4 address: %s\n", argv[1]);
        return 2;
    }
    size_t request_size = strlen(argv[3]) + 1;
    char *request = malloc(request_size + 1);
    snprintf(request, request_size + 1, "%s\n", argv[3]);
    int clients = atoi(argv[4]);
    long per_client = atol(argv[5]);
    if (clients < 1 || per_client < 1) {
        fprintf(stderr, "nut_load: CLIENTS and REQUESTS_PER_CLIENT must be positive\n");
        return 2;
    }
    long total = clients * per_client;
    uint32_t *latencies = malloc(sizeof(uint32_t) * (size_t)total);
    struct conn *conns = calloc((size_t)clients, sizeof(struct conn));
    int epoll = epoll_create1(0);
    if (!latencies || !conns || epoll < 0) fail("setup");
    for (int i = 0; i < clients; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) fail("socket");
        if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) fail("connect");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns[i].fd = fd;
        conns[i].left = per_client;
        struct epoll_event event = {.events = EPOLLIN, .data.ptr = &conns[i]};
        if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) < 0) fail("epoll_ctl");
    }
    long done = 0;
    int active = clients;
    uint64_t started = now_ns();
    for (int i = 0; i < clients; i++) {
        conns[i].sent_at = now_ns();
        send_all(conns[i].fd, request, request_size);
    }
    struct epoll_event events[256];
    while (active) {
        int ready = epoll_wait(epoll, events, 256, 10000);
        if (ready < 0) {
            if (errno == EINTR) continue;
            fail("epoll_wait");
        }
        if (ready == 0) {
            fprintf(stderr, "nut_load: no reply for 10 s\n");
            return 1;
        }
        for (int e = 0; e < ready; e++) {
            struct conn *c = events[e].data.ptr;
            ssize_t got = recv(c->fd, c->line + c->used, sizeof c->line - c->used, 0);
            if (got <= 0) {
                if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
                fprintf(stderr, "nut_load: connection closed by the server\n");
                return 1;
            }
            c->used += (size_t)got;
            char *end;
            while ((end = memchr(c->line, '\n', c->used)) != NULL) {
                uint64_t now = now_ns();
                if (c->used < 4 || memcmp(c->line, "VAR ", 4) != 0) {
                    fprintf(stderr, "nut_load: unexpected reply %.*s\n", (int)(end - c->line),
                            c->line);
                    return 1;
                }
                latencies[done++] = (uint32_t)(now - c->sent_at);
                size_t rest = c->used - (size_t)(end + 1 - c->line);
                memmove(c->line, end + 1, rest);
                c->used = rest;
                if (--c->left) {
                    c->sent_at = now;
                    send_all(c->fd, request, request_size);
                } else {
                    epoll_ctl(epoll, EPOLL_CTL_DEL, c->fd, NULL);
                    active--;
                }
            }
            if (c->used == sizeof c->line) {
                fprintf(stderr, "nut_load: reply line too long\n");
                return 1;
            }
        }
    }
    uint64_t elapsed = now_ns() - started;
    fwrite(&elapsed, sizeof elapsed, 1, stdout);
    fwrite(latencies, sizeof(uint32_t), (size_t)done, stdout);
    for (int i = 0; i < clients; i++) close(conns[i].fd);
    return 0;
}
