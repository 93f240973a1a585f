"""The node's settings: environment variables and their flags, read in one place.

Owns the mapping from `GOSSIP_*` variables (and the seed's `-p`/`-b` flags) to typed values
and the protocol `Config`. It reads from an explicit mapping, never from `os.environ`
itself, so tests pass their own. A bad value raises SettingsError naming the variable and
the value (or, given as a flag, the flag the user typed); the node then stops at start with
that message. `--help` shows each flag's default, computed from `from_env({})`.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import ipaddress
import random
import re
import socket
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.core import Config, ConfigError, parse_address
from node.core.auth import Keyring
from node.core.peers import NetworkFilter
from node.faults import Faults
from node.names import Lookup, check_name, default_name

__all__ = [
    "Settings", "SettingsError", "VARIABLES", "defaults", "from_env", "load_movies",
    "parse_args", "unknown_variables",
]  # fmt: skip

BUNDLED_MOVIES = Path(__file__).resolve().parent / "movies.txt"


class SettingsError(ValueError):
    """A setting has a value the node cannot use; the message names the variable."""

    @property
    def variable(self) -> str | None:
        """The variable the message opens with."""
        m = re.match(r"GOSSIP_[A-Z0-9_]+", str(self))
        return m.group(0) if m else None


@dataclass(frozen=True)
class Settings:
    port: int = 7000
    #: Address to listen on. Loopback by default, so a local node is not open to the
    #: network; the Docker image sets 0.0.0.0.
    host: str = "127.0.0.1"
    bootstrap: str | None = None
    advertise: str = "127.0.0.1:7000"
    #: Display name for people (logs, metrics, the page); never on the wire as an id.
    #: Empty: derived from `advertise` without DNS (`:7000` on loopback, else the address);
    #: `from_env` fills it in, with a reverse lookup (node.names).
    name: str = ""
    movies: Path = BUNDLED_MOVIES
    log_format: str = "json"
    log_level: str = "info"
    seed: int | None = None
    #: Seconds before a request to a peer is given up (connect, send and reply together).
    request_timeout_s: float = 2.0
    #: Largest request body accepted, bytes.
    max_body_bytes: int = 1 << 20
    #: Token that state-changing admin endpoints require; None leaves them open on loopback
    #: nodes and closed elsewhere (docs/security.md).
    admin_token: str | None = None
    #: Shared keys for authenticated gossip; None: gossip is not authenticated.
    keys: Keyring | None = None
    #: Requests per second accepted from one client before 429 (0: no limit).
    rate_limit: float = 1000.0
    #: Faults the transport injects from the start (see node.faults).
    faults: Faults = field(default_factory=Faults)
    config: Config = field(default_factory=Config)

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", default_name(self.advertise, None))

    def rng(self) -> random.Random:
        """The node's random source. A seed is mixed with the node's own address, so that
        nodes started with the same GOSSIP_SEED still make different choices (and message
        UUIDs), yet each node's run repeats exactly."""
        return random.Random(None if self.seed is None else f"{self.seed}/{self.advertise}")


# variable -> (flag, help). The order is docs/configuration.md's table.
VARIABLES: dict[str, tuple[str, str]] = {
    "GOSSIP_PORT": ("--port", "listen port (-p)"),
    "GOSSIP_BOOTSTRAP": ("--bootstrap", "host:port (or bare port) of a node to join (-b)"),
    "GOSSIP_ADVERTISE": ("--advertise", "host:port other nodes use for this one"),
    "GOSSIP_NAME": (
        "--name",
        "display name for logs, metrics and the page (default: the container's DNS name "
        "by reverse lookup, or :PORT locally)",
    ),
    "GOSSIP_HOST": ("--host", "address to listen on"),
    "GOSSIP_MOVIES": ("--movies", "file of movies, one a line"),
    "GOSSIP_RESAMPLE_SECONDS": ("--resample-seconds", "mean seconds between new favourites"),
    "GOSSIP_FANOUT": ("--fanout", "peers per push"),
    "GOSSIP_TTL": ("--ttl", "hops a message may travel"),
    "GOSSIP_MAX_TTL": ("--max-ttl", "largest TTL obeyed; higher ones are clamped"),
    "GOSSIP_SYNC_SECONDS": ("--sync-seconds", "anti-entropy period"),
    "GOSSIP_PUSH_INTERVAL_SECONDS": (
        "--push-interval-seconds",
        "batch pushes this often (0: at once)",
    ),
    "GOSSIP_LOG_FORMAT": ("--log-format", "json or console"),
    "GOSSIP_LOG_LEVEL": ("--log-level", "debug, info, warning or error"),
    "GOSSIP_SEED": ("--seed", "seed of the node's random source"),
    "GOSSIP_REQUEST_TIMEOUT_SECONDS": (
        "--request-timeout-seconds",
        "timeout of a request to a peer",
    ),
    "GOSSIP_ADMIN_TOKEN": ("--admin-token", "token required by state-changing endpoints"),
    "GOSSIP_KEYS": ("--keys", "comma-separated shared keys: the first signs, all verify"),
    "GOSSIP_AUTH_WINDOW_SECONDS": ("--auth-window-seconds", "signatures older are replays"),
    "GOSSIP_RATE_LIMIT": ("--rate-limit", "requests per second per client before 429 (0: off)"),
    "GOSSIP_PEER_NETWORKS": (
        "--peer-networks",
        "CIDRs peers' addresses must lie in: 'auto' (loopback and this host's own networks), "
        "'any', or a comma-separated list (may include auto)",
    ),
    "GOSSIP_FAULT_DROP": ("--fault-drop", "probability of dropping an outgoing request"),
    "GOSSIP_FAULT_DUPLICATE": ("--fault-duplicate", "probability of sending a request twice"),
    "GOSSIP_FAULT_DELAY_MS": ("--fault-delay-ms", "delay added to every outgoing request"),
    "GOSSIP_FAULT_JITTER_MS": ("--fault-jitter-ms", "random extra delay, up to this"),
    "GOSSIP_FAULT_BLOCK": ("--fault-block", "host:port list this node can neither reach nor hear"),
}

LOG_LEVELS = ("debug", "info", "warning", "error")
# never echoed back in an error message
_SECRETS = frozenset({"GOSSIP_KEYS", "GOSSIP_ADMIN_TOKEN"})


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("not a whole number") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError("not a number") from None


# variable -> Config field, for the protocol's knobs
_KNOB_VARS: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    ("GOSSIP_RESAMPLE_SECONDS", "resample_s", _number),
    ("GOSSIP_FANOUT", "fanout", _whole),
    ("GOSSIP_TTL", "ttl", _whole),
    ("GOSSIP_MAX_TTL", "max_ttl", _whole),
    ("GOSSIP_SYNC_SECONDS", "sync_s", _number),
    ("GOSSIP_PUSH_INTERVAL_SECONDS", "push_interval_s", _number),
)

#: What a flag's value is, in `--help` (VALUE where not named here).
METAVARS: dict[str, str] = {
    "GOSSIP_PORT": "PORT",
    "GOSSIP_BOOTSTRAP": "HOST:PORT",
    "GOSSIP_ADVERTISE": "HOST:PORT",
    "GOSSIP_HOST": "ADDRESS",
    "GOSSIP_MOVIES": "FILE",
    "GOSSIP_FANOUT": "N",
    "GOSSIP_TTL": "HOPS",
    "GOSSIP_MAX_TTL": "HOPS",
    "GOSSIP_LOG_FORMAT": "FORMAT",
    "GOSSIP_LOG_LEVEL": "LEVEL",
    "GOSSIP_SEED": "N",
    "GOSSIP_ADMIN_TOKEN": "TOKEN",
    "GOSSIP_KEYS": "KEY,...",
    "GOSSIP_RATE_LIMIT": "PER_S",
    "GOSSIP_FAULT_DROP": "P",
    "GOSSIP_FAULT_DUPLICATE": "P",
    "GOSSIP_FAULT_DELAY_MS": "MS",
    "GOSSIP_FAULT_JITTER_MS": "MS",
    "GOSSIP_FAULT_BLOCK": "HOST:PORT,...",
    "GOSSIP_NAME": "NAME",
    "GOSSIP_PEER_NETWORKS": "CIDR,...",
}
#: `GOSSIP_*` variables that the lab's tools and tests read, not the node: no warning.
OTHER_VARIABLES = frozenset(
    {"GOSSIP_LAB_TAG", "GOSSIP_REQUIRE_DOCKER", "GOSSIP_REQUIRE_BROWSER", "GOSSIP_CHROMIUM"}
)
#: Seconds a signature stays valid when GOSSIP_AUTH_WINDOW_SECONDS is not set.
AUTH_WINDOW_S = 30.0


def from_env(environ: Mapping[str, str], *, lookup: Lookup | None = None) -> Settings:
    """Settings from `GOSSIP_*` variables in `environ`; unset or empty means the default.
    Without GOSSIP_NAME, a non-loopback node's name comes from `lookup` (reverse DNS by
    default; node.names)."""
    env = {k: v.strip() for k, v in environ.items() if k in VARIABLES and v.strip()}
    port = _get(env, "GOSSIP_PORT", _port, 7000)
    host = env.get("GOSSIP_HOST", "127.0.0.1")
    advertise = _get(env, "GOSSIP_ADVERTISE", parse_address, None) or _auto_advertise(host, port)
    name = _get(env, "GOSSIP_NAME", check_name, None)
    if name is None:
        name = default_name(advertise) if lookup is None else default_name(advertise, lookup)
    bootstrap = _get(env, "GOSSIP_BOOTSTRAP", parse_address, None)
    if bootstrap in (advertise, f"127.0.0.1:{port}", f"localhost:{port}"):
        bootstrap = None  # `-p 7000 -b 7000`: the first node
    movies = Path(env.get("GOSSIP_MOVIES", str(BUNDLED_MOVIES)))
    log_format = _choice(env, "GOSSIP_LOG_FORMAT", ("json", "console"), "json")
    log_level = _choice(env, "GOSSIP_LOG_LEVEL", LOG_LEVELS, "info")
    seed = _get(env, "GOSSIP_SEED", _whole, None)
    timeout = _get(env, "GOSSIP_REQUEST_TIMEOUT_SECONDS", _positive, 2.0)
    knobs: dict[str, Any] = {}
    for var, knob, kind in _KNOB_VARS:
        if var in env:
            knobs[knob] = _get(env, var, kind, None)
    knobs["peer_networks"] = _get(
        env, "GOSSIP_PEER_NETWORKS", lambda t: _peer_networks(t, advertise), None
    )
    if knobs["peer_networks"] is None:
        knobs["peer_networks"] = _peer_networks("auto", advertise)
    if "ttl" in knobs and "max_ttl" not in knobs:
        knobs["max_ttl"] = max(Config().max_ttl, knobs["ttl"])
    try:
        config = Config(**knobs)
    except ConfigError as e:
        knob = str(e).replace("=", " ").split()[0]
        var = next((v for v, k, _ in _KNOB_VARS if k == knob), "GOSSIP_*")
        raise SettingsError(f"{var}: {e}") from None
    window = _get(env, "GOSSIP_AUTH_WINDOW_SECONDS", _positive, AUTH_WINDOW_S)
    keys = _get(env, "GOSSIP_KEYS", lambda t: Keyring.parse(t, window), None)
    rate_limit = _get(env, "GOSSIP_RATE_LIMIT", _non_negative, 1000.0)
    return Settings(
        port=port,
        host=host,
        bootstrap=bootstrap,
        advertise=advertise,
        name=name,
        movies=movies,
        log_format=log_format,
        log_level=log_level,
        seed=seed,
        request_timeout_s=timeout,
        admin_token=env.get("GOSSIP_ADMIN_TOKEN"),
        keys=keys,
        rate_limit=rate_limit,
        faults=_faults(env),
        config=config,
    )


def parse_args(
    argv: Sequence[str], environ: Mapping[str, str], prog: str = "python -m node"
) -> Settings:
    """Settings from flags, each overriding its environment variable."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="A gossip node: learns every other node's favourite movie. Every flag "
        "has an environment variable (shown in brackets); flags win.",
    )
    shown = defaults()
    for var, (flag, help_text) in VARIABLES.items():
        short = {"--port": ["-p"], "--bootstrap": ["-b"]}.get(flag, [])
        default = f" (default: {shown[var]})" if var in shown else ""
        parser.add_argument(
            *short,
            flag,
            dest=var,
            action=_Flag,
            metavar=METAVARS.get(var, "SECONDS" if var.endswith("_SECONDS") else "VALUE"),
            help=f"{help_text}{default} [{var}]",
        )
    ns = parser.parse_args(list(argv), namespace=argparse.Namespace(typed_flags={}))
    typed: dict[str, str] = ns.typed_flags
    merged = dict(environ)
    merged.update({k: str(v) for k, v in vars(ns).items() if k in VARIABLES and v is not None})
    try:
        settings = from_env(merged)
        if "GOSSIP_MOVIES" in typed:
            load_movies(settings.movies)  # so a bad --movies is named as the flag too
    except SettingsError as e:
        name = e.variable
        if name is None or name not in typed:
            raise
        rest = str(e)[len(name) :]
        raise SettingsError(
            typed[name] + (" " + rest[1:] if rest.startswith("=") else rest)
        ) from None
    return settings


class _Flag(argparse.Action):
    """Stores a flag's value and which of its spellings the user typed (`-p`, `--port`, an
    abbreviation), so that an error names the flag rather than its variable."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        namespace.typed_flags[self.dest] = option_string or self.dest


def defaults() -> dict[str, str]:
    """Each variable's default as `--help` and docs/configuration.md show it: what
    `from_env({})` gives, in words where the default is "nothing" or worked out at start."""
    s = from_env({})
    values: dict[str, object] = {
        "GOSSIP_PORT": s.port,
        "GOSSIP_BOOTSTRAP": s.bootstrap or "empty",
        "GOSSIP_ADVERTISE": "auto",
        "GOSSIP_HOST": s.host,
        "GOSSIP_MOVIES": f"bundled {s.movies.name}",
        "GOSSIP_RESAMPLE_SECONDS": s.config.resample_s,
        "GOSSIP_FANOUT": s.config.fanout,
        "GOSSIP_TTL": s.config.ttl,
        "GOSSIP_MAX_TTL": s.config.max_ttl,
        "GOSSIP_SYNC_SECONDS": s.config.sync_s,
        "GOSSIP_PUSH_INTERVAL_SECONDS": s.config.push_interval_s,
        "GOSSIP_LOG_FORMAT": s.log_format,
        "GOSSIP_LOG_LEVEL": s.log_level,
        "GOSSIP_SEED": "random" if s.seed is None else s.seed,
        "GOSSIP_REQUEST_TIMEOUT_SECONDS": s.request_timeout_s,
        "GOSSIP_ADMIN_TOKEN": s.admin_token or "none",
        "GOSSIP_KEYS": "none" if s.keys is None else "set",
        "GOSSIP_AUTH_WINDOW_SECONDS": AUTH_WINDOW_S,
        "GOSSIP_RATE_LIMIT": s.rate_limit,
        "GOSSIP_FAULT_DROP": s.faults.drop,
        "GOSSIP_FAULT_DUPLICATE": s.faults.duplicate,
        "GOSSIP_FAULT_DELAY_MS": s.faults.delay_s * 1000,
        "GOSSIP_FAULT_JITTER_MS": s.faults.jitter_s * 1000,
        "GOSSIP_FAULT_BLOCK": ",".join(sorted(s.faults.blocked)) or "none",
        "GOSSIP_NAME": "auto",
        "GOSSIP_PEER_NETWORKS": "auto",
    }
    return {
        var: f"{v:g}" if isinstance(v, float) else str(v)
        for var, v in values.items()
        if var in VARIABLES
    }


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for each `GOSSIP_*` variable in `environ` that no setting reads (a typo the
    node would otherwise ignore in silence), with the closest real name."""
    warnings = []
    for name in sorted(environ):
        if name.startswith("GOSSIP_") and name not in VARIABLES and name not in OTHER_VARIABLES:
            # compared without the shared GOSSIP_ prefix, which would make anything "close"
            known = [v[7:] for v in VARIABLES]
            close = difflib.get_close_matches(name[7:], known, 1, 0.7)
            close = close or [v for v in known if v.startswith(name[7:] + "_")][:1]
            hint = f" (did you mean GOSSIP_{close[0]}?)" if close else ""
            warnings.append(f"{name} is not a setting{hint}; ignored")
    return warnings


def load_movies(path: Path) -> tuple[str, ...]:
    """The movie titles in `path`, one a line; raises SettingsError if none can be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsError(f"GOSSIP_MOVIES: cannot read {path}: {e}") from None
    movies = tuple(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
    if not movies:
        raise SettingsError(f"GOSSIP_MOVIES: {path} holds no movie titles")
    return movies


def _get(env: Mapping[str, str], var: str, convert: Callable[[str], Any], default: Any) -> Any:
    if var not in env:
        return default
    try:
        return convert(env[var])
    except ValueError as e:
        shown = "<hidden>" if var in _SECRETS else repr(env[var])
        raise SettingsError(f"{var}={shown}: {e}") from None


def _choice(env: Mapping[str, str], var: str, allowed: tuple[str, ...], default: str) -> str:
    value = env.get(var, default).lower()
    if value not in allowed:
        raise SettingsError(f"{var}={env[var]!r}: must be one of {', '.join(allowed)}")
    return value


def _port(text: str) -> int:
    port = _whole(text)
    if not 0 < port < 65536:
        raise ValueError("not a port (1-65535)")
    return port


def _faults(env: Mapping[str, str]) -> Faults:
    blocked = _get(
        env,
        "GOSSIP_FAULT_BLOCK",
        lambda t: frozenset(parse_address(p) for p in t.split(",") if p.strip()),
        frozenset(),
    )
    names = {
        "drop": "GOSSIP_FAULT_DROP",
        "duplicate": "GOSSIP_FAULT_DUPLICATE",
        "delay_s": "GOSSIP_FAULT_DELAY_MS",
        "jitter_s": "GOSSIP_FAULT_JITTER_MS",
    }
    values = {name: _get(env, var, _number, 0.0) for name, var in names.items()}
    values["delay_s"] /= 1000
    values["jitter_s"] /= 1000
    try:
        return Faults(blocked=blocked, **values)
    except ValueError as e:
        raise SettingsError(f"{names.get(str(e).split()[0], 'GOSSIP_FAULT_*')}: {e}") from None


def _peer_networks(text: str, advertise: str) -> tuple[str, ...]:
    """GOSSIP_PEER_NETWORKS: 'any' (an empty tuple: no filter), or CIDRs and 'auto'."""
    words = [w.strip().lower() for w in text.split(",") if w.strip()]
    if words == ["any"]:
        return ()
    networks: dict[str, None] = {}
    for word in words:
        if word == "auto":
            networks.update(dict.fromkeys(own_networks(advertise)))
            continue
        try:
            networks[str(ipaddress.ip_network(word, strict=False))] = None
        except ValueError:
            raise ValueError(f"{word!r} is not a network (CIDR), 'auto' or 'any'") from None
    if not networks:
        raise ValueError("no networks given (use 'any' to allow every address)")
    return tuple(networks)


def own_networks(advertise: str, route_table: Path = Path("/proc/net/route")) -> list[str]:
    """Loopback and the networks this host is directly on: in Docker, the lab's networks;
    never the default route (the rest of the world). Read from the kernel's IPv4 routing
    table; where it cannot be read, the advertised address's /24 stands in."""
    networks = ["127.0.0.0/8", "::1/128"]
    try:
        rows = route_table.read_text().splitlines()[1:]
    except OSError:
        rows = []
    for row in rows:
        fields = row.split()
        if len(fields) < 8:
            continue
        try:
            dest, mask = int(fields[1], 16), int(fields[7], 16)
        except ValueError:
            continue
        if mask == 0:  # the default route
            continue
        dest_ip = socket.inet_ntoa(struct.pack("<I", dest))
        mask_ip = socket.inet_ntoa(struct.pack("<I", mask))
        networks.append(str(ipaddress.ip_network(f"{dest_ip}/{mask_ip}", strict=False)))
    host = advertise.rpartition(":")[0].strip("[]")
    with contextlib.suppress(ValueError):  # (a DNS name: nothing to add)
        ip = ipaddress.ip_address(host)
        if not NetworkFilter(networks).allows(advertise):
            prefix = 24 if ip.version == 4 else 64
            networks.append(str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False)))
    return list(dict.fromkeys(networks))


def _non_negative(text: str) -> float:
    value = _number(text)
    if not 0 <= value < float("inf"):
        raise ValueError("must be a number >= 0")
    return value


def _positive(text: str) -> float:
    value = _number(text)
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a positive number")
    return value


def _auto_advertise(host: str, port: int) -> str:
    """Loopback for a loopback listener; otherwise this host's own address (in Docker, the
    container's IP on its network)."""
    if host not in ("0.0.0.0", "::", ""):
        return f"{host}:{port}"
    try:
        ip = socket.gethostbyname(socket.gethostname())
    except OSError:
        ip = "127.0.0.1"
    if ip.startswith("127."):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect(("10.255.255.255", 1))  # no packet is sent: picks the route's source
                ip = s.getsockname()[0]
        except OSError:
            pass
    return f"{ip}:{port}"
