/* mod_sacme: TLS certificates from ACME (RFC 8555) CAs, inside httpd.
 *
 * This file holds the module record, the hook registration and the startup
 * plan. The ACME engine lives in lib/ and knows nothing of httpd; the
 * driving process is in mod_sacme_driver.c, the HTTP-01 responder in
 * mod_sacme_challenge.c, the redirect to HTTPS in mod_sacme_https.c, the
 * directives in mod_sacme_config.c.
 */
#define SACME_MODULE_MAIN
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <ap_mmn.h>
#include <ap_mpm.h>
#include <mpm_common.h>
#include <unixd.h>

#include <pwd.h>
#include <unistd.h>

#include "mod_sacme_private.h"
#include "mod_sacme_config.h"
#include "mod_sacme_driver.h"
#include "sacme_file.h"
#include "sacme_managed.h"
#include "sacme_selfsigned.h"
#include "sacme_store.h"

/* What post_config learned, for the hooks of this generation. */
static sacme_conf_t *live_conf;
static const char *fallback_cert, *fallback_key;

sacme_conf_t *sacme_live_conf(void)
{
    return live_conf;
}

static void log_setup_error(server_rec *s, int no, const char *what,
                            const sacme_result_t *res, apr_pool_t *p)
{
    ap_log_error(APLOG_MARK, APLOG_ERR,
                 sacme_result_log_status(res), s, "SACME%05d: %s: %s", no, what,
                 sacme_result_message(res, p));
}


/* Without SacmeDriverUser the driver is the httpd User, and so is the code
 * of every web application: said once per start of httpd, not at every
 * graceful restart. */
static void warn_driver_user(const sacme_conf_t *conf, server_rec *s)
{
    parent_state_t *st = sacme_parent_state(s);
    struct passwd *pw;

    if (conf->driver_user || st->warned_driver_user) {
        return;
    }
    st->warned_driver_user = 1;
    pw = getpwuid(ap_unixd_config.user_id);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, SACME_LOGNO(10110)
                 "the ACME account key and the staged private keys in %s are readable "
                 "by the httpd User (%s), which runs the driver: code running as that "
                 "user (PHP, CGI, a compromised application) can take the ACME account. "
                 "Give the driver an account of its own with SacmeDriverUser (e.g. "
                 "'useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin "
                 "sacme' and 'SacmeDriverUser sacme')", conf->store_dir,
                 pw ? pw->pw_name : "?");
}

/* What sacmectl needs to know of this configuration (never the HMAC). A
 * failure only costs the admin tool its view, so it is logged, not fatal. */
static void write_managed(const sacme_conf_t *conf, const sacme_store_t *store,
                          apr_pool_t *ptemp, server_rec *s)
{
    sacme_managed_t m;
    sacme_result_t *res = sacme_result_make(ptemp);

    m.cas = conf->cas;
    m.ca_file = conf->ca_file;
    m.proxy_url = conf->proxy_url;
    m.proxy_auth_file = conf->proxy_auth_file;
    m.domains = conf->domains;
    if (sacme_managed_write(store, ptemp, &m, res) != APR_SUCCESS) {
        log_setup_error(s, 10056, "cannot record the managed domains for sacmectl",
                        res, ptemp);
    }
}


/* A store that stands down makes nothing: a fallback made earlier is still
 * offered (root's own part of the store). */
static void use_existing_fallback(const sacme_store_t *store, apr_pool_t *pconf,
                                  apr_pool_t *ptemp)
{
    const char *dir = sacme_store_fallback_dir(store, ptemp);
    const char *cert = apr_pstrcat(pconf, dir, "/" SACME_SELFSIGNED_CERT, NULL);
    const char *key = apr_pstrcat(pconf, dir, "/" SACME_SELFSIGNED_KEY, NULL);

    if (sacme_file_exists(cert, ptemp) && sacme_file_exists(key, ptemp)) {
        fallback_cert = cert;
        fallback_key = key;
    }
}

/* Startup plan, run by the root parent at every (re)start:
 *   1. note whether this is the dry-run pass httpd makes before the real
 *      one at first start: mod_ssl checks certificates in that pass too, so
 *      it gets what exists, but nothing changes and nothing is started;
 *   2. the store: its location trusted (else mod_sacme stands down and only
 *      serves what is live), directories, format version, each part given
 *      to its owner (the driver's account: SacmeDriverUser or the User); a
 *      store that cannot be set up (read-only, full) stands down the same
 *      way: httpd always starts and serves what it has;
 *   3. activation: each staged set is checked and promoted, or refused;
 *   4. the fallback certificate, for domains still without one (one key and
 *      certificate for all of them: startup stays flat in their number);
 *   5. the driving process, which talks to the CA.
 * No network I/O happens here. */
static int plan_start(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    sacme_conf_t *conf = sacme_conf_get(s);
    sacme_store_t *store;
    sacme_result_t *res = sacme_result_make(ptemp);
    apr_array_header_t *installed;
    apr_uint64_t seed;
    int i, need_fallback = 0, dry_run, taken_over = 0;

    live_conf = NULL;
    fallback_cert = fallback_key = NULL;
    /*1*/
    dry_run = ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG;
    if (!dry_run) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     SACME_LOGNO(10001) "mod_sacme %s loaded", SACME_VERSION);
        sacme_conf_warn_secrets(conf, s);
        sacme_conf_tell_challenges(conf, s);
    }
    if (!conf || conf->domains->nelts == 0) {
        return OK;
    }
    /*2*/
    store = conf->store;
    if (conf->store_unsafe) {
        /* SACME10111 said why: serve what is live, touch nothing. */
        live_conf = conf;
        use_existing_fallback(store, pconf, ptemp);
        return OK;
    }
    if (sacme_store_setup(store, ptemp, &taken_over, res) != APR_SUCCESS) {
        /* A store that cannot be set up (a read-only or full filesystem, a
         * part that cannot be trusted, a newer format) must not take the
         * web server down with it: httpd serves what is live, and the
         * fallback if one was made before; nothing is ordered or activated
         * in this generation (an activation would write to the store). */
        conf->store_down = apr_pstrdup(pconf, sacme_result_message(res, ptemp));
        if (!dry_run) {
            ap_log_error(APLOG_MARK, APLOG_ERR, res->status, s, SACME_LOGNO(10170)
                         "cannot set up the store %s: %s. Certificates are neither "
                         "ordered nor activated until this is fixed (what is in "
                         "service is still served): make the store writable by root "
                         "(is its filesystem read-only or full?), then restart httpd "
                         "gracefully (apachectl graceful)", conf->store_dir,
                         conf->store_down);
        }
        live_conf = conf;
        use_existing_fallback(store, pconf, ptemp);
        return OK;
    }
    if (taken_over) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, SACME_LOGNO(10112)
                     "the driver's parts of the store %s (accounts, staging, challenges, "
                     "requests) now belong to %s; if the account they belonged to "
                     "before may have been compromised, roll the account key over "
                     "(sacmectl account rollover)", conf->store_dir,
                     conf->driver_user ? conf->driver_user : "the httpd User");
    }
    /* The store's jitter seed, now that setup made sure there is one: the
     * driver (forked below) and the request children's status share these
     * domains, so they compute the same renewal times; sacmectl reads the
     * same seed from the store. */
    seed = sacme_store_jitter_seed(store, ptemp);
    for (i = 0; i < conf->domains->nelts; ++i) {
        APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *)->jitter_seed = seed;
    }
    if (!dry_run) {
        warn_driver_user(conf, s);
        write_managed(conf, store, ptemp, s);
    }
    /*3*/
    installed = dry_run ? NULL : sacme_activate_staged(conf, store, pconf, ptemp, s);
    /*4*/
    for (i = 0; i < conf->domains->nelts; ++i) {
        sacme_domain_t *dom = APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *);
        if (!dom->cert_file
            && !sacme_store_has_set(store, ptemp, SACME_GROUP_DOMAINS, dom->name)) {
            need_fallback = 1;
        }
    }
    if (need_fallback
        && sacme_selfsigned_ensure(pconf, sacme_store_fallback_dir(store, ptemp),
                                   &fallback_cert, &fallback_key, res) != APR_SUCCESS) {
        log_setup_error(s, 10037, "cannot make the fallback certificate", res, ptemp);
        fallback_cert = fallback_key = NULL;
    }
    live_conf = conf;
    /*5*/
    if (!dry_run && sacme_driver_start(s, pconf, conf, installed) != APR_SUCCESS) {
        return !OK;
    }
    return OK;
}

/* The plan, then what the request hooks need of its outcome. */
static int sacme_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    int rv = plan_start(pconf, ptemp, s);

    sacme_https_plan(rv == OK ? live_conf : NULL, pconf, ptemp);
    sacme_alpn_plan(rv == OK ? live_conf : NULL, s, pconf);
    return rv;
}

static int sacme_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    sacme_conf_t *conf = sacme_conf_get(s);

    if (!conf) {
        return OK;
    }
    /* The driver is forked from the parent after the chroot, and the
     * store, the CA file, the EAB file and the resolver live outside it:
     * refused plainly rather than failing later in ways hard to read. */
    if (conf->domains->nelts > 0 && ap_unixd_config.chroot_dir) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10114)
                     "ChrootDir %s and SacmeDomain cannot be combined: the process "
                     "that talks to the CA would be locked in the chroot, away from "
                     "the store, the CA certificates and the resolver. Remove "
                     "ChrootDir, or manage certificates outside httpd (sacmectl issue)",
                     ap_unixd_config.chroot_dir);
        return !OK;
    }
    if (sacme_conf_finish(conf, pconf, s) != OK) {
        return !OK;
    }
    return sacme_vhost_check(conf, ptemp, s);
}

sacme_domain_t *sacme_domain_of_server(server_rec *s)
{
    return live_conf ? sacme_vhost_domain(live_conf, s) : NULL;
}

/* A managed vhost that has certificate files already keeps them: said once
 * per vhost and httpd process (a flag in the process pool, which outlives
 * the configuration), not at every graceful restart. The files are often
 * not the vhost's own but inherited from an SSLCertificateFile of the main
 * server, which is easy to miss: without this line the vhost would just go
 * on serving that certificate while mod_sacme renews one nobody sees. */
static void tell_own_cert(server_rec *s, const sacme_domain_t *dom,
                          apr_array_header_t *cert_files, apr_pool_t *p)
{
    const char *key = apr_psprintf(p, "mod_sacme-own-cert:%s:%u:%s:%d",
                                   s->server_hostname ? s->server_hostname : "",
                                   (unsigned)s->port, s->defn_name ? s->defn_name : "",
                                   s->defn_line_number);
    void *told = NULL;

    apr_pool_userdata_get(&told, key, s->process->pool);
    if (told) {
        return;
    }
    apr_pool_userdata_set((void *)1, apr_pstrdup(s->process->pool, key),
                          apr_pool_cleanup_null, s->process->pool);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, SACME_LOGNO(10181)
                 "vhost %s (%s:%d) serves names of SacmeDomain %s but has an "
                 "SSLCertificateFile (%s, its own or inherited from the main server "
                 "configuration): it keeps that certificate and mod_sacme does not "
                 "supply one. To let mod_sacme supply it, remove SSLCertificateFile "
                 "and SSLCertificateKeyFile from this vhost and from the server "
                 "configuration outside <VirtualHost>",
                 s->server_hostname ? s->server_hostname : "?",
                 s->defn_name ? s->defn_name : "?", s->defn_line_number, dom->name,
                 APR_ARRAY_IDX(cert_files, 0, const char *));
}

/* mod_ssl (or mod_tls) asks for a vhost's certificate files. A vhost with
 * its own SSLCertificateFile keeps it: the admin's explicit choice wins. */
static int sacme_add_cert_files(server_rec *s, apr_pool_t *p,
                                apr_array_header_t *cert_files,
                                apr_array_header_t *key_files)
{
    sacme_domain_t *dom = sacme_domain_of_server(s), *unit;
    const sacme_store_t *store;
    int given = 0;

    if (!dom) {
        return DECLINED;
    }
    if (cert_files->nelts > 0) {
        tell_own_cert(s, dom, cert_files, p);
        return DECLINED;
    }
    /* A pair from elsewhere (SacmeCertificateFile), checked at start. */
    if (dom->cert_file) {
        APR_ARRAY_PUSH(cert_files, const char *) = dom->cert_file;
        APR_ARRAY_PUSH(key_files, const char *) = dom->key_file;
        return OK;
    }
    store = live_conf->store;
    /* One certificate per key type (dual keys): OpenSSL picks by what the
     * client supports. A type still without a certificate is left out, so
     * the other one serves meanwhile. */
    for (unit = dom; unit; unit = unit->next_key) {
        if (!sacme_store_has_set(store, p, SACME_GROUP_DOMAINS, unit->name)) {
            continue;
        }
        APR_ARRAY_PUSH(cert_files, const char *) =
            sacme_store_live_file(store, p, unit->name, SACME_FILE_CHAIN);
        APR_ARRAY_PUSH(key_files, const char *) =
            sacme_store_live_file(store, p, unit->name, SACME_FILE_KEY);
        given = 1;
    }
    return given ? OK : DECLINED;
}

/* No certificate yet: mod_ssl serves the fallback and answers 503, so a
 * client sees "not ready" rather than another site's certificate. */
static int sacme_add_fallback_cert_files(server_rec *s, apr_pool_t *p,
                                         apr_array_header_t *cert_files,
                                         apr_array_header_t *key_files)
{
    if (!sacme_domain_of_server(s) || !fallback_cert) {
        return DECLINED;
    }
    APR_ARRAY_PUSH(cert_files, const char *) = fallback_cert;
    APR_ARRAY_PUSH(key_files, const char *) = fallback_key;
    return OK;
}


/* Runs in the parent about every ten seconds (mpm_common's monitor hook).
 * Stat calls only: cheap for any number of domains. The pool httpd passes
 * is the configuration pool, freed only at the next restart: a round
 * working in it would keep every path it built and every directory it
 * opened (a few per domain, every ten seconds) for the life of the
 * generation. So each round works in a pool of its own, destroyed at its
 * end (its memory goes back to the allocator and serves the next round). */
static int sacme_monitor(apr_pool_t *p, server_rec *s)
{
    apr_pool_t *round;

    if (!live_conf || live_conf->domains->nelts == 0 || live_conf->store_unsafe
        || live_conf->store_down) {
        return DECLINED;
    }
    sacme_driver_maintain();
    if (apr_pool_create(&round, p) != APR_SUCCESS) {
        return DECLINED;
    }
    apr_pool_tag(round, "sacme_monitor");
    sacme_monitor_round(round, s);
    apr_pool_destroy(round);
    return DECLINED;
}

static void sacme_register_hooks(apr_pool_t *pool)
{
    /* Before mod_ssl/mod_tls read their certificates, so a set promoted now
     * is the one they load. */
    static const char *const ssl_mods[] = { "mod_ssl.c", "mod_tls.c", NULL };

    ap_hook_check_config(sacme_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(sacme_post_config, NULL, ssl_mods, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(sacme_challenge_answer, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_ssl_add_cert_files(sacme_add_cert_files, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_add_fallback_cert_files(sacme_add_fallback_cert_files, NULL, NULL,
                                        APR_HOOK_MIDDLE);
    ap_hook_monitor(sacme_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    sacme_status_register_hooks();
    sacme_https_register_hooks();
    sacme_alpn_register_hooks();
}

AP_DECLARE_MODULE(sacme) = {
    STANDARD20_MODULE_STUFF,
    NULL,                        /* per-directory config creator */
    NULL,                        /* per-directory config merger */
    sacme_create_server_config,  /* per-server config creator */
    NULL,                        /* per-server config merger: global only */
    sacme_cmds,                  /* directives */
    sacme_register_hooks,
#if defined(AP_MODULE_FLAG_NONE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
