"""Run the simulated department systems: all in-process for tests and the demo, or one standalone."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from pathlib import Path

import requests
import uvicorn

from simulators.city import load_public_security, url_for_schema
from simulators.servers import civil_affairs, health

SYSTEMS = ("civil_affairs", "health")
DEFAULT_CIVIL_AFFAIRS_TOKEN = "civil-affairs-demo-token"
DEFAULT_HEALTH_API_KEY = "health-demo-key"
SECRET_ENV = {"civil_affairs": ("CITYHUB_CIVIL_AFFAIRS_TOKEN", DEFAULT_CIVIL_AFFAIRS_TOKEN),
              "health": ("CITYHUB_HEALTH_API_KEY", DEFAULT_HEALTH_API_KEY)}


def create_system_app(name: str, city_dir: Path, secret: str, rate_limit_per_second: float | None = None):
    """The FastAPI app of one HTTP system (`civil_affairs` or `health`)."""
    if name == "civil_affairs":
        return civil_affairs.create_app(city_dir, secret, rate_limit_per_second)
    if name == "health":
        return health.create_app(city_dir, secret, rate_limit_per_second)
    raise ValueError(f"unknown system {name!r}; choose one of {SYSTEMS}")


class ThreadedServer:
    """A uvicorn server on an already-bound loopback socket, running in a daemon thread."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.host, self.port = self.socket.getsockname()[:2]
        config = uvicorn.Config(app, log_level="warning", http="h11", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True,
                                       name=f"simulator-{self.port}")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> "ThreadedServer":
        """Start serving and wait until the server accepts requests."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"simulated system on {self.url} did not start")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to finish and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(timeout)
        self.socket.close()


class CitySystems:
    """The four department systems of a generated city, ready for connectors: `with CitySystems(dir) as s: s.env`.

    Civil affairs and health are served over HTTP on free loopback ports; public security is the city's
    SQLite file, or the database at `public_security_url` after the register is loaded into it (into
    `public_security_schema` if given, with the env URL pointing there); housing is the drop folder.
    """

    def __init__(self, city_dir: Path, public_security_url: str | None = None, *, public_security_schema: str | None = None,
                 civil_affairs_token: str | None = None, health_api_key: str | None = None,
                 rate_limit_per_second: float | None = None):
        self.city_dir = Path(city_dir).resolve()
        self.public_security_url = public_security_url
        self.public_security_schema = public_security_schema
        self.civil_affairs_token = civil_affairs_token or secrets.token_urlsafe(16)
        self.health_api_key = health_api_key or secrets.token_urlsafe(16)
        self.rate_limit_per_second = rate_limit_per_second
        self.servers: dict[str, ThreadedServer] = {}
        self.env: dict[str, str] = {}

    def __enter__(self) -> "CitySystems":
        if not (self.city_dir / "city.json").exists():
            raise FileNotFoundError(f"{self.city_dir}: no generated city here (city.json missing); run generate_city first")
        ps_url = f"sqlite:///{self.city_dir / 'public_security.db'}"
        if self.public_security_url:
            load_public_security(self.city_dir, self.public_security_url, self.public_security_schema)
            ps_url = url_for_schema(self.public_security_url, self.public_security_schema)
        try:
            for name, secret in (("civil_affairs", self.civil_affairs_token), ("health", self.health_api_key)):
                app = create_system_app(name, self.city_dir, secret, self.rate_limit_per_second)
                self.servers[name] = ThreadedServer(app).start()
        except BaseException:
            self.stop()
            raise
        self.env = {
            "CITYHUB_PUBLIC_SECURITY_URL": ps_url,
            "CITYHUB_CIVIL_AFFAIRS_URL": self.civil_affairs_url,
            "CITYHUB_CIVIL_AFFAIRS_TOKEN": self.civil_affairs_token,
            "CITYHUB_HEALTH_URL": self.health_url,
            "CITYHUB_HEALTH_API_KEY": self.health_api_key,
            "CITYHUB_HOUSING_DROP": str(self.city_dir / "housing_drop"),
        }
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop every server that was started."""
        for server in self.servers.values():
            server.stop()
        self.servers.clear()

    @property
    def civil_affairs_url(self) -> str:
        return self.servers["civil_affairs"].url

    @property
    def health_url(self) -> str:
        return self.servers["health"].url

    def app(self, system: str):
        """The FastAPI app of a running HTTP system."""
        if system not in self.servers:
            raise ValueError(f"unknown or stopped system {system!r}; HTTP systems are {SYSTEMS}")
        return self.servers[system].app

    def set_faults(self, system: str, **fields) -> None:
        """Set fault fields of one HTTP system (see FaultPlan)."""
        app = self.app(system)
        with app.state.faults_lock:
            app.state.faults.update(fields)

    def reset_faults(self, system: str | None = None) -> None:
        """Clear the faults of one system, or of all."""
        for name in [system] if system else list(self.servers):
            app = self.app(name)
            with app.state.faults_lock:
                app.state.faults.reset(keep_rate_limit=self.rate_limit_per_second)


def serve_system(name: str, city_dir: Path, host: str = "127.0.0.1", port: int = 8000, secret: str | None = None,
                 rate_limit_per_second: float | None = None) -> None:
    """Serve one HTTP system of a generated city until interrupted (blocking).

    The credential is `secret`, else the system's CITYHUB_* environment variable, else a demo default.
    """
    if name not in SECRET_ENV:
        raise ValueError(f"unknown system {name!r}; choose one of {SYSTEMS}")
    variable, default = SECRET_ENV[name]
    secret = secret or os.environ.get(variable) or default
    app = create_system_app(name, Path(city_dir).resolve(), secret, rate_limit_per_second)
    source = "given" if secret != default else f"default; set {variable} to choose one"
    print(f"serving simulated {name} of {city_dir} on http://{host}:{port} (credential {source})", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info", http="h11")


def wait_until_up(url: str, timeout: float = 10.0) -> None:
    """Block until GET url/health answers (for scripts that start a system in another process)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{url}/health", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not come up within {timeout}s")
        time.sleep(0.1)
