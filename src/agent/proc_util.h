/* Parsing helpers shared by the /proc collectors (meminfo, vmstat, netstat, sockstat, ...):
 * Go-style integer parsing, bufio.Scanner-style line iteration and strings.Fields/Split over
 * odin_str. Not a collector; everything here is private to src/agent/. */
#ifndef ODIN_AGENT_PROC_UTIL_H
#define ODIN_AGENT_PROC_UTIL_H

#include "agent/agent_int.h"

/* Go's strconv.ParseUint(s, base, 64) for base 0 (0x, 0o, 0b and leading-0 octal prefixes), 8,
 * 10 or 16: 0, or -ODIN_ERR_PARSE / -ODIN_ERR_LIMIT. Underscores are not accepted. */
int proc_parse_uint(odin_str s, int base, uint64_t *out);
/* Go's strconv.ParseInt(s, base, 64): an optional sign, then as proc_parse_uint. */
int proc_parse_int(odin_str s, int base, int64_t *out);

/* Go's strconv.ParseFloat(s, 64): odin_parse_double plus Go's rules that a hex mantissa needs a
 * 'p' exponent and that '_' may separate digits. */
int proc_parse_float(odin_str s, double *out);

/* Splits the next line off *text as bufio.Scanner does: '\n' ends a line, a '\r' before it is
 * dropped, and an empty remainder yields no line. False at the end. */
bool proc_next_line(odin_str *text, odin_str *line);

/* strings.Fields: runs of non-whitespace (ASCII space, \t \n \v \f \r) into an array allocated
 * in scrape memory. Returns the count. */
size_t proc_fields(agent_scrape *sc, odin_str s, odin_str **out);
/* strings.Split with a one-byte separator: n separators give n+1 pieces (empty ones kept). */
size_t proc_split(agent_scrape *sc, odin_str s, char sep, odin_str **out);

/* procfs' ReadUintFromFile: the whole file, surrounding whitespace trimmed, as a decimal
 * uint64. A missing file is -ODIN_ERR_NOTFOUND; errors name the path. */
int proc_read_uint(agent_scrape *sc, const char *path, uint64_t *out, odin_err *err);

/* The page size of this machine (os.Getpagesize). */
int64_t proc_page_size(void);

#endif
