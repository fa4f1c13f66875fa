/* ACME profiles (draft-ietf-acme-profiles): a CA lists the kinds of
 * certificate it issues in its directory (meta.profiles, name ->
 * description), and newOrder names one ("profile": NAME). Let's Encrypt
 * offers "classic", "tlsserver" and "shortlived" (6 days), for instance.
 *
 * SacmeProfile says which a domain wants. Whether the CA offers it is
 * known only once its directory is read, by the driver: an unknown name is
 * a configuration error, a CA without profiles gets the order without one.
 * A change of profile makes the domain due, like a change of key type; the
 * certificate does not tell which profile it was ordered with, so the
 * driver records that in issued.json when it stages the certificate.
 */
#ifndef SACME_PROFILE_H
#define SACME_PROFILE_H

#include <jansson.h>
#include "sacme.h"
#include "sacme_directory.h"
#include "sacme_result.h"

/* The longest profile name SacmeProfile takes. */
#define SACME_PROFILE_MAX 64

/* Whether name is a profile name SacmeProfile takes: 1 to SACME_PROFILE_MAX
 * ASCII letters, digits, '.', '_' or '-'. The draft leaves names open, but
 * every CA's are short words; anything else (a space, a quote, a URL) is a
 * typo, and refusing it keeps log lines and file contents plain. */
int sacme_profile_name_ok(const char *name);

/* The profiles the directory offers, "a, b, c" in its order, or "none". */
const char *sacme_profile_offered(apr_pool_t *p, const sacme_directory_t *dir);

/* The profile newOrder is to carry for a domain that wants `wanted` (NULL:
 * none) from the CA of dir:
 *   APR_SUCCESS, *send = wanted: the CA offers it;
 *   APR_SUCCESS, *send = NULL: nothing wanted, or the CA offers no profile
 *     at all (the caller warns: the CA issues its default);
 *   SACME_ECONFIG: the CA offers profiles, not this one; res names them. */
apr_status_t sacme_profile_choose(apr_pool_t *p, const sacme_directory_t *dir,
                                  const char *wanted, const char **send,
                                  sacme_result_t *res);

/* What issued.json (the driver's record of a staged certificate) says
 * about the certificate of serial: the profile its order carried (NULL:
 * none, or the record is about another certificate). */
const char *sacme_profile_sent(const json_t *issued, const char *serial);

/* Whether the certificate of serial was ordered for another SacmeProfile
 * than `wanted` (NULL: none). It is the configuration that is compared,
 * not what the order carried: a CA without profiles gets orders without
 * one, and its certificate must not be due again at every check. A
 * certificate issued.json knows nothing of counts as ordered without a
 * profile. */
int sacme_profile_changed(const char *wanted, const json_t *issued, const char *serial);

#endif /* SACME_PROFILE_H */
