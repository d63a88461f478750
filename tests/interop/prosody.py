"""A real Prosody on loopback, for interop tests.

``prosody_server()`` finds Prosody (installing Debian's package when it is
missing and we may), writes a configuration of its own into a temporary
directory, registers users, starts the server in the foreground and stops it
afterwards. Nothing outside the temporary directory is read or changed, apart
from the package installation: the system's ``/etc/prosody`` is never used.

The server listens on 127.0.0.1 only, for client-to-server streams only, and
requires STARTTLS with a certificate from a throwaway CA (``ca_file``).
``authentication = "internal_hashed"`` makes it offer SCRAM-SHA-1 and PLAIN,
both only after TLS.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import trustme

__all__ = [
    "DEFAULT_USERS",
    "NO_INSTALL_VARIABLE",
    "ProsodyInstance",
    "ProsodyUnavailable",
    "ensure_prosody",
    "install_notice",
    "prosody_server",
    "prosody_shell",
]

DEFAULT_USERS: Mapping[str, str] = {"alice": "alice-secret-1", "bob": "bob-secret-2"}

_APT_ENV = {
    "DEBIAN_FRONTEND": "noninteractive",
    "NEEDRESTART_MODE": "a",
}
# Another apt or dpkg (unattended upgrades on a fresh CI machine, a parallel
# test run) may hold the locks for a while: wait for them instead of failing.
_APT_OPTIONS = ("-o", "DPkg::Lock::Timeout=300", "-o", "Acquire::Retries=3")
_INSTALL_LOCK = Path(tempfile.gettempdir()) / "xmppwire-prosody-install.lock"
_SEARCH_PATH = os.pathsep.join(
    [os.environ.get("PATH", ""), "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"]
)


#: Set to 1 and Prosody is never installed: the tests that need it skip instead
#: (or fail, under XMPPWIRE_REQUIRE_INTEROP=1).
NO_INSTALL_VARIABLE = "XMPPWIRE_NO_APT_INSTALL"


class ProsodyUnavailable(Exception):
    """Prosody is not installed and can't be installed here."""


@dataclass(frozen=True)
class ProsodyInstance:
    """A running server and what a client needs to reach it."""

    host: str
    port: int
    #: The XMPP domain (the VirtualHost) the users live on.
    domain: str
    #: ``{localpart: password}``.
    users: Mapping[str, str]
    #: PEM file of the CA that signed the server's certificate.
    ca_file: Path
    directory: Path
    config_file: Path
    log_file: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def jid(self, user: str) -> str:
        return f"{user}@{self.domain}"

    def log_tail(self, lines: int = 80) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])


def _which(name: str) -> str | None:
    return shutil.which(name, path=_SEARCH_PATH)


def _run(argv: list[str], *, timeout: float, env: Mapping[str, str] | None = None) -> str:
    """Run a command; raise with its whole output when it fails or hangs."""
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = (exc.output or b"").decode(errors="replace")
        raise RuntimeError(f"{' '.join(argv)} took more than {timeout} s:\n{output}") from None
    output = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {done.returncode}:\n{output}")
    return output


def _have_package_lists() -> bool:
    lists = Path("/var/lib/apt/lists")
    return lists.is_dir() and any(lists.glob("*_Packages*"))


def _opted_out() -> bool:
    return os.environ.get(NO_INSTALL_VARIABLE) == "1"


def install_notice(*, found: str | None, root: bool, have_apt: bool, opted_out: bool) -> str:
    """The line the test run prints about Prosody, before anything is installed."""
    if found:
        return f"prosody: {found}"
    if opted_out:
        return f"prosody: not installed; {NO_INSTALL_VARIABLE}=1, so the interop tests skip"
    if not (root and have_apt):
        return "prosody: not installed, and installing needs root and apt-get: interop tests skip"
    return (
        "prosody: not installed; the interop tests install Debian's package now with "
        f"apt-get (as root). To skip them instead: {NO_INSTALL_VARIABLE}=1"
    )


def install_notice_here() -> str:
    """``install_notice()`` for this machine and environment."""
    return install_notice(
        found=_which("prosody"),
        root=os.geteuid() == 0,
        have_apt=_which("apt-get") is not None,
        opted_out=_opted_out(),
    )


def _apt_install() -> None:
    apt_get = _which("apt-get")
    if _opted_out():
        raise ProsodyUnavailable(f"prosody is not installed and {NO_INSTALL_VARIABLE}=1")
    if apt_get is None:
        raise ProsodyUnavailable("prosody is not installed and there is no apt-get")
    if os.geteuid() != 0:
        raise ProsodyUnavailable("prosody is not installed and installing it needs root")
    install = [apt_get, *_APT_OPTIONS, "install", "-y", "--no-install-recommends", "prosody"]
    update = [apt_get, *_APT_OPTIONS, "update"]
    # A fresh machine has no package lists; otherwise try the lists we have
    # first and update (once) only when they turn out stale.
    updated = False
    if not _have_package_lists():
        _run(update, timeout=300, env=_APT_ENV)
        updated = True
    try:
        _run(install, timeout=600, env=_APT_ENV)
    except RuntimeError:
        if updated:
            raise
        _run(update, timeout=300, env=_APT_ENV)
        _run(install, timeout=600, env=_APT_ENV)


def ensure_prosody() -> tuple[str, str]:
    """The paths of ``prosody`` and ``prosodyctl``, installing them if needed.

    Raises ``ProsodyUnavailable`` when they are missing and can't be installed
    here: no apt-get, not root, ``XMPPWIRE_NO_APT_INSTALL=1``, or apt-get failing
    (its output is in the message). The test run's header says which, up front.
    """
    prosody, prosodyctl = _which("prosody"), _which("prosodyctl")
    if prosody and prosodyctl:
        return prosody, prosodyctl
    # Concurrent test processes must not run apt-get side by side.
    with open(_INSTALL_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        prosody, prosodyctl = _which("prosody"), _which("prosodyctl")
        if not (prosody and prosodyctl):
            try:
                _apt_install()
            except RuntimeError as exc:
                raise ProsodyUnavailable(f"installing prosody failed: {exc}") from None
            prosody, prosodyctl = _which("prosody"), _which("prosodyctl")
    if not (prosody and prosodyctl):
        raise RuntimeError("apt-get installed prosody, but prosody/prosodyctl are not on PATH")
    return prosody, prosodyctl


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _lua_string(value: str | Path) -> str:
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_MODULES = ("roster", "saslauth", "tls", "disco", "ping")


def _write_config(
    directory: Path,
    *,
    host: str,
    port: int,
    domain: str,
    key: Path,
    cert: Path,
    log: Path,
    modules: Sequence[str] = (),
    options: Sequence[str] = (),
) -> Path:
    ssl = f"{{ key = {_lua_string(key)}; certificate = {_lua_string(cert)}; }}"
    lines = [
        "-- Generated for one test run; the system configuration is not read.",
        f"data_path = {_lua_string(directory / 'data')}",
        f"certificates = {_lua_string(key.parent)}",
        # Prosody refuses to run as root unless told it may (CI containers run as root).
        f"run_as_root = {'true' if os.geteuid() == 0 else 'false'}",
        f"interfaces = {{ {_lua_string(host)} }}",
        f"c2s_ports = {{ {port} }}",
        "c2s_direct_tls_ports = { }",
        "s2s_ports = { }",
        "http_ports = { }",
        "https_ports = { }",
        'modules_disabled = { "s2s" }',
        "modules_enabled = { " + "; ".join(_lua_string(m) for m in (*_MODULES, *modules)) + " }",
        "c2s_require_encryption = true",
        "allow_registration = false",
        'authentication = "internal_hashed"',
        'storage = "internal"',
        # With Nagle on, the features after STARTTLS arrive ~45 ms late.
        "network_settings = { nagle = false }",
        f"log = {{ debug = {_lua_string(log)} }}",
        f"ssl = {ssl}",
        *options,
        f"VirtualHost {_lua_string(domain)}",
        f"    ssl = {ssl}",
        "",
    ]
    config = directory / "prosody.cfg.lua"
    config.write_text("\n".join(lines))
    return config


class _PortTaken(RuntimeError):
    pass


def _wait_until_listening(
    process: subprocess.Popen[bytes], host: str, port: int, log: Path, *, timeout: float
) -> None:
    """Wait until Prosody listens on the port; a port in use is ``_PortTaken``.

    Prosody keeps running when it can't bind, so an accepted connection alone
    proves nothing (whoever took the port accepts it): its log says which.
    """
    deadline = time.monotonic() + timeout
    activated = f"on [{host}]:{port}"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"prosody exited with {process.returncode} before listening")
        try:
            text = log.read_text(errors="replace")
        except OSError:
            text = ""
        if f"Failed to open server port {port}" in text:
            raise _PortTaken(f"port {port} on {host} is in use")
        if activated in text:
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"prosody did not listen on {host}:{port} in {timeout} s")
        time.sleep(0.02)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextlib.contextmanager
def prosody_server(
    users: Mapping[str, str] = DEFAULT_USERS,
    *,
    domain: str = "localhost",
    host: str = "127.0.0.1",
    start_timeout: float = 15.0,
    modules: Sequence[str] = (),
    options: Sequence[str] = (),
) -> Iterator[ProsodyInstance]:
    """Run a Prosody of our own for the duration of the ``with`` block.

    ``modules`` are enabled on top of the usual ones (``"admin_shell"`` makes
    :func:`prosody_shell` work); ``options`` are extra global Lua lines of the
    configuration (``"c2s_stanza_size_limit = 10000"``).

    Raises ``ProsodyUnavailable`` when Prosody can't be found or installed, and
    ``RuntimeError`` (with Prosody's log) when it is there but does not start.
    """
    prosody, prosodyctl = ensure_prosody()
    with tempfile.TemporaryDirectory(prefix="xmppwire-prosody-") as tmp:
        directory = Path(tmp)
        (directory / "data").mkdir(mode=0o750)
        ca = trustme.CA()
        server_cert = ca.issue_cert(domain, host)
        ca_file = directory / "ca.pem"
        certs = directory / "certs"
        certs.mkdir()
        key_file = certs / f"{domain}.key"
        cert_file = certs / f"{domain}.crt"
        ca.cert_pem.write_to_path(str(ca_file))
        server_cert.private_key_pem.write_to_path(str(key_file))
        server_cert.cert_chain_pems[0].write_to_path(str(cert_file))
        for extra in server_cert.cert_chain_pems[1:]:
            extra.write_to_path(str(cert_file), append=True)
        key_file.chmod(0o600)
        log_file = directory / "prosody.log"
        config = _write_config(
            directory,
            host=host,
            port=0,
            domain=domain,
            key=key_file,
            cert=cert_file,
            log=log_file,
            modules=modules,
            options=options,
        )
        for user, password in users.items():
            _run(
                [prosodyctl, "--config", str(config), "register", user, domain, password],
                timeout=60,
            )
        output_file = directory / "prosody.out"
        # The free port is found before Prosody binds it, so another process
        # may take it in between: try again on another port.
        for attempt in range(3):
            port = _free_port(host)
            config = _write_config(
                directory,
                host=host,
                port=port,
                domain=domain,
                key=key_file,
                cert=cert_file,
                log=log_file,
                modules=modules,
                options=options,
            )
            with open(output_file, "wb") as output:
                process = subprocess.Popen(
                    [prosody, "--config", str(config), "-F"],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    cwd=directory,
                    start_new_session=True,
                )
            instance = ProsodyInstance(
                host=host,
                port=port,
                domain=domain,
                users=dict(users),
                ca_file=ca_file,
                directory=directory,
                config_file=config,
                log_file=log_file,
                process=process,
            )
            try:
                _wait_until_listening(process, host, port, log_file, timeout=start_timeout)
                break
            except RuntimeError as exc:
                _stop(process)
                if attempt < 2 and isinstance(exc, _PortTaken):
                    log_file.unlink(missing_ok=True)
                    continue
                console = output_file.read_text(errors="replace")
                raise RuntimeError(
                    f"{exc}\n--- prosody output ---\n{console}\n"
                    f"--- {log_file} ---\n{instance.log_tail()}"
                ) from None
        try:
            yield instance
        finally:
            _stop(process)


def prosody_shell(instance: ProsodyInstance, command: str, *, timeout: float = 30.0) -> str:
    """Run one admin shell command (``c2s:close('user@host')``...) on a running server.

    The server needs ``modules=("admin_shell",)``; the command goes through
    ``prosodyctl shell`` and the server's admin socket in its data directory.
    """
    _, prosodyctl = ensure_prosody()
    return _run(
        [prosodyctl, "--config", str(instance.config_file), "shell", command], timeout=timeout
    )
