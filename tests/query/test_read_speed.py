"""The speed-ups on read paths change no answer: a filter that pins the model name reads
only those models yet returns exactly what a full scan returns, and read commands do not
import the artifact store or the change parser."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from search_reference import reference_search

from gitreg import Registry
from gitreg.errors import ManifestError
from gitreg.registry.template import init_registry


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    init_registry(tmp_path / "reg")
    art = tmp_path / "m.bin"
    art.write_bytes(b"x")
    r = Registry(tmp_path / "reg")
    for name in ("a", "b", "c.d"):
        for n in range(3):
            r.register(name, art.as_uri(), metrics={"auc": n / 10}, tags={"n": str(n)})
    r.set_alias("b", "champion", 2)
    return r


FILTERS = [
    "name = 'a'",
    "name = 'b' AND version_number > 1",
    "name IN ('a', 'c.d', 'nope', 'not a name!', '../x')",
    "name = 'a' OR name = 'b'",
    "name = 'a' OR metrics.auc > 0.15",
    "name = 'a' AND name = 'b'",
    "(name = 'a' OR name = 'c.d') AND tags.n != '0'",
    "name = 'zzz'",
    "name = 'bad name'",
    "name LIKE 'c%'",
    "alias = 'champion' AND name IN ('b')",
]


def test_name_pinned_search_equals_a_full_scan(reg: Registry) -> None:
    for text in FILTERS:
        # An OR with a condition that can be true of any name turns the narrowing off,
        # and one that is never true leaves the answer alone.
        scan = f"({text}) OR run_id = 'never-such-a-run'"
        got = [(v.name, v.version) for v in reg.search_versions(text)]
        assert got == [(v.name, v.version) for v in reg.search_versions(scan)], text
        order = ["metrics.auc DESC"]
        assert reg.search_versions(text, order, 2) == reg.search_versions(scan, order, 2)
    assert [v.version for v in reg.search_versions("name = 'b'")] == [3, 2, 1]


def test_read_commands_leave_the_store_and_change_parser_unimported(reg: Registry) -> None:
    heavy = "{'gitreg.store', 'gitreg.trail.changes', 'git', 'fsspec', 'jsonschema'}"
    for warm in (False, True):
        if warm:  # the query index knows every file: not even YAML or the writes load
            reg.search_versions("")
            heavy = heavy[:-1] + ", 'yaml', 'gitreg.registry.writes', 'gitreg.cli.write'}"
        code = (
            "import sys\n"
            "from gitreg.cli import cli\n"
            f"cli(['--repo', {str(reg.root)!r}, 'resolve', 'models:/b@champion'],"
            " standalone_mode=False)\n"
            f"heavy = {heavy}\n"
            "print(sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.splitlines() == [(reg.root.parent / "m.bin").as_uri(), "[]"]


def test_every_command_is_found_in_the_module_the_lazy_group_names() -> None:
    import importlib
    import pkgutil

    import gitreg.cli
    from gitreg.cli.app import COMMANDS, cli

    for module in pkgutil.iter_modules(gitreg.cli.__path__):
        importlib.import_module(f"gitreg.cli.{module.name}")
    assert set(cli.commands) == set(COMMANDS)
    for name, command in cli.commands.items():
        assert command.callback is not None
        assert command.callback.__module__ == f"gitreg.cli.{COMMANDS[name]}", name


def test_a_write_skips_revalidating_an_unchanged_config_but_never_a_changed_one(
    reg: Registry, tmp_path: Path
) -> None:
    memo = reg.root / ".git" / "gitreg" / "validated"
    assert memo.is_file()  # the fixture's writes validated gitreg.yaml once
    code = (
        "import sys\n"
        "from gitreg import Registry\n"
        f"Registry({str(reg.root)!r}).set_tag('a', 'k', 'v')\n"
        "print('jsonschema' in sys.modules)\n"
    )
    run = [sys.executable, "-c", code]
    assert subprocess.run(run, capture_output=True, text=True, check=True).stdout == "False\n"
    cfg = reg.root / "gitreg.yaml"
    cfg.write_text(cfg.read_text() + "surprise: 1\n")  # not in the schema
    with pytest.raises(ManifestError, match="surprise"):
        Registry(reg.root).set_tag("a", "k", "w")
    memo.write_text("garbage\n")  # a damaged memo only misses
    cfg.write_text(cfg.read_text().replace("surprise: 1\n", ""))
    Registry(reg.root).set_tag("a", "k", "w")
    assert reg.get_model("a").tags == {"k": "w"}


@pytest.mark.parametrize("order", [[], ["metrics.auc DESC"], ["version_number"], ["name DESC"]])
@pytest.mark.parametrize("limit", [None, 1, 2, 4, 100])
def test_search_records_equal_the_plain_evaluator(
    reg: Registry, order: list[str], limit: int | None
) -> None:
    reg.set_alias("a", "best", 1)
    reg.set_alias("a", "also", 1)
    for text in ["", *FILTERS, "alias = 'best'", "metrics.auc >= 0.1"]:
        want = reference_search(reg, text, order, limit)
        assert reg.search_version_records(text, order, limit) == want, (text, order, limit)
        assert reg.search_versions(text, order, limit) == [mv for mv, _ in want]


def test_search_texts_are_the_json_of_the_records_first_time_and_from_the_index(
    reg: Registry,
) -> None:
    from gitreg.query import jsontext, texts

    reg.set_alias("b", "best", 2)
    head = reg.git.run("rev-parse", "HEAD").strip()
    for view in (reg, reg.at(ref=head)):
        cases = [("", [], None), ("", [], 2), ("", [], 100), ("metrics.auc > 0", ["name DESC"], 4)]
        for text, order, limit in cases:
            want = [
                jsontext.render_item({**mv.to_dict(), "aliases": list(a)})
                for mv, a in view.search_version_records(text, order, limit)
            ]
            assert list(view.search_version_texts(text, order, limit)) == want
            assert list(view.search_version_texts(text, order, limit)) == want  # stored
    index = reg._index
    assert index is not None
    assert len(texts.stored(index, {"nope"})) == 0
    db = index.connection()
    assert db is not None
    assert db.execute("SELECT count(*) FROM texts").fetchone()[0] == 9  # one per blob


def test_a_copied_version_file_is_refused_even_when_its_text_is_kept(reg: Registry) -> None:
    list(reg.search_version_texts(""))  # every text kept, 1.yaml's included
    folder = reg.root / "models" / "a" / "versions"
    (folder / "4.yaml").write_bytes((folder / "1.yaml").read_bytes())
    for text in ("", "name = 'a'", "metrics.auc > 5"):
        with pytest.raises(ManifestError, match=r"4\.yaml"):
            list(reg.search_version_texts(text))
