"""Every ```python block of README.md and docs/*.md runs as written, so the docs cannot rot.

How a block is run
    Each block is written to ``snippet.py`` in a fresh temporary directory and run there
    as a script (``python snippet.py``, this interpreter, ``src/`` first on
    ``PYTHONPATH``, ``PYTHONUNBUFFERED=1``) with a timeout of ``TIMEOUT`` seconds. It
    passes when it exits 0 with no traceback on stderr. Blocks in other languages (``sh``,
    ``bash``, plain) are not run.

Markers
    An HTML comment on the line before a block (blank lines between are allowed) says how
    to run it: ``<!-- test: ITEM, ITEM, ... -->``, the items being

    * ``server``: a server that runs until stopped. It is started; once it has printed
      its first line to stdout (say, that it is listening) the ``client`` blocks that
      follow it in the same file run one after another against it; then it gets SIGINT
      (Ctrl-C) and must exit 0, as ``Server.serve()`` makes it. SIGINT is sent no sooner
      than ``SETTLE`` seconds after that line: the line comes just before ``serve()``,
      which installs its signal handlers as it begins, and a Ctrl-C before that is
      Python's own (KeyboardInterrupt), as for a person pressing it that fast.
    * ``client``: run while the nearest ``server`` block above it in the file runs.
    * ``certs``: before the block runs, its directory gets a throwaway CA and two
      certificates made with the openssl CLI: ``ca.pem``, ``server.pem`` and
      ``server.key`` (for the name ``localhost`` and the address 127.0.0.1),
      ``client.pem`` and ``client.key`` (CN ``client``), as docs/tls.md makes them. A
      server and its clients share one directory.
    * ``prints: TEXT`` (the last item): its stdout or stderr must contain TEXT (stderr
      for what ``logging`` writes there by default).
    * ``skip: REASON`` (the only item): not run. The reason is required, and skipped
      blocks are reported as skipped tests, never dropped silently.

    A block without a marker is a plain script. An unknown item fails the test.

Ports
    Snippets listen on port 0 or Unix sockets where they can. Where one must show a fixed
    port, it is ``50051``: the test replaces every ``50051`` in a file's blocks with one
    free port of 127.0.0.1 picked for that file, so a server and its clients agree and
    tests running side by side do not collide.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SRC = ROOT / "src"
TIMEOUT = 30.0  # seconds for one block (they take well under a few seconds)
SETTLE = 0.5  # seconds between a server's first line and its SIGINT, at least
FIXED_PORT = "50051"
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)")
_MARKER = re.compile(r"^\s*<!--\s*test:\s*(?P<items>.*?)\s*-->\s*$")
_PYTHON = {"python", "py", "python3"}


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    code: str
    items: list[str] = field(default_factory=list)
    prints: str | None = None
    skip: str | None = None

    @property
    def name(self) -> str:
        return f"{_display(self.path)}:{self.line}"


@dataclass
class Unit:
    """What one test runs: a script, or a server with the clients run against it."""

    main: Block
    clients: list[Block] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.main.name


def _display(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def _parse_marker(text: str, where: str) -> tuple[list[str], str | None, str | None]:
    items: list[str] = []
    prints = skip = None
    rest = text
    while rest:
        head, _, tail = rest.partition(",")
        head = head.strip()
        if head.startswith("skip:"):
            skip = rest.strip()[len("skip:") :].strip()
            if not skip or items:
                raise ValueError(f"{where}: 'skip: REASON' needs a reason and stands alone")
            break
        if head.startswith("prints:"):
            prints = rest.strip()[len("prints:") :].strip()
            break
        if head not in ("server", "client", "certs"):
            raise ValueError(f"{where}: unknown test marker item {head!r}")
        items.append(head)
        rest = tail
    if "server" in items and "client" in items:
        raise ValueError(f"{where}: a block is a server or a client, not both")
    return items, prints, skip


def python_blocks(path: Path) -> list[Block]:
    """The ```python blocks of ``path``, each with its marker's items."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    marker: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence is None:
            found = _MARKER.match(line)
            if found is not None:
                marker = found.group("items")
            elif line.strip():
                marker = None
            i += 1
            continue
        start = i
        close = fence.group("fence")
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(close):
            body.append(lines[i])
            i += 1
        i += 1
        if fence.group("lang").lower() in _PYTHON:
            where = f"{_display(path)}:{start + 1}"
            items, prints, skip = _parse_marker(marker or "", where)
            indent = len(fence.group("indent"))
            code = "\n".join(text[indent:] for text in body) + "\n"
            blocks.append(Block(path, start + 1, code, items, prints, skip))
        elif marker is not None:
            raise ValueError(
                f"{_display(path)}:{start + 1}: a test marker before a non-Python block"
            )
        marker = None
    return blocks


def units(path: Path) -> list[Unit]:
    result: list[Unit] = []
    server: Unit | None = None
    for block in python_blocks(path):
        if "client" in block.items:
            if server is None:
                raise ValueError(f"{block.name}: a client block with no server block above it")
            server.clients.append(block)
            continue
        unit = Unit(block)
        if "server" in block.items:
            server = unit
        result.append(unit)
    return result


ALL_UNITS = [unit for path in DOC_FILES for unit in units(path)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_PORTS: dict[Path, int] = {}


def _port_for(path: Path) -> int:
    if path not in _PORTS:
        _PORTS[path] = _free_port()
    return _PORTS[path]


def _env() -> dict[str, str]:
    paths = [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "PYTHONUNBUFFERED": "1"}


def _write(block: Block, directory: Path) -> Path:
    script = directory / f"snippet_{block.line}.py"
    script.write_text(block.code.replace(FIXED_PORT, str(_port_for(block.path))))
    return script


def _check(block: Block, returncode: int, out: str, err: str) -> None:
    report = f"{block.name} (exit {returncode})\n--- stdout\n{out}\n--- stderr\n{err}"
    assert returncode == 0, report
    assert "Traceback" not in err, report
    if block.prints is not None:
        assert block.prints in out + err, f"{block.name} should print {block.prints!r}\n{report}"


def _run_script(block: Block, directory: Path) -> None:
    script = _write(block, directory)
    try:
        result = subprocess.run(
            [sys.executable, script.name],
            cwd=directory,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{block.name} ran longer than {TIMEOUT} s\n{exc.stdout!r}\n{exc.stderr!r}")
    _check(block, result.returncode, result.stdout, result.stderr)


def _run_server(unit: Unit, directory: Path) -> None:
    block = unit.main
    script = _write(block, directory)
    process = subprocess.Popen(
        [sys.executable, script.name],
        cwd=directory,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        # The first line says it listens (a dead server gives "" at once: EOF).
        first = _readline(process, TIMEOUT)
        if not first:
            out, err = process.communicate(timeout=TIMEOUT)
            pytest.fail(f"{block.name} ended before printing a line\n{out}\n{err}")
        ready = time.monotonic()
        for client in unit.clients:
            _run_script(client, directory)
        time.sleep(max(0.0, ready + SETTLE - time.monotonic()))
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=TIMEOUT)
        _check(block, process.returncode, first + out, err)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _readline(process: subprocess.Popen[str], timeout: float) -> str:
    """The process's first line of stdout, or "" if it ends or ``timeout`` passes first."""
    import selectors

    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.pem; server.pem/.key for localhost and 127.0.0.1; client.pem/.key (CN client)."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl CLI is needed to make the certificates of TLS snippets")
    d = tmp_path_factory.mktemp("doc-certs")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=grpcx docs test CA", cwd=d)  # fmt: skip
    for name, extension in [
        ("server", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ("client", "extendedKeyUsage=clientAuth"),
    ]:
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=d)  # fmt: skip
        (d / f"{name}.ext").write_text(extension + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                 "-extfile", f"{name}.ext", cwd=d)  # fmt: skip
    return d


@pytest.mark.parametrize("unit", ALL_UNITS, ids=[unit.name for unit in ALL_UNITS])
def test_snippet_runs(unit: Unit, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    block = unit.main
    if block.skip is not None:
        pytest.skip(f"{block.name}: {block.skip}")
    if any("certs" in b.items for b in [block, *unit.clients]):
        source: Path = request.getfixturevalue("certs")
        for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key"):
            shutil.copy(source / name, tmp_path / name)
    if "server" in block.items:
        _run_server(unit, tmp_path)
    else:
        _run_script(block, tmp_path)


def test_the_docs_have_snippets() -> None:
    """The README's quickstart is a server and a client run against it; every page of
    docs/ the guides added has its runnable examples."""
    readme = units(ROOT / "README.md")
    assert any("server" in u.main.items and u.clients for u in readme)
    names = {path.name for path in DOC_FILES}
    pages = ("migrating-from-grpcio.md", "tls.md", "logging.md", "configuration.md")
    for page in pages:
        assert page in names, f"docs/{page} is missing"


def test_markers_are_read(tmp_path: Path) -> None:
    """The parser itself: markers, their items, and blocks that are not Python."""
    text = (
        "<!-- test: server, certs -->\n```python\nprint(1)\n```\n\n"
        "<!-- test: client, prints: a, b -->\n\n```python\nprint('a, b')\n```\n"
        "```sh\necho no\n```\n"
        "<!-- test: skip: needs a network -->\n```python\nimport x\n```\n"
        "```python\n    indented = 1\n```\n"
    )
    tmp = tmp_path / "page.md"
    tmp.write_text(text)
    blocks = python_blocks(tmp)
    found = [(b.items, b.prints, b.skip) for b in blocks]
    assert found == [
        (["server", "certs"], None, None),
        (["client"], "a, b", None),
        ([], None, "needs a network"),
        ([], None, None),
    ]
    [server, skipped, plain] = units(tmp)
    assert [c.code for c in server.clients] == ["print('a, b')\n"]
    assert skipped.main.skip and not plain.main.items
    tmp.write_text("<!-- test: sever -->\n```python\npass\n```\n")
    with pytest.raises(ValueError, match="unknown test marker item 'sever'"):
        python_blocks(tmp)
    tmp.write_text("<!-- test: skip: -->\n```python\npass\n```\n")
    with pytest.raises(ValueError, match="needs a reason"):
        python_blocks(tmp)


# ---------------------------------------------------------------------- configuration.md

_ROW = re.compile(r"^\| `(?P<name>\w+)` \| (?P<default>[^|]*) \|")


def _sections(path: Path) -> dict[str, dict[str, str]]:
    """``## heading`` -> {name: default column} of the tables under it."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), {})
        elif (row := _ROW.match(line)) is not None:
            current[row.group("name")] = row.group("default").strip()
    return sections


def _parameters(function: object, *leading: str) -> dict[str, object]:
    signature = inspect.signature(function)  # type: ignore[arg-type]
    return {
        name: parameter.default
        for name, parameter in signature.parameters.items()
        if name not in ("self", *leading) and parameter.kind is not parameter.VAR_KEYWORD
    }


def test_configuration_lists_every_option_with_its_default() -> None:
    """docs/configuration.md has a row for every keyword argument of Server, add_port,
    Channel and every H2Config field, and the row's default is the code's."""
    from grpcx.aio import Channel, Server
    from grpcx.http2.settings import H2Config

    sections = _sections(ROOT / "docs" / "configuration.md")
    expected = {
        "`grpcx.aio.Server(...)`": _parameters(Server.__init__),
        "`server.add_port(address, ...)`": _parameters(Server.add_port, "address"),
        "`grpcx.aio.Channel(target, ...)`": _parameters(Channel.__init__, "target"),
        "`H2Config`": {f.name: f.default for f in dataclasses.fields(H2Config)},
    }
    for heading, options in expected.items():
        assert heading in sections, f"configuration.md has no section '## {heading}'"
        rows = sections[heading]
        assert sorted(rows) == sorted(options), f"## {heading}: rows differ from the code"
        for name, default in options.items():
            assert rows[name].startswith(f"`{default!r}`"), (
                f"## {heading}: {name}'s default is {default!r}, the page says {rows[name]}"
            )
