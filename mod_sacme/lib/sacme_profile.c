/* ACME profiles: the name's syntax, the CA's offer, the driver's record. */
#include <strings.h>

#include "sacme_profile.h"
#include "sacme_json.h"

int sacme_profile_name_ok(const char *name)
{
    apr_size_t n = 0;
    const char *s;

    for (s = name; s && *s; ++s, ++n) {
        /* ASCII only: isalnum() would follow the locale */
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
              || (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-')) {
            return 0;
        }
    }
    return n >= 1 && n <= SACME_PROFILE_MAX;
}

const char *sacme_profile_offered(apr_pool_t *p, const sacme_directory_t *dir)
{
    const char *list = NULL;
    int i;

    for (i = 0; dir->profiles && i < dir->profiles->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(dir->profiles, i, const char *);
        list = list ? apr_pstrcat(p, list, ", ", name, NULL) : name;
    }
    return list ? list : "none";
}

apr_status_t sacme_profile_choose(apr_pool_t *p, const sacme_directory_t *dir,
                                  const char *wanted, const char **send,
                                  sacme_result_t *res)
{
    *send = NULL;
    if (!wanted || !dir->profiles || dir->profiles->nelts == 0) {
        return APR_SUCCESS;
    }
    if (!sacme_directory_has_profile(dir, wanted)) {
        return sacme_result_set(res, SACME_ECONFIG,
                                "the CA offers no profile '%s' (SacmeProfile); it "
                                "offers: %s", wanted, sacme_profile_offered(p, dir));
    }
    *send = wanted;
    return APR_SUCCESS;
}

const char *sacme_profile_sent(const json_t *issued, const char *serial)
{
    return sacme_json_about_serial(issued, serial) ? sacme_json_str(issued, "profile") : NULL;
}

int sacme_profile_changed(const char *wanted, const json_t *issued, const char *serial)
{
    const char *was = sacme_json_about_serial(issued, serial)
                      ? sacme_json_str(issued, "configured-profile") : NULL;

    if (!wanted || !was) {
        return wanted != was;
    }
    return strcmp(wanted, was) != 0;
}
