/* Runs every suite registered with PMX_TEST_SUITE in one SRunner. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_SUITES 64
static Suite *(*g_makers[MAX_SUITES])(void);
static int g_n;

void pmx_test_register(Suite *(*make)(void)) {
    if (g_n < MAX_SUITES)
        g_makers[g_n++] = make;
}

int main(void) {
    if (g_n == 0) {
        fprintf(stderr, "no test suites registered\n");
        return 1;
    }
    SRunner *sr = srunner_create(g_makers[0]());
    for (int i = 1; i < g_n; i++)
        srunner_add_suite(sr, g_makers[i]());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
