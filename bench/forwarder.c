/* The latency floor: the least an MQTT broker can do per message on this
 * machine's sockets. One epoll loop; per readable socket one recv(), every
 * PUBLISH copied to every subscriber, the acknowledgement the sender needs,
 * then one send() per connection with output. No topics, no sessions, no
 * storage, no limits: it is not a broker. bench/compare.py --forwarder builds
 * it (cc -O2) and runs the latency scenario (1 pair) against it beside ternd
 * and mosquitto, so that the table shows how much of each broker's latency
 * any broker would have here.
 *
 *   cc -O2 -o /tmp/forwarder bench/forwarder.c && /tmp/forwarder 1883
 *
 * MQTT 3.1.1: CONNECT gets CONNACK, SUBSCRIBE a SUBACK granting QoS 1,
 * PUBLISH QoS 1/2 a PUBACK/PUBREC, PUBREL a PUBCOMP, PINGREQ a PINGRESP;
 * DISCONNECT closes. Listens on 127.0.0.1 only. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { max_fd = 4096, buffer = 65536 };

struct conn {
  int fd, subscriber, in_len, out_len, dirty;
  unsigned char in[buffer], out[buffer];
};

static struct conn* conns[max_fd];
static int dirty[max_fd], dirty_count;

static void queue(struct conn* c, const void* p, int n) {
  if (c->out_len + n > buffer) return; /* a slow reader loses messages: not a broker */
  memcpy(c->out + c->out_len, p, (size_t)n);
  c->out_len += n;
  if (!c->dirty) {
    c->dirty = 1;
    dirty[dirty_count++] = c->fd;
  }
}

static void drop(int ep, struct conn* c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  conns[c->fd] = NULL; /* the flush skips its fd if listed */
  free(c);
}

/* Handles the whole packets in c->in; a DISCONNECT frees c. */
static void on_input(int ep, struct conn* c) {
  int at = 0;
  for (;;) {
    int length = 0, shift = 0, header = 1, complete = 0;
    while (at + header < c->in_len && header <= 4) {
      unsigned char b = c->in[at + header++];
      length |= (b & 127) << shift;
      shift += 7;
      if (!(b & 128)) {
        complete = 1;
        break;
      }
    }
    if (!complete || at + header + length > c->in_len) break;
    const unsigned char* p = c->in + at;
    const unsigned char* body = p + header;
    switch (p[0] >> 4) {
      case 1: { /* CONNECT */
        static const unsigned char connack[] = {0x20, 2, 0, 0};
        queue(c, connack, 4);
        break;
      }
      case 3: { /* PUBLISH */
        for (int k = 0; k < max_fd; ++k)
          if (conns[k] && conns[k]->subscriber) queue(conns[k], p, header + length);
        int qos = (p[0] >> 1) & 3;
        if (qos) {
          int topic = (body[0] << 8) | body[1];
          unsigned char ack[] = {qos == 1 ? 0x40 : 0x50, 2, body[2 + topic], body[3 + topic]};
          queue(c, ack, 4);
        }
        break;
      }
      case 6: { /* PUBREL */
        unsigned char pubcomp[] = {0x70, 2, body[0], body[1]};
        queue(c, pubcomp, 4);
        break;
      }
      case 8: { /* SUBSCRIBE */
        unsigned char suback[] = {0x90, 3, body[0], body[1], 1};
        c->subscriber = 1;
        queue(c, suback, 5);
        break;
      }
      case 12: { /* PINGREQ */
        static const unsigned char pingresp[] = {0xd0, 0};
        queue(c, pingresp, 2);
        break;
      }
      case 14: /* DISCONNECT */
        drop(ep, c);
        return;
      default: /* acknowledgements of what it forwarded: nothing to do */
        break;
    }
    at += header + length;
  }
  memmove(c->in, c->in + at, (size_t)(c->in_len - at));
  c->in_len -= at;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  const int one = 1;
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1])),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(listener, (struct sockaddr*)&address, sizeof address) != 0 || listen(listener, 1024) != 0) {
    perror("forwarder: listen");
    return 1;
  }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        int s = accept(listener, NULL, NULL);
        if (s < 0) continue;
        if (s >= max_fd) {
          close(s);
          continue;
        }
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns[s] = calloc(1, sizeof(struct conn));
        conns[s]->fd = s;
        struct epoll_event e = {.events = EPOLLIN, .data.fd = s};
        epoll_ctl(ep, EPOLL_CTL_ADD, s, &e);
        continue;
      }
      struct conn* c = conns[fd];
      if (!c) continue;
      int r = (int)recv(fd, c->in + c->in_len, (size_t)(buffer - c->in_len), 0);
      if (r <= 0) {
        drop(ep, c);
        continue;
      }
      c->in_len += r;
      on_input(ep, c);
    }
    for (int i = 0; i < dirty_count; ++i) {
      int fd = dirty[i];
      struct conn* c = conns[fd];
      if (!c) continue;
      c->dirty = 0;
      int w = (int)send(fd, c->out, (size_t)c->out_len, MSG_NOSIGNAL);
      if (w > 0) {
        memmove(c->out, c->out + w, (size_t)(c->out_len - w));
        c->out_len -= w;
      }
    }
    dirty_count = 0;
  }
}
