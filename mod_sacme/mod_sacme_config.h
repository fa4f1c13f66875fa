/* Configuration of mod_sacme: the directives and their values. */
#ifndef MOD_SACME_CONFIG_H
#define MOD_SACME_CONFIG_H

#include <apr_hash.h>
#include <httpd.h>
#include <http_config.h>

#include "sacme_drive.h"
#include "sacme_eab.h"
#include "sacme_http.h"
#include "sacme_key.h"
#include "sacme_name.h"
#include "sacme_store.h"
#include "sacme_trust.h"
#include "sacme_warn.h"
#include "sacme_window.h"

#define SACME_UNSET (-1)

/* The settings a domain may have of its own, inside a <SacmeDomainSet>;
 * given outside one, they are the defaults of every domain. Unset:
 * SACME_KEY_NONE, SACME_UNSET, 0 or NULL; a domain's unset setting takes
 * the default's (sacme_conf_finish), wherever the lines stand in the file. */
typedef struct sacme_dconf_t {
    apr_array_header_t *servers;     /* SacmeServer: the CAs' directory URLs
                                        (const char *), in failover order */
    apr_array_header_t *eabs;        /* SacmeEAB: one per URL of servers, in the
                                        same order (sacme_eab_t *, NULL for
                                        none). file: kid, alg and file only
                                        (the driver reads the key); inline:
                                        the key too. NULL: unset */
    apr_array_header_t *contacts;    /* SacmeContact (const char *); NULL: unset */
    int agreement;                   /* SacmeAgreement accepted; SACME_UNSET */
    int failover;                    /* SacmeRetryFailover; 0: unset */
    sacme_key_type_t key_type;       /* SacmeKeyType */
    sacme_key_type_t key_type2;      /* its second type (dual keys); NONE = none */
    int challenge_none;              /* SacmeChallenge none; SACME_UNSET */
    apr_array_header_t *challenges;  /* SacmeChallenge TYPE...: const char *
                                        (sacme_chaltype.h); NULL: none given */
    int ari;                         /* SacmeARI on|off; SACME_UNSET */
    int renew_window_set;
    sacme_window_t renew_window;     /* SacmeRenewWindow */
    const char **notify_cmd;         /* SacmeNotifyCmd argv, NULL-terminated */
    const char **dns_cmd;            /* SacmeDnsCmd argv, NULL-terminated */
    apr_interval_time_t dns_timeout; /* SacmeDnsTimeout; 0: unset */
    const char *dns_check;           /* SacmeDnsCheck IP[:PORT]; NULL: unset */
    const char *notify_url;          /* SacmeNotifyURL, or NULL */
    int warn_set;
    sacme_warn_t warn;               /* SacmeWarnWindow (n 0: "none") */
    int require_https;               /* SacmeRequireHttps: 0 off, or the status of
                                        the redirect (302, 301); SACME_UNSET */
    const char *cert_file;           /* SacmeCertificateFile (only in a set) */
    const char *key_file;            /* SacmeCertificateKeyFile (only in a set) */
    const char *profile;             /* SacmeProfile; "" for 'none' (the CA's
                                        default, in a set over the server's);
                                        NULL: unset */
    apr_hash_t *seen;                /* single-valued directive -> where first
                                        given (in this set, or outside any) */
    const char *where;               /* a set's "line N of FILE", for messages */
} sacme_dconf_t;

/* The directives are global (server config outside <VirtualHost>, some
 * inside a <SacmeDomainSet>), so one instance lives in the main server's
 * module config. */
typedef struct sacme_conf_t {
    apr_array_header_t *cas;         /* sacme_ca_t *: every CA and account the
                                        domains use, each (URL, EAB key id)
                                        once (sacme_conf_resolve_domains) */
    const char *ca_file;             /* SacmeCACertificate */
    const char *trusted_roots;       /* SacmeTrustedRoots (absolute), or NULL */
    const char *trusted_roots_pem;   /* its content, read as root (public) */
    apr_size_t trusted_roots_len;
    const char *store_dir;           /* SacmeStoreDir (absolute after post_config) */
    const char *driver_user;         /* SacmeDriverUser, or NULL: the httpd User */
    uid_t driver_uid;                /* its uid and primary group */
    gid_t driver_gid;
    sacme_store_t *store;            /* the store with its owners (after finish) */
    const char *store_unsafe;        /* why the store's location is not trusted:
                                        mod_sacme stands down; NULL: fine */
    const char *store_down;          /* why the store could not be set up in
                                        post_config (read-only, full...): it
                                        stands down likewise; NULL: fine */
    int auto_restart;                /* SacmeAutoRestart */
    const char *proxy_url;           /* SacmeHttpProxy, or NULL: direct */
    const char *proxy_auth_file;     /* its file: (absolute), or NULL; the
                                        driver reads it, never the parent's
                                        configuration keeps the password */
    apr_interval_time_t retry_delay; /* SacmeRetryDelay; 0 = unset */
    apr_interval_time_t check_interval; /* SacmeCheckInterval; 0 = unset */
    int max_parallel;                /* SacmeMaxParallel; 0 = unset */
    apr_interval_time_t http_timeout;   /* SacmeHttpTimeout; 0 = unset */
    apr_interval_time_t retry_after_min; /* SacmeRetryAfterBounds; 0 = unset */
    apr_interval_time_t retry_after_max;
    int port_map_http;               /* SacmePortMap: the local ports the CA's */
    int port_map_https;              /* requests to 80 and 443 reach; 0: those */
    apr_array_header_t *cluster_urls;/* SacmeCluster etcd URL...: the members'
                                        client URLs; NULL: no cluster */
    const char *cluster_name;        /* SacmeClusterName (default "default") */
    const char *cluster_node;        /* SacmeClusterNode (default: the host name) */
    const char *cluster_ca;          /* SacmeClusterTLS: CA file, and the */
    const char *cluster_cert;        /* client certificate and key files */
    const char *cluster_key_file_tls;
    const char *cluster_key_path;    /* SacmeClusterKey file: (absolute) */
    const char *cluster_key_id;      /* its id, once checked */
    apr_interval_time_t cluster_lease; /* SacmeClusterLease */
    const char *scm_file;            /* SacmeSCM file: (absolute), or NULL */
    int no_challenge_port;           /* domains without SacmeChallenge were given
                                        http-01 though the CA reaches no port
                                        of httpd's (sacme_conf_tell_challenges) */
    sacme_dconf_t dflt;              /* the per-domain settings outside any set */
    sacme_dconf_t *cur;              /* where they go: &dflt, or the set being read */
    apr_array_header_t *domains;     /* sacme_domain_t *, from SacmeDomain and
                                        <SacmeDomainSet> */
    apr_array_header_t *dconfs;      /* sacme_dconf_t * of each configured domain,
                                        in the same order (NULL: the defaults);
                                        the key type units added later have none */
    apr_hash_t *names;               /* lower-case name -> sacme_domain_t * */
} sacme_conf_t;

extern const command_rec sacme_cmds[];

void *sacme_create_server_config(apr_pool_t *p, server_rec *s);

/* The configuration (of the main server). */
sacme_conf_t *sacme_conf_get(server_rec *s);

/* The handlers' mark (command_rec's cmd_data) of the directives a
 * <SacmeDomainSet> accepts; any other is refused there. Not const:
 * cmd_data is void *. */
extern char sacme_per_domain[];

/* Declares a managed domain from the names in args (SacmeDomain's rules:
 * valid public DNS names, at most SACME_MAX_NAMES, none already managed)
 * with the settings of set (NULL: the defaults). directive names it in
 * the messages. Returns an error message or NULL. */
const char *sacme_conf_add_domain(cmd_parms *cmd, sacme_conf_t *conf,
                                  const char *directive, const char *args,
                                  sacme_dconf_t *set);

/* Refuses a wildcard as the first name of dom, which names the
 * certificate ordered for it, unless set gives a SacmeCertificateFile
 * (nothing is ordered). Returns an error message or NULL. */
const char *sacme_conf_first_name(cmd_parms *cmd, const sacme_domain_t *dom,
                                  const char *directive, const sacme_dconf_t *set);

/* <SacmeDomainSet NAME...> ... </SacmeDomainSet>, mod_sacme_config_set.c. */
const char *sacme_cmd_domain_set(cmd_parms *cmd, void *dc, const char *args);

/* The set's value where it has one, else the default's. */
#define PICK(set, dflt, given) ((set) && (set)->given ? (set) : (dflt))

/* Gives each configured domain its settings: its set's, else the defaults
 * (which must be filled in already), with its CAs (conf->cas), and adds
 * the units of second key types to conf->domains. Returns the first
 * problem (naming the directive) or NULL. mod_sacme_config_set.c. */
const char *sacme_conf_resolve_domains(sacme_conf_t *conf, apr_pool_t *p);

/* Gives dom its CAs and SacmeRetryFailover from set (NULL: the defaults'),
 * each (URL, EAB key id) one sacme_ca_t in conf->cas, found again through
 * by_id. dom->cas stays NULL without SacmeServer. Returns a problem or
 * NULL. mod_sacme_config_ca.c. */
const char *sacme_conf_domain_cas(sacme_conf_t *conf, apr_hash_t *by_id,
                                  sacme_domain_t *dom, const sacme_dconf_t *set,
                                  apr_pool_t *p);

/* The configuration to which a directive of one value goes; NULL with *err
 * when it is not allowed there or given twice. */
sacme_conf_t *sacme_conf_single(cmd_parms *cmd, const char **err);

/* For a directive whose secret only a file may hold (SacmeClusterKey,
 * SacmeSCM): the PATH of its 'file:PATH' argument, ServerRoot-relative,
 * into *path; or the error, naming the directive and, when the argument is
 * no file:PATH, what the file holds (holds). */
const char *sacme_conf_file_only(cmd_parms *cmd, const char *value,
                                 const char *holds, const char **path);

/* SacmeChallenge and SacmePortMap (mod_sacme_config_chal.c). */
const char *sacme_cmd_challenge(cmd_parms *cmd, void *dc, int argc, char *const argv[]);
const char *sacme_cmd_port_map(cmd_parms *cmd, void *dc, const char *a, const char *b);

/* The cluster directives (mod_sacme_config_cluster.c). */
const char *sacme_cmd_cluster(cmd_parms *cmd, void *dc, int argc, char *const argv[]);
const char *sacme_cmd_cluster_id(cmd_parms *cmd, void *dc, const char *value);
const char *sacme_cmd_cluster_tls(cmd_parms *cmd, void *dc, int argc, char *const argv[]);
const char *sacme_cmd_cluster_key(cmd_parms *cmd, void *dc, const char *value);
const char *sacme_cmd_cluster_lease(cmd_parms *cmd, void *dc, const char *value);

/* SacmeSCM file:PATH and its check (mod_sacme_scm.c). */
const char *sacme_cmd_scm(cmd_parms *cmd, void *dc, const char *value);
int sacme_conf_scm(sacme_conf_t *conf, apr_pool_t *p, server_rec *s);

/* The driver's SCM check (SacmeSCM), made while the caller is still root
 * (the credentials and trust files are root's), with hopts' proxy; NULL
 * without SacmeSCM or after logging why it cannot be used: the driver
 * then goes on without it. */
struct sacme_scm_check_t *sacme_driver_scm(const sacme_conf_t *conf, server_rec *s,
                                           const sacme_http_options_t *hopts,
                                           apr_pool_t *p);

/* Checks the cluster settings together (the key file readable and right,
 * TLS for https members, the others only with SacmeCluster) and fills in
 * the defaults; logs each problem naming the directive. OK or !OK. */
int sacme_conf_cluster(sacme_conf_t *conf, apr_pool_t *p, server_rec *s);

/* Gives every ordered domain without SacmeChallenge the list its server's
 * listeners allow (SacmePortMap) and refuses, logging why, a list that can
 * never work (a wildcard without dns-01, tls-alpn-01 without mod_ssl) and a
 * port map to a port httpd does not listen on. Run after the domains are
 * resolved. Returns OK or !OK. */
int sacme_conf_challenges(sacme_conf_t *conf, apr_pool_t *p, server_rec *s);

/* Logs, once the error log is open, a default list the listeners could not
 * give (httpd listens on neither 80 nor 443, nor SacmePortMap's ports). */
void sacme_conf_tell_challenges(const sacme_conf_t *conf, server_rec *s);

/* Checks the argv of a command directive (SacmeNotifyCmd, SacmeDnsCmd): an
 * absolute path to an executable regular file, then its arguments; *out
 * gets it NULL-terminated. Returns an error naming directive, or NULL.
 * mod_sacme_config_dns.c. */
const char *sacme_conf_command(cmd_parms *cmd, const char *directive, int argc,
                               char *const argv[], const char ***out);

/* SacmeDnsCmd, SacmeDnsTimeout, SacmeDnsCheck (mod_sacme_config_dns.c). */
const char *sacme_cmd_dns_cmd(cmd_parms *cmd, void *dc, int argc, char *const argv[]);
const char *sacme_cmd_dns_timeout(cmd_parms *cmd, void *dc, const char *value);
const char *sacme_cmd_dns_check(cmd_parms *cmd, void *dc, const char *value);

/* Gives dom its dns-01 settings from set (NULL: the defaults'). */
void sacme_conf_dns_resolve(sacme_domain_t *dom, const sacme_dconf_t *set,
                            const sacme_dconf_t *dflt);

/* Refuses, logging why, a domain whose SacmeChallenge lists dns-01 with no
 * SacmeDnsCmd. Run after sacme_conf_challenges. Returns OK or !OK. */
int sacme_conf_dns(sacme_conf_t *conf, server_rec *s);

/* SacmeCertificateFile and SacmeCertificateKeyFile, mod_sacme_config_set.c. */
const char *sacme_cmd_cert_file(cmd_parms *cmd, void *dc, const char *path);

/* Checks the pairs of SacmeCertificateFile and SacmeCertificateKeyFile of
 * the resolved domains (both given, readable, the key the certificate's,
 * the names covered) and keeps each certificate's description in its
 * domain. Returns the first problem, naming the directive and the file, or
 * NULL. Run as root at start. mod_sacme_config_set.c. */
const char *sacme_conf_check_files(sacme_conf_t *conf, apr_pool_t *p);

/* How a file that holds a secret (EAB key, proxy password) is exposed, for
 * the warning: "not owned by root", "readable or writable by group or
 * others", or NULL when it is root's alone (or cannot be looked at). */
const char *sacme_conf_secret_exposure(const char *path);

/* Checks what single directives cannot (missing SacmeServer, wildcards with
 * http-01) and fills in defaults and the per-domain settings. Logs each
 * problem naming the directive; returns OK or !OK. */
int sacme_conf_finish(sacme_conf_t *conf, apr_pool_t *p, server_rec *s);

/* Logs once per httpd process, in the real start-up pass, that an inline
 * SacmeEAB KID HMAC exposes the key, and how to keep it in a file. */
void sacme_conf_warn_secrets(const sacme_conf_t *conf, server_rec *s);

/* The anchors a certificate chain must reach to be staged or activated:
 * the system's CA certificates and those of SacmeTrustedRoots. Built on
 * demand (the system's bundle costs milliseconds to load), freed with p. */
apr_status_t sacme_conf_trust(const sacme_conf_t *conf, apr_pool_t *p,
                              sacme_trust_t **trust, sacme_result_t *res);

/* SacmeHttpProxy URL [file:PATH], checked (mod_sacme_proxy.c). */
const char *sacme_conf_http_proxy(cmd_parms *cmd, sacme_conf_t *conf,
                                  const char *url, const char *auth);

/* Fills hopts' proxy for a driver: the URL and, read now (the caller is
 * still root), the credentials. 0 after logging why it cannot. */
int sacme_driver_proxy(const sacme_conf_t *conf, server_rec *s, apr_pool_t *p,
                       sacme_http_options_t *hopts);

/* The domain a host name is a name of (exactly, case-insensitive), or
 * NULL. What the HTTP-01 responder and the status page go by: a name
 * merely covered by a wildcard is in no order. */
sacme_domain_t *sacme_conf_domain_of(const sacme_conf_t *conf, const char *host);

/* The domain whose certificate serves a host name: the domain it is a name
 * of, else the domain with a wildcard name covering it (one left-most
 * label, sacme_name.h), or NULL. how (may be NULL) says which. */
sacme_domain_t *sacme_conf_domain_serving(const sacme_conf_t *conf, const char *host,
                                          sacme_name_match_t *how);

/* The domain that serves vhost s (mod_sacme_vhost.c): that of its
 * ServerName or of an alias (sacme_conf_domain_serving; an alias written
 * as a wildcard only by its exact name), or NULL. */
sacme_domain_t *sacme_vhost_domain(const sacme_conf_t *conf, const server_rec *s);

/* Refuses, logging why, a vhost with SSL whose names are served by two
 * different domains: it is given one certificate, which would not cover
 * some of them (mod_sacme_vhost.c). Messages are built in p. Returns OK
 * or !OK. */
int sacme_vhost_check(const sacme_conf_t *conf, apr_pool_t *p, server_rec *main_server);

#endif /* MOD_SACME_CONFIG_H */
