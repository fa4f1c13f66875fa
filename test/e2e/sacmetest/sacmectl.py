"""Run the built sacmectl binary.

The binary is $SACME_BUILD_DIR/mod_sacme/cli/sacmectl (default build dir:
<repo>/build).  Every run returns a Result with the exit code, stdout,
stderr and, when stdout holds one JSON object (--json), the parsed object.
"""

import json
import os
import subprocess

_REPO_TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

# Exit codes of the CLI contract.
EXIT_OK = 0
EXIT_USAGE = 1
EXIT_CONFIG = 2
EXIT_CA_REFUSED = 3
EXIT_TRANSPORT = 4
EXIT_LOCAL = 5

# A guard against a hung run, not a timing assertion.
RUN_TIMEOUT = float(os.environ.get("SACME_RUN_TIMEOUT", "300"))


def build_dir():
    return os.environ.get("SACME_BUILD_DIR") or os.path.join(_REPO_TOP, "build")


def binary():
    return os.path.join(build_dir(), "mod_sacme", "cli", "sacmectl")


class Result:
    def __init__(self, argv, rc, stdout, stderr):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.json = None
        text = stdout.strip()
        if text.startswith("{"):
            try:
                self.json = json.loads(text)
            except ValueError:
                self.json = None

    def __iter__(self):
        # rc, stdout, stderr, json = run(...)
        return iter((self.rc, self.stdout, self.stderr, self.json))

    @property
    def error(self):
        """The "error" object of a --json failure, or {}."""
        if isinstance(self.json, dict):
            return self.json.get("error") or {}
        return {}

    def describe(self):
        """For assertion messages."""
        return ("$ %s\nexit code: %s\n--- stdout ---\n%s\n--- stderr ---\n%s"
                % (" ".join(self.argv), self.rc, self.stdout, self.stderr))

    def __repr__(self):
        return "<sacmectl rc=%s>" % self.rc


def run(args, *, env=None, timeout=None, stdin_text=None):
    """Run sacmectl with args (list of str); stdin_text (str), if given, is
    its standard input (otherwise /dev/null)."""
    exe = binary()
    if not os.access(exe, os.X_OK):
        raise FileNotFoundError("sacmectl not built: %s (set SACME_BUILD_DIR)" % exe)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    argv = [exe] + [str(a) for a in args]
    if stdin_text is None:
        io = {"stdin": subprocess.DEVNULL}
    else:
        io = {"input": stdin_text.encode()}
    p = subprocess.run(argv, capture_output=True, env=full_env,
                       timeout=timeout or RUN_TIMEOUT, **io)
    return Result(argv, p.returncode,
                  p.stdout.decode("utf-8", "replace"),
                  p.stderr.decode("utf-8", "replace"))


def issue_args(pebble, *, account_dir, out, names, kid=None, hmac=None,
               hmac_encoding="b64url", eab_alg=None, key_type=None,
               account_key_type=None, contact=None, agree_tos=True,
               challenge=None, webroot=None, json_output=True, extra=()):
    """The argument list of `sacmectl issue` against a Pebble.

    kid selects the EAB kid; hmac defaults to that kid's key in the given
    encoding (see pebble.eab_key_encodings).  kid=None: no EAB options
    (give --eab-file through extra).  http-01 (the default challenge)
    publishes into webroot, by default a directory beside out (what an
    always-valid Pebble never looks at); webroot=False leaves the option
    out."""
    args = ["issue", "--server", pebble.directory_url, "--ca-file", pebble.ca_file]
    if kid is not None:
        if hmac is None:
            hmac = pebble.eab_hmac(kid, hmac_encoding)
        args += ["--eab-kid", kid, "--eab-hmac", hmac]
        if eab_alg:
            args += ["--eab-alg", eab_alg]
    if contact:
        args += ["--contact", contact]
    if agree_tos:
        args.append("--agree-tos")
    args += ["--account-dir", account_dir]
    if account_key_type:
        args += ["--account-key-type", account_key_type]
    if key_type:
        args += ["--key-type", key_type]
    if challenge:
        args += ["--challenge", challenge]
    if challenge in (None, "http-01") and webroot is not False:
        args += ["--webroot", webroot or out.rstrip("/") + "-webroot"]
    if json_output:
        args.append("--json")
    args += list(extra)
    args += ["--out", out]
    args += list(names)
    return args


def issue(pebble, **kw):
    """Run `sacmectl issue` against a Pebble; see issue_args.  stdin_text:
    its standard input."""
    env = kw.pop("env", None)
    stdin_text = kw.pop("stdin_text", None)
    return run(issue_args(pebble, **kw), env=env, stdin_text=stdin_text)


# --- the commands over a running server's store --------------------------------

def store_cmd(h, *args, json_output=True, via_config=False):
    """Run `sacmectl ARGS` against httpd h's store: --store DIR, or with
    via_config --config h.conf (which sacmectl reads for ServerRoot and
    SacmeStoreDir)."""
    where = ["--config", h.conf] if via_config else ["--store", h.store_dir]
    return run(list(args) + where + (["--json"] if json_output else []))


def serial_int(text):
    """A serial as sacmectl prints it (hex, maybe with colons) -> int."""
    return int(text.replace(":", ""), 16)


# --- an independent look at the account, at the CA ------------------------------

def _b64url(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def ca_account_answer(pebble, account_dir):
    """POST-as-GET of the account URL in account_dir/account.json, signed by
    account_dir/account.key (an EC key), written here rather than with the
    engine under test.  Returns (HTTP status, parsed JSON body)."""
    with open(os.path.join(account_dir, "account.json")) as f:
        kid = json.load(f)["url"]
    return account_post(pebble.directory()["newNonce"], pebble.ca_file, account_dir,
                        kid, None)


def account_post(new_nonce_url, ca_file, account_dir, url, payload):
    """A POST to url signed (JWS, kid) with the account of account_dir
    (account.json's URL, account.key an EC key); payload a dict, or None
    for POST-as-GET.  A badNonce answer is sent again with a fresh nonce.
    Returns (HTTP status, parsed JSON body)."""
    import ssl
    import urllib.error
    import urllib.request

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    with open(os.path.join(account_dir, "account.json")) as f:
        kid = json.load(f)["url"]
    with open(os.path.join(account_dir, "account.key"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    size = (key.curve.key_size + 7) // 8
    alg, digest = {32: ("ES256", hashes.SHA256()), 48: ("ES384", hashes.SHA384())}[size]
    ctx = ssl.create_default_context(cafile=ca_file)
    body64 = "" if payload is None else _b64url(json.dumps(payload).encode())
    for _ in range(10):   # Pebble rejects some nonces on purpose (badNonce)
        head = urllib.request.Request(new_nonce_url, method="HEAD")
        with urllib.request.urlopen(head, context=ctx, timeout=10) as r:
            nonce = r.headers["Replay-Nonce"]
        protected = _b64url(json.dumps({"alg": alg, "kid": kid, "nonce": nonce,
                                        "url": url}).encode())
        der = key.sign((protected + "." + body64).encode(), ec.ECDSA(digest))
        r_, s_ = decode_dss_signature(der)
        sig = r_.to_bytes(size, "big") + s_.to_bytes(size, "big")
        body = json.dumps({"protected": protected, "payload": body64,
                           "signature": _b64url(sig)}).encode()
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/jose+json"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            answer = json.loads(e.read() or b"{}")
            if answer.get("type", "").endswith(":badNonce"):
                continue
            return e.code, answer
    raise AssertionError("the CA kept refusing the nonces")
