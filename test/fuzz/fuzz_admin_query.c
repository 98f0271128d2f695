/* libFuzzer target: the admin URL's query parser (admin_query.c). An
 * accepted update has a mount starting with "/" and a UTF-8 title within
 * TITLE_MAX; a refusal says why; the reply is well formed. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "admin_query.h"
#include "title.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct admin_update u;
    char err[256], reply[2048];
    err[0] = '\0';
    const int rc = admin_parse_updinfo((const char *)data, size, &u, err, sizeof(err));
    if (rc == 0) {
        assert(u.mount[0] == '/' && strlen(u.mount) <= ADMIN_MOUNT_MAX);
        assert(u.title_len <= TITLE_MAX && utf8_valid(u.title, u.title_len));
        assert(memchr(u.title, '\0', u.title_len) == NULL);
    } else {
        assert(rc == 400 && err[0] != '\0');
    }
    const size_t n = admin_response(reply, sizeof(reply), rc == 0, rc == 0 ? ADMIN_UPDATED : err);
    assert(n > 0 && strstr(reply, "<iceresponse>") != NULL);
    return 0;
}
