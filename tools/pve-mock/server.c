/* pve-mock: the HTTP/1.1 engine: listeners, TLS connections, request framing, answer delivery.
 *
 * pveproxy is a hand-written HTTP/1.1 server on AnyEvent. The mock has its own as well (evhttp
 * buffers every body and writes every answer itself), because what it is for needs the bytes
 * on the wire: an upload body streamed to disk while it arrives, answers cut after the headers
 * or reset mid-body, a trickle of N bytes per second, no 100-continue, streams without a
 * Content-Length, listeners that refuse or reset connections. This file owns listeners,
 * connections and framing; what a request means is http.c's business.
 *
 * Lifetimes: a connection owns its current request until it hands it to the application
 * (http_head/http_request); the application then owns it until it answers. A connection that
 * dies while the application holds its request only detaches it (req->conn = NULL). Closing a
 * connection from inside its own processing is deferred until the processing returns (busy). */
#include "mock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>

#define MAX_HEAD_BYTES (8 * 1024) /* pveproxy: header lines, in total */
#define MAX_HEAD_LINES 64         /* pveproxy: header lines, the blank line included */
/* pveproxy reads the request line into a handle whose rbuf_max is $limit_max_post +
 * $limit_max_header_size: a longer line ends the connection unanswered (ENOSPC). Header
 * lines count against MAX_HEAD_BYTES only. */
#define MAX_REQUEST_LINE (512 * 1024 + 8 * 1024)
#define IDLE_TIMEOUT_S 5          /* pveproxy's inactivity timeout, the TLS handshake included */
#define MAX_CONN_REQUESTS 100
#define ACCEPT_PAUSE_MS 100       /* out of descriptors: the listener rests this long */
#define LINGER_MS 2000            /* reading what a client still sends after a closing answer */
#define RST_WAIT_MS 2000          /* waiting for the kernel to send what precedes a reset */
#define STREAM_CHUNK (64 * 1024)
#define STREAM_LOW (256 * 1024)   /* a stream is refilled when its output drops below this */

enum { L_UP, L_DOWN, L_RESET };

struct listener {
    int index; /* -1: the control listener */
    int tls;
    struct sockaddr_storage addr; /* with the real port once bound */
    int addrlen;
    char url[320];
    char host[INET6_ADDRSTRLEN];
    char spec[300];
    struct evconnlistener *lev; /* NULL while down */
    int state;
    int cert; /* CERT_* for new handshakes */
    struct event *restore; /* brings it back up after "ms" */
    struct event *resume;  /* accepting again after running out of descriptors */
    struct conn *conns;
};

enum conn_state {
    CS_IDLE,    /* waiting for a request line */
    CS_HEAD,    /* reading header lines */
    CS_BODY,    /* reading a buffered body */
    CS_STREAM,  /* passing a body to the application's sink (uploads) */
    CS_APP,     /* the application holds the request */
    CS_WRITE,   /* an answer is being written */
    CS_PRODUCE, /* a streamed answer is being written */
    CS_LINGER,  /* closing: reading and dropping what the client still sends */
};

/* What happens once the output has drained. */
enum { AFTER_NEXT, AFTER_CLOSE, AFTER_FIN, AFTER_RST };
/* How a connection ends. */
enum { END_GRACEFUL, END_FIN, END_RST };

struct conn {
    long id;
    struct listener *l;
    struct bufferevent *bev;
    SSL *ssl; /* NULL on the control listener */
    evutil_socket_t fd;
    enum conn_state state;
    struct req *req;
    int nreq;
    int counted;  /* carried an API request: counted in stats.connections and .open */
    int busy;     /* inside conn_process: an end is deferred */
    int end;      /* deferred end (END_*), -1 = none */
    int after;    /* AFTER_* */
    int discarding;
    int64_t discard; /* body bytes still to drop, -1 = until the connection ends */
    size_t head_bytes;
    int head_lines;
    char *hkey, *hval; /* the header being read (continuation lines append) */
    struct evbuffer *slow; /* what is left to trickle */
    size_t slow_step;
    struct timeval slow_tv;
    struct event *timer; /* slow ticks, the RST wait, the end of a linger */
    int rst_waited_ms;
    struct stream_src src;
    int src_done;
    int64_t stream_sent, stream_cut; /* cut: stop after this many bytes, -1 = never */
    struct conn *prev, *next;
};

struct pending {
    struct req *rq;
    struct reply r;
    struct event *ev;
    struct pending *prev, *next;
};

static struct pending *pending_list;
static long conn_serial;

static void conn_process(struct conn *c);
static void conn_end(struct conn *c, int how);
static void conn_after_write(struct conn *c);
static void stream_fill(struct conn *c);

/* ---- small helpers ------------------------------------------------------------------------ */

const char *method_name(int m)
{
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_PATCH: return "PATCH";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    default: return "UNKNOWN";
    }
}

static int method_of(const char *s)
{
    static const struct {
        const char *name;
        int m;
    } tab[] = {{"GET", EVHTTP_REQ_GET},         {"POST", EVHTTP_REQ_POST},
               {"PUT", EVHTTP_REQ_PUT},         {"DELETE", EVHTTP_REQ_DELETE},
               {"HEAD", EVHTTP_REQ_HEAD},       {"OPTIONS", EVHTTP_REQ_OPTIONS},
               {"PATCH", EVHTTP_REQ_PATCH},     {"TRACE", EVHTTP_REQ_TRACE},
               {"CONNECT", EVHTTP_REQ_CONNECT}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(s, tab[i].name) == 0)
            return tab[i].m;
    return 0;
}

const char *req_header(const struct req *rq, const char *name)
{
    return evhttp_find_header(&((struct req *)rq)->headers, name);
}

void req_free(struct req *rq)
{
    if (!rq)
        return;
    evhttp_clear_headers(&rq->headers);
    free(rq->method_name);
    free(rq->path);
    free(rq->query);
    free(rq->user);
    if (rq->body)
        evbuffer_free(rq->body);
    free(rq);
}

static void reply_clear(struct reply *r)
{
    free(r->reason);
    free(r->body);
    free(r->extra);
    r->reason = r->body = r->extra = NULL;
}

static void timer_set(struct conn *c, event_callback_fn fn, int ms)
{
    if (c->timer)
        event_free(c->timer);
    c->timer = evtimer_new(g_mock.base, fn, c);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

/* Reading is on while a request is read, while a body is dropped and while lingering. */
static void conn_update_read(struct conn *c)
{
    int want = c->state == CS_IDLE || c->state == CS_HEAD || c->state == CS_BODY ||
               c->state == CS_STREAM || c->state == CS_LINGER || c->discarding;
    if (want)
        bufferevent_enable(c->bev, EV_READ);
    else
        bufferevent_disable(c->bev, EV_READ);
}

/* ---- ending connections ------------------------------------------------------------------- */

static void conn_unlink(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (c->l)
        c->l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void conn_free(struct conn *c, int how)
{
    conn_unlink(c);
    if (c->counted)
        g_mock.stats.open--;
    struct req *rq = c->req;
    c->req = NULL;
    if (rq) {
        rq->conn = NULL;
        if (!rq->app || rq->on_detach) /* no answer is on its way: logged as unanswered */
            reqlog_gone(rq->log_id, rq->bytes_in);
        if (rq->on_detach)
            rq->on_detach(rq); /* the application frees what it holds */
        else if (!rq->app)
            req_free(rq);
        /* otherwise a pending answer holds it and frees it when it fires */
    }
    if (c->timer)
        event_free(c->timer);
    if (c->slow)
        evbuffer_free(c->slow);
    if (c->src.free)
        c->src.free(c->src.arg);
    free(c->hkey);
    free(c->hval);
    if (how == END_RST) {
        struct linger lg = {1, 0}; /* close() now sends RST and drops what is unsent */
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    } else if (how == END_GRACEFUL && c->ssl) {
        SSL_shutdown(c->ssl); /* close_notify, as pveproxy's TLS shutdown */
        ERR_clear_error();
    }
    bufferevent_free(c->bev); /* closes the socket */
    free(c);
}

static void conn_end(struct conn *c, int how)
{
    if (c->busy) {
        if (c->end < 0 || how == END_RST)
            c->end = how;
        return;
    }
    conn_free(c, how);
}

static void rst_wait(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd, (void)ev;
    struct conn *c = arg;
    int queued = 0;
    /* RST drops whatever the kernel has not sent yet: let the partial answer leave first */
    if (ioctl(c->fd, SIOCOUTQ, &queued) == 0 && queued > 0 && c->rst_waited_ms < RST_WAIT_MS) {
        c->rst_waited_ms += 2;
        timer_set(c, rst_wait, 2);
        return;
    }
    conn_end(c, END_RST);
}

static void linger_end(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd, (void)ev;
    conn_end(arg, END_FIN);
}

static void conn_after_write(struct conn *c)
{
    switch (c->after) {
    case AFTER_NEXT:
        c->state = CS_IDLE;
        c->head_bytes = 0;
        c->head_lines = 0;
        bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
        conn_update_read(c);
        if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
            conn_process(c); /* a pipelined request */
        break;
    case AFTER_CLOSE:
        if (c->discarding && c->discard != 0) {
            /* the client is still sending a body we refused: read it for a while, so that
             * closing does not reset the connection before the client has read the answer */
            if (c->ssl) {
                SSL_shutdown(c->ssl);
                ERR_clear_error();
            }
            shutdown(c->fd, SHUT_WR);
            c->state = CS_LINGER;
            conn_update_read(c);
            timer_set(c, linger_end, LINGER_MS);
            break;
        }
        conn_end(c, END_GRACEFUL);
        break;
    case AFTER_FIN:
        conn_end(c, END_FIN);
        break;
    case AFTER_RST:
        c->rst_waited_ms = 0;
        rst_wait(-1, 0, c);
        break;
    }
}

/* ---- writing answers ---------------------------------------------------------------------- */

static void http_date(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* pveproxy's header set; clen < 0 leaves Content-Length out. */
static void put_head(struct evbuffer *out, const struct req *rq, const struct reply *r, int keep,
                     int64_t clen)
{
    char date[64];
    http_date(date, sizeof date);
    evbuffer_add_printf(out, "HTTP/%d.%d %d %s\r\n", rq->major, rq->minor, r->status,
                        r->reason ? r->reason : "");
    evbuffer_add_printf(out, "Cache-Control: max-age=0\r\nConnection: %s\r\nDate: %s\r\n"
                             "Pragma: no-cache\r\nServer: pve-api-daemon/3.0\r\n",
                        keep ? "Keep-Alive" : "close", date);
    if (r->gzip)
        evbuffer_add_printf(out, "Content-Encoding: %s\r\n", r->gzip == 1 ? "gzip" : "deflate");
    if (clen >= 0)
        evbuffer_add_printf(out, "Content-Length: %lld\r\n", (long long)clen);
    if (r->ctype)
        evbuffer_add_printf(out, "Content-Type: %s\r\n", r->ctype);
    evbuffer_add_printf(out, "Expires: %s\r\n", date);
    if (r->extra)
        evbuffer_add(out, r->extra, strlen(r->extra));
    evbuffer_add(out, "\r\n", 2);
}

static void slow_tick(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd, (void)ev;
    struct conn *c = arg;
    size_t left = evbuffer_get_length(c->slow);
    size_t k = c->slow_step < left ? c->slow_step : left;
    evbuffer_remove_buffer(c->slow, bufferevent_get_output(c->bev), k);
    if (evbuffer_get_length(c->slow) > 0)
        evtimer_add(c->timer, &c->slow_tv);
}

/* The body of the request was not read completely: drop the rest, then close. */
static void conn_discard_rest(struct conn *c, struct req *rq)
{
    if (c->state == CS_BODY || c->state == CS_STREAM) {
        c->discarding = 1;
        c->discard = rq->content_length - rq->bytes_in;
    }
}

static void reply_deliver(struct req *rq, struct reply *r)
{
    struct conn *c = rq->conn;
    if (!c) { /* the connection went away while the answer waited */
        reply_clear(r);
        req_free(rq);
        return;
    }
    conn_discard_rest(c, rq);
    int keep = rq->keep_alive && !r->close && r->status < 400 && r->deliver == DELIVER_NORMAL &&
               c->nreq < MAX_CONN_REQUESTS && !c->discarding && c->l->state == L_UP;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    int64_t clen = r->no_length ? -1 : (int64_t)r->len;
    c->after = keep ? AFTER_NEXT : AFTER_CLOSE;
    switch (r->deliver) {
    case DELIVER_CLOSE_MID:
    case DELIVER_RESET_MID: /* the whole length promised, half of the body delivered */
        put_head(out, rq, r, 0, clen);
        evbuffer_add(out, r->body, r->len / 2);
        c->after = r->deliver == DELIVER_CLOSE_MID ? AFTER_FIN : AFTER_RST;
        break;
    case DELIVER_CLOSE_AFTER_HEADERS:
        put_head(out, rq, r, 0, clen);
        c->after = AFTER_FIN;
        break;
    case DELIVER_LONG_CL:
        put_head(out, rq, r, 0, (int64_t)r->len + 100);
        evbuffer_add(out, r->body, r->len);
        c->after = AFTER_FIN;
        break;
    case DELIVER_SLOW: {
        c->slow = evbuffer_new();
        put_head(r->slow_body_only ? out : c->slow, rq, r, 0, clen);
        evbuffer_add(c->slow, r->body, r->len);
        int bps = r->slow_bps > 0 ? r->slow_bps : 1;
        if (bps <= 100) {
            c->slow_step = 1;
            c->slow_tv.tv_sec = 1 / bps;
            c->slow_tv.tv_usec = (1000000 / bps) % 1000000;
        } else {
            c->slow_step = (size_t)bps / 100;
            c->slow_tv.tv_sec = 0;
            c->slow_tv.tv_usec = 10000;
        }
        if (c->timer)
            event_free(c->timer);
        c->timer = evtimer_new(g_mock.base, slow_tick, c);
        slow_tick(-1, 0, c);
        break;
    }
    default:
        put_head(out, rq, r, keep, clen);
        evbuffer_add(out, r->body, r->len);
        break;
    }
    c->state = CS_WRITE;
    c->req = NULL;
    conn_update_read(c);
    reply_clear(r);
    req_free(rq);
}

static void pending_unlink(struct pending *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        pending_list = p->next;
    if (p->next)
        p->next->prev = p->prev;
}

static void pending_fire(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd, (void)ev;
    struct pending *p = arg;
    pending_unlink(p);
    event_free(p->ev);
    p->rq->app = NULL;
    reply_deliver(p->rq, &p->r);
    free(p);
}

void req_reply(struct req *rq, struct reply *r, int delay_ms)
{
    reqlog_status(rq->log_id, r->status, r->fault);
    reqlog_bytes(rq->log_id, rq->bytes_in);
    rq->on_detach = NULL;
    rq->sink_data = NULL;
    rq->sink_end = NULL;
    if (delay_ms <= 0) {
        rq->app = NULL;
        reply_deliver(rq, r);
        return;
    }
    struct pending *p = xcalloc(1, sizeof *p);
    p->rq = rq;
    p->r = *r;
    rq->app = p; /* marks it as held: a dying connection only detaches it */
    p->ev = evtimer_new(g_mock.base, pending_fire, p);
    p->next = pending_list;
    if (pending_list)
        pending_list->prev = p;
    pending_list = p;
    struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
    evtimer_add(p->ev, &tv);
}

void req_drop(struct req *rq, int rst, const char *fault)
{
    reqlog_status(rq->log_id, 0, fault);
    reqlog_bytes(rq->log_id, rq->bytes_in);
    struct conn *c = rq->conn;
    if (c)
        c->req = NULL;
    req_free(rq);
    if (c)
        conn_end(c, rst ? END_RST : END_FIN);
}

void req_stream(struct req *rq, struct reply *head, struct stream_src *src)
{
    reqlog_status(rq->log_id, head->status, head->fault);
    reqlog_bytes(rq->log_id, rq->bytes_in);
    struct conn *c = rq->conn;
    if (!c) {
        if (src->free)
            src->free(src->arg);
        reply_clear(head);
        req_free(rq);
        return;
    }
    conn_discard_rest(c, rq);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    /* pveproxy: no Content-Length, and the end of the body is the end of the connection.
     * response_stream ends with push_shutdown (shutdown(fh, 1): a FIN, no TLS close_notify);
     * only when keep-alive is over does finish_response's client_do_disconnect (stoptls,
     * close_notify) take its place. */
    int keep = rq->keep_alive && c->nreq < MAX_CONN_REQUESTS;
    put_head(out, rq, head, keep, -1);
    c->src = *src;
    c->src_done = 0;
    c->stream_sent = 0;
    c->stream_cut = -1;
    c->after = keep ? AFTER_FIN : AFTER_CLOSE;
    if (head->deliver == DELIVER_CLOSE_MID || head->deliver == DELIVER_RESET_MID) {
        c->stream_cut = src->size > 0 ? src->size / 2 : 0;
        c->after = head->deliver == DELIVER_CLOSE_MID ? AFTER_FIN : AFTER_RST;
    }
    c->state = CS_PRODUCE;
    c->req = NULL;
    rq->app = NULL;
    req_free(rq);
    reply_clear(head);
    bufferevent_set_timeouts(c->bev, NULL, NULL); /* pveproxy: no timeout on streams */
    conn_update_read(c);
    stream_fill(c);
}

static void stream_fill(struct conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    while (!c->src_done && evbuffer_get_length(out) < 2 * STREAM_LOW) {
        size_t max = STREAM_CHUNK;
        if (c->stream_cut >= 0 && c->stream_sent + (int64_t)max > c->stream_cut)
            max = (size_t)(c->stream_cut - c->stream_sent);
        size_t n = max ? c->src.fill(c->src.arg, out, max) : 0;
        c->stream_sent += (int64_t)n;
        if (n == 0)
            c->src_done = 1;
    }
    /* the write callback comes at STREAM_LOW while filling, at empty once the source ended */
    bufferevent_setwatermark(c->bev, EV_WRITE, c->src_done ? 0 : STREAM_LOW, 0);
    if (c->src_done && evbuffer_get_length(out) == 0)
        conn_after_write(c);
}

/* ---- reading requests --------------------------------------------------------------------- */

static struct req *req_new(struct conn *c)
{
    struct req *rq = xcalloc(1, sizeof *rq);
    rq->conn = c;
    rq->listener = c->l->index;
    rq->conn_id = c->id;
    rq->content_length = -1;
    rq->log_id = -1;
    rq->major = 1;
    rq->minor = 0;
    rq->headers.tqh_first = NULL; /* TAILQ_INIT */
    rq->headers.tqh_last = &rq->headers.tqh_first;
    return rq;
}

/* pveproxy: (\S+) (\S+) HTTP/(\d+).(\d+). 0, -1 = bad request, -2 = not HTTP/1. */
static int parse_request_line(struct req *rq, const char *line)
{
    const char *sp1 = strchr(line, ' ');
    if (!sp1 || sp1 == line)
        return -1;
    const char *target = sp1 + 1;
    const char *sp2 = strchr(target, ' ');
    if (!sp2 || sp2 == target)
        return -1;
    int major = 0, minor = 0, used = 0;
    if (sscanf(sp2 + 1, "HTTP/%d.%d%n", &major, &minor, &used) != 2 || major < 0 || minor < 0)
        return -1;
    rq->method_name = xasprintf("%.*s", (int)(sp1 - line), line);
    rq->method = method_of(rq->method_name);
    size_t tlen = (size_t)(sp2 - target);
    const char *q = memchr(target, '?', tlen);
    size_t plen = q ? (size_t)(q - target) : tlen;
    rq->path = xasprintf("%.*s", (int)plen, target);
    if (q)
        rq->query = xasprintf("%.*s", (int)(tlen - plen - 1), q + 1);
    rq->major = major;
    rq->minor = minor;
    return major == 1 ? 0 : -2;
}

static void header_flush(struct conn *c)
{
    if (c->hkey && c->req)
        evhttp_add_header(&c->req->headers, c->hkey, c->hval ? c->hval : "");
    free(c->hkey);
    free(c->hval);
    c->hkey = c->hval = NULL;
}

/* An HTTP-layer refusal while the head is read: the request is answered and the rest of
 * whatever the client sends is dropped until it closes. */
static void head_refuse(struct conn *c, int status, const char *msg)
{
    struct req *rq = c->req;
    c->discarding = 1;
    c->discard = -1;
    c->state = CS_APP;
    http_plain_error(rq, status, msg, 0);
}

/* The blank line after the headers: the framing is known; http_head decides the rest. */
static void head_done(struct conn *c)
{
    struct req *rq = c->req;
    header_flush(c);
    c->nreq++;
    const char *conn_hdr = req_header(rq, "Connection");
    rq->keep_alive = conn_hdr ? !strcasestr(conn_hdr, "close") : rq->minor >= 1;
    const char *cl = req_header(rq, "Content-Length");
    if (cl) {
        char *end;
        long long n = strtoll(cl, &end, 10);
        if (!*cl || *end || n < 0) {
            head_refuse(c, 400, "bad request");
            return;
        }
        rq->content_length = n;
    }
    /* a Transfer-Encoding body has no length we read: it is refused and dropped until the end */
    int64_t body = req_header(rq, "Transfer-Encoding")   ? -1
                   : rq->content_length > 0 ? rq->content_length
                                            : 0;
    c->discarding = body != 0; /* until the application takes the body */
    c->discard = body;
    c->state = CS_APP;
    int how = http_head(rq);
    if (how == HEAD_ANSWERED || body < 0) {
        if (how != HEAD_ANSWERED) /* http_head must refuse it; never read it as a body */
            http_plain_error(rq, 501, "chunked transfer encoding not supported", 0);
        else if (c->req == rq) /* the answer waits on a timer */
            conn_update_read(c);
        return;
    }
    c->discarding = 0;
    c->discard = 0;
    if (how == HEAD_STREAM) {
        c->state = body > 0 ? CS_STREAM : CS_APP;
        conn_update_read(c);
        if (body == 0 && rq->sink_end)
            rq->sink_end(rq);
        return;
    }
    if (body > 0) {
        rq->body = evbuffer_new();
        c->state = CS_BODY;
        return;
    }
    conn_update_read(c);
    http_request(rq);
}

void req_count_connection(struct req *rq)
{
    struct conn *c = rq->conn;
    if (c && !c->counted) {
        c->counted = 1;
        g_mock.stats.connections++;
        g_mock.stats.open++;
    }
}

/* Reads request and header lines. Returns 1 when the head is complete (or refused), 0 when
 * more data is needed, -1 when the connection is being dropped. */
static int head_step(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    for (;;) {
        size_t n = 0;
        char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
        if (!line) {
            /* the whole buffer is one unfinished line: refused as soon as it is too long
             * to be taken once complete, so that the outcome does not depend on how the
             * bytes arrive */
            size_t have = evbuffer_get_length(in);
            char last = 0;
            struct evbuffer_ptr at;
            if (have > 0 && evbuffer_ptr_set(in, &at, have - 1, EVBUFFER_PTR_SET) == 0 &&
                evbuffer_copyout_from(in, &at, &last, 1) == 1 && last == '\r')
                have--; /* a CR that may begin the CRLF */
            if (c->state == CS_IDLE ? have > MAX_REQUEST_LINE
                                    : c->head_bytes + have >= MAX_HEAD_BYTES) {
                conn_end(c, END_FIN);
                return -1;
            }
            return 0;
        }
        if (c->state == CS_IDLE) {
            if (n == 0) { /* pveproxy ignores empty lines before a request */
                free(line);
                continue;
            }
            if (n > MAX_REQUEST_LINE) {
                free(line);
                conn_end(c, END_FIN);
                return -1;
            }
            struct req *rq = req_new(c);
            c->req = rq;
            c->state = CS_HEAD;
            c->head_bytes = 0;
            c->head_lines = 0;
            int ok = parse_request_line(rq, line);
            free(line);
            if (ok == -1) {
                rq->major = 1, rq->minor = 0;
                head_refuse(c, 400, "bad request");
                return 1;
            }
            if (ok == -2) {
                char *m = xasprintf("http protocol version %d.%d not supported", rq->major,
                                    rq->minor);
                rq->major = 1, rq->minor = 0;
                head_refuse(c, 506, m);
                free(m);
                return 1;
            }
            continue;
        }
        /* pveproxy drops a request with too many or too long header lines, unanswered */
        c->head_lines++;
        c->head_bytes += n;
        if (c->head_lines >= MAX_HEAD_LINES || c->head_bytes >= MAX_HEAD_BYTES) {
            free(line);
            conn_end(c, END_FIN);
            return -1;
        }
        if (n == 0) {
            free(line);
            head_done(c);
            return 1;
        }
        if (line[0] == ' ' || line[0] == '\t') { /* a continuation line: " " + its text */
            const char *t = line + strspn(line, " \t");
            if (c->hkey) {
                char *v = xasprintf("%s %s", c->hval ? c->hval : "", t);
                free(c->hval);
                c->hval = v;
            }
            free(line);
            continue;
        }
        size_t klen = strcspn(line, ": \t");
        const char *p = line + klen;
        p += strspn(p, " \t");
        if (klen == 0 || *p != ':') {
            free(line);
            head_refuse(c, 506, "unable to parse request header");
            return 1;
        }
        p++;
        p += strspn(p, " \t");
        header_flush(c);
        c->hkey = xasprintf("%.*s", (int)klen, line);
        c->hval = xstrdup(p);
        free(line);
    }
}

static void conn_process(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    c->busy++;
    while (c->end < 0) {
        if (c->discarding) {
            size_t have = evbuffer_get_length(in);
            size_t n = c->discard < 0 || (int64_t)have < c->discard ? have : (size_t)c->discard;
            evbuffer_drain(in, n);
            if (c->discard > 0) {
                c->discard -= (int64_t)n;
                if (c->discard == 0) {
                    c->discarding = 0;
                    conn_update_read(c);
                }
            }
            if (c->state == CS_LINGER && !c->discarding) {
                conn_end(c, END_FIN);
                break;
            }
        }
        if (c->state == CS_IDLE || c->state == CS_HEAD) {
            if (head_step(c) <= 0)
                break;
            continue;
        }
        if (c->state == CS_BODY || c->state == CS_STREAM) {
            /* the body: buffered for http_request, or handed to the sink as it comes */
            struct req *rq = c->req;
            int stream = c->state == CS_STREAM;
            size_t have = evbuffer_get_length(in);
            int64_t left = rq->content_length - rq->bytes_in;
            size_t n = (int64_t)have < left ? have : (size_t)left;
            rq->bytes_in += (int64_t)n;
            if (!stream)
                evbuffer_remove_buffer(in, rq->body, n);
            else if (n > 0)
                rq->sink_data(rq, in, n);
            if (stream && c->state != CS_STREAM)
                continue; /* the sink answered (and freed rq): the rest is dropped */
            if (rq->bytes_in < rq->content_length)
                break;
            c->state = CS_APP;
            conn_update_read(c);
            if (!stream)
                http_request(rq);
            else if (rq->sink_end)
                rq->sink_end(rq);
            continue;
        }
        if (c->state == CS_LINGER)
            evbuffer_drain(in, evbuffer_get_length(in));
        break;
    }
    c->busy--;
    if (!c->busy && c->end >= 0)
        conn_free(c, c->end);
}

static void conn_readcb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    conn_process(arg);
}

static void conn_writecb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (c->state == CS_PRODUCE) {
        if (!c->src_done)
            stream_fill(c);
        else if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            conn_after_write(c);
        return;
    }
    if (c->state != CS_WRITE || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    if (c->slow && evbuffer_get_length(c->slow) > 0)
        return; /* still trickling */
    conn_after_write(c);
}

static void conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_end(arg, END_FIN); /* BEV_EVENT_CONNECTED (handshake done) needs nothing */
}

/* ---- listeners ---------------------------------------------------------------------------- */

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)lev, (void)sa, (void)salen;
    struct listener *l = arg;
    if (l->index >= 0)
        g_mock.stats.accepted_total++;
    if (l->state == L_RESET || (l->index >= 0 && fault_take(&g_mock.faults.reset_accept))) {
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        evutil_closesocket(fd);
        return;
    }
    /* answers go out in several writes; without TCP_NODELAY Nagle and the client's delayed
     * ACK add ~40 ms to every keep-alive request */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = xcalloc(1, sizeof *c);
    c->id = ++conn_serial;
    c->l = l;
    c->fd = fd;
    c->end = -1;
    c->stream_cut = -1;
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    if (l->tls) {
        c->ssl = SSL_new(tls_ctx(l->index, l->cert));
        if (c->ssl)
            c->bev = bufferevent_openssl_socket_new(g_mock.base, fd, c->ssl,
                                                    BUFFEREVENT_SSL_ACCEPTING, opts);
        if (c->bev) /* a client that closes without close_notify simply ends */
            bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    } else {
        c->bev = bufferevent_socket_new(g_mock.base, fd, opts);
    }
    if (!c->bev) {
        SSL_free(c->ssl);
        evutil_closesocket(fd);
        free(c);
        return;
    }
    bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
    struct timeval tv = {IDLE_TIMEOUT_S, 0};
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
}

static void accept_resume(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd, (void)ev;
    struct listener *l = arg;
    if (l->lev) /* still the listener that paused (a "down" frees it and cancels this) */
        evconnlistener_enable(l->lev);
}

/* accept() failed. Out of descriptors (EMFILE, ENFILE) or kernel memory, the pending
 * connection stays in the backlog and the socket stays readable: libevent would call accept
 * again at once, forever (100% CPU, a warning each time). The listener rests instead and
 * tries again after ACCEPT_PAUSE_MS; the backlog waits, as it does for pveproxy. Other
 * errors (a connection reset while queued) concern one connection only. */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
    struct listener *l = arg;
    int err = EVUTIL_SOCKET_ERROR();
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
        return;
    evconnlistener_disable(lev);
    if (!l->resume)
        l->resume = evtimer_new(g_mock.base, accept_resume, l);
    struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
    evtimer_add(l->resume, &tv);
    static time_t last;
    if (time(NULL) != last) { /* at most one line a second */
        last = time(NULL);
        fprintf(stderr, "pve-mock: accept on %s: %s; pausing %d ms\n", l->url, strerror(err),
                ACCEPT_PAUSE_MS);
    }
}

static int listener_bind(struct listener *l)
{
    l->lev = evconnlistener_new_bind(g_mock.base, on_accept, l,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
                                     (struct sockaddr *)&l->addr, l->addrlen);
    if (!l->lev)
        return -1;
    evconnlistener_set_error_cb(l->lev, on_accept_error);
    /* remember the port the kernel chose, so that "up" binds the same one again */
    socklen_t sl = sizeof l->addr;
    getsockname(evconnlistener_get_fd(l->lev), (struct sockaddr *)&l->addr, &sl);
    l->addrlen = (int)sl;
    return 0;
}

/* IPv4:PORT or [IPv6]:PORT, numeric; port 0 = any free port. */
static int parse_addr(const char *spec, struct listener *l)
{
    const char *colon = strrchr(spec, ':');
    char host[INET6_ADDRSTRLEN + 2], *end;
    if (!colon || (size_t)(colon - spec) >= sizeof host)
        return -1;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535)
        return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = 0;
    memset(&l->addr, 0, sizeof l->addr);
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&l->addr;
        host[hl - 1] = 0;
        if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
            return -1;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        l->addrlen = sizeof *s6;
        return 0;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)&l->addr;
    if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
        return -1;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    l->addrlen = sizeof *s4;
    return 0;
}

static int listener_open(struct listener *l, const char *spec, int index, int tls)
{
    memset(l, 0, sizeof *l);
    l->index = index;
    l->tls = tls;
    snprintf(l->spec, sizeof l->spec, "%s", spec);
    if (parse_addr(spec, l) != 0) {
        fprintf(stderr, "pve-mock: bad address %s (want IP:PORT or [IPv6]:PORT)\n", spec);
        return -1;
    }
    if (listener_bind(l) != 0) {
        fprintf(stderr, "pve-mock: cannot listen on %s: %s\n", spec, strerror(errno));
        return -1;
    }
    char *host = l->host;
    int port;
    if (l->addr.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&l->addr;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof l->host);
        port = ntohs(s6->sin6_port);
        snprintf(l->url, sizeof l->url, "%s://[%s]:%d", tls ? "https" : "http", host, port);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&l->addr;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof l->host);
        port = ntohs(s4->sin_port);
        snprintf(l->url, sizeof l->url, "%s://%s:%d", tls ? "https" : "http", host, port);
    }
    return 0;
}

static void conns_close(struct listener *l, int how, struct conn *except)
{
    struct conn *c = l->conns, *next;
    for (; c; c = next) {
        next = c->next;
        if (c != except)
            conn_end(c, how);
    }
}

static void listener_restore(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd, (void)ev;
    struct listener *l = arg;
    event_free(l->restore);
    l->restore = NULL;
    if (!l->lev && listener_bind(l) != 0)
        fprintf(stderr, "pve-mock: cannot listen again on %s\n", l->url);
    l->state = L_UP;
}

int listener_action(int index, const char *action, int ms, struct conn *except, const char **err)
{
    if (index < 0 || index >= g_mock.nlisteners) {
        *err = "no such listener";
        return -1;
    }
    struct listener *l = &g_mock.listeners[index];
    if (l->restore) {
        event_free(l->restore);
        l->restore = NULL;
    }
    int down = 0;
    if (strcmp(action, "up") == 0) {
        if (!l->lev && listener_bind(l) != 0) {
            *err = "cannot listen on the port again";
            return -1;
        }
        l->state = L_UP;
        return 0;
    } else if (strcmp(action, "down") == 0) {
        down = 1;
    } else if (strcmp(action, "die") == 0) {
        conns_close(l, END_RST, except);
        down = 1;
    } else if (strcmp(action, "drop") == 0) {
        conns_close(l, END_FIN, except);
        return 0;
    } else if (strcmp(action, "reset") == 0) {
        if (!l->lev && listener_bind(l) != 0) {
            *err = "cannot listen on the port again";
            return -1;
        }
        l->state = L_RESET;
    } else {
        *err = "action must be up, down, reset, die or drop";
        return -1;
    }
    if (down) {
        if (l->resume)
            evtimer_del(l->resume);
        if (l->lev) /* connections still in the backlog get RST from the kernel */
            evconnlistener_free(l->lev);
        l->lev = NULL;
        l->state = L_DOWN;
    }
    if (ms > 0) {
        l->restore = evtimer_new(g_mock.base, listener_restore, l);
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(l->restore, &tv);
    }
    return 0;
}

int listener_set_cert(int index, int cert_mode)
{
    if (index < -1 || index >= g_mock.nlisteners)
        return -1;
    for (int i = 0; i < g_mock.nlisteners; i++)
        if (index < 0 || i == index)
            g_mock.listeners[i].cert = cert_mode;
    return 0;
}

const char *listener_host(int index)
{
    return index >= 0 && index < g_mock.nlisteners ? g_mock.listeners[index].host : NULL;
}

int listener_of_node(const char *node)
{
    for (int i = 0; i < g_mock.nlisteners && i < g_mock.nnodes; i++)
        if (strcmp(g_mock.nodes[i].name, node) == 0)
            return i;
    return -1;
}

cJSON *listeners_json(void)
{
    static const char *const states[] = {"up", "down", "reset"};
    static const char *const certs[] = {"normal", "same_ca", "foreign_ca"};
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < g_mock.nlisteners; i++) {
        struct listener *l = &g_mock.listeners[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", i);
        cJSON_AddStringToObject(o, "url", l->url);
        cJSON_AddStringToObject(o, "node", i < g_mock.nnodes ? g_mock.nodes[i].name : "");
        cJSON_AddStringToObject(o, "state", states[l->state]);
        cJSON_AddStringToObject(o, "cert", certs[l->cert]);
        cJSON_AddStringToObject(o, "fingerprint", tls_fingerprint(i, CERT_NORMAL));
        cJSON_AddStringToObject(o, "fingerprint_now", tls_fingerprint(i, l->cert));
        int open = 0;
        for (struct conn *c = l->conns; c; c = c->next)
            open++;
        cJSON_AddNumberToObject(o, "open", open);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

void server_reset(void)
{
    for (int i = 0; i < g_mock.nlisteners; i++) {
        const char *err = NULL;
        listener_action(i, "up", 0, NULL, &err);
        g_mock.listeners[i].cert = CERT_NORMAL;
    }
}

/* ---- start / stop ------------------------------------------------------------------------- */

static void print_ready_line(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "url", g_mock.listeners[0].url);
    cJSON_AddStringToObject(o, "fingerprint", tls_fingerprint(0, CERT_NORMAL));
    cJSON_AddStringToObject(o, "token", MOCK_TOKEN_ID "=" MOCK_TOKEN_SECRET);
    cJSON_AddStringToObject(o, "readonly_token", MOCK_RO_TOKEN_ID "=" MOCK_RO_TOKEN_SECRET);
    cJSON_AddStringToObject(o, "user", MOCK_USER);
    cJSON_AddStringToObject(o, "password", MOCK_PASSWORD);
    if (g_mock.cfg.tfa) {
        cJSON_AddStringToObject(o, "tfa_user", MOCK_TFA_USER);
        cJSON_AddStringToObject(o, "tfa_password", MOCK_TFA_PASSWORD);
        cJSON_AddStringToObject(o, "totp_secret", MOCK_TOTP_SECRET);
    }
    cJSON *urls = cJSON_AddArrayToObject(o, "urls");
    cJSON *fps = cJSON_AddArrayToObject(o, "fingerprints");
    cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
    for (int i = 0; i < g_mock.nlisteners; i++) {
        cJSON_AddItemToArray(urls, cJSON_CreateString(g_mock.listeners[i].url));
        cJSON_AddItemToArray(fps, cJSON_CreateString(tls_fingerprint(i, CERT_NORMAL)));
        cJSON_AddItemToArray(nodes, cJSON_CreateString(g_mock.nodes[i].name));
    }
    if (g_mock.control)
        cJSON_AddStringToObject(o, "control_url", g_mock.control->url);
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    printf("%s\n", line);
    fflush(stdout);
    free(line);
}

int server_start(void)
{
    const struct mock_config *cfg = &g_mock.cfg;
    int n = g_mock.nlisteners;
    g_mock.listeners = xcalloc((size_t)n, sizeof *g_mock.listeners);
    char spec0[300] = "";
    for (int i = 0; i < n; i++) {
        /* --nodes N without --listen: N ports on the first (or default) address */
        const char *spec = i < cfg->nlisten ? cfg->listen[i] : NULL;
        char buf[300];
        if (!spec) {
            const char *base = cfg->nlisten ? cfg->listen[0] : "127.0.0.1:0";
            const char *colon = strrchr(base, ':');
            snprintf(buf, sizeof buf, "%.*s:0", (int)(colon ? colon - base : 0), base);
            spec = buf;
        }
        if (i == 0)
            snprintf(spec0, sizeof spec0, "%s", spec);
        if (listener_open(&g_mock.listeners[i], spec, i, 1) != 0)
            return -1;
    }
    if (!cfg->control || strcmp(cfg->control, "none") != 0) {
        char buf[300];
        const char *spec = cfg->control;
        if (!spec) { /* same address as the first listener, any port */
            const char *colon = strrchr(spec0, ':');
            snprintf(buf, sizeof buf, "%.*s:0", (int)(colon ? colon - spec0 : 0), spec0);
            spec = buf;
        }
        g_mock.control = xcalloc(1, sizeof *g_mock.control);
        if (listener_open(g_mock.control, spec, -1, 0) != 0)
            return -1;
    }
    print_ready_line();
    return 0;
}

static void listener_close(struct listener *l)
{
    if (l->restore)
        event_free(l->restore);
    l->restore = NULL;
    if (l->resume)
        event_free(l->resume);
    l->resume = NULL;
    conns_close(l, END_FIN, NULL);
    if (l->lev)
        evconnlistener_free(l->lev);
    l->lev = NULL;
}

void server_stop(void)
{
    /* pending answers first: they may hold requests of connections that are freed below */
    while (pending_list) {
        struct pending *p = pending_list;
        pending_unlink(p);
        event_free(p->ev);
        if (p->rq->conn)
            p->rq->conn->req = NULL;
        reply_clear(&p->r);
        req_free(p->rq);
        free(p);
    }
    for (int i = 0; i < g_mock.nlisteners; i++)
        listener_close(&g_mock.listeners[i]);
    free(g_mock.listeners);
    g_mock.listeners = NULL;
    g_mock.nlisteners = 0;
    if (g_mock.control) {
        listener_close(g_mock.control);
        free(g_mock.control);
        g_mock.control = NULL;
    }
    /* A bufferevent with deferred callbacks still queued is only released when they have run:
     * let the loop run them (they find no callbacks any more) before the base goes. */
    for (int i = 0; i < 4; i++)
        event_base_loop(g_mock.base, EVLOOP_NONBLOCK);
}
