/* The CAs a domain is ordered from, and the account used at each.
 *
 * An account is one per (ACME directory URL, EAB key id): every domain
 * configured with the same pair shares it, one registration and one key,
 * while the same CA with other EAB credentials (another SCM account; a
 * Sectigo DV and OV endpoint each come with their own) is another account.
 * The configuration fills url, eab, contacts and tos_agreed; the driver
 * reads the EAB key into its own copy (the parent keeps only the key id
 * and the file) and keeps the account here once found or registered.
 *
 * A domain lists one or more CAs (SacmeServer URL [URL...]): the first is
 * used, and after every `failover` consecutive failed attempts the next
 * one, round and round (sacme_ca_pick).
 */
#ifndef SACME_CA_H
#define SACME_CA_H

#include "sacme.h"
#include "sacme_eab.h"
#include "sacme_key.h"

typedef struct sacme_ca_t {
    const char *url;                 /* the ACME directory URL */
    sacme_eab_t *eab;                /* NULL: none */
    apr_array_header_t *contacts;    /* const char *, may be NULL */
    int tos_agreed;
    const char *account_url;         /* the driver's: the account, once known, */
    sacme_key_t *account_key;        /* shared by every client of every thread
                                        (sacme_drive.c, ensure_account) */
    volatile apr_uint32_t profiles_warned; /* the driver's: 1 once it warned
                                        that this CA offers no profiles
                                        (atomic: any thread may be first) */
} sacme_ca_t;

#define SACME_FAILOVER_DEFAULT 13    /* consecutive failed attempts, as mod_md */

/* A CA at url with eab (may be NULL), no contacts, terms not agreed. */
sacme_ca_t *sacme_ca_make(apr_pool_t *p, const char *url, sacme_eab_t *eab);

/* What tells two accounts apart: the directory URL and the EAB key id
 * (kid NULL: none). */
const char *sacme_ca_account_id(apr_pool_t *p, const char *url, const char *kid);

/* Which of n CAs serves the attempt after `errors` consecutive failed
 * ones: the first until `failover` of them failed, then the next, and
 * after the last the first again. 0 when n < 2 or failover < 1. */
int sacme_ca_pick(int n, int errors, int failover);

/* The error count from which the CA after the one of `errors` is used:
 * what a failure that retrying at that CA cannot fix jumps to. */
int sacme_ca_next_boundary(int errors, int failover);

#endif /* SACME_CA_H */
