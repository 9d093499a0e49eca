#!/bin/sh
# Doxygen INPUT_FILTER for the public headers: maps this project's comment conventions to
# Doxygen's without changing line numbers.
# - The comment on line 1 ("/* libproxmox: what this header is. */") documents the file.
# - A comment after a struct member or enum value documents it (as "/**<"); so does a comment
#   after a one-line typedef. "double minimum, maximum;  /* x */" documents both members.
# - An indented comment line before a member documents that member (as "/**").
# - Inside comments, "<placeholder>", "user@realm" and "\d" in regexes are text, not markup.
exec sed -E \
    -e ':a' -e 's#(/\*[^<>]*)<#\1\&lt;#' -e 's#(/\*[^<>]*)>#\1\&gt;#' -e 'ta' \
    -e ':b' -e 's#^([[:space:]]*\*[^<>]*)<#\1\&lt;#' -e 's#^([[:space:]]*\*[^<>]*)>#\1\&gt;#' -e 'tb' \
    -e '/(\/\*|^[[:space:]]*\*)/s/([A-Za-z0-9])@/\1\\@/g' \
    -e '/(\/\*|^[[:space:]]*\*)/s/\\d/\\\\d/g' \
    -e '1s|^/\* (libproxmox.*[^ ]) *\*/$|/** \1 @file */|' \
    -e '1s|^/\* (libproxmox.*)$|/** \1 @file|' \
    -e 's|^([[:space:]]+)([A-Za-z_][A-Za-z0-9_ ]*[ *])([A-Za-z_][A-Za-z0-9_]*), ([A-Za-z_][A-Za-z0-9_]*);[[:space:]]*/\* (.*) \*/$|\1\2\3; /**< \5 */ \2\4; /**< \5 */|' \
    -e 's|^([[:space:]]+[^/[:space:]][^/]*[^[:space:]][[:space:]]*)/\* |\1/**< |' \
    -e 's|^(typedef [^/]*;[[:space:]]*)/\* |\1/**< |' \
    -e 's|^([[:space:]]+)/\* |\1/** |' "$1"
