#!/bin/sh
# Doxygen INPUT_FILTER for the public headers: maps this project's comment conventions to
# Doxygen's without changing line numbers. Line 1 ("/* libproxmox: what this header is. */")
# documents the file; a comment after a struct member or enum value documents it (as "/**<");
# an indented comment line before a member documents that member (as "/**"); so does a comment
# after a one-line typedef.
exec sed -E \
    -e '1s|^/\* (libproxmox[^*]*[^ ]) *\*/$|/** \1 @file */|' \
    -e 's|^([[:space:]]+[^/[:space:]][^/]*[^[:space:]][[:space:]]*)/\* |\1/**< |' \
    -e 's|^(typedef [^/]*;[[:space:]]*)/\* |\1/**< |' \
    -e 's|^([[:space:]]+)/\* |\1/** |' "$1"
