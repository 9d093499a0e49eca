/* pmx command line: output formatting, usage and ls. */
#ifndef PMX_CLI_H
#define PMX_CLI_H

#include <proxmox/proxmox.h>

#include <stdint.h>
#include <stdio.h>

/* The four verbs, indexed by pmx_method - 1 (PMX_GET = 1 ... PMX_DELETE = 4): the HTTP name,
 * the pvesh-style command, and the letter `ls` shows. */
typedef struct cli_verb {
    pmx_method method;
    const char *http, *cli;
    char letter;
} cli_verb;
extern const cli_verb cli_verbs[4];

enum { EXIT_API = 1, EXIT_USAGE = 2, EXIT_AUTH = 3, EXIT_TLS = 4, EXIT_CONNECT = 5, EXIT_TIMEOUT = 6 };

/* Connection options and output settings (from the environment and the command line). Secrets
 * never come from the command line: token and password from the environment or a file (token),
 * the second factor from a file or a prompt on the terminal. */
typedef struct opts {
    const char *endpoint, *token, *user, *password, *fingerprint, *ca_file, *tfa;
    int insecure, verbose, wait;
    int64_t timeout_s;
    const char *format;
} opts;

/* A client for o (pinned, authenticated); 0 or an exit code (the reason printed). */
int cli_make_client(const opts *o, pmx_client **out);
/* The exit code of a PMX_* result. */
int cli_exit_for(int r);
/* Print a failed call's error and PVE's per-parameter errors to stderr (call may be NULL: a
 * call refused before it started). */
void cli_print_call_error(pmx_call *call, int r);
/* Print why task t (result r) failed, and its log tail, to stderr; upload: the file's name for
 * an upload's message, else NULL. */
void cli_print_task_failure(pmx_task *t, int r, const char *upid, const char *upload);
/* pmx upload NODE STORAGE FILE [--content C] [--filename N] [--checksum-algorithm A]. */
int cli_upload(const opts *o, int argc, char **argv);
/* pmx download PATH FILE [--param value ...]: a GET whose body goes to FILE. */
int cli_download(const opts *o, int argc, char **argv);

/* Print a call's data (JSON text, len bytes; may be NULL) as text tables, json or json-pretty;
 * 0 or an exit code (out of memory). Text from the server is escaped (cli_escape) in text
 * tables; in JSON, DEL and the C1 controls are written as \u escapes. */
int cli_output(const char *data, size_t len, const char *format, const pmx_method_desc *d);

/* s (n bytes, may be NULL) made safe for a terminal, in a new string: C0 controls, DEL, C1
 * controls, bidirectional overrides and bytes that are not UTF-8 as \n \r \t \xNN \uNNNN;
 * NULL only when out of memory. */
char *cli_escape_n(const char *s, size_t n);
char *cli_escape(const char *s);
/* The columns an escaped string takes on a terminal (the locale's character widths). */
size_t cli_width(const char *s);
/* Write s (may be NULL: nothing) to f escaped as cli_escape does; "?" when out of memory. */
void cli_put(FILE *f, const char *s);
/* Print the methods at path with their parameters and result shapes; returns an exit code. */
int cli_usage(const char *path);
/* List the entries below path with the verbs they take; returns an exit code. */
int cli_ls(pmx_client *c, const char *path, const char *format);

#endif
