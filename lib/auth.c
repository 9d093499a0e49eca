/* Authentication: API tokens; password login with self-renewing tickets; two-factor login;
 * CSRF tokens on writes. Secrets are wiped when replaced or freed, and never logged. */
#include "core.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void set_secret(char **slot, char *value) {
    pmx__secret_free(*slot);
    *slot = value;
}

static void clear_ticket(pmx_client *c) {
    set_secret(&c->ticket, NULL);
    set_secret(&c->csrf, NULL);
    set_secret(&c->cookie_header, NULL);
    set_secret(&c->csrf_header, NULL);
    c->ticket_time = 0;
}

void pmx__auth_clear(pmx_client *c) {
    clear_ticket(c);
    set_secret(&c->token_header, NULL);
    set_secret(&c->password, NULL);
    set_secret(&c->tfa_response, NULL);
    pmx__free(c->userid);
    c->userid = NULL;
    c->auth = AUTH_NONE;
}

/* Tickets and CSRF tokens go verbatim into header lines: no control characters (CR/LF would
 * end the header and inject others) and no spaces. */
static int header_safe(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

/* "PVE:<userid>:<8 hex>::<signature>": fills the user id and the epoch; 0 when it parses. */
static int parse_ticket(const char *t, char **userid, int64_t *when) {
    if (strncmp(t, "PVE:", 4) != 0 || !header_safe(t))
        return -1;
    const char *u = t + 4;
    const char *colon = strchr(u, ':');
    if (!colon || colon == u || strncmp(u, "!tfa!", 5) == 0)
        return -1;
    const char *h = colon + 1;
    for (int i = 0; i < 8; i++)
        if (!isxdigit((unsigned char)h[i]))
            return -1;
    if (h[8] != ':' || h[9] != ':' || !h[10])
        return -1;
    char hex[9];
    memcpy(hex, h, 8);
    hex[8] = 0;
    *when = (int64_t)strtoll(hex, NULL, 16);
    if (userid && !(*userid = pmx__strndup(u, (size_t)(colon - u))))
        return -2;
    return 0;
}

/* fresh: the ticket was issued just now by a login; its age is then counted from our own clock,
 * since the epoch inside it is the server's clock (skewed clocks would else make every call log
 * in again, or renew on every call). */
static int install_ticket(pmx_client *c, const char *ticket, const char *csrf, int fresh) {
    int64_t when;
    if (parse_ticket(ticket, NULL, &when) != 0 || (csrf && !header_safe(csrf)))
        return PMX_EINVAL;
    char *t = pmx__strdup(ticket);
    char *k = csrf ? pmx__strdup(csrf) : NULL;
    /* The ticket is base64 plus ':' and '!': safe as a raw cookie value, as PVE's GUI sends it. */
    char *ch = pmx__asprintf("Cookie: PVEAuthCookie=%s", ticket);
    char *kh = csrf ? pmx__asprintf("CSRFPreventionToken: %s", csrf) : NULL;
    if (!t || !ch || (csrf && (!k || !kh))) {
        pmx__secret_free(t);
        pmx__secret_free(k);
        pmx__secret_free(ch);
        pmx__secret_free(kh);
        return PMX_ENOMEM;
    }
    clear_ticket(c);
    c->ticket = t;
    c->csrf = k;
    c->cookie_header = ch;
    c->csrf_header = kh;
    c->ticket_time = fresh ? (int64_t)time(NULL) : when;
    c->ticket_gen++;
    return PMX_OK;
}

int pmx_client_set_token(pmx_client *c, const char *token) {
    if (!c || !token)
        return PMX_EINVAL;
    const char *at = strchr(token, '@');
    const char *bang = at ? strchr(at, '!') : NULL;
    const char *eq = strrchr(token, '=');
    if (!at || at == token || !bang || bang == at + 1 || !eq || eq < bang + 2 || !eq[1] ||
        strpbrk(token, " \t\r\n;"))
        return PMX_EINVAL;
    char *h = pmx__asprintf("Authorization: PVEAPIToken=%s", token);
    if (!h)
        return PMX_ENOMEM;
    pmx__auth_clear(c);
    c->token_header = h;
    c->auth = AUTH_TOKEN;
    return PMX_OK;
}

static int valid_userid(const char *u) {
    const char *at = u ? strchr(u, '@') : NULL;
    return at && at != u && at[1] && !strpbrk(u, ": \t\r\n");
}

int pmx_client_set_password(pmx_client *c, const char *userid, const char *password) {
    if (!c || !valid_userid(userid) || !password || !*password)
        return PMX_EINVAL;
    char *u = pmx__strdup(userid), *p = pmx__strdup(password);
    if (!u || !p) {
        pmx__free(u);
        pmx__secret_free(p);
        return PMX_ENOMEM;
    }
    char *tfa = c->tfa_response;
    c->tfa_response = NULL;
    pmx__auth_clear(c);
    c->tfa_response = tfa;
    c->userid = u;
    c->password = p;
    c->auth = AUTH_TICKET;
    return PMX_OK;
}

int pmx_client_set_ticket(pmx_client *c, const char *ticket, const char *csrf) {
    if (!c || !ticket || (csrf && !header_safe(csrf)))
        return PMX_EINVAL;
    char *user = NULL;
    int64_t when;
    int r = parse_ticket(ticket, &user, &when);
    if (r)
        return r == -2 ? PMX_ENOMEM : PMX_EINVAL;
    /* Keep a password given for the same user: it allows a fresh login later. */
    if (c->auth != AUTH_TICKET || !c->userid || strcmp(c->userid, user) != 0) {
        char *tfa = c->tfa_response;
        c->tfa_response = NULL;
        pmx__auth_clear(c);
        c->tfa_response = tfa;
        c->userid = user;
        user = NULL;
    }
    pmx__free(user);
    c->auth = AUTH_TICKET;
    return install_ticket(c, ticket, csrf, 0);
}

int pmx_client_get_ticket(pmx_client *c, char **ticket, char **csrf) {
    if (!c || !ticket)
        return PMX_EINVAL;
    *ticket = NULL;
    if (csrf)
        *csrf = NULL;
    if (!c->ticket)
        return PMX_ENOTFOUND;
    *ticket = pmx__strdup(c->ticket);
    if (csrf && c->csrf)
        *csrf = pmx__strdup(c->csrf);
    if (!*ticket || (csrf && c->csrf && !*csrf)) {
        pmx__secret_free(*ticket);
        *ticket = NULL;
        if (csrf) {
            pmx__secret_free(*csrf);
            *csrf = NULL;
        }
        return PMX_ENOMEM;
    }
    return PMX_OK;
}

int pmx_client_set_ticket_lifetime(pmx_client *c, int seconds) {
    if (!c || seconds < 2)
        return PMX_EINVAL;
    c->ticket_lifetime = seconds;
    return PMX_OK;
}

int pmx_client_set_tfa_cb(pmx_client *c, pmx_tfa_fn fn, void *ud) {
    if (!c)
        return PMX_EINVAL;
    c->tfa_cb = fn;
    c->tfa_ud = ud;
    return PMX_OK;
}

int pmx_client_set_tfa_response(pmx_client *c, const char *response) {
    if (!c || (response && !*response))
        return PMX_EINVAL;
    char *d = NULL;
    if (response && !(d = pmx__strdup(response)))
        return PMX_ENOMEM;
    set_secret(&c->tfa_response, d);
    return PMX_OK;
}

/* ---- login state machine ---- */

static int64_t ticket_age(const pmx_client *c) { return (int64_t)time(NULL) - c->ticket_time; }

/* Expired for sending: past the lifetime, less a small margin for the trip to the server. */
static int ticket_usable(const pmx_client *c) {
    if (!c->ticket || c->ticket_time == 0)
        return 0;
    int64_t margin = c->ticket_lifetime / 20;
    if (margin > 60)
        margin = 60;
    return ticket_age(c) < c->ticket_lifetime - margin;
}

static void login_done(pmx_call *call);

static int start_login_call(pmx_client *c, const char *password, const char *tfa_challenge,
                            int renewal) {
    pmx_params *p = pmx_params_new();
    if (!p)
        return PMX_ENOMEM;
    int r = pmx_params_set_str(p, "username", c->userid);
    if (!r)
        r = pmx_params_set_str(p, "password", password);
    if (!r && tfa_challenge)
        r = pmx_params_set_str(p, "tfa-challenge", tfa_challenge);
    if (!r)
        r = pmx__call_new_internal(c, PMX_POST, "/access/ticket", p, login_done, &c->login);
    pmx_params_free(p);
    if (r)
        return r;
    c->login_is_renewal = renewal;
    pmx__log(c, PMX_LOG_INFO, "%s for %s", renewal ? "renewing the ticket" :
             tfa_challenge ? "sending the second factor" : "logging in", c->userid);
    return PMX_OK;
}

void pmx__auth_fail_waiting(pmx_client *c, int code, const char *msg) {
    pmx_call *call;
    while ((call = c->auth_wait_head))
        pmx__call_complete(call, code, msg); /* unlinks it from the wait list */
}

/* Start a full login for the waiting calls, or fail them when that cannot be done. */
static void login_or_fail(pmx_client *c) {
    if (c->login)
        return;
    if (!c->password) {
        pmx__auth_fail_waiting(c, PMX_EAUTH, "the ticket has expired and no password is set");
        return;
    }
    int r = start_login_call(c, c->password, NULL, 0);
    if (r)
        pmx__auth_fail_waiting(c, r, "cannot start the login");
}

static void release_waiting(pmx_client *c) {
    pmx_call *call;
    while ((call = c->auth_wait_head)) {
        c->auth_wait_head = call->qnext;
        if (!c->auth_wait_head)
            c->auth_wait_tail = NULL;
        call->qnext = NULL;
        pmx__call_send(call);
    }
}

static void wait_for_login(pmx_call *call) {
    pmx_client *c = call->client;
    call->state = CALL_AUTH_WAIT;
    call->qnext = NULL;
    if (c->auth_wait_tail)
        c->auth_wait_tail->qnext = call;
    else
        c->auth_wait_head = call;
    c->auth_wait_tail = call;
}

int pmx__auth_prepare(pmx_call *call) {
    pmx_client *c = call->client;
    if (c->auth != AUTH_TICKET)
        return 1;
    if (ticket_usable(c)) {
        /* Renew in the background once past half the lifetime; calls keep flowing. */
        if (!c->login && ticket_age(c) >= c->ticket_lifetime / 2 &&
            start_login_call(c, c->ticket, NULL, 1) != PMX_OK)
            pmx__log(c, PMX_LOG_WARN, "cannot start the ticket renewal");
        return 1;
    }
    wait_for_login(call);
    login_or_fail(c);
    return 0;
}

int pmx__auth_headers(pmx_call *call) {
    pmx_client *c = call->client;
    struct curl_slist *l = call->headers;
    call->with_ticket = 0;
    if (c->auth == AUTH_TOKEN) {
        l = curl_slist_append(l, c->token_header);
    } else if (c->auth == AUTH_TICKET && c->cookie_header) {
        l = curl_slist_append(l, c->cookie_header);
        if (l && call->method != PMX_GET && c->csrf_header)
            l = curl_slist_append(l, c->csrf_header);
        call->with_ticket = 1;
        call->ticket_gen = c->ticket_gen;
    }
    if (!l)
        return PMX_ENOMEM;
    call->headers = l;
    return PMX_OK;
}

void pmx__auth_ticket_refused(pmx_call *call) {
    pmx_client *c = call->client;
    if (c->password && call->ticket_gen == c->ticket_gen)
        c->ticket_time = 0; /* unusable from now on: the next call waits for a login */
}

int pmx__auth_on_401(pmx_call *call) {
    pmx_client *c = call->client;
    call->retried = 1;
    if (call->ticket_gen != c->ticket_gen && ticket_usable(c)) {
        pmx__call_send(call); /* a newer ticket arrived meanwhile */
        return 1;
    }
    if (!c->password)
        return 0;
    pmx__log(c, PMX_LOG_INFO, "ticket refused (401): logging in again");
    /* pmx__auth_ticket_refused() already made the ticket unusable */
    wait_for_login(call);
    login_or_fail(c);
    return 1;
}

/* "PVE:!tfa!<challenge, ':' as %3A>:<hex>::<sig>": the challenge as JSON, or NULL. */
static char *tfa_challenge_json(const char *ticket) {
    if (strncmp(ticket, "PVE:!tfa!", 9) != 0)
        return NULL; /* the server's answer: never step past a shorter string */
    const char *p = ticket + 9;
    const char *end = strchr(p, ':');
    if (!end)
        return NULL;
    char *out = pmx__malloc((size_t)(end - p) + 1);
    if (!out)
        return NULL;
    char *o = out;
    while (p < end) {
        if (*p == '%' && end - p >= 3 && isxdigit((unsigned char)p[1]) &&
            isxdigit((unsigned char)p[2])) {
            char hex[3] = {p[1], p[2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            p += 3;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return out;
}

typedef struct login_answer {
    char *ticket, *csrf;
    int need_tfa;
} login_answer;

static int login_member(const char *key, const char *v, const char *vend, void *ud) {
    login_answer *a = ud;
    if (strcmp(key, "ticket") == 0 && *v == '"')
        pmx__json_string(v, vend, &a->ticket);
    else if (strcmp(key, "CSRFPreventionToken") == 0 && *v == '"')
        pmx__json_string(v, vend, &a->csrf);
    else if (strcmp(key, "NeedTFA") == 0)
        a->need_tfa = (*v == '1' || *v == 't' || (v[0] == '"' && v[1] == '1'));
    return 0;
}

static void second_factor(pmx_client *c, const char *half_ticket) {
    char buf[512];
    buf[0] = 0;
    char *challenge = tfa_challenge_json(half_ticket);
    int ok = 0;
    if (c->tfa_cb) {
        ok = c->tfa_cb(c, challenge ? challenge : "{}", buf, sizeof buf, c->tfa_ud) == 0 && buf[0];
    } else if (c->tfa_response) {
        snprintf(buf, sizeof buf, "%s", c->tfa_response);
        set_secret(&c->tfa_response, NULL); /* one-time codes are used once */
        ok = 1;
    }
    pmx__free(challenge);
    c->login = NULL; /* the first step's call, kept while the TFA callback ran */
    buf[sizeof buf - 1] = 0;
    if (!ok) {
        pmx__wipe(buf, sizeof buf);
        pmx__auth_fail_waiting(c, PMX_EAUTH,
                               "two-factor authentication required, but no second factor was given");
        return;
    }
    /* A bare code is a TOTP code. */
    char resp[540];
    int bare = 1;
    for (const char *p = buf; *p; p++)
        bare &= isdigit((unsigned char)*p) != 0;
    snprintf(resp, sizeof resp, "%s%s", bare ? "totp:" : "", buf);
    pmx__wipe(buf, sizeof buf);
    int r = start_login_call(c, resp, half_ticket, 0);
    pmx__wipe(resp, sizeof resp);
    if (r)
        pmx__auth_fail_waiting(c, r, "cannot send the second factor");
}

static void login_done(pmx_call *call) {
    pmx_client *c = call->client;
    int renewal = c->login_is_renewal;
    c->login = NULL;
    if (c->destroying)
        return;
    login_answer a = {0};
    int r = call->result;
    if (r == PMX_OK) {
        const char *d = call->data;
        if (!d || pmx__json_object_each(d, d + call->data_len, login_member, &a) != 0 || !a.ticket)
            r = PMX_EDECODE;
    }
    if (r == PMX_OK && a.need_tfa && !renewal) {
        /* Still logging in: a call started from the TFA callback must wait for this login,
         * not start a second one (and a second prompt). */
        c->login = call;
        second_factor(c, a.ticket);
    } else if (r == PMX_OK && !a.need_tfa && install_ticket(c, a.ticket, a.csrf, 1) == PMX_OK) {
        pmx__log(c, PMX_LOG_INFO, "%s for %s", renewal ? "ticket renewed" : "logged in", c->userid);
        release_waiting(c);
    } else if (renewal) {
        pmx__log(c, PMX_LOG_WARN, "ticket renewal failed: %s",
                 pmx_call_error(call) ? pmx_call_error(call) : "bad answer");
        if (c->auth_wait_head)
            login_or_fail(c);
    } else {
        char msg[300];
        snprintf(msg, sizeof msg, "login failed: %s",
                 r == PMX_OK ? "unexpected answer" : pmx_call_error(call));
        int code = r == PMX_OK || r == PMX_EHTTP || r == PMX_EDECODE ? PMX_EAUTH : r;
        pmx__auth_fail_waiting(c, code, msg);
    }
    pmx__secret_free(a.ticket);
    pmx__secret_free(a.csrf);
}
