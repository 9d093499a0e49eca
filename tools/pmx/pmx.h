/* pmx command line: output formatting, usage and ls. */
#ifndef PMX_CLI_H
#define PMX_CLI_H

#include <proxmox/proxmox.h>

/* The four verbs, indexed by pmx_method - 1 (PMX_GET = 1 ... PMX_DELETE = 4): the HTTP name,
 * the pvesh-style command, and the letter `ls` shows. */
typedef struct cli_verb {
    pmx_method method;
    const char *http, *cli;
    char letter;
} cli_verb;
extern const cli_verb cli_verbs[4];

enum { EXIT_API = 1, EXIT_USAGE = 2, EXIT_AUTH = 3, EXIT_TLS = 4, EXIT_CONNECT = 5, EXIT_TIMEOUT = 6 };

/* Connection options and output settings (from the environment and the command line). */
typedef struct opts {
    const char *endpoint, *token, *user, *password, *fingerprint, *ca_file, *tfa;
    int insecure, verbose, wait, timeout_s;
    const char *format;
} opts;

/* A client for o (pinned, authenticated); 0 or an exit code (the reason printed). */
int cli_make_client(const opts *o, pmx_client **out);
/* The exit code of a PMX_* result. */
int cli_exit_for(int r);
/* Print a failed call's error and PVE's per-parameter errors to stderr. */
void cli_print_call_error(pmx_call *call, int r);
/* pmx upload NODE STORAGE FILE [--content C] [--filename N] [--checksum-algorithm A]. */
int cli_upload(const opts *o, int argc, char **argv);
/* pmx download PATH FILE [--param value ...]: a GET whose body goes to FILE. */
int cli_download(const opts *o, int argc, char **argv);

/* Print a call's data (JSON text, len bytes; may be NULL) as text tables, json or json-pretty. */
void cli_output(const char *data, size_t len, const char *format, const pmx_method_desc *d);
/* Print the methods at path with their parameters and result shapes; returns an exit code. */
int cli_usage(const char *path);
/* List the entries below path with the verbs they take; returns an exit code. */
int cli_ls(pmx_client *c, const char *path, const char *format);

#endif
