"""Hypothesis strategies and checks shared by the callback parser tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from xml.sax.saxutils import escape

from hypothesis import strategies as st

from bot.app.errors import Rejected

json_values: st.SearchStrategy[object] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


def json_objects(keys: list[str]) -> st.SearchStrategy[dict[str, object]]:
    """JSON objects whose keys are mostly the ones a parser looks for."""
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), json_values, max_size=8)


def json_bytes(objects: st.SearchStrategy[dict[str, object]]) -> st.SearchStrategy[bytes]:
    """`objects` serialized (non-ASCII kept), or arbitrary bytes."""
    serialized = objects.map(lambda o: json.dumps(o, ensure_ascii=False).encode())
    return serialized | st.binary()


def xml_documents(tags: list[str]) -> st.SearchStrategy[str]:
    """Flat XML documents with the given element names and arbitrary text, or any text."""
    element = st.tuples(st.sampled_from(tags), st.text()).map(
        lambda pair: f"<{pair[0]}>{escape(pair[1])}</{pair[0]}>"
    )
    documents = st.lists(element, max_size=8).map(lambda parts: f"<xml>{''.join(parts)}</xml>")
    return documents | st.text()


def only_rejected(call: Callable[[], object]) -> None:
    """Run `call`: it may return or raise `Rejected` with a 4xx status, nothing else."""
    refused: Rejected | None = None
    try:
        call()
    except Rejected as error:
        refused = error
    if refused is not None:
        assert refused.status in (400, 401, 403)
        assert refused.reason
