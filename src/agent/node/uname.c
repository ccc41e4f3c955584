/* uname: node_uname_info{domainname,machine,nodename,release,sysname,version} from uname(2). */
#include "agent/proc_util.h"

#include <errno.h>
#include <sys/utsname.h>

static const agent_desc d_info = {
    "node_uname_info",
    "Labeled system information as provided by the uname system call.",
    EXPFMT_GAUGE,
    {"sysname", "release", "version", "machine", "nodename", "domainname", NULL}};

static int uname_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    struct utsname u;
    if (uname(&u) != 0) {
        return odin_err_errno(err, errno, "uname");
    }
    const char *lv[6] = {u.sysname, u.release, u.version, u.machine, u.nodename, u.domainname};
    agent_emit(sc, &d_info, 1, lv);
    return 0;
}

const agent_collector_def agent_collector_uname = {
    .name = "uname",
    .default_on = true,
    .collect = uname_collect,
};
