/* pve-mock: tickets, CSRF tokens, API tokens, TOTP and POST /access/ticket.
 *
 * PVE signs tickets with RSA; the mock signs with HMAC-SHA256 under a key
 * drawn at start-up. The shape on the wire is the same, and a client never
 * verifies the signature anyway. */
#include "mock.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

static char *b64(const unsigned char *in, size_t n, int pad)
{
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    if (!pad)
        while (len > 0 && out[len - 1] == '=')
            out[--len] = 0;
    return out;
}

static char *sign(const char *data, const char *secret, int pad)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char *msg = xasprintf("%s\n%s", data, secret ? secret : "");
    HMAC(EVP_sha256(), g_mock.key, sizeof g_mock.key, (unsigned char *)msg, strlen(msg), md, &mdlen);
    free(msg);
    return b64(md, mdlen, pad);
}

/* "PVE:<data>:<HEX8>::<sig>"; `secret` is signed but not shown (PVE's secret_data).
 * age: seconds to date it back. */
static char *ticket_make_aged(const char *data, const char *secret, int age)
{
    char *head = xasprintf("PVE:%s:%08X", data, (unsigned)(time(NULL) - age));
    char *sig = sign(head, secret, 1);
    char *t = xasprintf("%s::%s", head, sig);
    free(head);
    free(sig);
    return t;
}

static char *ticket_make(const char *data, const char *secret)
{
    return ticket_make_aged(data, secret, 0);
}

static int age_ok(unsigned long ts)
{
    long age = (long)(time(NULL) - (time_t)ts);
    return age > -300 && age < g_mock.cfg.ticket_lifetime;
}

/* Returns the data part (malloc'd) of a valid ticket, else NULL. */
static char *ticket_verify(const char *ticket, const char *secret)
{
    if (strncmp(ticket, "PVE:", 4) != 0)
        return NULL;
    const char *sep = strstr(ticket, "::");
    if (!sep)
        return NULL;
    size_t headlen = (size_t)(sep - ticket);
    char *head = xmalloc(headlen + 1);
    memcpy(head, ticket, headlen);
    head[headlen] = 0;
    char *colon = strrchr(head, ':');
    char *sig = NULL, *data = NULL;
    if (colon - head <= 4 || strlen(colon + 1) != 8)
        goto out;
    for (int i = 1; i <= 8; i++)
        if (!isxdigit((unsigned char)colon[i]))
            goto out;
    if (!age_ok(strtoul(colon + 1, NULL, 16)))
        goto out;
    sig = sign(head, secret, 1);
    if (strlen(sig) == strlen(sep + 2) && CRYPTO_memcmp(sig, sep + 2, strlen(sig)) == 0) {
        *colon = 0;
        data = xstrdup(head + 4);
    }
out:
    free(sig);
    free(head);
    return data;
}

static char *csrf_make(const char *user)
{
    char *head = xasprintf("%08X:%s", (unsigned)time(NULL), user);
    char *sig = sign(head, NULL, 0);
    char *t = xasprintf("%.8s:%s", head, sig);
    free(head);
    free(sig);
    return t;
}

static int csrf_verify(const char *token, const char *user)
{
    if (!token || strlen(token) < 10 || token[8] != ':')
        return 0;
    for (int i = 0; i < 8; i++)
        if (!isxdigit((unsigned char)token[i]))
            return 0;
    if (!age_ok(strtoul(token, NULL, 16)))
        return 0;
    char *head = xasprintf("%.8s:%s", token, user);
    char *sig = sign(head, NULL, 0);
    int ok = strlen(sig) == strlen(token + 9) && CRYPTO_memcmp(sig, token + 9, strlen(sig)) == 0;
    free(head);
    free(sig);
    return ok;
}

static char *uri_unescape(const char *s, size_t n)
{
    char *out = xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = 0;
    return out;
}

/* PVE's extract_auth_value: the first match of /(?:^|\s)KEY(?:=| )([^;]*)/ in the header,
 * URI-unescaped. NULL when the key is not there or the value is false to Perl ("" or "0"),
 * which counts as no value: the next source is tried. */
static char *auth_value(const char *header, const char *key)
{
    size_t k = strlen(key);
    for (const char *p = header; p && (p = strstr(p, key)); p++) {
        if (p != header && !isspace((unsigned char)p[-1]))
            continue;
        if (p[k] != '=' && p[k] != ' ')
            continue;
        const char *v = p + k + 1;
        char *val = uri_unescape(v, strcspn(v, ";"));
        if (!*val || !strcmp(val, "0")) {
            free(val);
            return NULL;
        }
        return val;
    }
    return NULL;
}

/* The value of PVEAPIToken (USER@REALM!TOKENID=SECRET), split at the LAST '='. */
static int token_verify(const char *val, char **user)
{
    char *copy = xstrdup(val);
    char *eq = strrchr(copy, '=');
    int ok = 0;
    if (eq) {
        *eq = 0;
        if (strcmp(copy, MOCK_TOKEN_ID) == 0 && strcmp(eq + 1, MOCK_TOKEN_SECRET) == 0)
            ok = 1;
        else if (strcmp(copy, MOCK_RO_TOKEN_ID) == 0 && strcmp(eq + 1, MOCK_RO_TOKEN_SECRET) == 0)
            ok = 2;
    }
    if (ok)
        *user = xstrdup(ok == 1 ? MOCK_TOKEN_ID : MOCK_RO_TOKEN_ID);
    free(copy);
    return ok;
}

static int user_known(const char *u)
{
    return strcmp(u, MOCK_USER) == 0 || (g_mock.cfg.tfa && strcmp(u, MOCK_TFA_USER) == 0);
}

enum auth_result auth_check(struct evkeyvalq *headers, int csrf, char **user, int *via_token,
                            int *kind)
{
    *user = NULL;
    *via_token = 0;
    *kind = AUTHK_NONE;
    /* pveproxy: the cookie, else PVEAuthCookie in Authorization, else PVEAPIToken there */
    const char *cookie = evhttp_find_header(headers, "Cookie");
    const char *auth = evhttp_find_header(headers, "Authorization");
    char *ticket = auth_value(cookie, "PVEAuthCookie");
    if (!ticket)
        ticket = auth_value(auth, "PVEAuthCookie");
    if (ticket) { /* a ticket beats a token */
        *kind = AUTHK_TICKET;
        char *u = ticket_verify(ticket, NULL);
        free(ticket);
        if (!u || strncmp(u, "!tfa!", 5) == 0 || !user_known(u)) {
            free(u);
            return AUTH_FAILED;
        }
        if (csrf && !csrf_verify(evhttp_find_header(headers, "CSRFPreventionToken"), u)) {
            free(u);
            return AUTH_BAD_CSRF;
        }
        *user = u;
        return AUTH_OK;
    }
    char *token = auth_value(auth, "PVEAPIToken");
    if (token) {
        *kind = AUTHK_TOKEN;
        int ok = token_verify(token, user);
        free(token);
        if (!ok)
            return AUTH_FAILED;
        *via_token = 1;
        return AUTH_OK;
    }
    return AUTH_NO_TICKET;
}

/* RFC 4648 base32, as PVE stores TOTP secrets. */
static size_t base32_decode(const char *in, unsigned char *out, size_t cap)
{
    unsigned buf = 0;
    int bits = 0;
    size_t n = 0;
    for (; *in; in++) {
        int v;
        char ch = (char)toupper((unsigned char)*in);
        if (ch >= 'A' && ch <= 'Z')
            v = ch - 'A';
        else if (ch >= '2' && ch <= '7')
            v = ch - '2' + 26;
        else
            continue;
        buf = (buf << 5) | (unsigned)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (n < cap)
                out[n++] = (unsigned char)(buf >> bits);
        }
    }
    return n;
}

/* RFC 6238: HMAC-SHA1, 30 s steps, 6 digits. */
static unsigned totp_at(uint64_t counter)
{
    unsigned char msg[8], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    for (int i = 7; i >= 0; i--) {
        msg[i] = (unsigned char)(counter & 0xff);
        counter >>= 8;
    }
    HMAC(EVP_sha1(), g_mock.totp_key, (int)g_mock.totp_key_len, msg, sizeof msg, md, &mdlen);
    int off = md[mdlen - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(md[off] & 0x7f) << 24) | ((uint32_t)md[off + 1] << 16) |
                   ((uint32_t)md[off + 2] << 8) | md[off + 3];
    return bin % 1000000u;
}

static int totp_verify(const char *code)
{
    if (strlen(code) != 6 || strspn(code, "0123456789") != 6)
        return 0;
    unsigned want = (unsigned)atoi(code);
    uint64_t now = (uint64_t)time(NULL) / 30;
    for (int d = -1; d <= 1; d++)
        if (totp_at(now + (uint64_t)(int64_t)d) == want)
            return 1;
    return 0;
}

void auth_init(void)
{
    RAND_bytes(g_mock.key, sizeof g_mock.key);
    g_mock.totp_key_len = base32_decode(MOCK_TOTP_SECRET, g_mock.totp_key, sizeof g_mock.totp_key);
}

static cJSON *cap_json(void)
{
    static const char *const caps[][8] = {
        {"vms", "VM.Allocate", "VM.Audit", "VM.Config.Disk", "VM.Console", "VM.PowerMgmt",
         "VM.Snapshot", NULL},
        {"storage", "Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.Audit", NULL},
        {"nodes", "Sys.Audit", "Sys.Console", "Sys.Modify", "Sys.PowerMgmt", "Sys.Syslog", NULL},
        {"access", "User.Modify", "Group.Allocate", "Permissions.Modify", NULL},
        {"dc", "Sys.Audit", "Sys.Modify", NULL},
        {"sdn", "SDN.Audit", "SDN.Allocate", NULL},
        {"mapping", "Mapping.Audit", "Mapping.Use", NULL},
    };
    cJSON *cap = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        cJSON *o = cJSON_AddObjectToObject(cap, caps[i][0]);
        for (int k = 1; caps[i][k]; k++)
            cJSON_AddNumberToObject(o, caps[i][k], 1);
    }
    return cap;
}

static const char *pstr(const cJSON *params, const char *name)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(params, name);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static void login_ok(struct call *c, const char *user)
{
    char *ticket = ticket_make(user, NULL);
    char *csrf = csrf_make(user);
    c->data = cJSON_CreateObject();
    cJSON_AddStringToObject(c->data, "username", user);
    if (fault_take(&g_mock.faults.login_dup)) {
        /* both members twice; the first copies are valid too (a ticket a second older) */
        char *older = ticket_make_aged(user, NULL, 1);
        cJSON_AddItemToObject(c->data, "ticket", cJSON_CreateString(older));
        cJSON_AddItemToObject(c->data, "CSRFPreventionToken", cJSON_CreateString(csrf));
        free(older);
    }
    cJSON_AddItemToObject(c->data, "ticket", cJSON_CreateString(ticket));
    cJSON_AddItemToObject(c->data, "CSRFPreventionToken", cJSON_CreateString(csrf));
    cJSON_AddItemToObject(c->data, "cap", cap_json());
    free(ticket);
    free(csrf);
}

/* First step of a TFA login: the half ticket carrying the challenge, ':' escaped as in PVE. */
static void login_need_tfa(struct call *c, const char *user)
{
    char *ticket = ticket_make("!tfa!{\"totp\"%3Atrue}", user);
    char *csrf = csrf_make(user);
    c->data = cJSON_CreateObject();
    cJSON_AddStringToObject(c->data, "username", user);
    cJSON_AddStringToObject(c->data, "ticket", ticket);
    cJSON_AddStringToObject(c->data, "CSRFPreventionToken", csrf);
    cJSON_AddNumberToObject(c->data, "NeedTFA", 1);
    free(ticket);
    free(csrf);
}

static void login_failed(struct call *c)
{
    call_error(c, 401, "authentication failure");
    c->delay_ms = g_mock.cfg.auth_delay_ms;
}

void auth_route_ticket_post(struct call *c)
{
    const char *username = pstr(c->params, "username");
    const char *password = pstr(c->params, "password");
    const char *realm = pstr(c->params, "realm");
    const char *challenge = pstr(c->params, "tfa-challenge");
    if (!username || !password || fault_take(&g_mock.faults.login_refuse)) {
        login_failed(c);
        return;
    }
    char *user = strchr(username, '@') || !realm ? xstrdup(username)
                                                  : xasprintf("%s@%s", username, realm);
    if (challenge) {
        if (pstr(c->params, "otp")) {
            call_param_error(c, "otp", "'otp' must not be used together with 'tfa-challenge'");
            goto out;
        }
        char *data = ticket_verify(challenge, user);
        if (data && strncmp(data, "!tfa!", 5) == 0 && strncmp(password, "totp:", 5) == 0 &&
            totp_verify(password + 5)) {
            if (fault_take(&g_mock.faults.tfa_loop)) { /* a broken server asks again */
                login_need_tfa(c, user);
            } else {
                login_ok(c, user);
                g_mock.stats.tfa_logins++;
            }
        } else {
            login_failed(c);
        }
        free(data);
        goto out;
    }
    char *renew = ticket_verify(password, NULL);
    if (renew && strcmp(renew, user) == 0) {
        free(renew);
        login_ok(c, user);
        g_mock.stats.renewals++;
        goto out;
    }
    free(renew);
    if (strcmp(user, MOCK_USER) == 0 && strcmp(password, MOCK_PASSWORD) == 0) {
        if (fault_take(&g_mock.faults.need_tfa)) {
            login_need_tfa(c, user);
        } else {
            login_ok(c, user);
            g_mock.stats.logins++;
        }
    } else if (g_mock.cfg.tfa && strcmp(user, MOCK_TFA_USER) == 0 &&
               strcmp(password, MOCK_TFA_PASSWORD) == 0) {
        login_need_tfa(c, user);
    } else {
        login_failed(c);
    }
out:
    free(user);
}

void auth_route_ticket_get(struct call *c)
{
    c->data = cJSON_CreateNull();
}

void auth_route_domains(struct call *c)
{
    c->data = cJSON_CreateArray();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "realm", "pam");
    cJSON_AddStringToObject(o, "type", "pam");
    cJSON_AddStringToObject(o, "comment", "Linux PAM standard authentication");
    cJSON_AddItemToArray(c->data, o);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "realm", "pve");
    cJSON_AddStringToObject(o, "type", "pve");
    cJSON_AddStringToObject(o, "comment", "Proxmox VE authentication server");
    if (g_mock.cfg.tfa)
        cJSON_AddNumberToObject(o, "tfa", 1);
    cJSON_AddItemToArray(c->data, o);
}
