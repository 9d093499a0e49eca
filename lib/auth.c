/* Authentication: API tokens; password login with self-renewing tickets; two-factor login;
 * CSRF tokens on writes. Secrets are wiped when replaced or freed, and never logged.
 *
 * auth.c decides for each call whether it goes out now, waits for a login (call.c parks it) or
 * fails, and runs the login state machine. A ticket is judged by the server: what this file
 * believes about its age only decides when to renew it. */
#include "core.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    LOGIN_PASSWORD = 1, /* user + password (first step) */
    LOGIN_TFA,          /* the second factor, after a NeedTFA answer */
    LOGIN_RENEW         /* the current ticket as the password */
};

/* After a renewal that did not reach the server, wait this long before trying again. */
#define RENEW_RETRY_MS 30000

static void set_secret(char **slot, char *value) {
    pmx__secret_free(*slot);
    *slot = value;
}

static void clear_ticket(pmx_client *c) {
    set_secret(&c->ticket, NULL);
    set_secret(&c->csrf, NULL);
    set_secret(&c->cookie_header, NULL);
    set_secret(&c->csrf_header, NULL);
    c->ticket_born = 0;
    c->ticket_refused = 0;
    c->renew_after = 0;
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

/* Tickets, CSRF tokens and API tokens go verbatim into header lines: no control characters
 * (CR/LF would end the header and inject others), no DEL, and no spaces. */
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

/* fresh: the ticket was issued just now by a login, so its age starts now on our monotonic
 * clock (the epoch inside it is the server's clock, which may be far from ours). An imported
 * ticket can only be aged by its epoch, read once against our wall clock and then carried on
 * the monotonic clock, so a clock jump later changes nothing. */
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
    int64_t now = pmx__now_ms();
    int64_t age_s = fresh ? 0 : (int64_t)time(NULL) - when;
    if (age_s < -86400 * 365 || age_s > 86400 * 365)
        age_s = age_s < 0 ? -86400 * 365 : 86400 * 365; /* nonsense epochs: keep it finite */
    c->ticket_born = now - age_s * 1000;
    c->ticket_gen++;
    return PMX_OK;
}

/* ---- the login state machine ---- */

static void login_done(pmx_call *call);

static int start_login_call(pmx_client *c, int kind, const char *password,
                            const char *tfa_challenge) {
    pmx_params *p = pmx_params_new();
    if (!p)
        return PMX_ENOMEM;
    int r = pmx_params_set_str(p, "username", c->userid);
    if (!r)
        r = pmx_params_set_str(p, "password", password);
    if (!r && tfa_challenge)
        r = pmx_params_set_str(p, "tfa-challenge", tfa_challenge);
    pmx_call *call = NULL;
    if (!r)
        r = pmx__call_new_internal(c, PMX_POST, "/access/ticket", p, login_done, &call);
    pmx_params_free(p);
    if (r)
        return r;
    call->login_gen = c->cred_gen;
    call->login_kind = kind;
    if (kind == LOGIN_TFA)
        call->idempotent = 0; /* a one-time code (a recovery key) must reach the server once */
    c->login = call;
    pmx__log(c, PMX_LOG_INFO, "%s for %s",
             kind == LOGIN_RENEW ? "renewing the ticket"
             : kind == LOGIN_TFA ? "sending the second factor"
                                 : "logging in",
             c->userid);
    return PMX_OK;
}

/* Calls are parked: get them a ticket they can use. */
static void login_for_parked(pmx_client *c) {
    if (c->login || !pmx__call_has_parked(c))
        return;
    int r;
    if (c->password)
        r = start_login_call(c, LOGIN_PASSWORD, c->password, NULL);
    else if (c->ticket && !c->ticket_refused)
        r = start_login_call(c, LOGIN_RENEW, c->ticket, NULL);
    else
        r = PMX_EAUTH;
    if (r == PMX_EAUTH)
        pmx__call_fail_parked(c, PMX_EAUTH, "the server refused the ticket and no password is set");
    else if (r)
        pmx__call_fail_parked(c, r, "cannot start the login");
}

static int64_t ticket_age_s(const pmx_client *c) {
    return (pmx__now_ms() - c->ticket_born) / 1000;
}

/* Believed usable: not yet past the lifetime, less a margin for the trip to the server. */
static int ticket_believed_fresh(const pmx_client *c) {
    int64_t margin = c->ticket_lifetime / 20;
    if (margin > 60)
        margin = 60;
    return ticket_age_s(c) < c->ticket_lifetime - margin;
}

int pmx__auth_prepare(pmx_call *call) {
    pmx_client *c = call->client;
    if (c->auth != AUTH_TICKET)
        return PMX__AUTH_SEND;
    if (c->ticket && !c->ticket_refused) {
        /* Renew in the background once past half the lifetime; calls keep flowing. */
        /* (Not with a ticket believed expired while a password is set: that renewal would be
         * refused, and the password login below comes first.) */
        int fresh = ticket_believed_fresh(c);
        if ((fresh || !c->password) && !c->login &&
            ticket_age_s(c) >= c->ticket_lifetime / 2 && pmx__now_ms() >= c->renew_after &&
            start_login_call(c, LOGIN_RENEW, c->ticket, NULL) != PMX_OK)
            pmx__log(c, PMX_LOG_WARN, "cannot start the ticket renewal");
        /* Believed expired: with a password a fresh login costs one request and spares every
         * call a refusal; without one only the server can tell, so the call goes out. */
        if (fresh || !c->password)
            return PMX__AUTH_SEND;
    } else if (!c->password) {
        pmx__call_complete(call, PMX_EAUTH, "the server refused the ticket and no password is set");
        return PMX__AUTH_DONE;
    }
    pmx__call_park(call);
    login_for_parked(c);
    return PMX__AUTH_WAIT;
}

int pmx__auth_headers(pmx_call *call, struct curl_slist **list) {
    pmx_client *c = call->client;
    struct curl_slist *l = *list;
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
    *list = l;
    return PMX_OK;
}

void pmx__auth_ticket_refused(pmx_call *call) {
    pmx_client *c = call->client;
    if (call->ticket_gen == c->ticket_gen)
        c->ticket_refused = 1; /* from now on calls wait for a login (or fail without password) */
}

int pmx__auth_on_401(pmx_call *call) {
    pmx_client *c = call->client;
    call->retried = 1;
    if (call->ticket_gen != c->ticket_gen && c->ticket && !c->ticket_refused) {
        pmx__call_submit(call); /* a newer ticket arrived meanwhile */
        return 1;
    }
    if (!c->password)
        return 0;
    pmx__call_park(call);
    /* Logged once the call is parked: the log callback sees a consistent client. */
    pmx__log(c, PMX_LOG_INFO, "ticket refused (401): logging in again");
    login_for_parked(c);
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
    char **slot = NULL;
    if (strcmp(key, "ticket") == 0)
        slot = &a->ticket;
    else if (strcmp(key, "CSRFPreventionToken") == 0)
        slot = &a->csrf;
    else if (strcmp(key, "NeedTFA") == 0)
        a->need_tfa = (*v == '1' || *v == 't' || (v[0] == '"' && v[1] == '1'));
    if (slot) {
        /* A member given twice: the last one counts, the first is wiped. */
        set_secret(slot, NULL);
        if (*v == '"')
            pmx__json_string(v, vend, slot);
    }
    return 0;
}

static void second_factor(pmx_client *c, pmx_call *first, const char *half_ticket) {
    char buf[512];
    buf[0] = 0;
    unsigned gen = c->cred_gen;
    char *challenge = tfa_challenge_json(half_ticket);
    int ok = 0;
    /* Still logging in while the callback runs: a call it starts waits for this login rather
     * than starting a second one (and a second prompt). */
    c->login = first;
    if (c->tfa_cb) {
        ok = c->tfa_cb(c, challenge ? challenge : "{}", buf, sizeof buf, c->tfa_ud.ud) == 0 &&
             buf[0];
    } else if (c->tfa_response) {
        snprintf(buf, sizeof buf, "%s", c->tfa_response);
        set_secret(&c->tfa_response, NULL); /* one-time codes are used once */
        ok = 1;
    }
    pmx__free(challenge);
    if (c->login == first)
        c->login = NULL;
    buf[sizeof buf - 1] = 0;
    if (gen != c->cred_gen || c->destroying) {
        /* The credentials changed inside the callback: this login is void. */
        pmx__wipe(buf, sizeof buf);
        if (!c->destroying)
            login_for_parked(c);
        return;
    }
    if (!ok) {
        pmx__wipe(buf, sizeof buf);
        pmx__call_fail_parked(c, PMX_EAUTH,
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
    int r = start_login_call(c, LOGIN_TFA, resp, half_ticket);
    pmx__wipe(resp, sizeof resp);
    if (r)
        pmx__call_fail_parked(c, r, "cannot send the second factor");
}

/* A renewal failed: a refusal retires the ticket; anything else (the server could not be
 * asked) leaves it to the server to judge the calls themselves. */
static void renewal_failed(pmx_client *c, pmx_call *call, int refused) {
    pmx__log(c, PMX_LOG_WARN, "ticket renewal failed: %s",
             pmx_call_error(call) ? pmx_call_error(call) : "unexpected answer");
    if (refused) {
        c->ticket_refused = 1;
        login_for_parked(c); /* a password login, or the parked calls fail */
        return;
    }
    c->renew_after = pmx__now_ms() + RENEW_RETRY_MS;
    if (c->password) {
        login_for_parked(c);
        return;
    }
    pmx__call_release_parked(c);
}

static void login_done(pmx_call *call) {
    pmx_client *c = call->client;
    if (c->login == call)
        c->login = NULL;
    if (c->destroying || call->login_gen != c->cred_gen)
        return; /* made for credentials the client no longer has: its answer is void */
    login_answer a = {0};
    int kind = call->login_kind;
    int r = call->result;
    if (r == PMX_OK) {
        const char *d = call->data;
        if (!d || pmx__json_object_each(d, d + call->data_len, login_member, &a) != 0 || !a.ticket)
            r = PMX_EDECODE;
    }
    int refused = r == PMX_EAUTH || r == PMX_EPERM || (r == PMX_EHTTP && call->http_status < 500);
    if (r == PMX_OK && a.need_tfa && kind == LOGIN_PASSWORD) {
        second_factor(c, call, a.ticket);
    } else if (r == PMX_OK && a.need_tfa) {
        /* One second factor per login: a server that asks again would loop for ever. */
        if (kind == LOGIN_RENEW) {
            renewal_failed(c, call, 1);
        } else {
            pmx__call_fail_parked(c, PMX_EAUTH,
                                  "login failed: the server asked for a second factor again");
        }
    } else if (r == PMX_OK && install_ticket(c, a.ticket, a.csrf, 1) == PMX_OK) {
        pmx__log(c, PMX_LOG_INFO, "%s for %s", kind == LOGIN_RENEW ? "ticket renewed" : "logged in",
                 c->userid);
        pmx__call_release_parked(c);
    } else if (kind == LOGIN_RENEW) {
        renewal_failed(c, call, refused || r == PMX_OK || r == PMX_EDECODE);
    } else {
        char msg[300];
        snprintf(msg, sizeof msg, "login failed: %s",
                 r == PMX_OK ? "unexpected answer" : pmx_call_error(call));
        int code = r == PMX_OK || r == PMX_EHTTP || r == PMX_EDECODE ? PMX_EAUTH : r;
        pmx__call_fail_parked(c, code, msg);
    }
    set_secret(&a.ticket, NULL);
    set_secret(&a.csrf, NULL);
}

/* ---- setters ---- */

/* The credentials changed: a login in flight is abandoned (its answer will be dropped), and
 * calls waiting for a login go on with the new credentials. */
static void credentials_changed(pmx_client *c) {
    c->cred_gen++;
    c->login = NULL;
    pmx__cache_clear(c); /* another identity may see other things */
    if (!pmx__call_has_parked(c))
        return;
    if (c->auth == AUTH_TICKET && (!c->ticket || c->ticket_refused))
        login_for_parked(c);
    else
        pmx__call_release_parked(c); /* each goes through pmx__auth_prepare() again */
}

static int setter_entry(pmx_client *c) { return c ? pmx__client_usable(c) : PMX_EINVAL; }

int pmx_client_set_token(pmx_client *c, const char *token) {
    int r = setter_entry(c);
    if (r)
        return r;
    if (!token)
        return PMX_EINVAL;
    const char *at = strchr(token, '@');
    const char *bang = at ? strchr(at, '!') : NULL;
    const char *eq = strrchr(token, '=');
    if (!at || at == token || !bang || bang == at + 1 || !eq || eq < bang + 2 || !eq[1] ||
        !header_safe(token) || strchr(token, ';'))
        return PMX_EINVAL;
    char *h = pmx__asprintf("Authorization: PVEAPIToken=%s", token);
    if (!h)
        return PMX_ENOMEM;
    pmx__auth_clear(c);
    c->token_header = h;
    c->auth = AUTH_TOKEN;
    credentials_changed(c);
    return PMX_OK;
}

static int valid_userid(const char *u) {
    const char *at = u ? strchr(u, '@') : NULL;
    return at && at != u && at[1] && !strchr(u, ':') && header_safe(u);
}

int pmx_client_set_password(pmx_client *c, const char *userid, const char *password) {
    int r = setter_entry(c);
    if (r)
        return r;
    if (!valid_userid(userid) || !password || !*password)
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
    credentials_changed(c);
    return PMX_OK;
}

int pmx_client_set_ticket(pmx_client *c, const char *ticket, const char *csrf) {
    int r = setter_entry(c);
    if (r)
        return r;
    if (!ticket || (csrf && !header_safe(csrf)))
        return PMX_EINVAL;
    char *user = NULL;
    int64_t when;
    r = parse_ticket(ticket, &user, &when);
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
    r = install_ticket(c, ticket, csrf, 0);
    credentials_changed(c);
    return r;
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
    int r = setter_entry(c);
    if (r)
        return r;
    if (seconds < 2 || seconds > 86400 * 365)
        return PMX_EINVAL;
    c->ticket_lifetime = seconds;
    return PMX_OK;
}

int pmx_client_set_tfa_cb(pmx_client *c, pmx_tfa_fn fn, void *ud, pmx_free_fn ud_free) {
    int r = setter_entry(c);
    if (r)
        return r;
    c->tfa_cb = fn;
    pmx__ud_set(&c->tfa_ud, ud, ud_free);
    return PMX_OK;
}

int pmx_client_set_tfa_response(pmx_client *c, const char *response) {
    int r = setter_entry(c);
    if (r)
        return r;
    if (response && !*response)
        return PMX_EINVAL;
    for (const char *q = response; q && *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            return PMX_EINVAL;
    char *d = NULL;
    if (response && !(d = pmx__strdup(response)))
        return PMX_ENOMEM;
    set_secret(&c->tfa_response, d);
    return PMX_OK;
}
