"""The node's settings: one declaration per environment variable, read in one place.

Owns the shell's knobs. Each is declared once, in `VARIABLES`: its variable, its flag,
how its text is read, where its value goes (a `Settings` field, a field of the protocol's
`Config`, or of the fault layer's `Faults`) and what it means. Defaults are not declared
there: each is written once, on the field its value goes to (`Settings` below,
`node.core.config.Config`, `node.faults.Faults`), and `--help` and docs/configuration.md
show what `from_env({})` really gives (`defaults()`). `from_env`, `parse_args` (`--help`)
and the table in docs/configuration.md (`configuration_table()`; `python -m node.settings`
rewrites it, tests/unit/test_docs.py checks it) all come from that one declaration.

It reads from an explicit mapping, never from `os.environ` itself, so tests pass their own.
A bad value raises SettingsError naming the variable and the value (or, given as a flag,
the flag the user typed); the node then stops at start with that message.
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
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from node.core import STRATEGIES, Config, ConfigError, parse_address
from node.core.auth import Keyring
from node.core.peers import NetworkFilter
from node.faults import Faults
from node.names import Lookup, check_name, default_name

__all__ = [
    "Knob", "Settings", "SettingsError", "VARIABLES", "configuration_table", "defaults",
    "from_env", "load_movies", "parse_args", "unknown_variables",
]  # fmt: skip

_T = TypeVar("_T")
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
    """One node's shell settings, typed; the protocol's own knobs are `config`. Each field's
    default is the one the node runs with when its variable is not set."""

    #: Port to listen on.
    port: int = 7000
    #: Address to listen on. Loopback by default, so a local node is not open to the
    #: network; the Docker image sets 0.0.0.0.
    host: str = "127.0.0.1"
    #: `host:port` of the node to join; None: this is the first node.
    bootstrap: str | None = None
    #: This node's id, the `host:port` others reach it at. `from_env` works it out from
    #: `host` and `port` when GOSSIP_ADVERTISE is not set.
    advertise: str = "127.0.0.1:7000"
    #: Display name for people (logs, metrics, the page); never on the wire as an id.
    #: Empty: derived from `advertise` without DNS (`:7000` on loopback, else the address);
    #: `from_env` fills it in, with a reverse lookup (node.names).
    name: str = ""
    #: File of movie titles, one a line.
    movies: Path = BUNDLED_MOVIES
    #: Log lines as `json` (for machines) or `console` (for people).
    log_format: str = "json"
    log_level: str = "info"
    #: Seconds log lines are held and then written together (node.logs; 0: each at once).
    log_flush_s: float = 0.5
    #: Seed of the node's random source (mixed with its address); None: a random one.
    seed: int | None = None
    #: Seconds before a request to a peer is given up (connect, send and reply together);
    #: a request's body must arrive within twice this (node.edge).
    request_timeout_s: float = 2.0
    #: Seconds an idle connection stays open on this node's server: before its first
    #: request, between requests, or stuck in its headers (slow-loris). The node's own pooled
    #: connections to peers are released at 80 % of it (node.transport), so that a request
    #: never goes out on a connection the peer is closing. Long, because a node talks to
    #: every peer now and then: at 60 peers, a 10 s idle meant a new TCP connection for
    #: most requests (5 a second a node).
    idle_s: float = 75.0
    #: Largest request body accepted, bytes.
    max_body_bytes: int = 1 << 20
    #: Token that the admin endpoints and `POST /favourite` require. None: the admin
    #: endpoints are off (403) and `POST /favourite` is open (docs/security.md).
    admin_token: str | None = None
    #: Shared keys for authenticated gossip; None: gossip is not authenticated.
    keys: Keyring | None = None
    #: Seconds a signature stays valid either side of now (older ones are replays); also
    #: the window of keys set later through PUT /admin/keys.
    auth_window_s: float = 30.0
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


# --- reading a value -------------------------------------------------------------------
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


def _milliseconds(text: str) -> float:
    """A number of milliseconds, as seconds."""
    return _number(text) / 1000


def _port(text: str) -> int:
    port = _whole(text)
    if not 0 < port < 65536:
        raise ValueError("not a port (1-65535)")
    return port


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


def _one_of(*allowed: str) -> Callable[[str], str]:
    def choose(text: str) -> str:
        if text.lower() not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return text.lower()

    return choose


def _addresses(text: str) -> frozenset[str]:
    return frozenset(parse_address(p) for p in text.split(",") if p.strip())


def _text(text: str) -> str:
    return text


# --- the declaration -------------------------------------------------------------------
@dataclass(frozen=True)
class Knob:
    """One setting: an environment variable and its flag."""

    variable: str
    flag: str
    #: Where the value goes: a `Settings` field, or `config.<field>` / `faults.<field>`.
    target: str
    #: Reads the variable's text (ValueError: a bad value). For `keys` and
    #: `config.peer_networks` it only passes the text on: `from_env` reads those once the
    #: values they depend on (the signature window, the advertised address) are known.
    read: Callable[[str], Any]
    #: The value's name in `--help`.
    metavar: str
    #: One line for `--help`.
    help: str
    #: docs/configuration.md's "meaning" column (the help line, where not given).
    meaning: str = ""
    #: The default in words, where `from_env({})` gives "nothing" or works it out at start.
    shown: str | None = None
    #: The seed's one-letter flag.
    short: str | None = None
    #: Never echoed back in an error message.
    secret: bool = False

    def flags(self) -> list[str]:
        return [self.short, self.flag] if self.short else [self.flag]


# The order is --help's and docs/configuration.md's.
VARIABLES: dict[str, Knob] = {k.variable: k for k in (
    Knob("GOSSIP_PORT", "--port", "port", _port, "PORT", "listen port (-p)",
         "listen port", short="-p"),
    Knob("GOSSIP_BOOTSTRAP", "--bootstrap", "bootstrap", parse_address, "HOST:PORT",
         "host:port (or bare port) of a node to join (-b)",
         "`host:port` (or bare port) of a node to join; empty or own address: first node",
         shown="empty", short="-b"),
    Knob("GOSSIP_ADVERTISE", "--advertise", "advertise", parse_address, "HOST:PORT",
         "host:port other nodes use for this one",
         "the `host:port` others use for this node: the listen address, or this host's IP "
         "when listening on 0.0.0.0 (in Docker, the container's IP)", shown="auto"),
    Knob("GOSSIP_NAME", "--name", "name", check_name, "NAME",
         "display name for logs, metrics and the page (default: the container's DNS name "
         "by reverse lookup, or :PORT locally)",
         "the node's display name on metrics (`gossip_node_info{name}`), logs, the page and "
         "dashboards: `:PORT` for a loopback node, else its DNS name found by reverse lookup "
         "(in Compose `gossip-lab-peer-3`); the wire id stays `host:port` (see "
         "[observability](observability.md))", shown="auto"),
    Knob("GOSSIP_HOST", "--host", "host", _text, "ADDRESS", "address to listen on",
         "address to listen on (the Docker image sets 0.0.0.0)"),
    Knob("GOSSIP_MOVIES", "--movies", "movies", Path, "FILE", "file of movies, one a line",
         shown=f"bundled {BUNDLED_MOVIES.name}"),
    Knob("GOSSIP_RESAMPLE_SECONDS", "--resample-seconds", "config.resample_s", _number,
         "SECONDS", "mean seconds between new favourites",
         "mean seconds between new favourites (±30 % jitter); 0 turns it off"),
    Knob("GOSSIP_FANOUT", "--fanout", "config.fanout", _whole, "N", "peers per push",
         "peers each new piece of news is pushed to"),
    Knob("GOSSIP_TTL", "--ttl", "config.ttl", _whole, "HOPS", "hops a message may travel",
         "hops a node's news may travel by push"),
    Knob("GOSSIP_MAX_TTL", "--max-ttl", "config.max_ttl", _whole, "HOPS",
         "largest TTL obeyed; higher ones are clamped",
         "largest TTL obeyed; higher ones (up to 255) are clamped, above 255 refused"),
    Knob("GOSSIP_SYNC_SECONDS", "--sync-seconds", "config.sync_s", _number, "SECONDS",
         "anti-entropy period",
         "anti-entropy period (push-pull of the digest with one random peer)"),
    Knob("GOSSIP_PUSH_INTERVAL_SECONDS", "--push-interval-seconds", "config.push_interval_s",
         _number, "SECONDS", "batch pushes this often (0: at once)",
         "batch pushes this often; 0 pushes at once"),
    Knob("GOSSIP_STRATEGY", "--strategy", "config.strategy", _one_of(*STRATEGIES), "NAME",
         "push (random) or tree (broadcast tree)",
         "`push`: each news to `fanout` random peers; `tree`: along an epidemic broadcast tree "
         "([the tree](tree.md))"),
    Knob("GOSSIP_TREE_DEGREE", "--tree-degree", "config.tree_degree", _whole, "N",
         "tree: random eager peers at the first push",
         "tree: random eager peers a node starts with; the first broadcasts prune them to a "
         "spanning tree"),
    Knob("GOSSIP_LAZY_SECONDS", "--lazy-seconds", "config.lazy_s", _number, "SECONDS",
         "tree: news settles after this long",
         "tree: news this old is announced to lazy peers and traded by anti-entropy"),
    Knob("GOSSIP_LAZY_FANOUT", "--lazy-fanout", "config.lazy_fanout", _whole, "N",
         "tree: lazy peers announced to each time",
         "tree: lazy peers announced to at each announcement"),
    Knob("GOSSIP_LOG_FORMAT", "--log-format", "log_format", _one_of("json", "console"),
         "FORMAT", "json or console", "`json` or `console`"),
    Knob("GOSSIP_LOG_LEVEL", "--log-level", "log_level",
         _one_of("debug", "info", "warning", "error"), "LEVEL",
         "debug, info, warning or error", "`debug`, `info`, `warning`, `error`"),
    Knob("GOSSIP_LOG_FLUSH_SECONDS", "--log-flush-seconds", "log_flush_s", _non_negative,
         "SECONDS", "log lines are written out together this often (0: each at once)",
         "log lines are held this long and written out together (a warning, an error or a "
         "stop at once); under Docker each write wakes the daemon, see [logs](logs.md). "
         "0 writes each line at once"),
    Knob("GOSSIP_SEED", "--seed", "seed", _whole, "N", "seed of the node's random source",
         "seed of the node's random source, for reproducible runs", shown="random"),
    Knob("GOSSIP_REQUEST_TIMEOUT_SECONDS", "--request-timeout-seconds", "request_timeout_s",
         _positive, "SECONDS", "timeout of a request to a peer",
         "timeout of one request to a peer"),
    Knob("GOSSIP_IDLE_SECONDS", "--idle-seconds", "idle_s", _positive, "SECONDS",
         "idle connections are closed after this long",
         "idle connections (before a request, between requests, stuck in their headers) are "
         "closed after this long; the node's own connections to peers are kept 80 % of it"),
    Knob("GOSSIP_ADMIN_TOKEN", "--admin-token", "admin_token", _text, "TOKEN",
         "token required by state-changing endpoints",
         "when set, state-changing endpoints (`POST /favourite`) need `Authorization: Bearer "
         "<token>`", shown="none", secret=True),
    Knob("GOSSIP_KEYS", "--keys", "keys", _text, "KEY,...",
         "comma-separated shared keys: the first signs, all verify",
         "comma-separated shared keys (16+ bytes each): the first signs, all verify; set, "
         "every exchange between nodes is signed (see [security](security.md))",
         shown="none", secret=True),
    Knob("GOSSIP_AUTH_WINDOW_SECONDS", "--auth-window-seconds", "auth_window_s", _positive,
         "SECONDS", "signatures older are replays",
         "a signature older (or newer) than this is a replay and refused"),
    Knob("GOSSIP_RATE_LIMIT", "--rate-limit", "rate_limit", _non_negative, "PER_S",
         "requests per second per client before 429 (0: off)",
         "`POST /gossip/` requests per second per client before `429` + `Retry-After` "
         "(bursts of twice that); 0 turns it off"),
    Knob("GOSSIP_PEER_NETWORKS", "--peer-networks", "config.peer_networks", _text,
         "CIDR,...",
         "CIDRs peers' addresses must lie in: 'auto' (loopback and this host's own "
         "networks), 'any', or a comma-separated list (may include auto)",
         "networks (CIDR) a peer's address must lie in: `auto` is loopback plus this host's "
         "own networks, `any` allows every address, or a comma-separated list that may "
         "include `auto` (see [membership](membership.md))", shown="auto"),
    Knob("GOSSIP_FAULT_DROP", "--fault-drop", "faults.drop", _number, "P",
         "probability of dropping an outgoing request",
         "probability that an outgoing request is lost (fault injection)"),
    Knob("GOSSIP_FAULT_DUPLICATE", "--fault-duplicate", "faults.duplicate", _number, "P",
         "probability of sending a request twice",
         "probability that an outgoing request is sent twice"),
    Knob("GOSSIP_FAULT_DELAY_MS", "--fault-delay-ms", "faults.delay_s", _milliseconds, "MS",
         "delay added to every outgoing request",
         "delay added to every outgoing request, ms"),
    Knob("GOSSIP_FAULT_JITTER_MS", "--fault-jitter-ms", "faults.jitter_s", _milliseconds,
         "MS", "random extra delay, up to this", "a random extra delay, up to this many ms"),
    Knob("GOSSIP_FAULT_BLOCK", "--fault-block", "faults.blocked", _addresses,
         "HOST:PORT,...", "host:port list this node can neither reach nor hear",
         "comma-separated `host:port` this node can neither reach nor hear (a partition)",
         shown="none"),
)}  # fmt: skip

#: `GOSSIP_*` variables that the lab's tools and tests read, not the node: no warning.
OTHER_VARIABLES = frozenset(
    {"GOSSIP_LAB_TAG", "GOSSIP_REQUIRE_DOCKER", "GOSSIP_REQUIRE_BROWSER", "GOSSIP_CHROMIUM"}
)


def _default(name: str) -> Any:
    """A Settings field's default: the one place it is written."""
    return Settings.__dataclass_fields__[name].default


def from_env(environ: Mapping[str, str], *, lookup: Lookup | None = None) -> Settings:
    """Settings from `GOSSIP_*` variables in `environ`; unset or empty means the default.
    Without GOSSIP_NAME, a non-loopback node's name comes from `lookup` (reverse DNS by
    default; node.names)."""
    env = {k: v.strip() for k, v in environ.items() if k in VARIABLES and v.strip()}
    given: dict[str, Any] = {}
    for var, knob in VARIABLES.items():
        if var in env:
            given[knob.target] = _get(env, var, knob.read)
    kw = {t: v for t, v in given.items() if "." not in t}
    port, host = kw.get("port", _default("port")), kw.get("host", _default("host"))
    advertise = kw["advertise"] = kw.get("advertise") or _auto_advertise(host, port)
    if "name" not in kw:
        kw["name"] = default_name(advertise) if lookup is None else default_name(advertise, lookup)
    if kw.get("bootstrap") in (advertise, f"127.0.0.1:{port}", f"localhost:{port}"):
        kw["bootstrap"] = None  # `-p 7000 -b 7000`: the first node
    window = kw.get("auth_window_s", _default("auth_window_s"))
    kw["keys"] = _get(env, "GOSSIP_KEYS", lambda t: Keyring.parse(t, window))
    kw["config"] = _config(_part(given, "config"), advertise)
    kw["faults"] = _built(Faults, _part(given, "faults"), "faults")
    return Settings(**kw)


def _part(given: Mapping[str, Any], part: str) -> dict[str, Any]:
    """The values bound for one of the Settings' parts (`config.ttl` -> `ttl`)."""
    prefix = part + "."
    return {t.removeprefix(prefix): v for t, v in given.items() if t.startswith(prefix)}


def _config(knobs: dict[str, Any], advertise: str) -> Config:
    knobs["peer_networks"] = _get(
        {"GOSSIP_PEER_NETWORKS": knobs.get("peer_networks", "auto")},
        "GOSSIP_PEER_NETWORKS",
        lambda t: _peer_networks(t, advertise),
    )
    if "ttl" in knobs and "max_ttl" not in knobs:
        knobs["max_ttl"] = max(Config().max_ttl, knobs["ttl"])
    return _built(Config, knobs, "config")


def _built(kind: Callable[..., _T], values: dict[str, Any], part: str) -> _T:
    """`kind(**values)`; its refusal names the variable of the field it opens with."""
    try:
        return kind(**values)
    except (ConfigError, ValueError) as e:
        name = str(e).replace("=", " ").split()[0]
        var = next(
            (v for v, k in VARIABLES.items() if k.target == f"{part}.{name}"),
            "GOSSIP_FAULT_*" if part == "faults" else "GOSSIP_*",
        )
        raise SettingsError(f"{var}: {e}") from None


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
    for var, knob in VARIABLES.items():
        parser.add_argument(
            *knob.flags(),
            dest=var,
            action=_Flag,
            metavar=knob.metavar,
            help=f"{knob.help} (default: {shown[var]}) [{var}]",
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
    shown = {}
    for var, knob in VARIABLES.items():
        if knob.shown is not None:
            shown[var] = knob.shown
            continue
        value: Any = s
        for name in knob.target.split("."):
            value = getattr(value, name)
        if knob.read is _milliseconds:
            value *= 1000
        shown[var] = f"{value:g}" if isinstance(value, float) else str(value)
    return shown


def configuration_table() -> str:
    """docs/configuration.md's table of the settings, from `VARIABLES` and `defaults()`."""
    shown = defaults()
    rows = ["| variable | flag | default | meaning |", "| --- | --- | --- | --- |"]
    for var, knob in VARIABLES.items():
        flags = ", ".join(f"`{f}`" for f in knob.flags())
        rows.append(f"| `{var}` | {flags} | {shown[var]} | {knob.meaning or knob.help} |")
    return "\n".join(rows) + "\n"


def write_configuration_table(path: Path) -> None:
    """Replaces the settings table in `path` (docs/configuration.md) with the code's."""
    text = path.read_text()
    start = text.index("| variable | flag | default | meaning |")
    end = text.index("\n\n", start) + 1
    path.write_text(text[:start] + configuration_table() + text[end:])


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


def _get(env: Mapping[str, str], var: str, convert: Callable[[str], Any]) -> Any:
    """`var`'s value read by `convert` (None if unset); a bad one names the variable."""
    if var not in env:
        return None
    try:
        return convert(env[var])
    except ValueError as e:
        shown = "<hidden>" if VARIABLES[var].secret else repr(env[var])
        raise SettingsError(f"{var}={shown}: {e}") from None


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


if __name__ == "__main__":  # python -m node.settings [docs/configuration.md]
    write_configuration_table(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/configuration.md"))
