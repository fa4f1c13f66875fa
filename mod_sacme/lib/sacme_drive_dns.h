/* dns-01 for the driver: TXT records set up and torn down by the admin's
 * command (SacmeDnsCmd), the wait until DNS shows them (SacmeDnsCheck), and
 * the records a killed driver left behind.
 *
 * The command runs as
 *     CMD [ARG ...] setup|teardown _acme-challenge.NAME VALUE
 * with VALUE = base64url(SHA-256(key authorization)) (RFC 8555 §8.4), no
 * shell, only a PATH in its environment, at most the domain's dns_timeout
 * (then its process group is killed). It succeeded when it exited 0 and
 * wrote nothing but white space to stderr (sacme_spawn_run).
 *
 * Every record is written to staging/<domain>/dns.json (SACME_STATE_DNS)
 * *before* its setup runs, with the command that sets it up, and removed
 * from there when its teardown succeeded: whatever a kill interrupts, the
 * store names every record that may be in DNS. docs/dns.md is the admin's
 * side of this contract.
 */
#ifndef SACME_DRIVE_DNS_H
#define SACME_DRIVE_DNS_H

#include "sacme_drive.h"
#include "sacme_issue.h"

/* The DNS command failed (an exit status, a timeout, output on stderr) or
 * SacmeDnsCheck did not show the records in time: the admin's DNS side,
 * not an OS call of ours (its log line must not begin "(20014)Internal
 * error"). Retried after the ordinary backoff. */
#define SACME_EDNS (APR_OS_START_USERERR + 40)

/* The TXT value of a dns-01 challenge with this key authorization. */
const char *sacme_dns01_value(apr_pool_t *p, const char *key_authz);

/* Sets up (setup=1) or tears down the TXT record of pub (a dns-01
 * challenge) for dom. A failed setup is logged (SACME10470) with the
 * command's output, which res carries as well; a failed teardown is
 * logged (SACME10471) and the record stays in dns.json for the next
 * driver. */
apr_status_t sacme_drive_dns_publish(sacme_driver_t *d, const sacme_domain_t *dom,
                                     int setup, const sacme_chal_pub_t *pub,
                                     apr_pool_t *p, sacme_result_t *res);

/* Once every challenge of an order is published (sacme_ready_fn): with
 * SacmeDnsCheck, asks that server once a second for each dns-01 record of
 * published until every value is there, at most dom->dns_timeout; then a
 * tagged error (SACME10475). Without it, returns at once. */
apr_status_t sacme_drive_dns_ready(sacme_driver_t *d, const sacme_domain_t *dom,
                                   const apr_array_header_t *published,
                                   apr_pool_t *p, sacme_result_t *res);

/* After an issuance of dom ended (not one that only handed its thread
 * back): tears down whatever dom's dns.json still lists, with dom's
 * command. The issuance tore down what it published; what is left was
 * published by an earlier one (a resumed order finds its authorizations
 * valid and publishes nothing; a teardown failed). */
void sacme_drive_dns_sweep(sacme_driver_t *d, const sacme_domain_t *dom, apr_pool_t *p);

/* At the driver's start, before any worker runs: tears down every record
 * that a dns.json in the store names, except those of a configured domain
 * (of domains, sacme_domain_t *) with an order in progress (they may be
 * under validation; its resumed issuance deals with them); a domain taken
 * out of the configuration counts as one without an order. Each is torn
 * down with the command recorded for it if that is still a SacmeDnsCmd of
 * the configuration (a record of a command no longer configured is logged
 * for the admin to remove, and forgotten). Returns how many were torn
 * down. */
int sacme_drive_dns_cleanup(sacme_driver_t *d, const apr_array_header_t *domains,
                            apr_pool_t *p);

#endif /* SACME_DRIVE_DNS_H */
