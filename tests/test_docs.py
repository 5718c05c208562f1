"""Run the Python examples of the documentation, so that they cannot rot.

Every page (``README.md`` and ``docs/**/*.md``) with Python code is one test
per backend (SQLite, PostgreSQL, MariaDB), run inside a transaction that is
rolled back at the end, with the backend as the project's only database
("default"):

- A page is a story. Its ```` ```python ```` blocks run in order, in one
  namespace, so a later block uses what an earlier one imported or built. A
  block whose first line is ``>>>`` (or a ```` ```pycon ```` block) runs as a
  doctest in that namespace.
- A top-level statement followed by a comment ``# -> <repr>`` (at the end of
  its last line, or on the next line at column 0) shows its value: the
  statement must be an expression whose ``repr()`` matches, ``...`` matching
  anything (doctest's ``ELLIPSIS``). ``# -> raises <Error>: <message>``: the
  statement must raise an exception that is a ``<Error>`` (its class or a base
  class of that name), whose message matches; the message part is optional.
- A block whose first line is ``# <path>.py`` is a file of the example app
  (``examples/library/<path>.py``): every top-level statement of the block
  must be a whole top-level statement of that file, word for word (a class
  is shown complete; statements may be left out). Instead of the block, the
  module is imported and its public names are put in the namespace.
- The page runs in a temporary directory holding the files that the pages
  declare: a block of any language after ``<!-- docs-test: file NAME -->``
  is the content of ``NAME``.
- A block after ``<!-- docs-test: output -->`` is what the Python block
  before it printed (``ELLIPSIS`` allowed).
- A Python block after ``<!-- docs-test: skip REASON -->`` is not run. Keep
  these rare: a fragment that cannot run anywhere, not one that is merely
  inconvenient.
- ``input()`` answers ``y`` (and prints the prompt and the answer, as a
  terminal would show them).

The conventions for writers are in ``docs/contributing.md``.
"""

import ast
import doctest
import importlib
import io
import linecache
import re
import tokenize
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from tests import router

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_APP = ROOT / "examples" / "library"
PYTHON = {"python", "py", "python3"}
DOCTEST = {"pycon"}
MARKERS = {"skip", "file", "output"}
CHECK_FLAGS = doctest.ELLIPSIS

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*)$")
_MARKER = re.compile(
    r"^\s*<!--\s*docs-test:\s*(?P<kind>\S+)[ \t]*(?P<arg>.*?)\s*-->\s*$"
)
_HEADER = re.compile(r"^#\s*(?P<path>[\w./-]+\.py)\b")
_EXPECT = re.compile(r"^#\s*->\s?(?P<want>.*)$")
_RAISES = re.compile(r"^raises\s+(?P<name>[\w.]+)(?::\s?(?P<message>.*))?$")


class DocsError(Exception):
    """A page breaks the conventions, or an example fails."""


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # line number of the block's first content line (1-based)
    language: str
    source: str
    marker: str | None
    argument: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def is_python(self) -> bool:
        return self.language in PYTHON | DOCTEST


def pages() -> list[Path]:
    """Every Markdown page of the docs, README.md first."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def read_blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page``, with the marker comment before each."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    marker_lines: set[int] = set()
    in_blocks: set[int] = set()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        end = index + 1
        while end < len(lines):
            closing = lines[end].strip()
            if set(closing) == {fence[0]} and len(closing) >= len(fence):
                break
            end += 1
        content = [
            line[len(indent) :] if line.startswith(indent) else line.lstrip()
            for line in lines[index + 1 : end]
        ]
        in_blocks.update(range(index, end + 1))
        language = (opening["info"].split() or [""])[0].lower()
        marker, argument = None, ""
        before = index - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        found = _MARKER.match(lines[before]) if before >= 0 else None
        if found is not None:
            marker, argument = found["kind"], found["arg"]
            marker_lines.add(before)
        blocks.append(
            Block(
                page, index + 2, language, "\n".join(content) + "\n", marker, argument
            )
        )
        index = end + 1
    for number, line in enumerate(lines):
        if _MARKER.match(line) and number not in marker_lines | in_blocks:
            where = f"{page.relative_to(ROOT)}:{number + 1}"
            raise DocsError(
                f"{where}: a docs-test marker must come right before a "
                f"fenced block: {line.strip()!r}"
            )
    for block in blocks:
        _check_marker(block)
    return blocks


def _check_marker(block: Block) -> None:
    if block.marker is None:
        return
    if block.marker not in MARKERS:
        known = ", ".join(sorted(MARKERS))
        raise DocsError(f"{block.where}: unknown marker {block.marker!r} ({known})")
    if block.marker == "skip" and not (block.is_python and block.argument):
        raise DocsError(
            f"{block.where}: 'skip' needs a reason and applies to Python blocks"
        )
    if block.marker == "file":
        name = Path(block.argument)
        if not block.argument or name.is_absolute() or ".." in name.parts:
            raise DocsError(f"{block.where}: 'file' needs a relative file name")
    if block.marker == "output" and block.is_python:
        raise DocsError(f"{block.where}: 'output' marks the output, not Python")


def declared_files() -> dict[str, Block]:
    """The files declared with ``docs-test: file`` on all pages, by name."""
    files: dict[str, Block] = {}
    for page in pages():
        for block in read_blocks(page):
            if block.marker != "file":
                continue
            earlier = files.get(block.argument)
            if earlier is not None and earlier.source != block.source:
                raise DocsError(
                    f"{block.where}: file {block.argument!r} differs from the "
                    f"one declared at {earlier.where}"
                )
            files[block.argument] = block
    return files


def pages_with_code() -> list[Path]:
    """Pages with Python blocks, and pages that do not parse (to say why)."""
    found = []
    for page in pages():
        try:
            blocks = read_blocks(page)
        except DocsError:
            found.append(page)
            continue
        if any(block.is_python for block in blocks):
            found.append(page)
    return found


# --------------------------------------------------------------------- running


def _check(want: str, got: str) -> bool:
    return doctest.OutputChecker().check_output(
        want.rstrip() + "\n", got.rstrip() + "\n", CHECK_FLAGS
    )


def _expectations(block: Block, tree: ast.Module) -> dict[int, str]:
    """``{index of a top-level statement: what its "# ->" comment says}``."""
    code_lines = block.source.splitlines()
    tokens = tokenize.generate_tokens(io.StringIO(block.source).readline)
    found: dict[int, str] = {}
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        match = _EXPECT.match(token.string)
        if match is None:
            continue
        line, column = token.start
        standalone = not code_lines[line - 1][:column].strip()
        owner = None
        for position, statement in enumerate(tree.body):
            end = statement.end_lineno or statement.lineno
            if not standalone and statement.lineno <= line == end:
                owner = position
            if standalone and column == 0 and end < line:
                between = code_lines[end : line - 1]
                if all(
                    not text.strip() or text.lstrip().startswith("#")
                    for text in between
                ):
                    owner = position
        if owner is None or owner in found:
            raise DocsError(
                f"{block.where}: the '# ->' comment on line {line} of the block "
                "must follow a top-level statement of its own"
            )
        found[owner] = match["want"]
    return found


def _register_source(block: Block) -> str:
    """Let tracebacks show the page's lines; return the file name to use."""
    filename = str(block.page.relative_to(ROOT))
    text = block.page.read_text(encoding="utf-8")
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    return filename


def _run_statements(block: Block, namespace: dict[str, Any]) -> None:
    filename = _register_source(block)
    tree = ast.parse(block.source, filename)
    expectations = _expectations(block, tree)
    for position, statement in enumerate(tree.body):
        want = expectations.get(position)
        segment = ast.get_source_segment(block.source, statement) or ""
        ast.increment_lineno(statement, block.line - 1)
        where = f"{block.where} (line {statement.lineno}): {segment.splitlines()[0]}"
        raises = _RAISES.match(want) if want is not None else None
        if raises is not None:
            _expect_raise(statement, filename, namespace, raises, where)
        elif want is not None:
            if not isinstance(statement, ast.Expr):
                raise DocsError(f"{where}: '# ->' shows a value: use an expression")
            code = compile(ast.Expression(statement.value), filename, "eval")
            got = repr(eval(code, namespace))
            if not _check(want, got):
                raise DocsError(
                    f"{where}\n  the page shows: {want}\n  it gives:       {got}"
                )
        else:
            module = ast.Module(body=[statement], type_ignores=[])
            exec(compile(module, filename, "exec"), namespace)


def _expect_raise(
    statement: ast.stmt,
    filename: str,
    namespace: dict[str, Any],
    raises: re.Match[str],
    where: str,
) -> None:
    module = ast.Module(body=[statement], type_ignores=[])
    try:
        exec(compile(module, filename, "exec"), namespace)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # the page names the exception it expects
        names = {cls.__name__ for cls in type(error).__mro__} | {
            f"{cls.__module__}.{cls.__qualname__}" for cls in type(error).__mro__
        }
        got = f"{type(error).__name__}: {error}"
        if raises["name"] not in names:
            raise DocsError(
                f"{where}\n  expected {raises['name']}, got {got}"
            ) from error
        message = raises["message"]
        if message is not None and not _check(message, str(error)):
            raise DocsError(
                f"{where}\n  the page shows: {message}\n  it raised:      {got}"
            ) from error
    else:
        raise DocsError(f"{where}\n  expected {raises['name']}, nothing was raised")


def _import_example_file(block: Block, namespace: dict[str, Any], path: str) -> None:
    file = EXAMPLE_APP / path
    if not file.is_file():
        raise DocsError(
            f"{block.where}: '# {path}' names a file of the example app, "
            f"but examples/library/{path} does not exist"
        )
    text = file.read_text(encoding="utf-8")
    in_file = {ast.get_source_segment(text, node) for node in ast.parse(text).body}
    for statement in ast.parse(block.source).body:
        segment = ast.get_source_segment(block.source, statement) or ""
        if segment not in in_file:
            first = segment.splitlines()[0]
            raise DocsError(
                f"{block.where}: this statement is not word for word a "
                f"statement of examples/library/{path}: {first!r}"
            )
    module_name = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    module = importlib.import_module(module_name)
    namespace.update(
        {
            name: value
            for name, value in vars(module).items()
            if not name.startswith("_")
        }
    )


def _run_doctest(block: Block, namespace: dict[str, Any]) -> None:
    parser = doctest.DocTestParser()
    test = parser.get_doctest(
        block.source, namespace, block.where, str(block.page), block.line - 1
    )
    runner = doctest.DocTestRunner(optionflags=CHECK_FLAGS, verbose=False)
    report = io.StringIO()
    runner.run(test, out=report.write, clear_globs=False)
    namespace.update(test.globs)
    if runner.failures:
        raise DocsError(f"{block.where}: doctest failed\n{report.getvalue()}")


def run_block(block: Block, namespace: dict[str, Any]) -> None:
    """Run one Python block of a page in the page's namespace."""
    first_line = block.source.lstrip("\n").split("\n", 1)[0]
    header = _HEADER.match(first_line)
    if block.language in DOCTEST or first_line.startswith(">>>"):
        _run_doctest(block, namespace)
    elif header is not None:
        _import_example_file(block, namespace, header["path"])
    else:
        _run_statements(block, namespace)


def _answer_yes(prompt: object = "") -> str:
    print(f"{prompt}y")
    return "y"


def run_page(page: Path) -> Iterator[Block]:
    """Run the page's Python blocks in order; yield each block that was run."""
    namespace: dict[str, Any] = {"__name__": "docs_example", "input": _answer_yes}
    printed: str | None = None
    for block in read_blocks(page):
        if block.marker == "output":
            if printed is None:
                raise DocsError(f"{block.where}: no Python block before this output")
            if not _check(block.source, printed):
                raise DocsError(
                    f"{block.where}: the page shows this output:\n{block.source}"
                    f"the block before printed:\n{printed}"
                )
            continue
        if not block.is_python or block.marker in {"skip", "file"}:
            continue
        stdout = io.StringIO()
        with redirect_stdout(stdout):
            run_block(block, namespace)
        printed = stdout.getvalue()
        yield block


# ----------------------------------------------------------------------- tests


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@contextmanager
def _only_database(alias: str) -> Iterator[None]:
    """Make ``alias`` the project's only database, "default" included.

    The examples are written for a project with one database: commands open
    their transaction on "default" and ``execute_sql`` runs there. In this
    thread, the backend's connection (in the test's transaction) becomes
    "default" and SQLite's takes the backend's alias, and the test router
    points at "default": the examples run unchanged on the backend, under one
    alias as in such a project. Everything is put back before the test's
    transaction is rolled back.
    """
    if alias == "default":
        yield
        return
    sqlite, server = connections["default"], connections[alias]
    connections["default"], connections[alias] = server, sqlite
    server.alias, sqlite.alias = "default", alias
    router.active_alias = "default"
    try:
        yield
    finally:
        router.active_alias = alias
        server.alias, sqlite.alias = alias, "default"
        connections["default"], connections[alias] = sqlite, server


@pytest.mark.parametrize("page", pages_with_code(), ids=_page_id)
def test_page_examples_run(
    page: Path, alias: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, block in declared_files().items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.source, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with _only_database(alias):
        ran = list(run_page(page))
    assert ran, f"{_page_id(page)} has Python blocks but none ran"


def test_markers_and_files_are_valid() -> None:
    """Every page parses: known markers, skips with reasons, one file per name."""
    declared_files()
    skips = [
        f"{block.where}: {block.argument}"
        for page in pages()
        for block in read_blocks(page)
        if block.marker == "skip"
    ]
    # Skips are listed in docs/contributing.md; keep them few.
    assert len(skips) <= 10, skips


def test_harness_checks_values_and_errors(tmp_path: Path) -> None:
    """The harness fails a page whose shown value or error is wrong."""
    page = tmp_path / "page.md"
    good = (
        "```python\nx = 1 + 1\nx  # -> 2\n[x] * 2\n# -> [2, ...]\n"
        "int('a')  # -> raises ValueError: invalid literal...\n```\n\n"
        "```python\n>>> x + 1\n3\n\n```\n\n"
        "```python\nprint('hi', x)\n```\n\n<!-- docs-test: output -->\n"
        "```text\nhi 2\n```\n\n"
        '=== "In a tab"\n\n    ```python\n    x * 3  # -> 6\n    ```\n'
    )
    bad_cases = {
        "```python\n1 + 1  # -> 3\n```\n": "the page shows: 3",
        "```python\nint('1')  # -> raises ValueError\n```\n": "nothing was raised",
        "```python\nint('a')  # -> raises TypeError\n```\n": "expected TypeError",
        "```python\n>>> 1 + 1\n3\n```\n": "doctest failed",
        "```python\nprint(1)\n```\n<!-- docs-test: output -->\n```text\n2\n```\n": (
            "the page shows this output"
        ),
        "<!-- docs-test: skip -->\n```python\nx\n```\n": "needs a reason",
        "<!-- docs-test: nope -->\n```python\nx\n```\n": "unknown marker",
        "<!-- docs-test: skip why -->\ntext\n```python\nx\n```\n": "right before",
        "```python\n# library/nothing.py\nx = 1\n```\n": "does not exist",
        "```python\n# library/models.py\nx = 1\n```\n": "not word for word",
        "```python\nfor i in []:\n    pass\n    # -> 1\n```\n": "top-level statement",
    }
    original_root = globals()["ROOT"]
    globals()["ROOT"] = tmp_path
    try:
        page.write_text(good)
        assert len(list(run_page(page))) == 4
        for text, message in bad_cases.items():
            page.write_text(text)
            with pytest.raises(DocsError, match=re.escape(message)):
                list(run_page(page))
    finally:
        globals()["ROOT"] = original_root
