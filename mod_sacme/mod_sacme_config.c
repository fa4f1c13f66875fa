/* The directives of mod_sacme. Each handler checks its arguments as fully
 * as it can, so `apachectl -t` names the directive and the problem; what
 * depends on several directives is checked in sacme_conf_finish(). */
#include <ctype.h>
#include <pwd.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_uri.h>

#include <unixd.h>

#include "mod_sacme_private.h"
#include "mod_sacme_config.h"
#include "sacme_file.h"
#include "sacme_json.h"
#include "sacme_name.h"
#include "sacme_profile.h"

#define DEFAULT_STORE_DIR      "sacme"
#define DEFAULT_RETRY_DELAY    apr_time_from_sec(60)
#define DEFAULT_CHECK_INTERVAL apr_time_from_sec(12 * 3600)
#define DEFAULT_MAX_PARALLEL   16
#define MAX_MAX_PARALLEL       64

void *sacme_create_server_config(apr_pool_t *p, server_rec *s)
{
    sacme_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->cas = apr_array_make(p, 2, sizeof(sacme_ca_t *));
    conf->domains = apr_array_make(p, 4, sizeof(sacme_domain_t *));
    conf->dconfs = apr_array_make(p, 4, sizeof(sacme_dconf_t *));
    conf->names = apr_hash_make(p);
    conf->dflt.seen = apr_hash_make(p);
    conf->dflt.challenge_none = SACME_UNSET;
    conf->dflt.ari = SACME_UNSET;
    conf->dflt.require_https = SACME_UNSET;
    conf->cur = &conf->dflt;
    conf->dflt.agreement = SACME_UNSET;
    conf->auto_restart = SACME_UNSET;
    return conf;
}

sacme_conf_t *sacme_conf_get(server_rec *s)
{
    return ap_get_module_config(s->module_config, &sacme_module);
}

char sacme_per_domain[] = "per domain";

/* Every directive is global: settings per vhost would have no meaning for
 * certificates shared by several vhosts. Inside a <SacmeDomainSet> (which
 * reads its lines with the same cmd_parms, conf->cur marking it) only the
 * per-domain ones are taken; the others would silently apply to every
 * domain, which is never what a line inside a set means. */
static sacme_conf_t *global_conf(cmd_parms *cmd, const char **err)
{
    sacme_conf_t *conf;

    if ((*err = ap_check_cmd_context(cmd, GLOBAL_ONLY))) {
        return NULL;
    }
    conf = sacme_conf_get(cmd->server);
    if (conf->cur == &conf->dflt || cmd->info == sacme_per_domain) {
        return conf;
    }
    *err = apr_psprintf(cmd->pool, "%s is not allowed inside <SacmeDomainSet> (%s): "
                        "it applies to the whole server, not to one domain; "
                        "put it outside the set", cmd->cmd->name, conf->cur->where);
    return NULL;
}

/* A directive that takes one value, given twice (say, in two included
 * files), is a mistake: the last one used to win silently, so the admin
 * could be looking at the line that does not count. Remembers where each
 * was first given, for the message. */
static sacme_conf_t *single_conf(cmd_parms *cmd, const char **err)
{
    sacme_conf_t *conf = global_conf(cmd, err);
    const char *name = cmd->cmd->name, *first;

    if (!conf) {
        return NULL;
    }
    first = apr_hash_get(conf->cur->seen, name, APR_HASH_KEY_STRING);
    if (first) {
        *err = apr_psprintf(cmd->pool, "%s is given twice (first on %s); it takes "
                            "one value: remove one of the lines", name, first);
        return NULL;
    }
    apr_hash_set(conf->cur->seen, name, APR_HASH_KEY_STRING,
                 cmd->directive
                 ? apr_psprintf(cmd->pool, "line %d of %s", cmd->directive->line_num,
                                cmd->directive->filename)
                 : "an earlier line");
    return conf;
}

sacme_conf_t *sacme_conf_single(cmd_parms *cmd, const char **err)
{
    return single_conf(cmd, err);
}

const char *sacme_conf_file_only(cmd_parms *cmd, const char *value,
                                 const char *holds, const char **path)
{
    const char *name = cmd->cmd->name;

    if (strncmp(value, "file:", 5) || !value[5]) {
        return apr_psprintf(cmd->pool, "%s: give file:PATH, %s", name, holds);
    }
    *path = ap_server_root_relative(cmd->pool, value + 5);
    if (!*path) {
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", name, value + 5);
    }
    return NULL;
}

/* An absolute https URL with a host: everything the module talks to is
 * reached over TLS. */
static int https_url_ok(apr_pool_t *p, const char *url)
{
    apr_uri_t uri;

    return apr_uri_parse(p, url, &uri) == APR_SUCCESS && uri.scheme
           && !strcasecmp(uri.scheme, "https") && uri.hostname && *uri.hostname
           && !strpbrk(url, " \t\r\n");
}

/* SacmeServer URL [URL...]: the first CA is used, the others in turn when
 * it keeps failing (SacmeRetryFailover). */
static const char *cmd_server(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);
    int i, j;

    if (!conf) {
        return err;
    }
    if (argc < 1) {
        return "SacmeServer: give the CA's ACME directory URL (and, for failover, "
               "further URLs in the order they are tried)";
    }
    conf->cur->servers = apr_array_make(cmd->pool, argc, sizeof(const char *));
    for (i = 0; i < argc; ++i) {
        if (!https_url_ok(cmd->temp_pool, argv[i])) {
            return apr_psprintf(cmd->pool, "SacmeServer: '%s' is not an https:// URL "
                                "(give the CA's ACME directory URL, e.g. "
                                "https://acme.sectigo.com/v2/DV)", argv[i]);
        }
        for (j = 0; j < i; ++j) {
            if (!strcmp(argv[i], argv[j])) {
                return apr_psprintf(cmd->pool, "SacmeServer: '%s' is given twice; "
                                    "each CA of the failover list once", argv[i]);
            }
        }
        APR_ARRAY_PUSH(conf->cur->servers, const char *) = apr_pstrdup(cmd->pool, argv[i]);
    }
    return NULL;
}

static const char *cmd_retry_failover(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);
    char *end;
    long n;

    if (!conf) {
        return err;
    }
    n = strtol(value, &end, 10);
    if (end == value || *end || n < 1 || n > 1000) {
        return apr_psprintf(cmd->pool, "SacmeRetryFailover: '%s' is not a number of "
                            "failed attempts from 1 to 1000 (after that many in a row "
                            "at one CA, the next URL of SacmeServer is used)", value);
    }
    conf->cur->failover = (int)n;
    return NULL;
}

const char *sacme_conf_secret_exposure(const char *path)
{
    return sacme_file_secret_exposure(path);
}

/* SacmeEAB file:PATH — a JSON file {"kid", "hmac", optional "alg"} that may
 * be readable by root only. It is read here, while httpd is still root, only
 * to check it, so that `apachectl -t` names a missing or broken file. The
 * configuration keeps the key id, the algorithm and the path, never the
 * key: every request child inherits this memory, and code running in one
 * (mod_php, a CGI's exploit) could search it. The driving process reads the
 * file itself when it starts (mod_sacme_driver.c). */
static const char *eab_from_file(cmd_parms *cmd, const char *path, sacme_eab_t **out)
{
    sacme_result_t *res = sacme_result_make(cmd->temp_pool);
    const char *err = NULL;
    sacme_eab_t *eab;
    apr_pool_t *tmp;

    path = ap_server_root_relative(cmd->pool, path);
    if (!path) {
        return "SacmeEAB: 'file:' needs a valid path of the EAB file";
    }
    apr_pool_create(&tmp, cmd->temp_pool);
    if (sacme_eab_read_file(tmp, path, &eab, res) != APR_SUCCESS) {
        err = apr_psprintf(cmd->pool, "SacmeEAB: %s",
                           sacme_result_message(res, cmd->temp_pool));
    }
    else {
        const char *exposed = sacme_conf_secret_exposure(path);
        /* A warning, not an error: the key works, but whoever can read the
         * file can register accounts billed to the admin's organisation. */
        if (exposed) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server, SACME_LOGNO(10180)
                         "SacmeEAB: the EAB file %s is %s: it holds the HMAC key; "
                         "make it root's and readable by root only "
                         "('chown root:root %s; chmod 0600 %s')", path, exposed,
                         path, path);
        }
        *out = apr_pcalloc(cmd->pool, sizeof(**out));
        (*out)->kid = apr_pstrdup(cmd->pool, eab->kid);
        (*out)->alg = eab->alg;
        (*out)->file = path;
        sacme_eab_wipe(eab);
    }
    apr_pool_destroy(tmp);
    return err;
}

/* Whether every argument is file:PATH or none: the list form, one per URL
 * of SacmeServer. */
static int eab_list_form(int argc, char *const argv[])
{
    int i;

    for (i = 0; i < argc; ++i) {
        if (strcasecmp(argv[i], "none") && strncmp(argv[i], "file:", 5)) {
            return 0;
        }
    }
    return 1;
}

/* SacmeEAB KID HMAC [ALG] | file:PATH | none, or with several CAs one
 * file:PATH or none per URL of SacmeServer, in the same order. */
static const char *cmd_eab(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);
    sacme_result_t *res = sacme_result_make(cmd->temp_pool);
    sacme_hmac_alg_t alg = SACME_HMAC_HS256;
    sacme_eab_t *eab = NULL;
    int i;

    if (!conf) {
        return err;
    }
    if (argc < 1) {
        return "SacmeEAB: give the key id and the HMAC key ('SacmeEAB KID HMAC'), "
               "'SacmeEAB file:PATH' or 'SacmeEAB none' (with several SacmeServer "
               "URLs, one file:PATH or none for each)";
    }
    conf->cur->eabs = apr_array_make(cmd->pool, argc, sizeof(sacme_eab_t *));
    if (eab_list_form(argc, argv)) {
        for (i = 0; i < argc; ++i) {
            eab = NULL;
            if (strcasecmp(argv[i], "none")
                && (err = eab_from_file(cmd, argv[i] + 5, &eab))) {
                return err;
            }
            APR_ARRAY_PUSH(conf->cur->eabs, sacme_eab_t *) = eab;
        }
        return NULL;
    }
    if (argc == 1 || argc > 3) {
        return "SacmeEAB: give the key id and the HMAC key ('SacmeEAB KID HMAC "
               "[HS256|HS384|HS512]'), 'SacmeEAB file:PATH' or 'SacmeEAB none'; "
               "with several SacmeServer URLs, one file:PATH or none for each, "
               "in the same order";
    }
    if (argc == 3 && sacme_hmac_alg_parse(argv[2], &alg) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "SacmeEAB: unknown MAC algorithm '%s'; use "
                            "HS256, HS384 or HS512", argv[2]);
    }
    /* The message never repeats the key: it may be half right. */
    if (sacme_eab_make(cmd->pool, argv[0], argv[1], alg, &eab, res) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "SacmeEAB: the HMAC key for key id '%s' is not "
                            "usable: %s", argv[0], sacme_result_message(res, cmd->temp_pool));
    }
    APR_ARRAY_PUSH(conf->cur->eabs, sacme_eab_t *) = eab;
    return NULL;
}

/* A DNS name as CAs issue for: letters, digits, hyphens, dots, an optional
 * leading "*." for a wildcard. */
static int name_ok(const char *name)
{
    const char *s = name;
    apr_size_t len = strlen(name), label = 0;

    if (len == 0 || len > 253) {
        return 0;
    }
    if (!strncmp(s, "*.", 2)) {
        s += 2;
    }
    if (*s == '.' || *s == '\0') {
        return 0;
    }
    for (; *s; ++s) {
        if (*s == '.') {
            if (label == 0 || s[-1] == '-') {
                return 0;
            }
            label = 0;
        }
        else if (isalnum((unsigned char)*s) || (*s == '-' && label > 0)) {
            if (++label > 63) {
                return 0;
            }
        }
        else {
            return 0;
        }
    }
    return label > 0 && s[-1] != '-';
}

/* Whether a syntactically valid name (name_ok) can be in a public
 * certificate: it has a dot, and its last label is not all digits. That
 * refuses 'localhost' and 'example.123': no CA issues for them, and an
 * order would only fail at the CA, hours after `apachectl -t` said all was
 * well. (IP addresses are told apart before: ip_like.) */
static int name_public(const char *name)
{
    const char *s = strncmp(name, "*.", 2) ? name : name + 2;
    const char *last = strrchr(s, '.'), *c;

    if (!last) {
        return 0;
    }
    for (c = last + 1; *c; ++c) {
        if (!isdigit((unsigned char)*c)) {
            return 1;
        }
    }
    return 0;
}

/* Whether a name that is no valid IP address (sacme_name_ip_canonical)
 * was meant as one: it has a ':' (IPv6; no DNS name has one), a bracket,
 * a zone's '%', or only digits and dots ("1.2.3", "256.0.0.1"). It gets
 * the IP address's message rather than the DNS name's. */
static int ip_like(const char *name)
{
    const char *c;

    if (strpbrk(name, ":[]%")) {
        return 1;
    }
    for (c = name; *c; ++c) {
        if (!isdigit((unsigned char)*c) && *c != '.') {
            return 0;
        }
    }
    return 1;
}

const char *sacme_conf_first_name(cmd_parms *cmd, const sacme_domain_t *dom,
                                  const char *directive, const sacme_dconf_t *set)
{
    if (dom->name[0] != '*' || (set && set->cert_file)) {
        return NULL;
    }
    return apr_psprintf(cmd->pool, "%s: the first name '%s' names the certificate "
                        "(its common name, its store directory) and may not be a "
                        "wildcard when mod_sacme orders it; put a plain name first "
                        "(a <SacmeDomainSet> with SacmeCertificateFile may start "
                        "with one)", directive, dom->name);
}

/* The arguments are split here, not by httpd, which hands a TAKE_ARGV
 * directive at most 64 words and drops the rest without a word; a
 * certificate may carry SACME_MAX_NAMES. */
const char *sacme_conf_add_domain(cmd_parms *cmd, sacme_conf_t *conf,
                                  const char *directive, const char *args,
                                  sacme_dconf_t *set)
{
    sacme_domain_t *dom;
    const char *argv[SACME_MAX_NAMES], *err;
    int argc = 0, i;

    while (*args) {
        const char *w = ap_getword_conf(cmd->temp_pool, &args);
        if (!*w && !*args) {
            break;              /* trailing blanks */
        }
        if (argc == SACME_MAX_NAMES) {
            return apr_psprintf(cmd->pool, "%s: more than %d names, the most one "
                                "certificate may carry; split them into several "
                                "domains", directive, SACME_MAX_NAMES);
        }
        argv[argc++] = w;
    }
    if (argc < 1) {
        return apr_psprintf(cmd->pool, "%s: give at least one name", directive);
    }
    dom = apr_pcalloc(cmd->pool, sizeof(*dom));
    dom->names = apr_array_make(cmd->pool, argc, sizeof(const char *));
    for (i = 0; i < argc; ++i) {
        char *name = apr_pstrdup(cmd->pool, argv[i]), ipbuf[SACME_IP_TEXT_MAX];
        const char *ip;
        sacme_domain_t *other;

        ap_str_tolower(name);
        if ((ip = sacme_name_ip_canonical(name, 0, ipbuf))) {
            /* one text per address, as the CA echoes it back and as the
             * certificate's iPAddress prints ("2001:DB8:0::1" is "2001:db8::1") */
            name = apr_pstrdup(cmd->pool, ip);
        }
        else if (ip_like(name)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a valid IP address (an "
                                "IPv4 address is four numbers 0-255 with dots, an "
                                "IPv6 address is written without brackets, zone or "
                                "port, e.g. 192.0.2.10 or 2001:db8::10)", directive,
                                argv[i]);
        }
        else if (!name_ok(name)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a valid DNS name",
                                directive, argv[i]);
        }
        else if (!name_public(name)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a public DNS name "
                                "(it needs a dot and a last label that is not a "
                                "number; a CA issues no certificate for 'localhost')",
                                directive, argv[i]);
        }
        other = apr_hash_get(conf->names, name, APR_HASH_KEY_STRING);
        if (other == dom) {
            return apr_psprintf(cmd->pool, "%s: '%s' is given twice", directive,
                                argv[i]);
        }
        if (other) {
            return apr_psprintf(cmd->pool, "%s: '%s' is already part of the managed "
                                "domain %s (a SacmeDomain or <SacmeDomainSet>); a "
                                "name can belong to one certificate only", directive,
                                argv[i], other->name);
        }
        APR_ARRAY_PUSH(dom->names, const char *) = name;
        apr_hash_set(conf->names, name, APR_HASH_KEY_STRING, dom);
    }
    dom->name = APR_ARRAY_IDX(dom->names, 0, const char *);
    /* a set's is looked at once its lines are read (sacme_conf_first_name) */
    if (!set && (err = sacme_conf_first_name(cmd, dom, directive, NULL))) {
        return err;
    }
    APR_ARRAY_PUSH(conf->domains, sacme_domain_t *) = dom;
    APR_ARRAY_PUSH(conf->dconfs, sacme_dconf_t *) = set;
    return NULL;
}

/* SacmeDomain NAME...: a domain with the default settings. */
static const char *cmd_domain(cmd_parms *cmd, void *dc, const char *args)
{
    const char *err;
    sacme_conf_t *conf = global_conf(cmd, &err);

    return conf ? sacme_conf_add_domain(cmd, conf, "SacmeDomain", args, NULL) : err;
}

static const char *cmd_contact(cmd_parms *cmd, void *dc, const char *email)
{
    const char *err;
    sacme_conf_t *conf = global_conf(cmd, &err);
    const char *addr = strncasecmp(email, "mailto:", 7) ? email : email + 7;
    const char *at = strchr(addr, '@');

    if (!conf) {
        return err;
    }
    if (!at || at == addr || !at[1] || strchr(at + 1, '@') || strpbrk(addr, " ,;<>")) {
        return apr_psprintf(cmd->pool, "SacmeContact: '%s' is not an e-mail address",
                            email);
    }
    /* A set's lines replace the default's list, they do not add to it. */
    if (!conf->cur->contacts) {
        conf->cur->contacts = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(conf->cur->contacts, const char *) = addr;
    return NULL;
}

static const char *cmd_agreement(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);

    if (!conf) {
        return err;
    }
    if (strcasecmp(value, "accepted")) {
        return "SacmeAgreement: the only value is 'accepted' (after reading the "
               "CA's terms of service)";
    }
    conf->cur->agreement = 1;
    return NULL;
}

static const char *cmd_key_type(cmd_parms *cmd, void *dc, const char *value,
                                const char *value2)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);
    const char *bad = NULL;

    if (!conf) {
        return err;
    }
    conf->cur->key_type2 = SACME_KEY_NONE;
    if (sacme_key_type_parse(value, &conf->cur->key_type) != APR_SUCCESS) {
        bad = value;
    }
    else if (value2
             && sacme_key_type_parse(value2, &conf->cur->key_type2) != APR_SUCCESS) {
        bad = value2;
    }
    if (bad) {
        return apr_psprintf(cmd->pool, "SacmeKeyType: unknown key type '%s' (known: %s)",
                            bad, sacme_key_type_names());
    }
    /* mod_ssl (OpenSSL) keeps one certificate per signature algorithm and
     * picks by what the client supports: a second ECDSA key would silently
     * replace the first. */
    if (value2 && !strcmp(sacme_key_type_alg(conf->cur->key_type),
                          sacme_key_type_alg(conf->cur->key_type2))) {
        return apr_psprintf(cmd->pool, "SacmeKeyType: '%s' and '%s' are both %s keys; "
                            "a server holds one certificate per algorithm, so give "
                            "one RSA and one ECDSA type (e.g. 'rsa2048 p256')",
                            value, value2, sacme_key_type_alg(conf->cur->key_type));
    }
    return NULL;
}

/* The TLS trust towards the CA must hold a certificate: a file of
 * something else (a key, a CSR, an empty file) would make every connection
 * fail, far from the configuration. A bundle within SACME_MAX_RESPONSE is
 * checked block by block; a larger one (no CA needs that many) only for
 * one certificate. */
#define CA_FILE_MAX (16 * 1024 * 1024)

static const char *ca_file_check(cmd_parms *cmd, const char *path)
{
    sacme_result_t *res = sacme_result_make(cmd->temp_pool);
    sacme_trust_t *trust;
    apr_size_t len;
    char *pem;

    if (sacme_file_read(path, CA_FILE_MAX, cmd->temp_pool, &pem, &len, res)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "SacmeCACertificate: %s",
                            sacme_result_message(res, cmd->temp_pool));
    }
    if (len <= SACME_MAX_RESPONSE
        ? sacme_trust_make(cmd->temp_pool, pem, len, path, 0, &trust, res) != APR_SUCCESS
        : !strstr(pem, "-----BEGIN CERTIFICATE-----")) {
        return apr_psprintf(cmd->pool, "SacmeCACertificate: %s holds no usable "
                            "certificate%s%s (give a PEM file of the CA certificates "
                            "that issued the ACME server's TLS certificate)", path,
                            len <= SACME_MAX_RESPONSE ? ": " : "",
                            len <= SACME_MAX_RESPONSE
                            ? sacme_result_message(res, cmd->temp_pool) : "");
    }
    return NULL;
}

static const char *cmd_ca_cert(cmd_parms *cmd, void *dc, const char *path)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);
    apr_finfo_t fi;

    if (!conf) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, path);
    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS
        || fi.filetype != APR_REG) {
        return apr_psprintf(cmd->pool, "SacmeCACertificate: '%s' is not a readable file",
                            path);
    }
    if ((err = ca_file_check(cmd, path))) {
        return err;
    }
    conf->ca_file = path;
    return NULL;
}

/* SacmeTrustedRoots FILE: extra anchors for the certificates mod_sacme
 * activates (a private CA's root), not the TLS trust towards the CA (that
 * is SacmeCACertificate). Read now, while httpd is root (the file may be
 * root's alone), and checked, so `apachectl -t` names a file without a
 * certificate; the configuration keeps the content (certificates are
 * public) for the parent and the driver. */
static const char *cmd_trusted_roots(cmd_parms *cmd, void *dc, const char *path)
{
    const char *err, *abs;
    sacme_conf_t *conf = single_conf(cmd, &err);
    sacme_result_t *res = sacme_result_make(cmd->temp_pool);
    sacme_trust_t *trust;
    apr_size_t len;
    char *pem;

    if (!conf) {
        return err;
    }
    abs = ap_server_root_relative(cmd->pool, path);
    if (!abs) {
        return apr_psprintf(cmd->pool, "SacmeTrustedRoots: invalid path '%s'", path);
    }
    if (sacme_file_read(abs, SACME_MAX_RESPONSE, cmd->pool, &pem, &len, res) != APR_SUCCESS
        || sacme_trust_make(cmd->temp_pool, pem, len, abs, 0, &trust, res) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "SacmeTrustedRoots: %s (give a PEM file of the "
                            "CA certificates that issue your certificates)",
                            sacme_result_message(res, cmd->temp_pool));
    }
    conf->trusted_roots = abs;
    conf->trusted_roots_pem = pem;
    conf->trusted_roots_len = len;
    return NULL;
}

static const char *cmd_store_dir(cmd_parms *cmd, void *dc, const char *path)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);

    if (!conf) {
        return err;
    }
    conf->store_dir = ap_server_root_relative(cmd->pool, path);
    if (!conf->store_dir) {
        return apr_psprintf(cmd->pool, "SacmeStoreDir: invalid path '%s'", path);
    }
    return NULL;
}

/* SacmeDriverUser USER: the account the driving process runs as, so that
 * the account key and the staged keys are out of the web user's reach. */
static const char *cmd_driver_user(cmd_parms *cmd, void *dc, const char *user)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);
    struct passwd *pw;

    if (!conf) {
        return err;
    }
    if (!(pw = getpwnam(user))) {
        return apr_psprintf(cmd->pool, "SacmeDriverUser: there is no user '%s' on this "
                            "system; create it, e.g. 'useradd --system --home-dir "
                            "/nonexistent --shell /usr/sbin/nologin %s'", user, user);
    }
    if (pw->pw_uid == 0) {
        return apr_psprintf(cmd->pool, "SacmeDriverUser: '%s' is root; the driver talks "
                            "to the network and must not run as root", user);
    }
    conf->driver_user = apr_pstrdup(cmd->pool, user);
    conf->driver_uid = pw->pw_uid;
    conf->driver_gid = pw->pw_gid;
    return NULL;
}

/* SacmeARI on|off: whether the CA's renewal information (RFC 9773) is
 * asked and followed, where the CA offers it. */
static const char *cmd_ari(cmd_parms *cmd, void *dc, int flag)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);

    if (!conf) {
        return err;
    }
    conf->cur->ari = flag;
    return NULL;
}

/* The text of a limit for messages ("7d", "1h"). */
static const char *duration_str(apr_pool_t *p, apr_interval_time_t d)
{
    sacme_window_t w = { 0, d };
    return sacme_window_str(p, &w);
}

static const char *cmd_renew_window(cmd_parms *cmd, void *dc, const char *value)
{
    apr_status_t rv;
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);

    if (!conf) {
        return err;
    }
    rv = sacme_window_parse(value, &conf->cur->renew_window);
    if (rv == APR_ERANGE) {
        return apr_psprintf(cmd->pool, "SacmeRenewWindow: '%s' is longer than the most "
                            "it may be, %s", value,
                            duration_str(cmd->temp_pool, SACME_MAX_WINDOW));
    }
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "SacmeRenewWindow: '%s' is neither a duration "
                            "(30d, 12h, 90m, 45s) nor a percentage of the lifetime "
                            "(1%%..100%%)", value);
    }
    conf->cur->renew_window_set = 1;
    return NULL;
}

/* Kept per domain (sacme_domain_t) though given once for all of them, so
 * that a per-domain form needs only a directive. */
static const char *cmd_require_https(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);

    if (!conf) {
        return err;
    }
    if (!strcasecmp(value, "off")) {
        conf->cur->require_https = 0;
    }
    else if (!strcasecmp(value, "temporary")) {
        conf->cur->require_https = HTTP_MOVED_TEMPORARILY;
    }
    else if (!strcasecmp(value, "permanent")) {
        conf->cur->require_https = HTTP_MOVED_PERMANENTLY;
    }
    else {
        return apr_psprintf(cmd->pool, "SacmeRequireHttps: '%s' is not one of off, "
                            "temporary (302) or permanent (301 and HSTS)", value);
    }
    return NULL;
}

static const char *cmd_auto_restart(cmd_parms *cmd, void *dc, int flag)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);

    if (!conf) {
        return err;
    }
    conf->auto_restart = flag;
    return NULL;
}

static const char *cmd_notify(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);

    if (!conf) {
        return err;
    }
    return sacme_conf_command(cmd, "SacmeNotifyCmd", argc, argv, &conf->cur->notify_cmd);
}

/* SacmeNotifyURL URL: events are POSTed there; https only, as everything
 * the driver sends (an event names domains and serials). */
static const char *cmd_notify_url(cmd_parms *cmd, void *dc, const char *url)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);

    if (!conf) {
        return err;
    }
    if (!https_url_ok(cmd->temp_pool, url)) {
        return apr_psprintf(cmd->pool, "SacmeNotifyURL: '%s' is not an https:// URL "
                            "(events are sent over TLS only)", url);
    }
    conf->cur->notify_url = url;
    return NULL;
}

static const char *cmd_http_proxy(cmd_parms *cmd, void *dc, const char *url,
                                  const char *auth)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);

    return conf ? sacme_conf_http_proxy(cmd, conf, url, auth) : err;
}

/* SacmeProfile NAME | none: the profile (draft-ietf-acme-profiles) new
 * orders ask for. Whether the CA offers it is known once the driver reads
 * its directory; here only the name's form is checked. */
static const char *cmd_profile(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);

    if (!conf) {
        return err;
    }
    if (!strcasecmp(value, "none")) {
        conf->cur->profile = "";
        return NULL;
    }
    if (!sacme_profile_name_ok(value)) {
        return apr_psprintf(cmd->pool, "SacmeProfile: '%s' is not a profile name (1 "
                            "to %d letters, digits, '.', '_' or '-', as the CA lists "
                            "them in its directory, e.g. 'shortlived' or 'tlsserver'; "
                            "or 'none' for the CA's default)", value, SACME_PROFILE_MAX);
    }
    conf->cur->profile = apr_pstrdup(cmd->pool, value);
    return NULL;
}

/* SacmeWarnWindow D1 [D2 ...] | none */
static const char *cmd_warn_window(cmd_parms *cmd, void *dc, int argc,
                                   char *const argv[])
{
    const char *err, *why;
    sacme_conf_t *conf = single_conf(cmd, &err);

    if (!conf) {
        return err;
    }
    conf->cur->warn_set = 1;
    if (argc == 1 && !strcasecmp(argv[0], "none")) {
        conf->cur->warn.n = 0;
        return NULL;
    }
    if (sacme_warn_parse(argc, (const char *const *)argv, &conf->cur->warn,
                         cmd->temp_pool, &why) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "SacmeWarnWindow: %s", why);
    }
    return NULL;
}

/* A positive duration of at most max: a value of years would be added to
 * now later and is never meant (a typo, a unit forgotten). */
static const char *duration_arg(cmd_parms *cmd, const char *directive,
                                const char *value, apr_interval_time_t max,
                                apr_interval_time_t *out)
{
    apr_interval_time_t d = 0;
    apr_status_t rv = sacme_duration_parse_max(value, max, &d);

    if (rv == APR_ERANGE) {
        return apr_psprintf(cmd->pool, "%s: '%s' is longer than the most it may be, %s",
                            directive, value, duration_str(cmd->temp_pool, max));
    }
    if (rv != APR_SUCCESS || d <= 0) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a duration (30d, 12h, 90m, 45s)",
                            directive, value);
    }
    *out = d;
    return NULL;
}

static const char *cmd_retry_delay(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);
    return conf ? duration_arg(cmd, "SacmeRetryDelay", value,
                               SACME_MAX_RETRY_DELAY, &conf->retry_delay) : err;
}

static const char *cmd_check_interval(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);
    return conf ? duration_arg(cmd, "SacmeCheckInterval", value,
                               SACME_MAX_CHECK_INTERVAL, &conf->check_interval)
                : err;
}

static const char *cmd_http_timeout(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);
    return conf ? duration_arg(cmd, "SacmeHttpTimeout", value,
                               SACME_MAX_HTTP_TIMEOUT, &conf->http_timeout) : err;
}

static const char *cmd_max_parallel(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);
    char *end;
    long n;

    if (!conf) {
        return err;
    }
    n = strtol(value, &end, 10);
    if (*end || n < 1 || n > MAX_MAX_PARALLEL) {
        return apr_psprintf(cmd->pool, "SacmeMaxParallel: '%s' is not a number from 1 "
                            "to %d", value, MAX_MAX_PARALLEL);
    }
    conf->max_parallel = (int)n;
    return NULL;
}

static const char *cmd_retry_after_bounds(cmd_parms *cmd, void *dc,
                                          const char *min, const char *max)
{
    const char *err;
    sacme_conf_t *conf = single_conf(cmd, &err);

    if (!conf) {
        return err;
    }
    if ((err = duration_arg(cmd, "SacmeRetryAfterBounds", min, SACME_MAX_RETRY_AFTER,
                                &conf->retry_after_min))
        || (err = duration_arg(cmd, "SacmeRetryAfterBounds", max, SACME_MAX_RETRY_AFTER,
                                &conf->retry_after_max))) {
        return err;
    }
    if (conf->retry_after_min > conf->retry_after_max) {
        return "SacmeRetryAfterBounds: the minimum is larger than the maximum";
    }
    return NULL;
}

const command_rec sacme_cmds[] = {
    AP_INIT_TAKE_ARGV("SacmeServer", cmd_server, sacme_per_domain, RSRC_CONF,
                      "the ACME directory URL of the CA, and of further CAs for "
                      "failover"),
    AP_INIT_TAKE_ARGV("SacmeEAB", cmd_eab, sacme_per_domain, RSRC_CONF,
                      "External Account Binding: KID HMAC [HS256|HS384|HS512], "
                      "file:PATH, or none; with several CAs, file:PATH or none "
                      "for each"),
    AP_INIT_TAKE1("SacmeRetryFailover", cmd_retry_failover, sacme_per_domain, RSRC_CONF,
                  "consecutive failed attempts at one CA before the next URL of "
                  "SacmeServer is used (default 13)"),
    AP_INIT_RAW_ARGS("SacmeDomain", cmd_domain, NULL, RSRC_CONF,
                     "names of one certificate (at most 100), the first being the "
                     "primary"),
    AP_INIT_RAW_ARGS("<SacmeDomainSet", sacme_cmd_domain_set, NULL, RSRC_CONF,
                     "a domain (names as SacmeDomain) with settings of its own: "
                     "its CA and account, key type, challenge, windows, notify "
                     "command, HTTPS redirect, or a certificate from elsewhere"),
    AP_INIT_TAKE1("SacmeContact", cmd_contact, sacme_per_domain, RSRC_CONF,
                  "contact e-mail address for the ACME account"),
    AP_INIT_TAKE1("SacmeAgreement", cmd_agreement, sacme_per_domain, RSRC_CONF,
                  "'accepted': the CA's terms of service are accepted"),
    AP_INIT_TAKE12("SacmeKeyType", cmd_key_type, sacme_per_domain, RSRC_CONF,
                   "certificate key type(s): p256 (default), p384, rsa2048, rsa3072, "
                   "rsa4096; two (one RSA, one ECDSA) for a certificate of each"),
    AP_INIT_TAKE1("SacmeCertificateFile", sacme_cmd_cert_file, sacme_per_domain,
                  RSRC_CONF, "inside <SacmeDomainSet>: the certificate (PEM, with "
                  "its chain) to serve for the set's names instead of ordering one"),
    AP_INIT_TAKE1("SacmeCertificateKeyFile", sacme_cmd_cert_file, sacme_per_domain,
                  RSRC_CONF, "inside <SacmeDomainSet>: the private key (PEM) of "
                  "SacmeCertificateFile"),
    AP_INIT_TAKE1("SacmeCACertificate", cmd_ca_cert, NULL, RSRC_CONF,
                  "PEM file of CAs to trust for the ACME server's TLS"),
    AP_INIT_TAKE1("SacmeTrustedRoots", cmd_trusted_roots, NULL, RSRC_CONF,
                  "PEM file of further CA certificates the certificates mod_sacme "
                  "activates may chain to (a private CA's root)"),
    AP_INIT_TAKE1("SacmeStoreDir", cmd_store_dir, NULL, RSRC_CONF,
                  "directory of the store (default: sacme under the ServerRoot)"),
    AP_INIT_TAKE1("SacmeDriverUser", cmd_driver_user, NULL, RSRC_CONF,
                  "system account the driving process runs as (default: the httpd "
                  "User); it alone can read the ACME account key"),
    AP_INIT_TAKE_ARGV("SacmeChallenge", sacme_cmd_challenge, sacme_per_domain, RSRC_CONF,
                      "the challenge types to answer, in order of preference: "
                      "http-01, tls-alpn-01, dns-01 (default: from the ports httpd "
                      "listens on); or none (names pre-validated at the CA)"),
    AP_INIT_TAKE_ARGV("SacmeCluster", sacme_cmd_cluster, NULL, RSRC_CONF,
                      "etcd URL [URL ...]: run the nodes of a cluster with one driver, "
                      "coordinated through these etcd members"),
    AP_INIT_TAKE1("SacmeClusterName", sacme_cmd_cluster_id, NULL, RSRC_CONF,
                  "the cluster's name, its keys' prefix in etcd (default: default)"),
    AP_INIT_TAKE1("SacmeClusterNode", sacme_cmd_cluster_id, NULL, RSRC_CONF,
                  "this node's name in the cluster (default: the host name)"),
    AP_INIT_TAKE_ARGV("SacmeClusterTLS", sacme_cmd_cluster_tls, NULL, RSRC_CONF,
                      "CA-FILE [CERT-FILE KEY-FILE]: TLS to the etcd members"),
    AP_INIT_TAKE1("SacmeClusterKey", sacme_cmd_cluster_key, NULL, RSRC_CONF,
                  "file:PATH of the 256-bit key that seals keys before they reach "
                  "etcd (root, 0600; openssl rand -base64 32)"),
    AP_INIT_TAKE1("SacmeClusterLease", sacme_cmd_cluster_lease, NULL, RSRC_CONF,
                  "the leader's lease in etcd (default 15s)"),
    AP_INIT_TAKE1("SacmeSCM", sacme_cmd_scm, NULL, RSRC_CONF,
                  "file:PATH of the Sectigo SCM API credentials (root, 0600): when "
                  "the CA refuses a name, the driver asks SCM whether the ACME "
                  "account has it"),
    AP_INIT_TAKE12("SacmePortMap", sacme_cmd_port_map, NULL, RSRC_CONF,
                   "http:PORT https:PORT: the local ports that the CA's requests to "
                   "port 80 and 443 arrive at (port forwarding, load balancer)"),
    AP_INIT_TAKE1("SacmeProfile", cmd_profile, sacme_per_domain, RSRC_CONF,
                  "the certificate profile new orders ask the CA for, one its "
                  "directory lists (e.g. shortlived, tlsserver), or none (default): "
                  "the CA's default"),
    AP_INIT_FLAG("SacmeARI", cmd_ari, sacme_per_domain, RSRC_CONF,
                 "on (default) to renew when the CA's renewal information (ARI) "
                 "says, where the CA offers it; off for the local window only"),
    AP_INIT_TAKE1("SacmeRenewWindow", cmd_renew_window, sacme_per_domain, RSRC_CONF,
                  "renew when this much of the lifetime remains: a duration or a "
                  "percentage (default 33%)"),
    AP_INIT_TAKE1("SacmeRequireHttps", cmd_require_https, sacme_per_domain, RSRC_CONF,
                  "off (default), temporary (302) or permanent (301 and HSTS): "
                  "redirect plain HTTP to HTTPS once a certificate is live"),
    AP_INIT_FLAG("SacmeAutoRestart", cmd_auto_restart, NULL, RSRC_CONF,
                 "on (default): restart gracefully when new certificates are ready"),
    AP_INIT_TAKE_ARGV("SacmeNotifyCmd", cmd_notify, sacme_per_domain, RSRC_CONF,
                      "command run on events: PATH [ARGS...], then event and domain"),
    AP_INIT_TAKE1("SacmeNotifyURL", cmd_notify_url, sacme_per_domain, RSRC_CONF,
                  "https URL to which every event is POSTed as JSON"),
    AP_INIT_TAKE_ARGV("SacmeDnsCmd", sacme_cmd_dns_cmd, sacme_per_domain, RSRC_CONF,
                      "the command that sets up and tears down dns-01 TXT records: "
                      "an absolute path and its arguments (docs/dns.md)"),
    AP_INIT_TAKE1("SacmeDnsTimeout", sacme_cmd_dns_timeout, sacme_per_domain, RSRC_CONF,
                  "the most one run of SacmeDnsCmd, and the wait for SacmeDnsCheck, "
                  "may take (default 120s)"),
    AP_INIT_TAKE1("SacmeDnsCheck", sacme_cmd_dns_check, sacme_per_domain, RSRC_CONF,
                  "IP[:PORT] of a DNS server asked for the dns-01 records before the "
                  "CA is told to look"),
    AP_INIT_TAKE12("SacmeHttpProxy", cmd_http_proxy, NULL, RSRC_CONF,
                   "http:// or https:// proxy for the CA and SacmeNotifyURL, and "
                   "optionally file:PATH of its credentials (user:password)"),
    AP_INIT_TAKE_ARGV("SacmeWarnWindow", cmd_warn_window, sacme_per_domain, RSRC_CONF,
                      "remaining validity that raises an expiry alert, one or more "
                      "durations (default 30d 14d 7d), or none"),
    AP_INIT_TAKE1("SacmeRetryDelay", cmd_retry_delay, NULL, RSRC_CONF,
                  "first retry after an error (default 60s), doubling up to a day"),
    AP_INIT_TAKE1("SacmeCheckInterval", cmd_check_interval, NULL, RSRC_CONF,
                  "how often certificates are checked (default 12h)"),
    AP_INIT_TAKE2("SacmeRetryAfterBounds", cmd_retry_after_bounds, NULL, RSRC_CONF,
                  "the least and the most a CA's Retry-After is followed (default "
                  "1s 1h)"),
    AP_INIT_TAKE1("SacmeHttpTimeout", cmd_http_timeout, NULL, RSRC_CONF,
                  "the longest one exchange with the CA may take (default 60s)"),
    AP_INIT_TAKE1("SacmeMaxParallel", cmd_max_parallel, NULL, RSRC_CONF,
                  "how many domains are driven at the same time (default 16)"),
    { NULL }
};

int sacme_conf_finish(sacme_conf_t *conf, apr_pool_t *p, server_rec *s)
{
    sacme_dconf_t *dflt = &conf->dflt;
    const char *why;
    int i, n;

    if (dflt->key_type == SACME_KEY_NONE) {
        dflt->key_type = SACME_KEY_DEFAULT;
    }
    if (!dflt->renew_window_set) {
        dflt->renew_window.percent = SACME_WINDOW_DEFAULT_PERCENT;
        dflt->renew_window.duration = 0;
    }
    if (dflt->challenge_none == SACME_UNSET) {
        dflt->challenge_none = 0;
    }
    if (dflt->ari == SACME_UNSET) {
        dflt->ari = 1;
    }
    if (dflt->require_https == SACME_UNSET) {
        dflt->require_https = 0;
    }
    if (!dflt->warn_set) {
        sacme_warn_default(&dflt->warn);
    }
    if (conf->auto_restart == SACME_UNSET) {
        conf->auto_restart = 1;
    }
    if (dflt->agreement == SACME_UNSET) {
        dflt->agreement = 0;
    }
    if (!dflt->failover) {
        dflt->failover = SACME_FAILOVER_DEFAULT;
    }
    if (!conf->retry_delay) {
        conf->retry_delay = DEFAULT_RETRY_DELAY;
    }
    if (!conf->check_interval) {
        conf->check_interval = DEFAULT_CHECK_INTERVAL;
    }
    if (!conf->retry_after_min) {
        conf->retry_after_min = apr_time_from_sec(1);
        if (conf->retry_after_max && conf->retry_after_max < conf->retry_after_min) {
            conf->retry_after_min = conf->retry_after_max;
        }
    }
    if (!conf->retry_after_max) {
        conf->retry_after_max = apr_time_from_sec(3600);
    }
    if (!conf->max_parallel) {
        conf->max_parallel = DEFAULT_MAX_PARALLEL;
    }
    if (!conf->store_dir) {
        conf->store_dir = ap_server_root_relative(p, DEFAULT_STORE_DIR);
    }
    if (sacme_conf_cluster(conf, p, s) != OK || sacme_conf_scm(conf, p, s) != OK) {
        return !OK;
    }
    if (conf->domains->nelts == 0) {
        return OK;
    }
    if (conf->driver_user && conf->driver_uid == ap_unixd_config.user_id) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10115)
                     "SacmeDriverUser %s is the httpd User: give the driver an account "
                     "of its own (or leave the directive out)", conf->driver_user);
        return !OK;
    }
    /* Who owns what in the store: the driver's parts belong to its account,
     * and what request children read carries the httpd Group. */
    conf->store = sacme_store_make(p, conf->store_dir);
    sacme_store_set_owners(conf->store,
                           conf->driver_user ? conf->driver_uid : ap_unixd_config.user_id,
                           conf->driver_user ? conf->driver_gid : ap_unixd_config.group_id,
                           ap_unixd_config.group_id);
    conf->store_unsafe = NULL;
    if (geteuid() == 0) {
        const char *bad;
        sacme_result_t *res = sacme_result_make(p);
        if (sacme_sdir_check_path(p, conf->store_dir, &bad, res) != APR_SUCCESS) {
            /* httpd still starts and serves what is live: only the part that
             * would trust the store stands down. */
            conf->store_unsafe = sacme_result_message(res, p);
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SACME_LOGNO(10111)
                         "SacmeStoreDir %s cannot be trusted: %s. mod_sacme stands "
                         "down: no certificate is ordered or activated until this is "
                         "fixed (what is in service is still served)",
                         conf->store_dir, conf->store_unsafe);
        }
    }
    n = conf->domains->nelts;
    if ((why = sacme_conf_resolve_domains(conf, p))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10331) "%s", why);
        return !OK;
    }
    if (sacme_conf_challenges(conf, p, s) != OK || sacme_conf_dns(conf, s) != OK) {
        return !OK;
    }
    /* A pair that cannot serve its names stops the start: serving it
     * would hand clients a certificate they refuse. */
    if ((why = sacme_conf_check_files(conf, p))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10320) "%s", why);
        return !OK;
    }
    for (i = 0; i < n; ++i) {
        sacme_domain_t *dom = APR_ARRAY_IDX(conf->domains, i, sacme_domain_t *);
        if (!dom->cas && !dom->cert_file) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, SACME_LOGNO(10040)
                         "SacmeServer is not set for the domain %s, which asks for "
                         "certificates: give the CA's ACME directory URL with "
                         "SacmeServer (outside any <SacmeDomainSet> for every "
                         "domain, or inside its set)", dom->name);
            return !OK;
        }
    }
    return OK;
}

apr_status_t sacme_conf_trust(const sacme_conf_t *conf, apr_pool_t *p,
                              sacme_trust_t **trust, sacme_result_t *res)
{
    return sacme_trust_make(p, conf->trusted_roots_pem, conf->trusted_roots_len,
                            conf->trusted_roots, SACME_TRUST_SYSTEM, trust, res);
}

sacme_domain_t *sacme_conf_domain_of(const sacme_conf_t *conf, const char *host)
{
    return sacme_name_lookup(conf->names, host, 0, NULL);
}

sacme_domain_t *sacme_conf_domain_serving(const sacme_conf_t *conf, const char *host,
                                          sacme_name_match_t *how)
{
    return sacme_name_lookup(conf->names, host, 1, how);
}

