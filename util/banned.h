/*
 * Functions that are too easy to misuse: unbounded copies, unchecked
 * formatting, racy temporary names. Including this header makes any use a
 * compile error (git's banned.h).
 */
#ifndef STRATA_UTIL_BANNED_H
#define STRATA_UTIL_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef mktemp
#define mktemp(x) BANNED(mktemp)
#undef tmpnam
#define tmpnam(x) BANNED(tmpnam)
#undef gets
#define gets(x) BANNED(gets)

#endif
