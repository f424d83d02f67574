"""A real PostgreSQL server in a temporary directory, listening on 127.0.0.1 only.

- `find_postgres_bin()` looks for `initdb` and `pg_ctl` in /usr/lib/postgresql/*/bin (Debian's
  layout), preferring PostgreSQL 15;
- `ensure_postgres_installed()` installs Debian's `postgresql` with apt-get when they are
  missing (a fresh machine), and raises `PostgresUnavailable` (the tests skip) only when
  there is no apt-get to do it with;
- `running_postgres()` runs `initdb` in a fresh temporary directory, starts the cluster with
  `pg_ctl` on a free port of 127.0.0.1 (its Unix socket in that directory, not /run), creates
  a user with a password and a database owned by it, and stops the server with
  `pg_ctl stop -m fast` on the way out.

PostgreSQL refuses to run as root: as root, the cluster belongs to the system user `postgres`
(created when missing) and the server commands run through `runuser`. The directory is
made with `tempfile.mkdtemp` in /tmp because pytest's own temporary root is private to
root (mode 0700) and the `postgres` user could not reach a cluster inside it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
WANTED_MAJOR = 15
SERVER_USER = "postgres"
ADMIN = "sg_admin"
APT_TIMEOUT = 1800  # a fresh machine downloads the server and its dependencies
START_TIMEOUT = 60


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is missing and cannot be installed here (no apt-get): tests skip."""


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_postgres_bin(root: Path = PG_ROOT) -> Path | None:
    """The bin folder holding initdb and pg_ctl: PostgreSQL 15's if present, else the newest."""
    found: dict[int, Path] = {}
    for bin_dir in root.glob("*/bin"):
        if (bin_dir / "initdb").is_file() and (bin_dir / "pg_ctl").is_file():
            with contextlib.suppress(ValueError):
                found[int(bin_dir.parent.name)] = bin_dir
    if not found:
        return None
    return found.get(WANTED_MAJOR) or found[max(found)]


def ensure_postgres_installed(root: Path = PG_ROOT) -> Path:
    """initdb/pg_ctl's folder, installing Debian's `postgresql` first when they are missing."""
    bin_dir = find_postgres_bin(root)
    if bin_dir is not None:
        return bin_dir
    apt = shutil.which("apt-get")
    if apt is None:
        raise PostgresUnavailable(
            f"PostgreSQL is not installed (no initdb/pg_ctl in {root}/*/bin) and this "
            "machine has no apt-get to install Debian's `postgresql` with"
        )
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        can_sudo = sudo is not None and _quiet([sudo, "-n", "true"]) == 0
        if not can_sudo:
            raise PostgresUnavailable(
                "PostgreSQL is not installed and apt-get needs root: run the tests as root "
                "or with passwordless sudo, or `apt-get install postgresql` beforehand"
            )
        prefix = [str(sudo), "-n", "env", "DEBIAN_FRONTEND=noninteractive"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait_for_lock = ["-o", "DPkg::Lock::Timeout=600"]
    for args in (["update"], ["install", "-y", "--no-install-recommends", "postgresql"]):
        cmd = [*prefix, apt, "-q", *wait_for_lock, *args]
        done = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(
                f"`{shlex.join(cmd)}` failed with exit code {done.returncode}:\n"
                f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            )
    bin_dir = find_postgres_bin(root)
    if bin_dir is None:
        raise RuntimeError(f"apt-get installed postgresql, but {root}/*/bin has no initdb/pg_ctl")
    return bin_dir


def _quiet(cmd: list[str]) -> int:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode
    except (OSError, subprocess.TimeoutExpired):
        return 1


def server_user() -> str | None:
    """The user the server runs as: None (this one) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             SERVER_USER],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    return SERVER_USER


def _as(user: str | None, cmd: list[str]) -> list[str]:
    if user is None:
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--", *cmd]
    return ["su", "-s", "/bin/sh", user, "-c", shlex.join(cmd)]


def _run(
    cmd: list[str], user: str | None, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        _as(user, [str(c) for c in cmd]), capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL, cwd=cwd,
    )  # fmt: skip


@dataclass(frozen=True)
class PostgresServer:
    port: int
    user: str
    password: str
    database: str
    admin_password: str
    root: Path
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the server's own database, as the application user."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        return (
            f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{database}"
        )

    def connect(self, database: str | None = None, admin: bool = False):
        """A plain psycopg connection (autocommit), to look at what the application stored."""
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, dbname=database or self.database,
            user=ADMIN if admin else self.user,
            password=self.admin_password if admin else self.password,
            autocommit=True, connect_timeout=10,
        )  # fmt: skip

    def create_database(self) -> str:
        """A fresh, empty database owned by the application user (one per test)."""
        from psycopg import sql

        name = f"t_{uuid.uuid4().hex[:16]}"
        with self.connect("postgres", admin=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(self.user)
                )
            )
        return name

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with self.connect("postgres", admin=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def running_postgres(bin_dir: Path) -> Iterator[PostgresServer]:
    """initdb + pg_ctl start on 127.0.0.1:<free port>; a user, a password, a database."""
    user = server_user()
    # short: a Unix socket path must fit in 107 bytes
    root = Path(tempfile.mkdtemp(prefix="sg-pg-"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    try:
        sockets.mkdir()
        admin_password = secrets.token_hex(16)
        pwfile = root / "pwfile"
        pwfile.write_text(admin_password + "\n")
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (root, sockets, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        root.chmod(0o700)
        sockets.chmod(0o700)
        done = _run(
            [bin_dir / "initdb", "-D", data, "-U", ADMIN, f"--pwfile={pwfile}",
             "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8",
             "--locale=C", "--no-sync"],
            user, cwd=root,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        pwfile.unlink()
        port = _start(bin_dir, data, sockets, log, user, root)
        try:
            server = PostgresServer(
                port=port, user="stackguide", password=secrets.token_hex(12),
                database="stackguide", admin_password=admin_password, root=root,
            )  # fmt: skip
            _create_user_and_database(server)
            yield server
        finally:
            _stop(bin_dir, data, user, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _start(
    bin_dir: Path, data: Path, sockets: Path, log: Path, user: str | None, root: Path
) -> int:
    for _attempt in range(3):  # another process may take the free port first
        port = free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} "
            # a throwaway cluster: durability only costs time here
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        done = _run(
            [bin_dir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", str(START_TIMEOUT),
             "-o", options, "start"],
            user, cwd=root, timeout=START_TIMEOUT + 30,
        )  # fmt: skip
        if done.returncode == 0:
            return port
        text = log.read_text(errors="replace") if log.exists() else ""
        if "could not bind" in text or "already in use" in text:
            _stop(bin_dir, data, user, root)
            continue
        raise RuntimeError(
            f"pg_ctl start failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
            f"server log:\n{text[-4000:]}"
        )
    raise RuntimeError("pg_ctl start: no free port could be bound in 3 attempts")


def _create_user_and_database(server: PostgresServer) -> None:
    import psycopg
    from psycopg import sql

    deadline = time.monotonic() + 30
    while True:
        try:
            conn = server.connect("postgres", admin=True)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    with conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(server.user), sql.Literal(server.password)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(server.database), sql.Identifier(server.user)
            )
        )


def _stop(bin_dir: Path, data: Path, user: str | None, root: Path) -> None:
    pidfile = data / "postmaster.pid"
    if not pidfile.exists():
        return
    done = _run([bin_dir / "pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "30", "stop"], user,
                cwd=root, timeout=60)  # fmt: skip
    if done.returncode != 0 and pidfile.exists():
        # the postmaster we started did not stop: end it (by its own pid) the hard way
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGQUIT)
