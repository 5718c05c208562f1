"""Griffe extension for the documentation build (loaded by mkdocs.yml).

winidjango's docstrings are Google style as Sphinx's napoleon and ruff's
pydocstyle read it. Griffe, which mkdocstrings uses to read them, differs in
three places, and this extension bridges them before the docstrings are parsed:

- An ``Example:`` section. Griffe knows only ``Examples:``; any other title
  becomes an admonition whose ``>>>`` lines render as quotes and whose output
  lines (``[0, 1, 3] [2]``) look like Markdown links. The heading is renamed.
- Sphinx roles such as ``:meth:`confirm```. Griffe leaves them as text. They
  become code that links to the object's entry in the API reference when it
  has one; an ``optional`` cross-reference renders as plain code otherwise,
  so a role naming a private helper cannot break the strict build.
- ``#:`` comments above a constant, Sphinx's way of documenting it (for
  ``DEFAULT_THREADS``). Griffe ignores them, and an attribute without a
  docstring is left out of the reference. They become its docstring.

Only the text griffe loaded is changed; the library's files are not touched.
"""

import html
import re
from collections.abc import Iterator
from typing import Any

from griffe import (
    Alias,
    AliasResolutionError,
    Docstring,
    Extension,
    GriffeLoader,
    Module,
    Object,
)

_EXAMPLE_HEADING = re.compile(r"^Example:[ \t]*$", re.MULTILINE)
_SPHINX_ROLE = re.compile(r":(?:attr|class|data|exc|func|meth|mod|obj):`(~?)([^`]+)`")


def _objects(obj: Object) -> Iterator[Object]:
    """Yield ``obj`` and every object defined in it, recursively."""
    yield obj
    for member in obj.members.values():
        if not isinstance(member, Alias):
            yield from _objects(member)


def _lookup(scope: Object, name: str) -> Object | Alias | None:
    """Find ``name`` (possibly dotted) among the members of ``scope``."""
    try:
        return scope.get_member(name)
    except (KeyError, ValueError, AliasResolutionError):
        # An alias of a module griffe did not load (``time`` in
        # ``:func:`time.monotonic```): no link.
        pass
    if scope.is_class:
        try:
            return scope[name]
        except Exception:  # unresolvable bases and the like: no link
            return None
    return None


def _identifier(obj: Object, name: str, root: Module) -> str:
    """The full path that ``name``, written in ``obj``'s docstring, refers to."""
    if name.split(".", 1)[0] == root.name:
        return name
    scope: Object | None = obj
    while scope is not None:
        found = _lookup(scope, name)
        if isinstance(found, Alias):
            try:
                return found.target_path
            except AliasResolutionError:
                return name
        if found is not None:
            return found.path
        scope = scope.parent
    return name


def _add_comment_docstring(obj: Object, loader: GriffeLoader) -> None:
    """Give an attribute documented by ``#:`` comments that text as docstring."""
    if not obj.is_attribute or obj.docstring is not None or obj.lineno is None:
        return
    try:
        source = obj.lines_collection[obj.filepath]
    except (KeyError, TypeError, ValueError):
        return
    comments: list[str] = []
    index = obj.lineno - 2  # the line above the attribute, 0-based
    while index >= 0 and source[index].lstrip().startswith("#:"):
        comments.insert(0, source[index].lstrip().removeprefix("#:").strip())
        index -= 1
    if comments:
        obj.docstring = Docstring(
            "\n".join(comments),
            lineno=index + 2,
            endlineno=obj.lineno - 1,
            parent=obj,
            parser=loader.docstring_parser,
            parser_options=loader.docstring_options,
        )


def _rewrite(obj: Object, root: Module) -> None:
    docstring = obj.docstring
    if docstring is None:
        return

    def link(match: re.Match[str]) -> str:
        shortened, name = match.groups()
        shown = name.rsplit(".", 1)[-1] if shortened else name
        identifier = html.escape(_identifier(obj, name, root), quote=True)
        return (
            f'<autoref identifier="{identifier}" optional>'
            f"<code>{html.escape(shown)}</code></autoref>"
        )

    text = _EXAMPLE_HEADING.sub("Examples:", docstring.value)
    docstring.value = _SPHINX_ROLE.sub(link, text)


class WinidjangoDocstrings(Extension):
    """Read ``#:`` comments, ``Example:`` sections and Sphinx roles as meant."""

    def on_package(self, *, pkg: Module, loader: GriffeLoader, **kwargs: Any) -> None:
        """Rewrite the docstrings of the whole package once it is loaded."""
        for obj in _objects(pkg):
            _add_comment_docstring(obj, loader)
            _rewrite(obj, pkg)
